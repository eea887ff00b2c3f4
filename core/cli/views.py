"""What the command line shows of executions: plain JSON values and rich tables.

Everything is read from the admin (``GetExecution``, ``GetExecutionData``, ``ListNodeExecutions``
with ``unique_parent_id`` for the children of a node, ``GetWorkflow`` for node names), so it
works against any admin. Values are shown as plain JSON: literals are turned into Python values
without their Python types (the types live in the user's code, which the CLI may not have):
integers, floats, strings and booleans as themselves, datetimes as ISO 8601 strings, durations
as seconds, lists and maps as lists and objects, generic structs (dataclasses) as objects, files,
folders and pickles as their URIs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import attrs
from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import catalog_pb2, identifier_pb2, literals_pb2

from flytecore.cli.remote import AdminClient
from flytecore.spec import idl
from flytecore.spec.literals import Literal, LiteralMap
from flytecore.spec.phases import NodeExecutionPhase, TaskExecutionPhase, WorkflowExecutionPhase

__all__ = [
    "NodeView",
    "execution_id",
    "execution_json",
    "array_elements",
    "fetch_nodes",
    "node_names",
    "plain_literal",
    "plain_map",
]

_PAGE = 500
MAX_DEPTH = 8
"""How deep nested nodes (subworkflows, branches, dynamic and map children) are read."""


def execution_id(project: str, domain: str, name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    """flyteidl's execution identifier."""
    return identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)


# --- values ------------------------------------------------------------------------------------


def plain_literal(literal: Literal) -> Any:
    """A literal as a plain JSON value (see the module docstring)."""
    if literal.collection is not None:
        return [plain_literal(item) for item in literal.collection]
    if literal.map is not None:
        return {key: plain_literal(value) for key, value in literal.map.items()}
    scalar = literal.scalar
    assert scalar is not None
    if scalar.primitive is not None:
        value = scalar.primitive.value
        if isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, dt.timedelta):
            return value.total_seconds()
        return value
    if scalar.union is not None:
        return plain_literal(scalar.union.value)
    if scalar.none_type is not None:
        return None
    if scalar.blob is not None:
        return scalar.blob.uri
    if scalar.error is not None:
        return {"error": scalar.error.message, "failed_node_id": scalar.error.failed_node_id}
    if scalar.generic is not None:
        return scalar.generic
    if scalar.binary is not None:
        from flytecore.sdk.transformers.structs import struct_data

        data = struct_data(literal)
        return data if data is not None else f"<{scalar.binary.tag or 'binary'}: {len(scalar.binary.value)} bytes>"
    return None


def plain_map(literal_map: literals_pb2.LiteralMap) -> dict[str, Any]:
    """A flyteidl literal map as a JSON object of plain values."""
    spec_map = idl.from_idl(literal_map, LiteralMap)
    return {name: plain_literal(value) for name, value in sorted(spec_map.literals.items())}


def outputs_of(client: AdminClient, eid: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, Any]:
    """An execution's outputs as plain values (stored ones are downloaded when not inlined)."""
    data = client.admin("GetExecutionData", execution_pb2.WorkflowExecutionGetDataRequest(id=eid))
    if data.full_outputs.literals or not data.outputs.url:
        return plain_map(data.full_outputs)
    from flytecore.cli.logs import download

    raw = download(client, data.outputs.url)
    return plain_map(literals_pb2.LiteralMap.FromString(raw)) if raw else {}


# --- times -------------------------------------------------------------------------------------


def timestamp(closure: Any, field: str = "started_at") -> str | None:
    """A closure's timestamp as ISO 8601 (UTC), or None if unset."""
    if not closure.HasField(field):
        return None
    return getattr(closure, field).ToDatetime(tzinfo=dt.UTC).isoformat(timespec="milliseconds")


def seconds(closure: Any) -> float | None:
    """A closure's duration in seconds, or None if unset."""
    if not closure.HasField("duration"):
        return None
    return round(closure.duration.ToTimedelta().total_seconds(), 3)


def show_seconds(value: float | None) -> str:
    """``1.23s``, ``2m05s``, ``1h02m``; ``-`` for None."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.2f}s"
    minutes, secs = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def error_json(closure: Any) -> dict[str, str] | None:
    """A closure's error as ``{"code", "message"}``, or None."""
    if not closure.HasField("error"):
        return None
    return {"code": closure.error.code, "message": closure.error.message}


