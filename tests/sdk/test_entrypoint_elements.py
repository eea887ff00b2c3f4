"""The task entrypoint's batch mode (``flytecore-execute --array-elements MANIFEST``): several
elements of a map task in one call, each written as its own attempt would be.

Most tests call ``main`` in-process; what lands in the elements' log files is checked in a fresh
process whose fds 1 and 2 are files, as a warm worker's are for a job (under pytest ``print`` does
not write to fd 1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flytecore.sdk import entrypoint
from flytecore.sdk.entrypoint import ELEMENTS_UNSUPPORTED, main
from flytecore.sdk.type_engine import get_type_engine
from flytecore.spec import idl
from tests.sdk import entrypoint_tasks as tasks
from tests.sdk.entrypoint_harness import ROOT, SETTINGS, SYSTEM, USER, Attempt, container_args

# --- set-up: an array node's inputs.pb, a manifest, the command line -----------------------------------


def array_inputs(path: Path, entity: Any, *, bound: dict[str, Any], mapped: dict[str, Any]) -> str:
    """inputs.pb of a map over ``entity``: ``mapped`` inputs are lists, ``bound`` ones whole."""
    types = entity.python_interface.input_types
    literal_map = get_type_engine().literal_map_from_python(
        {**bound, **mapped}, {**{n: types[n] for n in bound}, **{n: list[types[n]] for n in mapped}}
    )
    path.write_bytes(idl.literal_map_to_bytes(literal_map))
    return str(path)


def element(root: Path, index: int, *, attempt: int = 0, env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """A manifest entry laid out as the local backend lays out an element attempt."""
    node = f"n1-0-{index}"
    base = root / "meta" / node / str(attempt)
    return {
        "index": index,
        "output_prefix": str(base),
        "raw_output_data_prefix": str(root / "raw" / node / str(attempt)),
        "checkpoint_path": str(root / "raw" / node / str(attempt) / "_flytecheckpoints"),
        "prev_checkpoint": None,
        "stdout": str(base / "stdout.log"),
        "stderr": str(base / "stderr.log"),
        "env": {"FLYTE_INTERNAL_NODE_ID": node, "FLYTE_ATTEMPT_NUMBER": str(attempt), **(env or {})},
        **extra,
    }


def batch_args(
    root: Path, entity: Any, inputs: str, elements: list[dict[str, Any]], bound: list[str], journal: str | None = None
) -> list[str]:
    """The command line of a batch: the task's container args (the batch's folder as the output
    prefix) with ``--array-elements`` in front, as the local backend starts it."""
    manifest = root / "batch.json"
    manifest.write_text(json.dumps({"bound": bound, "elements": elements, **({"journal": journal} if journal else {})}))
    args = container_args(entity.to_template(SETTINGS), input=inputs, output=str(root / "batch"),
                          raw=str(root / "batch-raw"), checkpoint=str(root / "batch-cp"), prev="")
    return ["--array-elements", str(manifest), *args]


class ElementAttempt(Attempt):
    """An element's output prefix: its one document, next to its log files."""

    def files(self) -> list[str]:
        return [name for name in super().files() if not name.endswith(".log")]


def result(entry: dict[str, Any]) -> ElementAttempt:
    return ElementAttempt(0, entry["output_prefix"], entry["raw_output_data_prefix"])


def info(entry: dict[str, Any]) -> dict[str, str]:
    return result(entry).python_outputs(tasks.element_info)["o0"]  # type: ignore[no-any-return]


# --- outputs, context, environment ----------------------------------------------------------------------


