"""The sandbox runs executions whose inputs the admin kept in its database (no ``inputs.pb``, the
propeller gets them with the workflow object) as it runs those whose inputs are files (a limit
of 0), relaunches included. The split-process mode (the object through the workflow store):
tests/cli/test_propeller_process.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from flyteidl.admin import execution_pb2, launch_plan_pb2

from flytecore import LaunchPlan
from flytecore.admin.config import AdminConfig
from flytecore.cli.sandbox_app import Sandbox, SandboxConfig
from flytecore.sdk.serialize import SerializationSettings
from flytecore.spec import idl
from flytecore.spec.phases import WorkflowExecutionPhase
from tests.admin.test_service_executions import exec_id
from tests.admin.test_service_registration import lp_id
from tests.propeller.test_sandbox import launch, quickstart, register, wait

EXECUTIONS = Path("storage/metadata/flytesnacks/development/executions")
"""The executions' metadata folder, below the sandbox's home."""
DEFAULTS = "quickstart_defaults"
"""A launch plan of quickstart's workflow with its default inputs (n=5) as the SDK makes it (the
admin's own default launch plan requires every input)."""


def launch_with_defaults(box: Sandbox, name: str) -> None:
    """Launch :data:`DEFAULTS` giving no inputs: the inputs as run (n=5) differ from the user's."""
    serialized = LaunchPlan.get_or_create(quickstart.wf, name=DEFAULTS).to_spec(SerializationSettings(version="v1"))
    box.admin.create_launch_plan(
        launch_plan_pb2.LaunchPlanCreateRequest(id=idl.to_idl(serialized.id), spec=idl.to_idl(serialized.spec))
    )
    spec = execution_pb2.ExecutionSpec(launch_plan=lp_id(DEFAULTS))
    box.admin.create_execution(
        execution_pb2.ExecutionCreateRequest(project="flytesnacks", domain="development", name=name, spec=spec)
    )


@pytest.mark.parametrize("limit", [64 * 1024, 0])
def test_executions_run_from_inputs_kept_in_the_database_or_in_files(tmp_path: Path, limit: int) -> None:
    home = tmp_path / "home"
    admin = AdminConfig(
        db_url=f"sqlite:///{home / 'admin.db'}", storage_prefix=str(home / "storage"), inline_data_bytes=limit
    )
    with Sandbox(SandboxConfig(home=home, workers=2, admin=admin)) as box:
        register(box, quickstart.wf)
        launch(box, quickstart.wf, "given", n=3)  # the inputs as run are the user's
        launch_with_defaults(box, "defaulted")
        relaunched = box.admin.relaunch_execution(
            execution_pb2.ExecutionRelaunchRequest(id=exec_id("defaulted"), name="again")
        )
        assert relaunched.id.name == "again"
        totals = {}
        for name in ("given", "defaulted", "again"):
            execution = wait(box, exec_id(name))
            assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
            data = box.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id(name)))
            totals[name] = (data.full_inputs.literals["n"].scalar.primitive.integer,
                            data.full_outputs.literals["total"].scalar.primitive.integer)  # fmt: skip
            assert data.inputs.url == ("" if limit else str(home / EXECUTIONS / name / "inputs.pb"))
    assert totals == {"given": (3, 5), "defaulted": (5, 30), "again": (5, 30)}
    # The files of each execution's own folder (its nodes' folders aside).
    stored = {
        folder.name: sorted(f.name for f in folder.iterdir() if f.is_file()) for folder in (home / EXECUTIONS).iterdir()
    }
    if limit:  # no inputs.pb, no user_inputs.pb: only the outputs.pb each writes at its end
        assert stored == {"given": ["outputs.pb"], "defaulted": ["outputs.pb"], "again": ["outputs.pb"]}
    else:  # files, as before: one for inputs the user gave whole
        assert stored == {
            "given": ["inputs.pb", "outputs.pb"],
            "defaulted": ["inputs.pb", "outputs.pb", "user_inputs.pb"],
            "again": ["inputs.pb", "outputs.pb", "user_inputs.pb"],
        }


def test_an_execution_accepted_before_a_restart_runs_with_its_inputs_from_the_workflow_store(tmp_path: Path) -> None:
    """The propeller's store keeps the object with its inputs when there is no inputs.pb: a
    sandbox stopped before its loop took the execution runs it after a restart, from the store."""
    config = SandboxConfig(home=tmp_path / "home", workers=2)
    box = Sandbox(config)  # not started: the execution is only accepted, into the store
    try:
        register(box, quickstart.wf)
        launch(box, quickstart.wf, "early", n=4)
    finally:
        box.stop()
    assert not (config.home / EXECUTIONS / "early").exists()  # no inputs.pb to read them from
    with Sandbox(config) as again:
        execution = wait(again, exec_id("early"))
        assert execution.closure.phase == WorkflowExecutionPhase.SUCCEEDED, execution.closure.error.message
        data = again.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id("early")))
        assert data.full_outputs.literals["total"].scalar.primitive.integer == 14  # 0 + 1 + 4 + 9
