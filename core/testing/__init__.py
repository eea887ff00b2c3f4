"""flytecore.testing: helpers for plugin authors' tests (public API, like :mod:`flytecore.plugin`).

- :func:`task_template`: the task template ``@task`` serializes (``custom`` from the plugin);
- :func:`idl_round_trip`: a template through flyteidl's wire format and back;
- :func:`run_on_sandbox`: a workflow registered and run on an in-process sandbox (admin,
  propeller, warm worker processes running ``flytecore-execute``), its outputs as Python values;
- :func:`unpublished_fields`: the field names of a manifest an operator's schema does not have;
- :func:`k8s_task_context`: the :class:`~flytecore.plugin.K8sTaskContext` a Kubernetes face's
  ``build_resource`` gets, for one attempt of a template.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import EllipsisType
from typing import TYPE_CHECKING, Any

import attrs

from flytecore.spec.tasks import Resources, TaskTemplate

if TYPE_CHECKING:
    from flytecore.plugin import K8sTaskContext

__all__ = [
    "SandboxRun",
    "execute_on",
    "idl_round_trip",
    "k8s_task_context",
    "register_on",
    "run_on_sandbox",
    "task_template",
    "unpublished_fields",
]

PROJECT, DOMAIN = "flytesnacks", "development"


def task_template(task: Any, *, version: str = "v1", image: str | None = None) -> TaskTemplate:
    """The template of ``task`` (an ``@task``) as registration writes it.

    :param image: the default container image (else flytecore's default).
    """
    from flytecore.sdk.serialize import SerializationSettings

    settings = (
        SerializationSettings(version=version)
        if image is None
        else SerializationSettings(version=version, image=image)
    )
    template: TaskTemplate = task.to_template(settings)
    return template


def idl_round_trip(template: TaskTemplate) -> TaskTemplate:
    """``template`` converted to flyteidl's ``TaskTemplate``, serialized to bytes, parsed and
    converted back: what the admin stores and the propeller reads."""
    from flyteidl.core import tasks_pb2

    from flytecore.spec.idl import from_idl, to_idl

    wire = tasks_pb2.TaskTemplate.FromString(to_idl(template).SerializeToString())
    back: TaskTemplate = from_idl(wire, TaskTemplate)
    return back


def unpublished_fields(value: Any, schema: Any, path: str = "") -> list[str]:
    """Paths in ``value`` (a manifest) whose field name ``schema`` does not have.

    ``schema`` mirrors the operator's published types: a dict of field name -> schema of the
    field's value, ``[schema]`` for a list of such values, None for a value not checked further
    (a scalar, or a free-form map such as labels or ``sparkConf``). Returns paths like
    ``".spec.driver.core"`` or ``".spec.executor.env[0].val"``; empty when every name is published.
    """
    if schema is None:
        return []
    if isinstance(schema, list):
        assert isinstance(value, list), f"{path or 'the manifest'} should be a list"
        return [
            bad for i, item in enumerate(value) for bad in unpublished_fields(item, schema[0], f"{path}[{i}]")
        ]
    assert isinstance(value, dict), f"{path or 'the manifest'} should be a mapping"
    found = []
    for key, item in value.items():
        if key not in schema:
            found.append(f"{path}.{key}")
        else:
            found += unpublished_fields(item, schema[key], f"{path}.{key}")
    return found


def k8s_task_context(
    template: TaskTemplate,
    command: Sequence[str],
    *,
    image: str | None = None,
    env: Mapping[str, str] | None = None,
    resources: Resources | None | EllipsisType = ...,
    name: str = "e1-n0-0",
    namespace: str = f"{PROJECT}-{DOMAIN}",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> K8sTaskContext:
    """The context a Kubernetes face's ``build_resource`` gets for one attempt of ``template``, as
    the propeller makes it: attempt 0 of node ``n0`` of execution ``e1`` in the sandbox's project
    and domain. Every field can be given; the rest follow the template.

    :param template: the task template (from :func:`task_template`).
    :param command: the container's argv, template variables already rendered.
    :param image: the container image (default: the template's container image).
    :param env: the container's environment (default: ``{"FLYTE_INTERNAL_EXECUTION_ID": "e1"}``).
    :param resources: requests and limits (default: the template's container's); None for none.
    :param name: the object's name.
    :param namespace: the object's namespace (default: ``flytesnacks-development``).
    :param labels: labels of the object and its pods (default: ``{"execution-id": "e1"}``).
    :param annotations: annotations of the object (default: none).
    :raises ValueError: the template has no container and no ``image`` is given.
    """
    from flytecore.plugin import K8sTaskContext

    container = template.container
    if image is None:
        if container is None:
            raise ValueError(f"task {template.id.name!r}: its template has no container: give the image")
        image = container.image
    if isinstance(resources, EllipsisType):
        resources = container.resources if container is not None else None
    return K8sTaskContext(
        template=template,
        image=image,
        command=tuple(command),
        env=dict(env) if env is not None else {"FLYTE_INTERNAL_EXECUTION_ID": "e1"},
        resources=resources,
        name=name,
        namespace=namespace,
        labels=dict(labels) if labels is not None else {"execution-id": "e1"},
        annotations=dict(annotations) if annotations is not None else {},
    )


@attrs.define(frozen=True)
class SandboxRun:
    """How a workflow run on the sandbox ended.

    :ivar phase: the execution's final phase name (``"SUCCEEDED"``, ``"FAILED"`` …).
    :ivar outputs: the outputs as Python values (empty unless it succeeded).
    :ivar error: the error message (empty unless it failed).
    """

    phase: str
    outputs: dict[str, Any]
    error: str


def run_on_sandbox(
    workflow: Any,
    *,
    home: str | Path,
    name: str = "test",
    workers: int = 1,
    timeout: float = 120,
    **inputs: Any,
) -> SandboxRun:
    """Register ``workflow`` (and its tasks) on a fresh sandbox under ``home``, run it with
    ``inputs`` (Python values; the workflow's defaults fill the others) and wait until it ends.

    Tasks run in worker processes that import the task's module by name: it must be importable
    from ``sys.path`` (the workers inherit it).

    :raises TimeoutError: the execution did not end within ``timeout`` seconds.
    """
    from flytecore.cli.sandbox_app import Sandbox, SandboxConfig

    config = SandboxConfig(home=Path(home), workers=workers, http_port=None, grpc_port=0)
    with Sandbox(config) as box:
        launch_plan = register_on(box, workflow)
        return execute_on(box, workflow, launch_plan, name=name, timeout=timeout, **inputs)


def register_on(box: Any, workflow: Any, *, version: str = "v1") -> Any:
    """Register ``workflow`` and its tasks with the admin of ``box`` (a running
    :class:`~flytecore.cli.sandbox_app.Sandbox`), as ``flytecore register`` does; returns the
    id of its default launch plan (a flyteidl ``Identifier``)."""
    from flyteidl.admin import task_pb2, workflow_pb2
    from flyteidl.core import identifier_pb2

    from flytecore.sdk.serialize import SerializationSettings, serialize_workflow
    from flytecore.spec.idl import to_idl

    bundle = serialize_workflow(workflow, SerializationSettings(version=version))
    assert bundle.workflow is not None
    for template in bundle.tasks.values():
        box.admin.create_task(
            task_pb2.TaskCreateRequest(
                id=to_idl(template.id), spec=task_pb2.TaskSpec(template=to_idl(template))
            )
        )
    box.admin.create_workflow(
        workflow_pb2.WorkflowCreateRequest(
            id=to_idl(bundle.workflow.id), spec=workflow_pb2.WorkflowSpec(template=to_idl(bundle.workflow))
        )
    )
    launch_plan = to_idl(bundle.workflow.id)
    # The admin's default launch plan: the workflow's id.
    launch_plan.resource_type = identifier_pb2.LAUNCH_PLAN
    return launch_plan


def execute_on(
    box: Any,
    workflow: Any,
    launch_plan: Any,
    *,
    name: str,
    timeout: float = 120,
    poll: float | None = 0.1,
    **inputs: Any,
) -> SandboxRun:
    """Run ``launch_plan`` of ``workflow`` (what :func:`register_on` returned) through the admin
    of ``box`` with
    ``inputs`` (Python values; the workflow's defaults fill the others), polling its phase every
    ``poll`` seconds until it ends; ``poll=None`` polls every 1% of the time it has run so far
    (1 to 50 ms): the end is seen within ~1% without the polls loading the admin.

    :raises TimeoutError: the execution did not end within ``timeout`` seconds.
    """
    from flyteidl.admin import execution_pb2

    from flytecore.sdk.type_engine import get_type_engine
    from flytecore.spec.idl import from_idl, to_idl
    from flytecore.spec.literals import LiteralMap
    from flytecore.spec.phases import WorkflowExecutionPhase

    engine = get_type_engine()
    interface = workflow.python_interface
    # The workflow's defaults too: the admin's default launch plan does not carry them.
    literals = engine.literal_map_from_python({**interface.defaults, **inputs}, interface.input_types)
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=launch_plan),
        inputs=to_idl(literals),
    )
    eid = box.admin.create_execution(request).id
    started = time.monotonic()
    deadline = started + timeout
    while True:
        execution = box.admin.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=eid))
        phase = WorkflowExecutionPhase(execution.closure.phase)
        if phase.is_terminal:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {name} still {phase.name} after {timeout} s")
        time.sleep(poll if poll is not None else min(max((time.monotonic() - started) / 100, 0.001), 0.05))
    outputs: dict[str, Any] = {}
    if phase == WorkflowExecutionPhase.SUCCEEDED:
        data = box.admin.get_execution_data(execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
        outputs = engine.python_from_literal_map(
            from_idl(data.full_outputs, LiteralMap), interface.outputs, kind="output"
        )
    return SandboxRun(phase=phase.name, outputs=outputs, error=execution.closure.error.message)