@pytest.mark.parametrize("through_os_environ", [False, True], ids=["environ-given", "os-environ"])
def test_each_element_gets_the_outputs_of_its_own_item_and_the_bound_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, through_os_environ: bool
) -> None:
    for name in ("FLYTE_ATTEMPT_NUMBER", "FLYTE_INTERNAL_NODE_ID", "FLYTE_INTERNAL_EXECUTION_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ELEMENTS_SHARED", "before")
    call_env = {"FLYTE_INTERNAL_EXECUTION_ID": "exec-call"}
    if through_os_environ:  # as a warm worker calls it: main(argv), the job's env in os.environ
        monkeypatch.setenv("FLYTE_INTERNAL_EXECUTION_ID", "exec-call")
    inputs = array_inputs(tmp_path / "inputs.pb", tasks.element_info, bound={"factor": 10},
                          mapped={"x": [1, 2, 3, 4], "probe": ["", "", "", ""]})
    elements = [
        element(tmp_path, 2, attempt=1, env={"FLYTE_INTERNAL_EXECUTION_ID": "exec-a", "ELEMENTS_SHARED": "two"}),
        element(tmp_path, 0, env={"FLYTE_INTERNAL_EXECUTION_ID": "exec-b"}),
        element(tmp_path, 3, attempt=2),
    ]
    code = main(batch_args(tmp_path, tasks.element_info, inputs, elements, ["factor"]),
                environ=None if through_os_environ else call_env)
    assert code == 0
    seen = [info(entry) for entry in elements]
    assert [s["value"] for s in seen] == ["30", "10", "40"]  # x of its index, times the bound factor
    # Its own env in os.environ and in current_context(), on top of the call's environment.
    assert [s["attempt"] for s in seen] == ["1", "0", "2"]
    assert [s["node"] for s in seen] == ["n1-0-2", "n1-0-0", "n1-0-3"]
    assert [s["execution"] for s in seen] == ["exec-a", "exec-b", "exec-call"]
    assert [s["shared"] for s in seen] == ["two", "before", "before"]  # restored after element 2
    # Its own prefixes in current_context().
    for entry, s in zip(elements, seen, strict=True):
        assert (s["outputs"], s["raw"], s["checkpoint"]) == (
            entry["output_prefix"], entry["raw_output_data_prefix"], entry["checkpoint_path"])
        assert s["workdir_was_empty"] == "True"  # the scratch folder is emptied between elements
        assert "outputs.pb" in os.listdir(entry["output_prefix"])
    # Nothing is written into the batch's own output prefix, and the call's environment is back.
    assert not (tmp_path / "batch").exists()
    assert "FLYTE_ATTEMPT_NUMBER" not in os.environ and "FLYTE_INTERNAL_NODE_ID" not in os.environ
    assert os.environ["ELEMENTS_SHARED"] == "before"
    assert os.environ.get("FLYTE_INTERNAL_EXECUTION_ID") == ("exec-call" if through_os_environ else None)


