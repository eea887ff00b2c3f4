"""Two admins writing at once (two engines, two threads): the database decides, nobody half-writes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine

from flytecore.admin.db import (
    AlreadyExists,
    ConcurrentUpdate,
    Repository,
    make_engine,
    make_session_factory,
)
from flytecore.spec import (
    Identifier,
    LaunchPlanState,
    NodeExecutionIdentifier,
    ResourceType,
    WorkflowExecutionIdentifier,
)
from tests.admin.conftest import execution, launch_plan, node_execution, task

ROUNDS = 10


@pytest.fixture
def two_admins(engine: Engine) -> Iterator[tuple[Repository, Repository]]:
    """Two repositories on separate engines (separate connection pools) over one database."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    yield Repository(make_session_factory(engine)), Repository(make_session_factory(other))
    other.dispose()


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in parallel threads released at the same instant; results or exceptions."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        except Exception as exc:  # the test inspects what each side got
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_racing_creates_of_one_id_one_wins_the_other_already_exists(
    two_admins: tuple[Repository, Repository],
) -> None:
    a, b = two_admins
    for i in range(ROUNDS):
        name = f"t{i}"
        results = race(
            partial(a.create_task, task(name, digest="A")),
            partial(b.create_task, task(name, digest="B")),
        )
        errors = [r for r in results if isinstance(r, Exception)]
        winners = [r for r in results if not isinstance(r, Exception)]
        assert len(winners) == 1 and len(errors) == 1, results
        assert isinstance(errors[0], AlreadyExists)
        stored = a.get_task(
            Identifier(
                resource_type=ResourceType.TASK,
                project="flytesnacks",
                domain="development",
                name=f"t{i}",
                version="v1",
            )
        )
        assert stored.digest == winners[0].digest


def test_racing_explicit_launch_plans_replace_the_auto_default_once(
    two_admins: tuple[Repository, Repository],
) -> None:
    a, b = two_admins
    for i in range(ROUNDS):
        a.create_launch_plan(launch_plan(f"lp{i}", auto_default=True, digest="auto"))
        results = race(
            partial(a.create_launch_plan, launch_plan(f"lp{i}", digest="A")),
            partial(b.create_launch_plan, launch_plan(f"lp{i}", digest="B")),
        )
        assert sorted(type(r).__name__ for r in results) == ["AlreadyExists", "LaunchPlan"], results


def test_racing_activations_leave_exactly_one_active_version(
    two_admins: tuple[Repository, Repository],
) -> None:
    a, b = two_admins
    for i in range(ROUNDS):
        name = f"lp{i}"
        for version in ("v0", "v1", "v2"):
            a.create_launch_plan(launch_plan(name, version))
        a.set_launch_plan_state(_lp(name, "v0"), LaunchPlanState.ACTIVE)
        results = race(
            partial(a.set_launch_plan_state, _lp(name, "v1"), LaunchPlanState.ACTIVE),
            partial(b.set_launch_plan_state, _lp(name, "v2"), LaunchPlanState.ACTIVE),
        )
        assert not any(isinstance(r, Exception) for r in results), results
        active = [
            lp.version for lp in a.list_launch_plans("flytesnacks", "development", name).rows if lp.state == 1
        ]
        assert len(active) == 1 and active[0] in ("v1", "v2")


def test_racing_upserts_of_one_node_execution_both_succeed(two_admins: tuple[Repository, Repository]) -> None:
    a, b = two_admins
    a.create_execution(execution())
    for i in range(ROUNDS):
        results = race(
            partial(a.upsert_node_execution, node_execution(f"n{i}", phase=1)),
            partial(b.upsert_node_execution, node_execution(f"n{i}", phase=2)),
        )
        assert not any(isinstance(r, Exception) for r in results), results
        stored = a.get_node_execution(NodeExecutionIdentifier(node_id=f"n{i}", execution_id=_xid()))
        assert stored.phase in (1, 2)


def test_racing_conditional_updates_exactly_one_wins(two_admins: tuple[Repository, Repository]) -> None:
    a, b = two_admins
    for i in range(ROUNDS):
        a.create_execution(execution(f"e{i}", phase=1))
        results = race(
            partial(a.update_execution, _xid(f"e{i}"), expect={"phase": 1}, phase=2, abort_cause=""),
            partial(b.update_execution, _xid(f"e{i}"), expect={"phase": 1}, phase=7, abort_cause="user"),
        )
        kinds = sorted(type(r).__name__ for r in results)
        assert kinds == ["ConcurrentUpdate", "Execution"], results
        winner = next(r for r in results if not isinstance(r, ConcurrentUpdate))
        stored = a.get_execution(_xid(f"e{i}"))
        assert (stored.phase, stored.abort_cause) == (winner.phase, winner.abort_cause)


def _lp(name: str, version: str) -> Identifier:
    return Identifier(
        resource_type=ResourceType.LAUNCH_PLAN,
        project="flytesnacks",
        domain="development",
        name=name,
        version=version,
    )


def _xid(name: str = "exec1") -> WorkflowExecutionIdentifier:
    return WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)
