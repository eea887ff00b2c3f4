"""Signals in the repository, on SQLite and PostgreSQL: get-or-create, values, lists, and the
execution they belong to."""

from __future__ import annotations

import threading

import pytest

from flytecore.admin.db import InvalidFilter, NotFound, Repository, Signal, Sort, SortDirection
from flytecore.spec import WorkflowExecutionIdentifier
from tests.admin.conftest import columns, execution

INT_TYPE = b"\x08\x01"  # a serialized LiteralType(simple=INTEGER); the repository stores bytes
STR_TYPE = b"\x08\x03"


def xid(name: str = "exec1") -> WorkflowExecutionIdentifier:
    return WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)


def signal(signal_id: str = "n", name: str = "exec1", **kw: object) -> Signal:
    fields = dict(execution_project="flytesnacks", execution_domain="development", type=INT_TYPE)
    return Signal(signal_id=signal_id, execution_name=name, **{**fields, **kw})


@pytest.fixture
def repo_with_execution(repo: Repository) -> Repository:
    repo.create_execution(execution("exec1"))
    repo.create_execution(execution("exec2"))
    return repo


def test_get_or_create_creates_once_and_then_returns_the_stored_signal(repo_with_execution: Repository) -> None:
    repo = repo_with_execution
    created, was_created = repo.get_or_create_signal(signal())
    assert was_created and created.type == INT_TYPE and created.value is None
    again, was_created = repo.get_or_create_signal(signal(type=STR_TYPE))
    assert not was_created
    assert columns(again) == columns(created)  # the stored type is kept, nothing rewritten
    assert columns(repo.get_signal(xid(), "n")) == columns(created)


def test_concurrent_get_or_create_make_one_signal(repo_with_execution: Repository) -> None:
    results: list[bool] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            results.append(repo_with_execution.get_or_create_signal(signal("race"))[1])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False] * 7 + [True]


def test_a_signal_of_an_unknown_execution_is_not_found_naming_it(repo: Repository) -> None:
    with pytest.raises(NotFound, match="execution flytesnacks/development/ghost not found"):
        repo.get_or_create_signal(signal(name="ghost"))
    with pytest.raises(NotFound, match="signal 'n' of execution flytesnacks/development/exec1 not found"):
        repo.get_signal(xid(), "n")


def test_set_value_stores_and_replaces_it(repo_with_execution: Repository) -> None:
    repo = repo_with_execution
    created, _ = repo.get_or_create_signal(signal())
    first = repo.set_signal_value(xid(), "n", b"\x0a\x01")
    assert first.value == b"\x0a\x01" and first.type == INT_TYPE
    assert first.created_at == created.created_at and first.updated_at >= created.updated_at
    assert repo.set_signal_value(xid(), "n", b"\x0a\x02").value == b"\x0a\x02"
    with pytest.raises(NotFound, match="signal 'other'"):
        repo.set_signal_value(xid(), "other", b"\x0a\x01")


def test_list_is_per_execution_in_creation_order_paged_filtered_and_sorted(repo_with_execution: Repository) -> None:
    repo = repo_with_execution
    for signal_id in ("b", "a", "c"):
        repo.get_or_create_signal(signal(signal_id))
    repo.get_or_create_signal(signal("elsewhere", name="exec2"))
    first = repo.list_signals(xid(), limit=2)
    assert [s.signal_id for s in first.rows] == ["b", "a"] and first.next_token
    rest = repo.list_signals(xid(), limit=2, token=first.next_token)
    assert [s.signal_id for s in rest.rows] == ["c"] and rest.next_token == ""
    assert [s.signal_id for s in repo.list_signals(xid(), filters="eq(signal_id,a)").rows] == ["a"]
    ordered = repo.list_signals(xid(), sort=Sort("signal_id", SortDirection.ASCENDING))
    assert [s.signal_id for s in ordered.rows] == ["a", "b", "c"]
    assert repo.list_signals(xid("exec3")).rows == []
    with pytest.raises(InvalidFilter, match="cannot filter signals on 'value'"):
        repo.list_signals(xid(), filters="eq(value,1)")


def test_signals_go_with_their_execution(repo_with_execution: Repository) -> None:
    from sqlalchemy import delete

    from flytecore.admin.db.models import Execution

    repo = repo_with_execution
    repo.get_or_create_signal(signal())
    with repo.engine.begin() as conn:
        conn.execute(delete(Execution).where(Execution.name == "exec1"))
    assert repo.list_signals(xid()).rows == []