def test_the_task_and_the_inputs_are_loaded_once_per_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"task": 0, "inputs": 0, "code": 0}

    def counting(name: str, function: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            calls[name] += 1
            return function(*args)

        return wrapper

    monkeypatch.setattr(entrypoint, "_load_task", counting("task", entrypoint._load_task))
    monkeypatch.setattr(entrypoint, "_read_input_bytes", counting("inputs", entrypoint._read_input_bytes))
    monkeypatch.setattr(entrypoint, "_kept_inputs", None)
    monkeypatch.setattr(entrypoint, "_activate_code", counting("code", entrypoint._activate_code))
    inputs = array_inputs(tmp_path / "inputs.pb", tasks.add, bound={"b": 100}, mapped={"a": [1, 2, 3]})
    elements = [element(tmp_path, i) for i in range(3)]
    assert main(batch_args(tmp_path, tasks.add, inputs, elements, ["b"]), environ={}) == 0
    assert [result(e).outputs().literals["o0"].scalar.primitive.integer for e in elements] == [101, 102, 103]
    assert calls == {"task": 1, "inputs": 1, "code": 1}
    # The next batch of the same map in this (warm) process reuses them; changed inputs are read.
    more = [element(tmp_path, 2, attempt=1)]
    assert main(batch_args(tmp_path, tasks.add, inputs, more, ["b"]), environ={}) == 0
    assert calls["inputs"] == 1 and result(more[0]).outputs().literals["o0"].scalar.primitive.integer == 103
    array_inputs(tmp_path / "inputs.pb", tasks.add, bound={"b": 1000}, mapped={"a": [7, 8, 9, 10]})
    assert main(batch_args(tmp_path, tasks.add, inputs, [element(tmp_path, 3, attempt=2)], ["b"]), environ={}) == 0
    assert calls["inputs"] == 2
    assert result(element(tmp_path, 3, attempt=2)).outputs().literals["o0"].scalar.primitive.integer == 1010


def test_with_a_journal_each_element_is_marked_started_then_its_document_appended(tmp_path: Path) -> None:
    from flytecore.sdk._journal import ERROR, OUTPUTS, read_journal

    inputs = array_inputs(tmp_path / "inputs.pb", tasks.fail, bound={}, mapped={"x": [4, -1, 6]})
    elements = [element(tmp_path, i) for i in (2, 1, 0)]
    journal = tmp_path / "batch" / "b1.journal"
    assert main(batch_args(tmp_path, tasks.fail, inputs, elements, [], journal=str(journal)), environ={}) == 0
    records = read_journal(journal.read_bytes())
    assert sorted(records) == [0, 1, 2] and all(r.started for r in records.values())
    assert [records[i].kind for i in (0, 1, 2)] == [OUTPUTS, ERROR, OUTPUTS]
    assert idl.literal_map_from_bytes(records[2].document).literals["o0"].scalar.primitive.integer == 6
    assert b"x must be positive, got -1" in (records[1].document or b"")
    # The documents are in the journal, not in the elements' folders.
    assert not any(Path(e["output_prefix"], name).exists() for e in elements for name in ("outputs.pb", "error.pb"))


def test_a_journal_cut_short_keeps_what_was_whole(tmp_path: Path) -> None:
    from flytecore.sdk._journal import OUTPUTS, Journal, read_journal

    path = tmp_path / "j"
    journal = Journal(str(path))
    journal.started(3, 10, 20)
    journal.record(OUTPUTS, 3, b"abc")
    journal.started(4, 30, 40)
    journal.record(OUTPUTS, 4, b"defgh")
    journal.close()
    whole = path.read_bytes()
    records = read_journal(whole[:-2])  # the process died while writing element 4's outputs
    assert records[3].document == b"abc" and records[3].offsets == (10, 20)
    assert records[4].started and records[4].document is None and records[4].offsets == (30, 40)
    assert read_journal(whole)[4].document == b"defgh"


# --- errors -----------------------------------------------------------------------------------------------


def test_an_element_that_raises_gets_a_user_error_and_the_others_run(tmp_path: Path) -> None:
    inputs = array_inputs(tmp_path / "inputs.pb", tasks.fail, bound={}, mapped={"x": [1, -7, 3]})
    elements = [element(tmp_path, i) for i in range(3)]
    assert main(batch_args(tmp_path, tasks.fail, inputs, elements, []), environ={"FLYTE_FAIL_ON_ERROR": "true"}) == 0
    error = result(elements[1]).error()
    assert (error.code, error.origin) == ("USER:ValueError", USER)
    assert "x must be positive, got -7" in error.message
    assert [result(elements[i]).outputs().literals["o0"].scalar.primitive.integer for i in (0, 2)] == [1, 3]


def test_an_index_out_of_range_is_a_system_error_of_that_element_only(tmp_path: Path) -> None:
    inputs = array_inputs(tmp_path / "inputs.pb", tasks.add, bound={"b": 1}, mapped={"a": [10, 20]})
    elements = [element(tmp_path, 0), element(tmp_path, 5), element(tmp_path, 1)]
    assert main(batch_args(tmp_path, tasks.add, inputs, elements, ["b"]), environ={}) == 0
    error = result(elements[1]).error()
    assert (error.code, error.origin) == ("SYSTEM:InputsMismatch", SYSTEM)
    assert "'a'" in error.message and "5" in error.message and "out of range" in error.message
    assert [result(elements[i]).outputs().literals["o0"].scalar.primitive.integer for i in (0, 2)] == [11, 21]


def test_a_mapped_input_that_is_not_a_list_is_a_system_error(tmp_path: Path) -> None:
    # 'b' is not bound, so it is mapped over: but it is an integer.
    inputs = array_inputs(tmp_path / "inputs.pb", tasks.add, bound={"b": 1}, mapped={"a": [10, 20]})
    elements = [element(tmp_path, 0), element(tmp_path, 1)]
    assert main(batch_args(tmp_path, tasks.add, inputs, elements, []), environ={}) == 0
    for entry in elements:
        error = result(entry).error()
        assert (error.code, error.origin) == ("SYSTEM:InputsMismatch", SYSTEM)
        assert "'b'" in error.message and "not a list" in error.message


def test_a_task_that_cannot_be_loaded_is_every_elements_error(tmp_path: Path) -> None:
    inputs = array_inputs(tmp_path / "inputs.pb", tasks.add, bound={"b": 1}, mapped={"a": [10, 20]})
    elements = [element(tmp_path, 0), element(tmp_path, 1)]
    args = batch_args(tmp_path, tasks.add, inputs, elements, ["b"])
    args[args.index("add")] = "no_such_task"
    assert main(args, environ={}) == 0
    for entry in elements:
        error = result(entry).error()
        assert (error.code, error.origin) == ("SYSTEM:TaskNotFound", SYSTEM)
        assert "no_such_task" in error.message


def test_unreadable_inputs_are_every_elements_error(tmp_path: Path) -> None:
    elements = [element(tmp_path, 0), element(tmp_path, 1)]
    args = batch_args(tmp_path, tasks.add, str(tmp_path / "missing.pb"), elements, ["b"])
    assert main(args, environ={}) == 0
    for entry in elements:
        error = result(entry).error()
        assert (error.code, error.origin) == ("SYSTEM:InputsUnreadable", SYSTEM)
        assert "missing.pb" in error.message


def test_exit_code_is_1_when_an_element_gets_no_document(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    inputs = array_inputs(tmp_path / "inputs.pb", tasks.add, bound={"b": 1}, mapped={"a": [10, 20]})
    elements = [element(tmp_path, 0, output_prefix=str(blocker / "out"), stdout=None, stderr=None),
                element(tmp_path, 1)]
    assert main(batch_args(tmp_path, tasks.add, inputs, elements, ["b"]), environ={}) == 1
    assert result(elements[1]).outputs().literals["o0"].scalar.primitive.integer == 21  # it still ran


def test_a_dynamic_task_cannot_run_as_a_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = array_inputs(tmp_path / "inputs.pb", tasks.shortcut, bound={}, mapped={"n": [1, 2]})
    elements = [element(tmp_path, 0), element(tmp_path, 1)]
    assert ELEMENTS_UNSUPPORTED == 3
    assert main(batch_args(tmp_path, tasks.shortcut, inputs, elements, []), environ={}) == ELEMENTS_UNSUPPORTED
    assert not (tmp_path / "meta").exists()  # no documents, no log files
    err = capsys.readouterr().err
    assert "@dynamic" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        ("{not json", "not JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"elements": {"index": 0}}', "'elements' must be a list"),
        ('{"elements": [{"output_prefix": "/x"}]}', "elements[0].index must be an integer"),
        ('{"elements": [{"index": 0}]}', "elements[0].output_prefix"),
        ('{"bound": "b", "elements": []}', "'bound' must be a list"),
        ('{"elements": [{"index": 0, "output_prefix": "/x", "env": {"A": 1}}]}', "elements[0].env"),
        ('{"pattern": {"output_prefix": "/x/{idx}"}, "elements": [[0, 0]]}', "pattern.output_prefix '/x/{idx}' is not a template"),
        ('{"pattern": {"output_prefix": "/x/{index}", "env": {"A": "{"}}, "elements": []}', "pattern.env.A"),
        ('{"pattern": {"raw_output_data_prefix": "/r"}, "elements": []}', "pattern.output_prefix must be a template"),
        ('{"pattern": {"output_prefix": "/x/{index}"}, "elements": [[0, 0], [1]]}', "elements[1] must be [index, attempt]"),
        ('{"pattern": {"output_prefix": "/x/{index}"}, "elements": [[0, -1]]}', "elements[0] must be [index, attempt]"),
    ],
)
def test_a_bad_manifest_is_exit_code_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, expected: str
) -> None:
    inputs = array_inputs(tmp_path / "inputs.pb", tasks.add, bound={"b": 1}, mapped={"a": [10]})
    args = batch_args(tmp_path, tasks.add, inputs, [], ["b"])
    manifest = tmp_path / "batch.json"
    if content is None:
        manifest.unlink()
    else:
        manifest.write_text(content)
    assert main(args, environ={}) == 2
    err = capsys.readouterr().err
    assert str(manifest) in err and expected in err
    assert not (tmp_path / "batch").exists() and not (tmp_path / "meta").exists()


