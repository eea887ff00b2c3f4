"""Admin service: where CreateExecution records an execution's inputs. Small ones (as run and as
the user gave them, each at most ``inline_data_bytes``) are kept in the execution's row and no
file is written; larger ones, or any with a limit of 0, go to ``inputs.pb`` / ``user_inputs.pb``
as before. GetExecutionData, RelaunchExecution and the launcher's workflow object work with
both; unreadable kept inputs fail the read naming the execution. On SQLite and PostgreSQL.
Running such an execution end to end: tests/cli/test_sandbox_inputs.py."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import literals_pb2

from flytecore.admin.db import execution_key
from flytecore.admin.db import models as m
from flytecore.admin.service import AdminService, AlreadyExistsError, FailedPreconditionError
from flytecore.spec import WorkflowExecutionIdentifier
from tests.admin import test_service_executions as executions
from tests.admin.conftest import database_rows, storage_files
from tests.admin.test_service_executions import (
    DOMAIN,
    PROJECT,
    RecordingLauncher,
    exec_id,
    integer,
    ints,
    launch,
)

# The execution tests' fixtures: an admin with a recording launcher, `pipeline(a, b=3)` and
# `pipeline_b_fixed` (b fixed to 10) registered.
admin = executions.admin
launcher = executions.launcher


def serialized(**values: int) -> bytes:
    """A literal map of integers, serialized as the admin records it (deterministic)."""
    literal_map = literals_pb2.LiteralMap(literals={k: integer(v) for k, v in values.items()})
    return literal_map.SerializeToString(deterministic=True)


GIVEN = serialized(a=1)
"""The inputs ``launch(admin, {"a": integer(1)})`` gives."""
AS_RUN = serialized(a=1, b=3)
"""Those inputs as run: the launch plan's default b=3 merged in."""


FOLDER = f"metadata/{PROJECT}/{DOMAIN}/executions"
"""The executions' metadata folder in the admin's storage."""


def limited(admin: AdminService, limit: int) -> AdminService:
    admin.config = attrs.evolve(admin.config, inline_data_bytes=limit)
    return admin


def files(admin: AdminService) -> dict[str, bytes]:
    """Every file in the executions' metadata folder of the admin's storage, with its bytes."""
    folder = Path(admin.store.prefix) / FOLDER
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def row_of(admin: AdminService, name: str) -> m.Execution:
    return admin.repo.get_execution(WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name))


def data_of(admin: AdminService, name: str) -> execution_pb2.WorkflowExecutionGetDataResponse:
    return admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id(name)))


def relaunch(admin: AdminService, name: str, new_name: str) -> None:
    admin.relaunch_execution(execution_pb2.ExecutionRelaunchRequest(id=exec_id(name), name=new_name))


def test_small_inputs_are_kept_in_the_row_and_no_file_is_written(
    admin: AdminService, launcher: RecordingLauncher
) -> None:
    assert admin.config.inline_data_bytes == 64 * 1024  # the default
    launch(admin, {"a": integer(1)}, name="small")

    assert files(admin) == {}  # no inputs.pb, no user_inputs.pb: nothing written, nothing flushed
    row = row_of(admin, "small")
    assert (row.inputs_uri, row.user_inputs_uri) == ("", "")
    assert (row.inputs_data, row.user_inputs_data) == (AS_RUN, GIVEN)
    data = data_of(admin, "small")
    assert ints(data.full_inputs) == {"a": 1, "b": 3}
    assert data.inputs == common_pb2.UrlBlob()  # no file to point at, as for kept event data
    # The engine gets the inputs in the object, with no file to read them from.
    [obj] = launcher.launched
    assert obj.inputs_uri == ""
    assert obj.inputs is not None
    assert {k: v.scalar.primitive.integer for k, v in obj.inputs.literals.items()} == {"a": 1, "b": 3}


def test_inputs_given_whole_are_kept_once(admin: AdminService) -> None:
    launch(admin, {"a": integer(4), "b": integer(5)}, name="whole")
    row = row_of(admin, "whole")
    assert (row.inputs_data, row.user_inputs_data) == (serialized(a=4, b=5), None)  # NULL: the same
    assert files(admin) == {}


