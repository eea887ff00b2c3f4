"""Resources, as in flytekit: ``Resources(cpu="1", mem="2Gi", gpu="1")``."""

from __future__ import annotations

import attrs

from flytecore.errors import AuthoringError
from flytecore.spec.tasks import ResourceEntry, ResourceName
from flytecore.spec.tasks import Resources as SpecResources

_NAMES = {
    "cpu": ResourceName.CPU,
    "mem": ResourceName.MEMORY,
    "gpu": ResourceName.GPU,
    "storage": ResourceName.STORAGE,
    "ephemeral_storage": ResourceName.EPHEMERAL_STORAGE,
}


def _quantity(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise AuthoringError(f"a resource quantity must be a string or number like '500m' or 2, got {value!r}")
    return str(value)


@attrs.define(frozen=True)
class Resources:
    """Compute resources of a task, in Kubernetes quantities (``"500m"``, ``"2Gi"``, ``2``)."""

    cpu: str | int | float | None = attrs.field(default=None, converter=_quantity)
    mem: str | int | float | None = attrs.field(default=None, converter=_quantity)
    gpu: str | int | float | None = attrs.field(default=None, converter=_quantity)
    storage: str | int | float | None = attrs.field(default=None, converter=_quantity)
    ephemeral_storage: str | int | float | None = attrs.field(default=None, converter=_quantity)

    def entries(self) -> tuple[ResourceEntry, ...]:
        """The set quantities as spec resource entries."""
        return tuple(
            ResourceEntry(name=_NAMES[f], value=str(getattr(self, f)))
            for f in _NAMES
            if getattr(self, f) is not None
        )


def to_spec_resources(requests: Resources | None, limits: Resources | None) -> SpecResources | None:
    """Requests and limits as the spec's ``Resources`` (None when neither is given)."""
    if requests is None and limits is None:
        return None
    for what, value in (("requests", requests), ("limits", limits)):
        if value is not None and not isinstance(value, Resources):
            raise AuthoringError(f"{what}= must be flytecore.Resources(...), got {type(value).__name__}")
    return SpecResources(
        requests=requests.entries() if requests else (),
        limits=limits.entries() if limits else (),
    )
