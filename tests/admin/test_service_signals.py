"""Admin service: SignalService's GetOrCreateSignal, ListSignals and SetSignal on SQLite and
PostgreSQL; refused calls name what was wrong and change nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import common_pb2, signal_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2

from flytecore.admin.db import Repository
from flytecore.admin.service import (
    AdminError,
    AdminService,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from flytecore.admin.service.limits import MAX_INPUTS_BYTES
from flytecore.spec import WorkflowExecutionIdentifier
from tests.admin.conftest import database_rows, execution
from tests.admin.test_service_executions import integer, make_admin, text

PROJECT, DOMAIN = "flytesnacks", "development"
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
BOOL = types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
STR = types_pb2.LiteralType(simple=types_pb2.STRING)
INTS = types_pb2.LiteralType(collection_type=INT)
MAYBE_INT = types_pb2.LiteralType(
    union_type=types_pb2.UnionType(variants=[INT, types_pb2.LiteralType(simple=types_pb2.NONE)])
)


def exec_id(name: str = "exec1", **kw: Any) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(**{"project": PROJECT, "domain": DOMAIN, "name": name, **kw})


def sig_id(signal_id: str = "n", name: str = "exec1", **kw: Any) -> identifier_pb2.SignalIdentifier:
    return identifier_pb2.SignalIdentifier(signal_id=signal_id, execution_id=exec_id(name, **kw))


def boolean(value: bool) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=value)))


def collection(*items: literals_pb2.Literal) -> literals_pb2.Literal:
    return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=list(items)))


def none() -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))


@pytest.fixture
def admin(repo: Repository, tmp_path: Path) -> AdminService:
    service = make_admin(repo, tmp_path, None)
    repo.create_execution(execution("exec1"))
    repo.create_execution(execution("exec2"))
    return service


def get_or_create(admin: AdminService, signal_id: str = "n", literal_type: types_pb2.LiteralType = INT, **kw: Any) -> signal_pb2.Signal:
    return admin.get_or_create_signal(signal_pb2.SignalGetOrCreateRequest(id=sig_id(signal_id, **kw), type=literal_type))


def set_signal(admin: AdminService, value: literals_pb2.Literal, signal_id: str = "n", **kw: Any) -> None:
    admin.set_signal(signal_pb2.SignalSetRequest(id=sig_id(signal_id, **kw), value=value))


def listed(admin: AdminService, name: str = "exec1", **kw: Any) -> signal_pb2.SignalList:
    return admin.list_signals(signal_pb2.SignalListRequest(workflow_execution_id=exec_id(name), **kw))


def refused(admin: AdminService, call: Callable[[], object], error: type[AdminError]) -> str:
    """Make a call that must be refused with ``error``; the stored rows must not change."""
    before = database_rows(admin.repo.engine)
    with pytest.raises(AdminError) as info:
        call()
    assert type(info.value) is error, info.value.message
    assert database_rows(admin.repo.engine) == before
    return info.value.message


def test_get_or_create_is_idempotent_and_shows_the_value_once_set(admin: AdminService) -> None:
    first = get_or_create(admin)
    assert first.id == sig_id() and first.type == INT and not first.HasField("value")
    assert get_or_create(admin) == first
    set_signal(admin, integer(7))
    answer = get_or_create(admin)
    assert answer.value == integer(7) and answer.type == INT


def test_asking_for_a_signal_with_another_type_is_refused_naming_both(admin: AdminService) -> None:
    get_or_create(admin)
    message = refused(admin, lambda: get_or_create(admin, literal_type=STR), FailedPreconditionError)
    assert "signal 'n' of execution flytesnacks/development/exec1 exists with type int, not str" in message


def test_setting_a_value_of_the_wrong_type_is_refused_naming_the_signal_and_types(admin: AdminService) -> None:
    get_or_create(admin, "ok", BOOL)
    message = refused(admin, lambda: set_signal(admin, integer(1), "ok"), InvalidArgumentError)
    assert "signal 'ok' of execution flytesnacks/development/exec1 (type bool)" in message
    assert "expected bool, got int" in message
    get_or_create(admin, "xs", INTS)
    message = refused(admin, lambda: set_signal(admin, collection(integer(1), text("two")), "xs"), InvalidArgumentError)
    assert "value[1]: expected int, got str" in message


def test_values_fitting_the_type_are_accepted(admin: AdminService) -> None:
    get_or_create(admin, "ok", BOOL)
    set_signal(admin, boolean(False), "ok")
    get_or_create(admin, "maybe", MAYBE_INT)
    set_signal(admin, none(), "maybe")
    set_signal(admin, integer(4), "maybe")
    get_or_create(admin, "xs", INTS)
    set_signal(admin, collection(integer(1), integer(2)), "xs")
    values = {s.id.signal_id: s.value for s in listed(admin).signals}
    assert values == {"ok": boolean(False), "maybe": integer(4), "xs": collection(integer(1), integer(2))}


def test_setting_an_unknown_signal_is_not_found_and_says_when_signals_appear(admin: AdminService) -> None:
    message = refused(admin, lambda: set_signal(admin, integer(1)), NotFoundError)
    assert "execution flytesnacks/development/exec1 has no signal 'n' (yet)" in message
    assert "once the execution reaches the gate" in message and "it has none so far" in message
    get_or_create(admin, "m")
    message = refused(admin, lambda: set_signal(admin, integer(1)), NotFoundError)
    assert "its signals: 'm'" in message
    message = refused(admin, lambda: set_signal(admin, integer(1), name="ghost"), NotFoundError)
    assert "execution flytesnacks/development/ghost not found" in message


def test_setting_a_set_signal_again_replaces_its_value_as_flyteadmin_does(admin: AdminService) -> None:
    get_or_create(admin)
    set_signal(admin, integer(1))
    set_signal(admin, integer(2))
    assert get_or_create(admin).value == integer(2)


def test_the_hook_is_told_the_execution_after_the_value_is_stored(admin: AdminService) -> None:
    seen: list[tuple[WorkflowExecutionIdentifier, bool]] = []
    admin.on_signal_set = lambda eid: seen.append((eid, get_or_create(admin).HasField("value")))
    get_or_create(admin)
    refused(admin, lambda: set_signal(admin, text("no")), InvalidArgumentError)
    assert seen == []  # a refused call wakes nobody
    set_signal(admin, integer(5))
    assert seen == [(WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="exec1"), True)]


def test_a_failing_hook_does_not_fail_the_call(admin: AdminService, caplog: pytest.LogCaptureFixture) -> None:
    def broken(_eid: WorkflowExecutionIdentifier) -> None:
        raise RuntimeError("propeller gone")

    admin.on_signal_set = broken
    get_or_create(admin)
    set_signal(admin, integer(5))
    assert get_or_create(admin).value == integer(5)
    assert "on_signal_set hook failed" in caplog.text


def test_list_pages_filters_and_is_per_execution(admin: AdminService) -> None:
    for signal_id in ("b", "a", "c"):
        get_or_create(admin, signal_id)
    get_or_create(admin, "elsewhere", name="exec2")
    set_signal(admin, integer(3), "a")
    first = listed(admin, limit=2)
    assert [s.id.signal_id for s in first.signals] == ["b", "a"] and first.token
    assert first.signals[1].value == integer(3) and not first.signals[0].HasField("value")
    rest = listed(admin, limit=2, token=first.token)
    assert [s.id.signal_id for s in rest.signals] == ["c"] and rest.token == ""
    assert [s.id.signal_id for s in listed(admin, filters="eq(signal_id,c)").signals] == ["c"]
    by_id = listed(admin, sort_by=common_pb2.Sort(key="signal_id", direction=common_pb2.Sort.DESCENDING))
    assert [s.id.signal_id for s in by_id.signals] == ["c", "b", "a"]
    assert [s.id.signal_id for s in listed(admin, "exec2").signals] == ["elsewhere"]


def test_list_of_an_unknown_execution_is_not_found_and_of_one_without_signals_empty(admin: AdminService) -> None:
    assert list(listed(admin).signals) == []
    message = refused(admin, lambda: listed(admin, "ghost"), NotFoundError)
    assert "execution flytesnacks/development/ghost not found" in message
    message = refused(admin, lambda: listed(admin, filters="eq(value,1)"), InvalidArgumentError)
    assert "cannot filter signals on 'value'" in message


BAD_REQUESTS: list[tuple[str, Callable[[], Any], str, str]] = [
    ("no-id", lambda: signal_pb2.SignalGetOrCreateRequest(type=INT), "get_or_create_signal", "id is required"),
    ("empty-signal-id", lambda: signal_pb2.SignalGetOrCreateRequest(id=sig_id(""), type=INT), "get_or_create_signal",
     "id signal_id is required"),
    ("control-character", lambda: signal_pb2.SignalSetRequest(id=sig_id("a\x00b"), value=integer(1)), "set_signal",
     "id signal_id 'a\\x00b' contains a control character"),
    ("long-signal-id", lambda: signal_pb2.SignalGetOrCreateRequest(id=sig_id("s" * 256), type=INT), "get_or_create_signal",
     "is 256 bytes long (UTF-8); at most 255 allowed"),
    ("no-execution-id", lambda: signal_pb2.SignalSetRequest(id=identifier_pb2.SignalIdentifier(signal_id="n"), value=integer(1)),
     "set_signal", "id execution_id of signal 'n' is required"),
    ("bad-execution-name", lambda: signal_pb2.SignalGetOrCreateRequest(id=sig_id(name="Exec_1"), type=INT),
     "get_or_create_signal", "execution id name 'Exec_1' must start with a lowercase letter"),
    ("unknown-domain", lambda: signal_pb2.SignalSetRequest(id=sig_id(domain="qa"), value=integer(1)), "set_signal",
     "execution id domain 'qa' is not a domain of this admin"),
    ("no-type", lambda: signal_pb2.SignalGetOrCreateRequest(id=sig_id()), "get_or_create_signal",
     "type of signal 'n' is required"),
    ("empty-type", lambda: signal_pb2.SignalGetOrCreateRequest(id=sig_id(), type=types_pb2.LiteralType()),
     "get_or_create_signal", "type of signal 'n' is malformed"),
    ("no-value", lambda: signal_pb2.SignalSetRequest(id=sig_id("set")), "set_signal", "value of signal 'set' is required"),
    ("empty-value", lambda: signal_pb2.SignalSetRequest(id=sig_id("set"), value=literals_pb2.Literal()), "set_signal",
     "value of signal 'set' is malformed"),
    ("oversize-value", lambda: signal_pb2.SignalSetRequest(id=sig_id("set"), value=text("x" * MAX_INPUTS_BYTES)),
     "set_signal", "value of signal 'set': 2 MiB"),
    ("list-without-execution", lambda: signal_pb2.SignalListRequest(), "list_signals", "workflow_execution_id is required"),
    ("list-bad-token", lambda: signal_pb2.SignalListRequest(workflow_execution_id=exec_id(), token="x"), "list_signals",
     "invalid page token 'x'"),
    ("list-huge-limit", lambda: signal_pb2.SignalListRequest(workflow_execution_id=exec_id(), limit=10_001), "list_signals",
     "limit must be a number from 1 to 10000"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "request_of", "method", "says"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_are_invalid_argument_naming_the_field(
    admin: AdminService, case: str, request_of: Callable[[], Any], method: str, says: str
) -> None:
    get_or_create(admin, "set", STR)  # the signal the SetSignal cases aim at exists
    message = refused(admin, lambda: getattr(admin, method)(request_of()), InvalidArgumentError)
    assert says in message