# --- the elements' log files, in a fresh process -------------------------------------------------------------

_MAIN = "import sys; from flytecore.sdk.entrypoint import main; sys.exit(main())"


def run_fresh(args: list[str], root: Path) -> tuple[int, str, str]:
    """Run a batch in a fresh process whose fds 1 and 2 are files it can read back (a warm
    worker's job files are); returns its exit code and what stayed in those files."""
    # Buffered streams (no PYTHONUNBUFFERED), as when fds 1 and 2 are files: what an element
    # printed is in its files only if the entrypoint flushed before moving it.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONUNBUFFERED") and not k.startswith(("FLYTE_", "_F_"))}
    with open(root / "call.out", "w+") as out, open(root / "call.err", "w+") as err:
        done = subprocess.run([sys.executable, "-c", _MAIN, *args], cwd=ROOT, env=env, stdout=out, stderr=err,
                              timeout=120)
    return done.returncode, (root / "call.out").read_text(), (root / "call.err").read_text()


@pytest.mark.slow
def test_each_elements_log_files_hold_only_what_it_printed(tmp_path: Path) -> None:
    elements = [element(tmp_path, 0), element(tmp_path, 1), element(tmp_path, 2)]
    shared = str(Path(elements[2]["output_prefix"]) / "both.log")
    elements[2].update(stdout=shared, stderr=shared)  # one file for both streams
    inputs = array_inputs(tmp_path / "inputs.pb", tasks.element_info, bound={"factor": 2},
                          mapped={"x": [11, 22, 33], "probe": ["", "", ""]})
    code, stdout, stderr = run_fresh(batch_args(tmp_path, tasks.element_info, inputs, elements, ["factor"]), tmp_path)
    assert code == 0, stderr
    for entry, x in zip(elements[:2], (11, 22), strict=True):
        out, err = Path(entry["stdout"]).read_text(), Path(entry["stderr"]).read_text()
        assert set(out.splitlines()) == {f"print out x={x}", f"fd1 x={x}"}, out
        assert f"print err x={x}" in err and f"fd2 x={x}" in err, err
        assert "x=" not in err.replace(f"x={x}", ""), err  # no other element's lines
    both = Path(shared).read_text().splitlines()
    assert {"print out x=33", "fd1 x=33", "print err x=33", "fd2 x=33"} <= set(both), both
    assert "x=" not in " ".join(both).replace("x=33", "")
    # The call's own streams kept none of it.
    assert "x=" not in stdout and "print out" not in stderr and "fd2" not in stderr, (stdout, stderr)
    assert info(elements[1])["value"] == "44"


