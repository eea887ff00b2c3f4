"""The spec: flytecore's IDL, shared by the SDK, compiler, admin, propeller and plugins.

Frozen attrs models whose field names follow flyteidl's protobuf messages, one converter
factory for JSON/YAML (:mod:`flytecore.spec.converter`) and a bridge to and from flyteidl
protobufs (:mod:`flytecore.spec.idl`). This package imports nothing else of flytecore but
:mod:`flytecore.errors`.
"""

from __future__ import annotations

import attrs

from flytecore.spec import (
    compiled,
    dynamic,
    events,
    execution,
    identifiers,
    interface,
    launch_plan,
    literals,
    phases,
    tasks,
    types,
    workflow,
)
from flytecore.spec.compiled import *  # noqa: F403
from flytecore.spec.converter import from_json, from_yaml, make_converter, to_json, to_yaml
from flytecore.spec.dynamic import *  # noqa: F403
from flytecore.spec.events import *  # noqa: F403
from flytecore.spec.execution import *  # noqa: F403
from flytecore.spec.identifiers import *  # noqa: F403
from flytecore.spec.interface import *  # noqa: F403
from flytecore.spec.launch_plan import *  # noqa: F403
from flytecore.spec.literals import *  # noqa: F403
from flytecore.spec.phases import *  # noqa: F403
from flytecore.spec.tasks import *  # noqa: F403
from flytecore.spec.types import *  # noqa: F403
from flytecore.spec.workflow import *  # noqa: F403

MODULES = (
    identifiers, phases, types, literals, interface, tasks, workflow, compiled, dynamic, launch_plan, execution, events
)

ALL_MODELS: tuple[type, ...] = tuple(
    obj
    for mod in MODULES
    for obj in vars(mod).values()
    if isinstance(obj, type) and attrs.has(obj) and obj.__module__ == mod.__name__
)
"""Every spec model class, in module order."""

# Annotations are postponed strings; resolve them once so cattrs and the bridge see real types.
for _cls in ALL_MODELS:
    attrs.resolve_types(_cls, globalns=vars(__import__(_cls.__module__, fromlist=["_"])))

__all__ = [name for mod in MODULES for name in mod.__all__] + [
    "ALL_MODELS",
    "MODULES",
    "make_converter",
    "to_json",
    "from_json",
    "to_yaml",
    "from_yaml",
]
