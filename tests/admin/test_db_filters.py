"""Filter strings as FlyteAdmin and flytekit send them, parsed against a column whitelist."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import BinaryExpression

from flytecore.admin.db import InvalidFilter, InvalidSort, Sort, models, parse_filters
from flytecore.admin.db.filters import FIELDS, SortDirection, order_by


def _parts(text: str, model: type[models.Base] = models.Execution) -> list[tuple[str, str, Any]]:
    """(column, operator, value) of each parsed condition."""
    out = []
    for cond in parse_filters(text, model):
        assert isinstance(cond, BinaryExpression)
        value = cond.right.value if hasattr(cond.right, "value") else cond.right
        out.append((cond.left.name, cond.operator.__name__, value))
    return out


def test_empty_string_is_no_filter() -> None:
    assert parse_filters("", models.Execution) == []
    assert parse_filters("   ", models.Task) == []


def test_flytekit_style_filters() -> None:
    assert _parts("eq(phase,SUCCEEDED)+gte(created_at,2024-01-01T00:00:00Z)") == [
        ("phase", "eq", 4),
        ("created_at", "ge", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
    ]


def test_every_comparison_function() -> None:
    got = _parts("eq(name,a)+ne(name,b)+gt(duration,1)+gte(duration,2)+lt(duration,3)+lte(duration,4)")
    assert [(op, v) for _, op, v in got] == [
        ("eq", "a"),
        ("ne", "b"),
        ("gt", 1.0),
        ("ge", 2.0),
        ("lt", 3.0),
        ("le", 4.0),
    ]


def test_value_in_takes_semicolon_separated_values() -> None:
    [cond] = parse_filters("value_in(phase,RUNNING;QUEUED)", models.Execution)
    assert cond.right.value == [2, 1]  # type: ignore[attr-defined]


def test_phases_by_name_any_case_or_number() -> None:
    assert _parts("eq(phase,succeeded)+eq(phase,4)") == [("phase", "eq", 4), ("phase", "eq", 4)]
    # each table reads its own phase enum: SUCCEEDED is 3 for nodes and tasks
    assert _parts("eq(phase,SUCCEEDED)", models.NodeExecution) == [("phase", "eq", 3)]
    assert _parts("eq(state,ACTIVE)", models.LaunchPlan) == [("state", "eq", 1)]


def test_spaces_after_commas_and_around_parts_are_allowed() -> None:
    assert _parts(" eq(phase, RUNNING) + eq( name , x ) ") == [("phase", "eq", 2), ("name", "eq", "x")]


def test_timestamps_with_offsets_may_contain_plus() -> None:
    got = _parts("gte(created_at,2024-01-01T02:00:00+02:00)+eq(phase,QUEUED)")
    assert got == [("created_at", "ge", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)), ("phase", "eq", 1)]
    [(_, _, naive)] = _parts("lt(updated_at,2024-05-01)")
    assert naive == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)  # no zone given: UTC


@pytest.mark.parametrize(
    ("raw", "seconds"), [("90", 90.0), ("1.5", 1.5), ("1m30s", 90.0), ("1h", 3600.0), ("250ms", 0.25)]
)
def test_durations_in_seconds_or_go_syntax(raw: str, seconds: float) -> None:
    assert _parts(f"gt(duration,{raw})") == [("duration", "gt", seconds)]


def test_entity_prefixes_reach_the_id_columns_a_table_carries() -> None:
    assert _parts("eq(launch_plan.name,lp)+eq(workflow.version,v2)+eq(execution.phase,FAILED)") == [
        ("launch_plan_name", "eq", "lp"),
        ("workflow_version", "eq", "v2"),
        ("phase", "eq", 6),
    ]
    assert _parts("eq(task.name,t)+eq(node_execution.node_id,n1)", models.TaskExecution) == [
        ("task_name", "eq", "t"),
        ("node_id", "eq", "n1"),
    ]
    # FlyteAdmin's own column names
    assert _parts("gte(execution_created_at,2024-01-01T00:00:00Z)")[0][0] == "created_at"


def test_booleans() -> None:
    assert _parts("eq(launched,true)+eq(launched,FALSE)") == [
        ("launched", "eq", True),
        ("launched", "eq", False),
    ]


def test_contains_escapes_like_wildcards() -> None:
    [cond] = parse_filters("contains(name,50%_off)", models.Task)
    sql = str(cond.compile(compile_kwargs={"literal_binds": True}))
    assert "50/%/_off" in sql and "ESCAPE '/'" in sql


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("foo(phase,RUNNING)", "foo"),
        ("eq(colour,red)", "colour"),
        ("eq(phase,DANCING)", "DANCING"),
        ("eq(phase,42)", "42"),
        ("eq(phase)", "eq(phase)"),
        ("phase=RUNNING", "phase=RUNNING"),
        ("eq(phase,RUNNING)+junk", "junk"),
        ("eq(phase,RUNNING)junk", "eq(phase,RUNNING)junk"),
        ("gte(created_at,yesterday)", "yesterday"),
        ("gt(duration,soon)", "soon"),
        ("eq(launched,maybe)", "maybe"),
        ("contains(phase,RUN)", "phase"),
        ("eq(name,)", "eq(name,)"),
        ("value_in(phase,RUNNING;NOPE)", "NOPE"),
        ("eq(spec,x)", "spec"),  # bytes are not filterable
        ("eq(task.name,x)", "task.name"),  # executions carry no task columns
    ],
)
def test_invalid_filters_name_the_bad_part(text: str, bad: str) -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_filters(text, models.Execution)
    assert info.value.part == bad
    assert bad in str(info.value)


def test_unknown_field_message_lists_what_is_filterable() -> None:
    with pytest.raises(
        InvalidFilter, match=r"cannot filter executions on 'colour'; filterable fields: .*phase"
    ):
        parse_filters("eq(colour,red)", models.Execution)


def test_sort_keys_are_whitelisted_and_ties_broken_by_primary_key() -> None:
    order = order_by(models.Task, Sort("name", SortDirection.ASCENDING), Sort("created_at"))
    assert [str(o) for o in order] == [
        "tasks.name ASC", "tasks.project ASC", "tasks.domain ASC", "tasks.name ASC", "tasks.version ASC",
    ]  # fmt: skip
    with pytest.raises(InvalidSort, match="cannot sort by 'spec'"):
        order_by(models.Task, Sort("spec"), Sort("created_at"))


def test_every_whitelisted_field_is_a_real_column() -> None:
    for model, fields in FIELDS.items():
        for name, field in fields.items():
            assert field.column.class_ is model, name
            assert field.column.key in model.__table__.columns, name
