"""List-request filters and sort keys, as FlyteAdmin and flytekit send them.

A filter string is expressions joined by ``+``, each ``function(field,value)``::

    eq(phase,SUCCEEDED)+gte(created_at,2024-01-01T00:00:00Z)+value_in(phase,RUNNING;QUEUED)

Functions: ``eq ne gt gte lt lte contains value_in`` (``value_in`` takes values separated by
``;``). Fields come from a whitelist per table; FlyteAdmin's entity prefixes work for the id
columns a table carries (``launch_plan.name`` on executions, ``task.version`` on task
executions, ``execution.phase`` on executions itself). Values are converted to the column's
type: phases and states by name or number, timestamps as RFC 3339, durations as seconds or Go
durations (``1h30m``), booleans as ``true``/``false``. Everything is checked before a query is
built, so a bad filter never reaches the database.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Double, Integer, String
from sqlalchemy.orm import InstrumentedAttribute

from flytecore.admin.db import models as m
from flytecore.admin.db.errors import InvalidFilter, InvalidSort
from flytecore.spec.execution import ExecutionMode
from flytecore.spec.launch_plan import LaunchPlanState
from flytecore.spec.phases import NodeExecutionPhase, TaskExecutionPhase, WorkflowExecutionPhase

__all__ = ["FilterField", "SortDirection", "Sort", "FIELDS", "parse_filters", "order_by"]


class SortDirection(enum.IntEnum):
    """flyteidl.admin.Sort.Direction (DESCENDING is the protobuf default)."""

    DESCENDING = 0
    ASCENDING = 1


@dataclass(frozen=True)
class Sort:
    """Sort a list by one whitelisted field (flyteidl.admin.Sort)."""

    key: str
    direction: SortDirection = SortDirection.DESCENDING


@dataclass(frozen=True)
class FilterField:
    """A column a list request may filter and sort on, and how to read its values."""

    column: InstrumentedAttribute[Any]
    parse: Callable[[str], Any]
    is_text: bool = False


def _parse_enum(enum_cls: type[enum.IntEnum]) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if raw.lstrip("-").isdigit():
            return int(enum_cls(int(raw)))
        return int(enum_cls[raw.upper()])

    return parse


def _parse_datetime(raw: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(raw)  # RFC 3339 incl. "Z" (Python 3.11+)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _parse_duration(raw: str) -> float:
    """Seconds: a plain number (FlyteAdmin's reading) or a Go duration such as ``1h2m3.5s``."""
    try:
        return float(raw)
    except ValueError:
        pass
    pos, total = 0, 0.0
    while pos < len(raw):
        match = _GO_DURATION.match(raw, pos)
        if match is None:
            raise ValueError(raw)
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    if not raw:
        raise ValueError(raw)
    return total


_INT64 = 2**63


def _parse_int(raw: str) -> int:
    """An integer the databases can compare with (signed 64-bit)."""
    value = int(raw)
    if not -_INT64 <= value < _INT64:
        raise ValueError(raw)
    return value


def _parse_text(raw: str) -> str:
    # PostgreSQL text cannot hold NUL; no stored value has one, so such a filter is a mistake.
    if "\x00" in raw:
        raise ValueError(raw)
    return raw


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise ValueError(raw)
    return lowered == "true"


def _field(column: InstrumentedAttribute[Any], enum_cls: type[enum.IntEnum] | None = None) -> FilterField:
    sa_type = column.property.columns[0].type
    if enum_cls is not None:
        return FilterField(column, _parse_enum(enum_cls))
    if isinstance(sa_type, m.UTCDateTime):
        return FilterField(column, _parse_datetime)
    if isinstance(sa_type, Double):
        return FilterField(column, _parse_duration)
    if isinstance(sa_type, Boolean):
        return FilterField(column, _parse_bool)
    if isinstance(sa_type, Integer):
        return FilterField(column, _parse_int)
    if isinstance(sa_type, String):
        return FilterField(column, _parse_text, is_text=True)
    raise TypeError(f"column {column} cannot be filtered")  # a whitelist mistake, caught by tests


def _fields(
    model: type[m.Base],
    names: list[str],
    enums: Mapping[str, type[enum.IntEnum]] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> dict[str, FilterField]:
    enums = enums or {}
    fields = {name: _field(getattr(model, name), enums.get(name)) for name in names}
    for alias, target in (aliases or {}).items():
        fields[alias] = fields[target]
    return fields


_ENTITY_COLS = ["project", "domain", "name", "version", "created_at"]


def _id_aliases(prefix: str, column_prefix: str, parts: tuple[str, ...]) -> dict[str, str]:
    return {f"{prefix}.{part}": f"{column_prefix}{part}" for part in parts}


_PDNV = ("project", "domain", "name", "version")
_PDN = ("project", "domain", "name")

FIELDS: dict[type[m.Base], dict[str, FilterField]] = {
    m.Project: _fields(
        m.Project,
        ["id", "name", "description", "state", "created_at", "updated_at"],
        {"state": m.ProjectState},
    ),
    m.Task: _fields(m.Task, [*_ENTITY_COLS, "task_type"], aliases={"type": "task_type"}),
    m.Workflow: _fields(m.Workflow, _ENTITY_COLS),
    m.LaunchPlan: _fields(
        m.LaunchPlan,
        [*_ENTITY_COLS, "updated_at", "state", "auto_default", *(f"workflow_{p}" for p in _PDNV)],
        {"state": LaunchPlanState},
        _id_aliases("workflow", "workflow_", _PDNV),
    ),
    m.Execution: _fields(
        m.Execution,
        [
            "project",
            "domain",
            "name",
            "phase",
            "mode",
            "user",
            "started_at",
            "duration",
            "created_at",
            "updated_at",
            "launched",
            "abort_cause",
            *(f"launch_plan_{p}" for p in _PDNV),
            *(f"workflow_{p}" for p in _PDNV),
            *(f"parent_node_execution_{p}" for p in (*_PDN, "node_id")),
        ],
        {"phase": WorkflowExecutionPhase, "mode": ExecutionMode},
        {
            **_id_aliases("launch_plan", "launch_plan_", _PDNV),
            **_id_aliases("workflow", "workflow_", _PDNV),
            # FlyteAdmin's own column names for these.
            "execution_project": "project",
            "execution_domain": "domain",
            "execution_name": "name",
            "execution_created_at": "created_at",
            "execution_updated_at": "updated_at",
        },
    ),
    m.NodeExecution: _fields(
        m.NodeExecution,
        [
            "execution_project",
            "execution_domain",
            "execution_name",
            "node_id",
            "phase",
            "parent_node_id",
            "retry_group",
            "spec_node_id",
            "is_parent",
            "is_dynamic",
            "is_array",
            "started_at",
            "duration",
            "created_at",
            "updated_at",
        ],
        {"phase": NodeExecutionPhase},
        {
            **_id_aliases("execution", "execution_", _PDN),
            "node_execution_created_at": "created_at",
            "node_execution_updated_at": "updated_at",
        },
    ),
    m.TaskExecution: _fields(
        m.TaskExecution,
        [
            "execution_project",
            "execution_domain",
            "execution_name",
            "node_id",
            "retry_attempt",
            "phase",
            "phase_version",
            "started_at",
            "duration",
            "created_at",
            "updated_at",
            *(f"task_{p}" for p in _PDNV),
        ],
        {"phase": TaskExecutionPhase},
        {
            **_id_aliases("task", "task_", _PDNV),
            **_id_aliases("execution", "execution_", _PDN),
            "node_execution.node_id": "node_id",
            "task_execution_created_at": "created_at",
            "task_execution_updated_at": "updated_at",
        },
    ),
    m.Signal: _fields(
        m.Signal,
        ["execution_project", "execution_domain", "execution_name", "signal_id", "created_at", "updated_at"],
        aliases={
            **_id_aliases("execution", "execution_", _PDN),
            "signal_created_at": "created_at",
            "signal_updated_at": "updated_at",
        },
    ),
}
"""Per table: the fields list requests may filter and sort on."""

# One expression: a function name, "(", field, ",", value(s), ")"; expressions are joined by "+".
# The closing ")" is the first one followed by "+" or the end, so values may contain "+"
# (timestamps with a "+00:00" offset) and "," (the field ends at the first comma).
_EXPRESSION = re.compile(r"\s*(?P<func>[A-Za-z_]+)\((?P<field>[^,()]*),(?P<value>.*?)\)\s*(?:\+|$)")

_COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": lambda c, v: c == v,
    "ne": lambda c, v: c != v,
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
}
FUNCTIONS = (*_COMPARE, "contains", "value_in")


def _lookup(fields: Mapping[str, FilterField], entity: str, name: str) -> FilterField | None:
    if name in fields:
        return fields[name]
    own_prefix = entity.replace(" ", "_") + "."
    return fields.get(name.removeprefix(own_prefix)) if name.startswith(own_prefix) else None


def parse_filters(text: str, model: type[m.Base]) -> list[ColumnElement[bool]]:
    """Turn a filter string into SQLAlchemy conditions on ``model`` (all must hold).

    :raises InvalidFilter: naming the malformed expression, unknown function, unknown field or
        unreadable value. An empty string means no filter.
    """
    fields, entity = FIELDS[model], model.ENTITY
    conditions: list[ColumnElement[bool]] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        match = _EXPRESSION.match(text, pos)
        if match is None:
            rest = text[pos:]
            raise InvalidFilter(
                f"malformed filter {rest!r}: expected function(field,value) joined by '+'", rest
            )
        pos = match.end()
        expression = match.group(0).strip().removesuffix("+")
        func, name, raw = match["func"], match["field"].strip(), match["value"].strip()
        if func not in FUNCTIONS:
            raise InvalidFilter(
                f"unknown filter function {func!r} in {expression!r}; use one of {', '.join(FUNCTIONS)}", func
            )
        field = _lookup(fields, entity, name)
        if field is None:
            allowed = ", ".join(sorted(n for n in fields if "." not in n))
            raise InvalidFilter(f"cannot filter {entity}s on {name!r}; filterable fields: {allowed}", name)
        if func == "contains" and not field.is_text:
            raise InvalidFilter(f"contains() needs a text field, {name!r} is not ({expression!r})", name)
        raws = [v.strip() for v in raw.split(";")] if func == "value_in" else [raw]
        values = [_convert(field, name, v, expression) for v in raws]
        if func == "value_in":
            conditions.append(field.column.in_(values))
        elif func == "contains":
            conditions.append(field.column.contains(values[0], autoescape=True))
        else:
            conditions.append(_COMPARE[func](field.column, values[0]))
    return conditions


def _convert(field: FilterField, name: str, raw: str, expression: str) -> Any:
    if raw == "":
        raise InvalidFilter(f"filter {expression!r} has no value", expression)
    try:
        return field.parse(raw)
    except (ValueError, KeyError):
        raise InvalidFilter(f"{raw!r} is not a valid value for {name!r} in {expression!r}", raw) from None


def order_by(model: type[m.Base], sort: Sort | None, default: Sort) -> list[ColumnElement[Any]]:
    """ORDER BY for a list: the requested (or default) field, then the primary key, so pages
    never overlap or skip rows when many rows share the sorted value.

    :raises InvalidSort: the key is not a whitelisted field of ``model``.
    """
    sort = sort or default
    fields = FIELDS[model]
    field = _lookup(fields, model.ENTITY, sort.key)
    if field is None:
        raise InvalidSort(sort.key, sorted(n for n in fields if "." not in n))
    primary = field.column.asc() if sort.direction == SortDirection.ASCENDING else field.column.desc()
    tiebreak = [col.asc() for col in m.table_of(model).primary_key.columns]
    return [primary, *tiebreak]
