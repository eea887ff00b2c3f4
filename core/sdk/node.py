"""Nodes created while a workflow function is traced."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import attrs

from flytecore.errors import AuthoringError
from flytecore.sdk.resources import Resources, to_spec_resources
from flytecore.spec.literals import Binding, RetryStrategy
from flytecore.spec.workflow import Node, NodeMetadata, TaskNodeOverrides

_OVERRIDES = {
    "name",
    "retries",
    "timeout",
    "requests",
    "limits",
    "cache",
    "cache_version",
    "cache_serialize",
    "interruptible",
    "container_image",
}


@attrs.define(eq=False)
class SdkNode:
    """One call of a task, workflow, launch plan, map task or conditional inside a workflow.

    ``target`` builds the spec node's target fields (``task_node=...`` etc.) from the node;
    ``outputs`` are the node's output names and Python types.
    """

    id: str
    entity_name: str
    bindings: list[Binding]
    outputs: dict[str, Any]
    target: dict[str, Any]
    entity: Any = None
    upstream: list[SdkNode] = attrs.field(factory=list)
    # Nodes nested inside this one: a conditional's cases, an array node's sub-node.
    children: list[SdkNode] = attrs.field(factory=list)
    overrides: dict[str, Any] = attrs.field(factory=dict)

    def add_upstream(self, node: SdkNode) -> None:
        """Run after ``node``."""
        if node not in self.upstream:
            self.upstream.append(node)

    def apply_overrides(self, overrides: dict[str, Any]) -> None:
        """Record ``with_overrides`` settings, rejecting unknown names."""
        unknown = set(overrides) - _OVERRIDES
        if unknown:
            raise AuthoringError(
                f"node {self.id} ({self.entity_name}): unknown override(s) {', '.join(sorted(unknown))}; "
                f"supported: {', '.join(sorted(_OVERRIDES))}"
            )
        self.overrides.update(overrides)

    def to_spec(self) -> Node:
        """The spec node."""
        o = self.overrides
        timeout = o.get("timeout")
        if isinstance(timeout, int):
            timeout = _dt.timedelta(seconds=timeout)
        metadata = NodeMetadata(
            name=o.get("name") or self.entity_name.rsplit(".", 1)[-1],
            timeout=timeout,
            retries=RetryStrategy(retries=o["retries"]) if "retries" in o else None,
            interruptible=o.get("interruptible"),
            cacheable=o.get("cache"),
            cache_version=o.get("cache_version"),
            cache_serializable=o.get("cache_serialize"),
        )
        target = dict(self.target)
        if "task_node" in target and ({"requests", "limits", "container_image"} & set(o)):
            requests, limits = o.get("requests"), o.get("limits")
            for what, value in (("requests", requests), ("limits", limits)):
                if value is not None and not isinstance(value, Resources):
                    raise AuthoringError(f"node {self.id}: {what}= must be Resources(...)")
            target["task_node"] = attrs.evolve(
                target["task_node"],
                overrides=TaskNodeOverrides(
                    resources=to_spec_resources(requests, limits),
                    container_image=o.get("container_image", ""),
                ),
            )
        upstream = {u.id for u in self.upstream}
        for b in self.bindings:
            for ref in b.binding.promises():
                if ref.node_id not in ("", "start-node"):
                    upstream.add(ref.node_id)
        # A branch waits for whatever its cases read.
        for child in self.children:
            upstream.update(child.to_spec().upstream_node_ids)
        upstream.difference_update(c.id for c in self.children)
        return Node(
            id=self.id,
            metadata=metadata,
            inputs=tuple(self.bindings),
            upstream_node_ids=tuple(sorted(upstream)),
            **target,
        )
