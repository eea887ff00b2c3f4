"""External resources of a task execution (the elements of a map task, as FlytePropeller's
array node reports them): merged into the task execution's closure event after event."""

from __future__ import annotations

from typing import Any

__all__ = ["merge_metadata"]


def merge_metadata(closure: Any, event: Any) -> None:
    """Merge ``event.metadata`` into ``closure.metadata``: an external resource is identified by
    its index and retry attempt (FlyteAdmin's mergeExternalResources); a newer report of one
    replaces it, keeping its logs unless the new one has some. Scalar fields are set when the
    event carries them."""
    if not event.HasField("metadata"):
        return
    incoming, merged = event.metadata, closure.metadata
    if incoming.generated_name:
        merged.generated_name = incoming.generated_name
    if incoming.plugin_identifier:
        merged.plugin_identifier = incoming.plugin_identifier
    if not incoming.external_resources:
        return
    where = {(r.index, r.retry_attempt): i for i, r in enumerate(merged.external_resources)}
    for resource in incoming.external_resources:
        slot = where.get((resource.index, resource.retry_attempt))
        if slot is None:
            where[(resource.index, resource.retry_attempt)] = len(merged.external_resources)
            merged.external_resources.add().CopyFrom(resource)
            continue
        known = merged.external_resources[slot]
        logs = list(known.logs) if not resource.logs else None
        known.CopyFrom(resource)
        if logs:
            known.logs.extend(logs)
