"""The task entrypoint (``flytecore-execute``): one task attempt from ``inputs.pb`` to
``outputs.pb`` or ``error.pb``, in-process, on ``s3://`` and as the installed console script.

Tasks live in a real module (tests/sdk/entrypoint_tasks.py) and start with the container
arguments of their serialized templates (tests/sdk/entrypoint_harness.py).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import errors_pb2, literals_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from flytecore.sdk.entrypoint import main
from flytecore.sdk.type_engine import get_type_engine
from flytecore.spec import idl
from tests.sdk import entrypoint_tasks as tasks
from tests.sdk.entrypoint_harness import (
    FLYTE_ENV,
    NON_RECOVERABLE,
    RECOVERABLE,
    ROOT,
    SETTINGS,
    SYSTEM,
    USER,
    container_args,
    run_task,
    write_inputs,
)

# --- outputs.pb -------------------------------------------------------------------------------------


def test_outputs_of_simple_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    attempt = run_task(tmp_path, tasks.add, a=2)
    assert attempt.code == 0
    # Nothing the attempt made is left: warm workers run many (one emptied scratch folder is kept).
    assert [p for p in scratch.rglob("*") if not p.is_dir()] == []
    assert attempt.outputs().literals["o0"].scalar.primitive.integer == 12  # b's default was used
    greeting = run_task(tmp_path, tasks.greet, label="greet", name="flyte")
    assert greeting.outputs().literals["o0"].scalar.primitive.string_value == "hello flyte"


def test_an_attempt_starts_in_an_empty_working_directory_whatever_the_last_one_left(tmp_path: Path) -> None:
    from flytecore.sdk import entrypoint

    first = run_task(tmp_path, tasks.write_file, label="first", text="left behind")
    assert first.code == 0, first.files()
    scratch = entrypoint._scratch._path
    assert scratch is not None and [p for p in Path(scratch).rglob("*") if not p.is_dir()] == []
    second = run_task(tmp_path, tasks.write_file, label="second", text="again")
    assert second.code == 0 and entrypoint._scratch._path == scratch  # the same folder, emptied


def test_outputs_of_lists_and_dicts(tmp_path: Path) -> None:
    attempt = run_task(tmp_path, tasks.summarize, xs=[3, 1, 2], weights={"a": 0.5, "b": 2.0})
    pb = attempt.outputs()
    assert [lit.scalar.primitive.integer for lit in pb.literals["o0"].collection.literals] == [1, 2, 3]
    assert {k: v.scalar.primitive.float_value for k, v in pb.literals["o1"].map.literals.items()} == {"a": 1.0, "b": 4.0}


def test_outputs_of_a_dataclass(tmp_path: Path) -> None:
    attempt = run_task(tmp_path, tasks.move, p=tasks.Point(x=1, y=2.5, label="p"), dx=3)
    fields = attempt.outputs().literals["o0"].scalar.generic.fields
    assert (fields["x"].number_value, fields["label"].string_value) == (4, "p!")
    assert attempt.python_outputs(tasks.move) == {"o0": tasks.Point(x=4, y=2.5, label="p!")}


def test_a_returned_file_is_uploaded_under_the_raw_output_prefix(tmp_path: Path) -> None:
    attempt = run_task(tmp_path, tasks.write_file, text="a note")
    blob = attempt.outputs().literals["o0"].scalar.blob
    assert blob.uri.startswith(attempt.raw_prefix + os.sep), blob.uri
    assert Path(blob.uri).read_text() == "a note"
    # The file goes on to the next task as its input.
    reader = tasks.read_file.to_template(SETTINGS)
    inputs = tmp_path / "next-inputs.pb"
    inputs.write_bytes(literals_pb2.LiteralMap(literals={"f": attempt.outputs().literals["o0"]}).SerializeToString())
    out = tmp_path / "next-out"
    assert main(container_args(reader, input=str(inputs), output=str(out), raw=str(tmp_path / "raw2")), environ={}) == 0
    result = literals_pb2.LiteralMap.FromString((out / "outputs.pb").read_bytes())
    assert result.literals["o0"].scalar.primitive.string_value == "a note"


def test_file_urls_work_for_every_location(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "inputs.pb", tasks.add, a=1, b=2)
    args = container_args(tasks.add.to_template(SETTINGS), input=f"file://{inputs}",
                          output=f"file://{tmp_path}/out", raw=f"file://{tmp_path}/raw")
    assert main(args, environ={}) == 0
    pb = literals_pb2.LiteralMap.FromString((tmp_path / "out" / "outputs.pb").read_bytes())
    assert pb.literals["o0"].scalar.primitive.integer == 3


# --- error.pb ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "inputs", "handed_back"),
    [
        (tasks.add, {"a": 2}, True),
        (tasks.greet, {"name": "x" * 70_000}, False),  # outputs above the hand-off limit: written
        (tasks.fail, {"x": -1}, False),  # error.pb: always written
    ],
)
def test_in_a_warm_worker_small_documents_go_in_memory(
    tmp_path: Path, entity: Any, inputs: dict[str, Any], handed_back: bool
) -> None:
    """What a worker hands the entrypoint with a job (flytecore.sdk._handoff): inputs read from
    memory, never from storage; a small outputs.pb handed back instead of written."""
    from flytecore.sdk import _handoff

    data = idl.literal_map_to_bytes(
        get_type_engine().literal_map_from_python(inputs, entity.python_interface.input_types)
    )
    inputs_uri, output = str(tmp_path / "inputs.pb"), str(tmp_path / "out")  # no inputs.pb is written
    args = container_args(entity.to_template(SETTINGS), input=inputs_uri, output=output, raw=str(tmp_path / "raw"),
                          checkpoint=str(tmp_path / "cp"), prev="")
    _handoff.begin({inputs_uri: data}, output)
    try:
        code = main(args, environ={})
    finally:
        handed = _handoff.end()
    assert code == 0 and not os.path.exists(inputs_uri)
    written = sorted(os.listdir(output)) if os.path.isdir(output) else []
    if handed_back:
        assert written == [] and list(handed) == ["outputs.pb"]
        assert literals_pb2.LiteralMap.FromString(handed["outputs.pb"]).literals["o0"].scalar.primitive.integer == 12
    else:
        assert handed == {} and written == (["outputs.pb"] if entity is tasks.greet else ["error.pb"])
    # Outside a worker's job nothing is in hand: storage is read (and here, is empty).
    attempt = run_task(tmp_path, entity, inputs=inputs_uri)
    assert attempt.error().code == "SYSTEM:InputsUnreadable"


def test_a_user_exception_becomes_a_non_recoverable_user_error(tmp_path: Path) -> None:
    attempt = run_task(tmp_path, tasks.fail, x=-1)
    assert attempt.code == 0  # the failure is in error.pb, which is what Flyte reads
    error = attempt.error()
    assert (error.code, error.origin, error.kind) == ("USER:ValueError", USER, NON_RECOVERABLE)
    assert "ValueError: x must be positive, got -1" in error.message
    # The user's own frame, with the line that raised; not the entrypoint's frames.
    assert "entrypoint_tasks.py" in error.message and 'raise ValueError(f"x must be positive' in error.message
    assert "flytecore/sdk/entrypoint.py" not in error.message
    assert error.timestamp.seconds > 0


def test_a_recoverable_exception_is_a_recoverable_user_error(tmp_path: Path) -> None:
    error = run_task(tmp_path, tasks.flaky).error()
    assert (error.code, error.origin, error.kind) == ("USER:FlyteRecoverableException", USER, RECOVERABLE)
    assert "the service is busy, try again" in error.message


def test_sys_exit_in_a_body_is_a_user_error_and_does_not_end_the_process(tmp_path: Path) -> None:
    error = run_task(tmp_path, tasks.quits, code=3).error()
    assert (error.code, error.origin, error.kind) == ("USER:SystemExit", USER, NON_RECOVERABLE)
    assert "raise SystemExit(code)" in error.message


def test_an_output_of_the_wrong_type_is_a_user_error(tmp_path: Path) -> None:
    error = run_task(tmp_path, tasks.wrong_output).error()
    assert (error.origin, error.kind) == (USER, NON_RECOVERABLE)
    assert "output 'o0'" in error.message and "not a number" in error.message


@pytest.mark.parametrize(
    ("loader_args", "expected"),
    [
        (["task-module", "tests.sdk.entrypoint_tasks", "task-name", "nope"], "has no 'nope'; its tasks: add,"),
        (["task-module", "no_such_module_xyz", "task-name", "t"], "no module named 'no_such_module_xyz'"),
        (["task-module", "tests.sdk.entrypoint_tasks", "task-name", "Point"], "is a type, not a task"),
        (["task-module", "tests.sdk.entrypoint_tasks"], "expected loader arguments task-module <module> task-name <name>"),
    ],
)
def test_a_task_that_cannot_be_loaded_is_a_system_error(tmp_path: Path, loader_args: list[str], expected: str) -> None:
    inputs = tmp_path / "inputs.pb"
    inputs.write_bytes(b"")
    args = ["--inputs", str(inputs), "--output-prefix", str(tmp_path / "out"), "--", *loader_args]
    assert main(args, environ={}) == 0
    error = errors_pb2.ErrorDocument.FromString((tmp_path / "out" / "error.pb").read_bytes()).error
    assert (error.code, error.origin, error.kind) == ("SYSTEM:TaskNotFound", SYSTEM, NON_RECOVERABLE)
    assert expected in error.message


def test_a_custom_resolver_that_does_not_know_the_task_is_a_system_error(tmp_path: Path) -> None:
    args = ["--inputs", str(tmp_path / "in.pb"), "--output-prefix", str(tmp_path / "out"),
            "--resolver", tasks.RegistryResolver.location, "--", "key", "unknown"]
    assert main(args, environ={}) == 0
    error = errors_pb2.ErrorDocument.FromString((tmp_path / "out" / "error.pb").read_bytes()).error
    assert (error.code, error.kind) == ("SYSTEM:TaskNotFound", NON_RECOVERABLE)
    assert "key unknown" in error.message and "KeyError" in error.message


def test_an_unknown_resolver_is_a_system_error(tmp_path: Path) -> None:
    args = ["--inputs", str(tmp_path / "in.pb"), "--output-prefix", str(tmp_path / "out"),
            "--resolver", "no.such.resolver", "--", "x"]
    assert main(args, environ={}) == 0
    error = errors_pb2.ErrorDocument.FromString((tmp_path / "out" / "error.pb").read_bytes()).error
    assert error.code == "SYSTEM:TaskNotFound" and "--resolver 'no.such.resolver' cannot be imported" in error.message


@pytest.mark.parametrize(
    ("content", "expected", "kind"),
    [
        (None, "no such file", NON_RECOVERABLE),
        (b"\xff\xff\xff", "not a serialized flyteidl.core.LiteralMap", NON_RECOVERABLE),
    ],
)
def test_unreadable_inputs_are_a_system_error(tmp_path: Path, content: bytes | None, expected: str, kind: int) -> None:
    inputs = tmp_path / "inputs.pb"
    if content is not None:
        inputs.write_bytes(content)
    error = run_task(tmp_path, tasks.add, inputs=str(inputs)).error()
    assert (error.code, error.origin, error.kind) == ("SYSTEM:InputsUnreadable", SYSTEM, kind)
    assert str(inputs) in error.message and expected in error.message


def test_inputs_that_do_not_fit_the_interface_are_a_system_error(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "inputs.pb", tasks.greet, name="not an int")
    renamed = tmp_path / "renamed.pb"
    pb = literals_pb2.LiteralMap.FromString(Path(inputs).read_bytes())
    renamed.write_bytes(literals_pb2.LiteralMap(literals={"a": pb.literals["name"]}).SerializeToString())
    error = run_task(tmp_path, tasks.add, inputs=str(renamed)).error()
    assert (error.code, error.origin) == ("SYSTEM:InputsMismatch", SYSTEM)
    assert "input 'a'" in error.message and "tests.sdk.entrypoint_tasks.add" in error.message


def test_exit_code_is_1_when_not_even_error_pb_can_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    inputs = write_inputs(tmp_path / "inputs.pb", tasks.add, a=1)
    args = container_args(tasks.add.to_template(SETTINGS), input=inputs, output=str(blocker / "out"),
                          raw=str(tmp_path / "raw"))
    assert main(args, environ={}) == 1


def test_fail_on_error_makes_the_exit_code_1(tmp_path: Path) -> None:
    attempt = run_task(tmp_path, tasks.fail, x=-1, environ={"FLYTE_FAIL_ON_ERROR": "true"})
    assert attempt.code == 1 and attempt.error().code == "USER:ValueError"


def test_distributed_workers_write_their_own_error_files(tmp_path: Path) -> None:
    attempt = run_task(tmp_path, tasks.fail, x=-1, environ={"_F_DES": "earliest", "_F_WN": "worker-3"})
    (name,) = attempt.files()
    assert name.startswith("error-") and name.endswith(".pb")
    assert errors_pb2.ErrorDocument.FromString(attempt.read(name)).error.worker == "worker-3"


def test_a_wrong_command_line_is_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--inputs", "x"], environ={}) == 2
    assert "Missing option '--output-prefix'" in capsys.readouterr().err
    assert main(["--help"], environ={}) == 0


# --- current_context() and checkpoints ----------------------------------------------------------------



def test_current_context_comes_from_flytes_environment(tmp_path: Path) -> None:
    attempt = run_task(tmp_path, tasks.context_info, environ=FLYTE_ENV)
    info = attempt.python_outputs(tasks.context_info)["o0"]
    assert info == {
        "execution": "flytesnacks/development/f3a1b2c",
        "task": "tp/td/tests.sdk.entrypoint_tasks.context_info@v7",
        "raw": attempt.raw_prefix,
        "outputs": attempt.output_prefix,
    }


def test_short_environment_names_work_too(tmp_path: Path) -> None:
    env = {"_F_PRJ": "p2", "_F_DM": "d2", "_F_NM": "e2", "_F_TK_PRJ": "p2", "_F_TK_DM": "d2",
           "_F_TK_NM": "t2", "_F_TK_V": "v2"}
    info = run_task(tmp_path, tasks.context_info, environ=env).python_outputs(tasks.context_info)["o0"]
    assert (info["execution"], info["task"]) == ("p2/d2/e2", "p2/d2/t2@v2")


def test_a_retry_resumes_from_the_previous_attempts_checkpoint(tmp_path: Path) -> None:
    template = tasks.resume.to_template(SETTINGS)
    inputs = write_inputs(tmp_path / "inputs.pb", tasks.resume, target=3)
    previous = ""
    for attempt in range(3):
        out, checkpoint = tmp_path / f"attempt-{attempt}", tmp_path / f"cp-{attempt}"
        args = container_args(template, input=inputs, output=str(out), raw=str(tmp_path / "raw"),
                              checkpoint=str(checkpoint), prev=previous)
        assert main(args, environ={}) == 0
        previous = str(checkpoint)
    assert sorted(os.listdir(tmp_path / "attempt-1")) == ["error.pb"]
    error = errors_pb2.ErrorDocument.FromString((tmp_path / "attempt-1" / "error.pb").read_bytes()).error
    assert error.kind == RECOVERABLE and "step 2 of 3 done" in error.message
    final = literals_pb2.LiteralMap.FromString((tmp_path / "attempt-2" / "outputs.pb").read_bytes())
    assert final.literals["o0"].scalar.primitive.string_value == "done after 3 attempts"


# --- s3:// ------------------------------------------------------------------------------------------------

BUCKET = "flytecore-entrypoint"


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """A real S3 API (moto) on 127.0.0.1 with one bucket; yields its URL."""
    server_mod = pytest.importorskip("moto.server", reason="moto[server] is in the 'test' extra")
    boto3 = pytest.importorskip("boto3")
    pytest.importorskip("s3fs", reason="s3fs[boto3] is in the 's3' and 'test' extras")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket=BUCKET)
        yield url
    finally:
        server.stop()


@pytest.fixture
def s3(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """The moto server as the S3 endpoint (AWS_ENDPOINT_URL, dummy credentials, no machine
    configuration); yields a boto3 client to look at what was written."""
    import boto3
    import fsspec

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    # fsspec caches filesystems by their arguments, not the environment: no client of another
    # test's endpoint may be reused, and none of this one's may leak out.
    s3fs_class = fsspec.get_filesystem_class("s3")
    s3fs_class.clear_instance_cache()
    yield boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    s3fs_class.clear_instance_cache()


def test_inputs_outputs_and_files_on_s3(s3: Any, tmp_path: Path) -> None:
    prefix = f"s3://{BUCKET}/{uuid.uuid4().hex}"
    key = prefix.removeprefix(f"s3://{BUCKET}/")
    inputs = get_type_engine().literal_map_from_python({"text": "on s3"}, tasks.write_file.python_interface.input_types)
    s3.put_object(Bucket=BUCKET, Key=f"{key}/inputs.pb", Body=idl.literal_map_to_bytes(inputs))
    args = container_args(tasks.write_file.to_template(SETTINGS), input=f"{prefix}/inputs.pb",
                          output=f"{prefix}/out", raw=f"{prefix}/raw")
    assert main(args, environ={}) == 0
    body = s3.get_object(Bucket=BUCKET, Key=f"{key}/out/outputs.pb")["Body"].read()
    uri = literals_pb2.LiteralMap.FromString(body).literals["o0"].scalar.blob.uri
    assert uri.startswith(f"{prefix}/raw/"), uri
    assert s3.get_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"))["Body"].read() == b"on s3"

    failing = get_type_engine().literal_map_from_python({"x": -4}, tasks.fail.python_interface.input_types)
    s3.put_object(Bucket=BUCKET, Key=f"{key}/fail/inputs.pb", Body=idl.literal_map_to_bytes(failing))
    args = container_args(tasks.fail.to_template(SETTINGS), input=f"{prefix}/fail/inputs.pb",
                          output=f"{prefix}/fail/out", raw=f"{prefix}/raw")
    assert main(args, environ={}) == 0
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{key}/fail/out/")["Contents"]
    assert [o["Key"].rsplit("/", 1)[1] for o in listed] == ["error.pb"]
    error = errors_pb2.ErrorDocument.FromString(
        s3.get_object(Bucket=BUCKET, Key=f"{key}/fail/out/error.pb")["Body"].read()).error
    assert error.code == "USER:ValueError" and "got -4" in error.message


# --- the console script, in a fresh process ---------------------------------------------------------------


def console_script() -> str:
    script = Path(sys.executable).parent / "flytecore-execute"
    assert script.is_file(), f"{script} is missing: install flytecore (pip install -e .) to get the console script"
    return str(script)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("FLYTE_", "_F_"))}
    return {**env, **extra}


@pytest.mark.slow
def test_the_console_script_runs_a_script_module_from_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/quickstart.py, registered as module ``quickstart`` (as ``flytecore run`` imports
    it), loads when the container starts in the script's folder."""
    from flytecore.cli.loader import load_module

    monkeypatch.setattr(sys, "path", list(sys.path))  # load_module puts examples/ on it
    quickstart = load_module(str(ROOT / "examples" / "quickstart.py"))
    template = quickstart.square.to_template(SETTINGS)
    assert template.container.args[-4:] == ("task-module", "quickstart", "task-name", "square")
    inputs = write_inputs(tmp_path / "inputs.pb", quickstart.square, x=7)
    args = container_args(template, input=inputs, output=str(tmp_path / "out"), raw=str(tmp_path / "raw"),
                          checkpoint=str(tmp_path / "cp"))
    done = subprocess.run([console_script(), *args], cwd=ROOT / "examples", env=clean_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    pb = literals_pb2.LiteralMap.FromString((tmp_path / "out" / "outputs.pb").read_bytes())
    assert pb.literals["o0"].scalar.primitive.integer == 49


@pytest.mark.slow
def test_the_console_script_reads_flytes_environment_and_reports_errors(tmp_path: Path) -> None:
    ok = write_inputs(tmp_path / "inputs.pb", tasks.context_info)
    args = container_args(tasks.context_info.to_template(SETTINGS), input=ok, output=str(tmp_path / "out"),
                          raw=str(tmp_path / "raw"))
    done = subprocess.run([console_script(), *args], cwd=ROOT, env=clean_env(**FLYTE_ENV),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    literal_map = idl.literal_map_from_bytes((tmp_path / "out" / "outputs.pb").read_bytes())
    info = get_type_engine().python_from_literal_map(literal_map, {"o0": dict[str, str]})["o0"]
    assert info["execution"] == "flytesnacks/development/f3a1b2c" and info["task"].endswith("@v7")

    bad = write_inputs(tmp_path / "bad.pb", tasks.fail, x=-2)
    args = container_args(tasks.fail.to_template(SETTINGS), input=bad, output=str(tmp_path / "bad-out"),
                          raw=str(tmp_path / "raw"))
    done = subprocess.run([console_script(), *args], cwd=ROOT, env=clean_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    error = errors_pb2.ErrorDocument.FromString((tmp_path / "bad-out" / "error.pb").read_bytes()).error
    assert error.code == "USER:ValueError" and "got -2" in error.message
    assert "ValueError: x must be positive, got -2" in done.stderr  # the failure is logged, too


# --- the command line: the propeller's plain form skips click, with click's result -------------------

_OPTION_NAMES = ["--inputs", "--output-prefix", "--raw-output-data-prefix", "--checkpoint-path",
                 "--prev-checkpoint", "--resolver", "--code-uri", "--array-elements"]  # fmt: skip


def _click_parse(argv: list[str]) -> Any:
    from flytecore.sdk.entrypoint import _command

    try:
        return _command.main(args=list(argv), prog_name="flytecore-execute", standalone_mode=False)
    except Exception as exc:  # click's usage errors
        return type(exc)


def test_the_propellers_command_line_is_parsed_without_click_as_click_would() -> None:
    from flytecore.sdk.entrypoint import _parse_plain

    argv = ["--inputs", "/s/n1/inputs.pb", "--output-prefix", "/s/n1/0", "--raw-output-data-prefix", "/raw",
            "--checkpoint-path", "/s/n1/0/_flytecheckpoints", "--prev-checkpoint", '""',
            "--resolver", "flytecore.sdk.resolver.default", "--", "task-module", "m", "task-name", "t"]  # fmt: skip
    parsed = _parse_plain(argv)
    assert parsed is not None and parsed == _click_parse(argv)
    assert parsed.prev_checkpoint is None and parsed.resolver_args == ("task-module", "m", "task-name", "t")


def test_any_other_command_line_goes_to_click() -> None:
    from flytecore.sdk.entrypoint import _parse_plain

    base = ["--inputs", "i", "--output-prefix", "o"]
    for argv in (
        [*base, "t"],  # no "--"
        ["--inputs=i", "--output-prefix", "o", "--", "t"],
        [*base, "--inputs", "j", "--", "t"],  # repeated
        [*base, "--help", "x", "--", "t"],
        ["--inputs", "i", "--", "t"],  # a required option missing
        [*base, "--resolver", "-x", "--", "t"],
        [*base, "-h", "--", "t"],
    ):
        assert _parse_plain(argv) is None, argv


_VALUES = st.text(max_size=6) | st.sampled_from(["", '""', "{{.rawOutputDataPrefix}}", "-", "--", "-x", "/a b"])


@settings(max_examples=300, deadline=None)
@given(
    inputs=_VALUES,
    prefix=_VALUES,
    extra=st.lists(st.tuples(st.sampled_from([*_OPTION_NAMES, "--nope", "-x"]), _VALUES), max_size=6),
    separator=st.sampled_from([True, True, True, False]),
    rest=st.lists(_VALUES, max_size=4),
    data=st.data(),
)
def test_whenever_the_plain_parse_answers_it_is_clicks_answer(
    inputs: str, prefix: str, extra: list[tuple[str, str]], separator: bool, rest: list[str], data: st.DataObject
) -> None:
    from flytecore.sdk.entrypoint import _parse_plain

    pairs = data.draw(st.permutations([("--inputs", inputs), ("--output-prefix", prefix), *extra]))
    argv = [part for pair in pairs for part in pair] + (["--"] if separator else []) + rest
    plain = _parse_plain(argv)
    if plain is not None:
        assert plain == _click_parse(argv)


# --- tasks a warm worker runs again -----------------------------------------------------------------


def _run_module_task(tmp_path: Path, module: str, label: str) -> int:
    inputs = tmp_path / "empty.pb"
    inputs.write_bytes(b"")  # an empty LiteralMap
    out = tmp_path / label
    args = ["--inputs", str(inputs), "--output-prefix", str(out), "--", "task-module", module, "task-name", "value"]
    assert main(args, environ={}) == 0
    return literals_pb2.LiteralMap.FromString((out / "outputs.pb").read_bytes()).literals["o0"].scalar.primitive.integer


def test_a_task_is_loaded_again_only_once_its_module_was_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flytecore.sdk import entrypoint, resolver

    module = f"warm_{uuid.uuid4().hex}"
    source = tmp_path / f"{module}.py"
    source.write_text("from flytecore import task\n\n@task\ndef value() -> int:\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    loads = []
    real = resolver.DefaultTaskResolver.load_task
    monkeypatch.setattr(resolver.DefaultTaskResolver, "load_task", lambda self, args: loads.append(args) or real(self, args))
    assert [_run_module_task(tmp_path, module, f"run{i}") for i in range(3)] == [1, 1, 1]
    assert len(loads) == 1  # the same task object, not imported and looked up per attempt
    # Another code archive replaces the module: the task comes from the new one, and the old
    # module's task is not kept (with everything its module loaded).
    # (Each version is longer: a .pyc of the same size and second would be taken as current.)
    source.write_text("from flytecore import task\n\n@task\ndef value() -> int:\n    return 22\n")
    monkeypatch.delitem(sys.modules, module)
    assert _run_module_task(tmp_path, module, "after") == 22
    assert len(loads) == 2
    assert [kept[0].fn() for kept in entrypoint._loaded.values() if kept[1] == module] == [22]
    # A reload runs the module again in the same module object: the new task is found too.
    source.write_text("from flytecore import task\n\n@task\ndef value() -> int:\n    return 333\n")
    importlib.reload(sys.modules[module])
    assert _run_module_task(tmp_path, module, "reloaded") == 333
    assert len(loads) == 3


def test_other_resolvers_are_asked_every_time(tmp_path: Path) -> None:
    args = ["--inputs", str(tmp_path / "in.pb"), "--output-prefix", str(tmp_path / "out"),
            "--resolver", tasks.RegistryResolver.location, "--", "key", "unknown"]
    registry = tasks.registry_resolver.tasks
    registry["unknown"] = tasks.add
    try:
        write_inputs(tmp_path / "in.pb", tasks.add, a=1)
        assert main(args, environ={}) == 0
        registry["unknown"] = tasks.square
        write_inputs(tmp_path / "in.pb", tasks.square, x=3)
        assert main(args, environ={}) == 0
    finally:
        del registry["unknown"]
    outputs = literals_pb2.LiteralMap.FromString((tmp_path / "out" / "outputs.pb").read_bytes())
    assert outputs.literals["o0"].scalar.primitive.integer == 9


def test_the_scratch_folder_is_left_as_it_is_only_when_nothing_was_left_in_it(tmp_path: Path) -> None:
    from flytecore.sdk.entrypoint import _left_empty

    for name in ("work", "sandbox"):
        (tmp_path / name).mkdir()
    assert _left_empty(str(tmp_path))
    (tmp_path / "sandbox" / "download").write_text("x")
    assert not _left_empty(str(tmp_path))
    (tmp_path / "sandbox" / "download").unlink()
    (tmp_path / "stray.txt").write_text("x")
    assert not _left_empty(str(tmp_path))
    (tmp_path / "stray.txt").unlink()
    # A task that swapped its working directory for a link (to an empty folder elsewhere).
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    (tmp_path / "work").rmdir()
    (tmp_path / "work").symlink_to(elsewhere)
    assert not _left_empty(str(tmp_path))