# --- nodes -------------------------------------------------------------------------------------


@attrs.define
class NodeView:
    """One node execution, with its children."""

    id: str
    name: str
    phase: str
    started_at: str | None
    duration: float | None
    error: dict[str, str] | None
    cache_status: str | None
    child_execution: str | None = None
    children: list[NodeView] = attrs.field(factory=list)

    def as_json(self) -> dict[str, Any]:
        """The node as a JSON object (children nested)."""
        return {
            "id": self.id,
            "name": self.name,
            "phase": self.phase,
            "started_at": self.started_at,
            "duration": self.duration,
            "error": self.error,
            "cache_status": self.cache_status,
            "child_execution": self.child_execution,
            "children": [c.as_json() for c in self.children],
        }

    def walk(self, depth: int = 0) -> Iterator[tuple[int, NodeView]]:
        """This node and its descendants, with their depth."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


def node_names(client: AdminClient, execution: execution_pb2.Execution) -> dict[str, str]:
    """Node id -> the name of what it runs (task, subworkflow, launch plan), from the compiled
    workflow; empty if it cannot be read."""
    from flytecore.cli.remote import RemoteError

    workflow_id = execution.closure.workflow_id
    if not workflow_id.name:
        return {}
    try:
        workflow = client.admin("GetWorkflow", common_pb2.ObjectGetRequest(id=workflow_id))
    except RemoteError:
        return {}
    compiled = workflow.closure.compiled_workflow
    names: dict[str, str] = {}
    for template in [compiled.primary.template, *(s.template for s in compiled.sub_workflows)]:
        stack = list(template.nodes)
        while stack:
            node = stack.pop()
            names.setdefault(node.id, _node_target(node))
            if node.HasField("branch_node"):
                block = node.branch_node.if_else
                stack.extend([block.case.then_node, *(c.then_node for c in block.other)])
                if block.HasField("else_node"):
                    stack.append(block.else_node)
            if node.HasField("array_node"):
                stack.append(node.array_node.node)
    return names


def _node_target(node: Any) -> str:
    if node.HasField("task_node"):
        return str(node.task_node.reference_id.name)
    if node.HasField("workflow_node"):
        wn = node.workflow_node
        return str(wn.launchplan_ref.name if wn.HasField("launchplan_ref") else wn.sub_workflow_ref.name)
    if node.HasField("branch_node"):
        return f"branch {node.metadata.name}".strip()
    if node.HasField("gate_node"):
        return f"gate {node.metadata.name}".strip()
    if node.HasField("array_node"):
        return f"map {_node_target(node.array_node.node)}"
    return str(node.metadata.name)


def list_node_executions(
    client: AdminClient, eid: identifier_pb2.WorkflowExecutionIdentifier, parent: str | None = None
) -> list[node_execution_pb2.NodeExecution]:
    """Every node execution of ``eid`` at the top level, or the children of node ``parent``."""
    found: list[node_execution_pb2.NodeExecution] = []
    token = ""
    while True:
        request = node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=eid, limit=_PAGE, token=token, unique_parent_id=parent or ""
        )
        page = client.admin("ListNodeExecutions", request)
        found.extend(page.node_executions)
        token = page.token
        if not token or not page.node_executions:
            return found


def _cache_status(closure: Any) -> str | None:
    if not closure.HasField("task_node_metadata"):
        return None
    return _cache_name(closure.task_node_metadata.cache_status)


def _cache_name(status: int) -> str | None:
    name = catalog_pb2.CatalogCacheStatus.Name(status) if status in catalog_pb2.CatalogCacheStatus.values() else str(status)
    return None if status == catalog_pb2.CACHE_DISABLED else name.removeprefix("CACHE_").lower()


def _sort_key(node_id: str) -> tuple[Any, ...]:
    # n2 before n10; start-node first, end-node last.
    order = {"start-node": -1, "end-node": 1}.get(node_id, 0)
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in node_id.replace("-", "n").split("n"))
    return (order, parts)


def fetch_nodes(
    client: AdminClient,
    eid: identifier_pb2.WorkflowExecutionIdentifier,
    names: dict[str, str],
    *,
    parent: str | None = None,
    parent_name: str = "",
    depth: int = 0,
    nested: bool = True,
) -> list[NodeView]:
    """The node executions of ``eid`` (below ``parent``), children read recursively if ``nested``."""
    views = []
    mapped = parent_name.removeprefix("map ") if parent_name.startswith("map ") else None
    for node in sorted(list_node_executions(client, eid, parent), key=lambda n: _sort_key(n.id.node_id)):
        closure = node.closure
        node_id = node.id.node_id
        child = None
        if closure.HasField("workflow_node_metadata") and closure.workflow_node_metadata.executionId.name:
            child = closure.workflow_node_metadata.executionId.name
        name = names.get(node_id) or names.get(node.metadata.spec_node_id, "")
        if not name and mapped is not None:  # a map task's element: the task and the index
            name = f"{mapped}[{node_id.rsplit('-', 1)[-1]}]"
        view = NodeView(
            id=node_id,
            name=name,
            phase=NodeExecutionPhase(closure.phase).name,
            started_at=timestamp(closure),
            duration=seconds(closure),
            error=error_json(closure),
            cache_status=_cache_status(closure),
            child_execution=child,
        )
        if nested and (node.metadata.is_parent_node or node.metadata.is_array) and depth < MAX_DEPTH:
            view.children = fetch_nodes(client, eid, names, parent=node_id, parent_name=name, depth=depth + 1)
            if node.metadata.is_array and not view.children:
                view.children = array_elements(client, node.id, name.removeprefix("map "))
        views.append(view)
    return views


def array_elements(client: AdminClient, node_id: identifier_pb2.NodeExecutionIdentifier, task: str) -> list[NodeView]:
    """The elements of a map task, from the external resources of its array node's latest task
    execution (FlytePropeller reports a map's elements there, not as node executions): one row
    per element, its latest attempt, named ``task[index]`` with the id ``{array}-{attempt}-{index}``."""
    request = task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id, limit=_PAGE)
    attempts = client.admin("ListTaskExecutions", request).task_executions
    if not attempts:
        return []
    latest = max(attempts, key=lambda t: t.id.retry_attempt)
    newest: dict[int, Any] = {}
    for resource in latest.closure.metadata.external_resources:
        known = newest.get(resource.index)
        if known is None or resource.retry_attempt >= known.retry_attempt:
            newest[resource.index] = resource
    prefix = f"{node_id.node_id}-{latest.id.retry_attempt}-"
    return [
        NodeView(
            id=f"{prefix}{index}",
            name=f"{task}[{index}]",
            phase=TaskExecutionPhase(resource.phase).name,
            started_at=None,
            duration=None,
            error=None,
            cache_status=_cache_name(resource.cache_status),
        )
        for index, resource in sorted(newest.items())
    ]


def execution_json(
    client: AdminClient, execution: execution_pb2.Execution, *, nodes: bool = True
) -> dict[str, Any]:
    """An execution as one JSON object: name, phase, outputs (plain values, once succeeded),
    error, times and, if ``nodes``, its node executions (children nested)."""
    closure = execution.closure
    phase = WorkflowExecutionPhase(closure.phase)
    lp = execution.spec.launch_plan
    doc: dict[str, Any] = {
        "name": execution.id.name,
        "project": execution.id.project,
        "domain": execution.id.domain,
        "launch_plan": {"name": lp.name, "version": lp.version},
        "phase": phase.name,
        "started_at": timestamp(closure),
        "duration": seconds(closure),
        "outputs": outputs_of(client, execution.id) if phase == WorkflowExecutionPhase.SUCCEEDED else {},
        "error": error_json(closure),
    }
    if closure.HasField("abort_metadata") and closure.abort_metadata.cause:
        doc["abort_cause"] = closure.abort_metadata.cause
    if nodes:
        names = node_names(client, execution)
        doc["nodes"] = [n.as_json() for n in fetch_nodes(client, execution.id, names)]
    return doc


def get_execution(client: AdminClient, eid: identifier_pb2.WorkflowExecutionIdentifier) -> execution_pb2.Execution:
    """``GetExecution``."""
    return client.admin("GetExecution", execution_pb2.WorkflowExecutionGetRequest(id=eid))