@pytest.mark.slow
def test_each_elements_stderr_says_why_the_task_could_not_be_loaded(tmp_path: Path) -> None:
    inputs = array_inputs(tmp_path / "inputs.pb", tasks.add, bound={"b": 1}, mapped={"a": [10, 20]})
    elements = [element(tmp_path, 0), element(tmp_path, 1)]
    args = batch_args(tmp_path, tasks.add, inputs, elements, ["b"])
    args[args.index("add")] = "no_such_task"
    code, _, stderr = run_fresh(args, tmp_path)
    assert code == 0, stderr
    for entry in elements:
        assert result(entry).error().code == "SYSTEM:TaskNotFound"
        err = Path(entry["stderr"]).read_text()
        assert "SYSTEM:TaskNotFound" in err and "no_such_task" in err, err


def test_a_pattern_manifest_gives_each_element_what_a_listed_one_would(tmp_path: Path) -> None:
    """The local backend's compact form: ``[index, attempt]`` pairs and the fields as templates
    (braces in the paths themselves escaped); each element reads as the long form lists it."""
    root = tmp_path / "odd {dir}"
    escaped = str(root).replace("{", "{{").replace("}", "}}")
    pattern = {
        "output_prefix": f"{escaped}/meta/n1-0-{{index}}/{{attempt}}",
        "raw_output_data_prefix": f"{escaped}/raw/n1-0-{{index}}/{{attempt}}",
        "checkpoint_path": f"{escaped}/raw/n1-0-{{index}}/{{attempt}}/_flytecheckpoints",
        "prev_checkpoint": f"{escaped}/raw/n1-0-{{index}}/{{previous}}/_flytecheckpoints",
        "stdout": f"{escaped}/meta/n1-0-{{index}}/{{attempt}}/stdout.log",
        "stderr": f"{escaped}/meta/n1-0-{{index}}/{{attempt}}/stderr.log",
        "env": {"FLYTE_INTERNAL_NODE_ID": "n1-0-{index}", "FLYTE_ATTEMPT_NUMBER": "{attempt}"},
    }
    compact = entrypoint._parse_manifest({"bound": ["b"], "pattern": pattern, "elements": [[3, 0], [7, 2]]})
    listed = [element(root, 3), element(root, 7, attempt=2, prev_checkpoint=f"{root}/raw/n1-0-7/1/_flytecheckpoints")]
    assert compact == entrypoint._parse_manifest({"bound": ["b"], "elements": listed})
