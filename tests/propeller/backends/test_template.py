"""The container command line of an attempt: Flyte's template variables, and the stand-ins the
local backend uses for the image's filesystem (flytekit's fast registration)."""

from __future__ import annotations

import pytest

from flytecore.propeller.backends.local.template import render_command
from flytecore.propeller.context import TaskContext
from flytecore.spec.identifiers import (
    Identifier,
    NodeExecutionIdentifier,
    ResourceType,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
)
from flytecore.spec.literals import LiteralMap
from flytecore.spec.tasks import TaskTemplate

FAST = ["pyflyte-fast-execute", "--additional-distribution", "/store/fast.tar.gz", "--dest-dir"]
EXECUTE = ["--", "pyflyte-execute", "--inputs", "{{.input}}", "--output-prefix", "{{.outputPrefix}}"]


def context() -> TaskContext:
    tid = Identifier(resource_type=ResourceType.TASK, project="p", domain="d", name="t", version="v")
    eid = WorkflowExecutionIdentifier(project="p", domain="d", name="e")
    return TaskContext(
        template=TaskTemplate(id=tid, type="python-task"),
        task_execution_id=TaskExecutionIdentifier(
            task_id=tid, node_execution_id=NodeExecutionIdentifier(node_id="n0", execution_id=eid), retry_attempt=0
        ),
        inputs=LiteralMap(),
        inputs_uri="/meta/n0/inputs.pb",
        output_prefix="/meta/n0/0",
        raw_output_prefix="/raw/n0/0",
        checkpoint_prefix="/raw/n0/0/_flytecheckpoints",
        prev_checkpoint_prefix='""',
        plugin_state={},
        interruptible=False,
        environment={},
        wake=lambda: None,
        now=0.0,
    )


def test_an_absolute_dest_dir_of_fast_execute_is_the_attempts_working_directory() -> None:
    argv = render_command([], [*FAST, "/root", *EXECUTE], context(), work_dir="/work/attempt")
    assert argv[: len(FAST) + 1] == [*FAST, "/work/attempt"]
    assert argv[len(FAST) + 1 :] == ["--", "pyflyte-execute", "--inputs", "/meta/n0/inputs.pb", "--output-prefix", "/meta/n0/0"]


def test_dest_dir_placeholder_is_the_working_directory_and_args_after_the_separator_stay() -> None:
    tail = ["--", "mytool", "--dest-dir", "/keep"]
    argv = render_command([], [*FAST, "{{ .dest_dir }}", *tail], context(), work_dir="/w")
    assert argv == [*FAST, "/w", *tail]


def test_without_a_working_directory_nothing_is_rewritten() -> None:
    argv = render_command([], [*FAST, "/root", *EXECUTE], context())
    assert argv[len(FAST)] == "/root"


def test_a_template_registered_without_its_code_says_how_to_register_it() -> None:
    with pytest.raises(ValueError, match=r"remote_package_path.*pyflyte register"):
        render_command([], ["pyflyte-fast-execute", "--additional-distribution", "{{ .remote_package_path }}"], context(), "/w")