@pytest.mark.parametrize("limit", [64 * 1024, len(AS_RUN), len(AS_RUN) - 1, 0], ids=["default", "at", "below", "zero"])
def test_relaunch_runs_the_user_inputs_kept_in_the_row_or_in_files(admin: AdminService, limit: int) -> None:
    limited(admin, limit)
    launch(admin, {"a": integer(1)}, name="original")
    launch(admin, {"a": integer(4), "b": integer(5)}, name="whole")
    relaunch(admin, "original", "again")
    relaunch(admin, "whole", "whole-again")
    # The user's inputs, not the inputs as run: the default is merged in again, not carried over.
    assert row_of(admin, "again").user_inputs_data == (GIVEN if limit >= len(AS_RUN) else None)
    assert ints(data_of(admin, "again").full_inputs) == {"a": 1, "b": 3}
    assert ints(data_of(admin, "whole-again").full_inputs) == {"a": 4, "b": 5}


@pytest.mark.parametrize("limit", [len(AS_RUN), len(AS_RUN) - 1, 0], ids=["at", "below", "zero"])
def test_inputs_over_the_limit_are_files_as_before(
    admin: AdminService, launcher: RecordingLauncher, limit: int
) -> None:
    """At the limit both are kept; one byte below it the inputs as run do not fit (the user's
    still would): both are files, never one of each; 0 keeps none."""
    limited(admin, limit)
    launch(admin, {"a": integer(1)}, name="big")
    launch(admin, {"a": integer(4), "b": integer(5)}, name="whole")
    row, whole = row_of(admin, "big"), row_of(admin, "whole")
    if limit == len(AS_RUN):
        assert files(admin) == {}
        assert (row.inputs_uri, row.inputs_data, row.user_inputs_data) == ("", AS_RUN, GIVEN)
        return
    assert files(admin) == {
        "big/inputs.pb": AS_RUN,
        "big/user_inputs.pb": GIVEN,
        "whole/inputs.pb": serialized(a=4, b=5),  # given whole: one file for both
    }
    folder = Path(admin.store.prefix) / FOLDER
    assert (row.inputs_uri, row.user_inputs_uri) == (str(folder / "big/inputs.pb"), str(folder / "big/user_inputs.pb"))
    assert whole.user_inputs_uri == whole.inputs_uri == str(folder / "whole/inputs.pb")
    assert [r.inputs_data for r in (row, whole)] == [r.user_inputs_data for r in (row, whole)] == [None, None]
    data = data_of(admin, "big")
    assert ints(data.full_inputs) == {"a": 1, "b": 3}
    assert (data.inputs.url, data.inputs.bytes) == (row.inputs_uri, len(AS_RUN))
    assert launcher.launched[0].inputs_uri == row.inputs_uri


@pytest.mark.parametrize("limit", [64 * 1024, 0])
def test_a_repeated_name_changes_neither_the_row_nor_the_files(admin: AdminService, limit: int) -> None:
    limited(admin, limit)
    launch(admin, {"a": integer(1)}, name="once")
    before = database_rows(admin.repo.engine), storage_files(Path(admin.store.prefix))
    with pytest.raises(AlreadyExistsError):
        launch(admin, {"a": integer(99)}, name="once")
    assert (database_rows(admin.repo.engine), storage_files(Path(admin.store.prefix))) == before
    assert ints(data_of(admin, "once").full_inputs) == {"a": 1, "b": 3}


@pytest.mark.parametrize(
    ("name", "column", "read"),
    [
        ("original", "inputs_data", "inputs"),  # GetExecutionData reads the inputs as run
        ("original", "user_inputs_data", "user inputs"),  # a relaunch reads the user's
        ("whole", "inputs_data", "user inputs"),  # ... which are the inputs as run (NULL)
    ],
)
def test_unreadable_kept_inputs_fail_the_read_naming_the_execution(
    admin: AdminService, name: str, column: str, read: str
) -> None:
    launch(admin, {"a": integer(1)}, name="original")
    launch(admin, {"a": integer(4), "b": integer(5)}, name="whole")
    eid = WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)
    with admin.repo.transaction() as tx:
        tx.update(m.Execution, execution_key(eid), {column: b"\xff\xff"}, {})
    message = f"^the recorded {read} of execution {PROJECT}/{DOMAIN}/{name} cannot be read: Error parsing message"
    with pytest.raises(FailedPreconditionError, match=message):
        if read == "inputs":
            data_of(admin, name)
        else:
            relaunch(admin, name, "again")
    assert [e.name for e in admin.repo.list_executions(PROJECT, DOMAIN).rows if e.name == "again"] == []
