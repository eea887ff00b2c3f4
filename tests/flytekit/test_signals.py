"""Signals through flytekit's own client: ``FlyteRemote.list_signals``, ``approve``, ``reject``
and ``set_signal`` against the admin on real gRPC. The signals are created as the propeller
creates them (GetOrCreateSignal with the gate's type) on an execution recorded in the admin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2, types_pb2
from flytekit.configuration import Config, PlatformConfig
from flytekit.exceptions.user import FlyteEntityNotExistException, FlyteInvalidInputException
from flytekit.remote import FlyteRemote

from flytecore.admin.config import AdminConfig
from flytecore.admin.db import models
from flytecore.admin.grpc import start_in_thread
from flytecore.admin.service import AdminService

PROJECT, DOMAIN, RUN = "flytesnacks", "development", "gated-1"


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[tuple[AdminService, FlyteRemote]]:
    service = AdminService.create(
        AdminConfig(db_url=f"sqlite:///{tmp_path / 'admin.db'}", storage_prefix=str(tmp_path / "store"))
    )
    service.repo.create_execution(models.Execution(project=PROJECT, domain=DOMAIN, name=RUN))
    for signal_id, simple in (("ok", types_pb2.BOOLEAN), ("title", types_pb2.STRING)):
        service.get_or_create_signal(
            signal_pb2.SignalGetOrCreateRequest(
                id=identifier_pb2.SignalIdentifier(
                    signal_id=signal_id,
                    execution_id=identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=RUN),
                ),
                type=types_pb2.LiteralType(simple=simple),
            )
        )
    port, stop = start_in_thread(service)
    platform = PlatformConfig(endpoint=f"127.0.0.1:{port}", insecure=True)
    yield service, FlyteRemote(config=Config(platform=platform), default_project=PROJECT, default_domain=DOMAIN)
    stop()


def test_flyte_remote_lists_approves_rejects_and_sets_signals(admin: tuple[AdminService, FlyteRemote]) -> None:
    _service, remote = admin
    listed = remote.list_signals(RUN)
    assert [(s.id.signal_id, s.HasField("value")) for s in listed] == [("ok", False), ("title", False)]

    remote.approve("ok", RUN)
    remote.set_signal("title", RUN, "quarterly report")
    signals = {s.id.signal_id: s for s in remote.list_signals(RUN)}
    assert signals["ok"].value.scalar.primitive.boolean is True
    assert signals["title"].value.scalar.primitive.string_value == "quarterly report"

    remote.reject("ok", RUN)  # a second answer replaces the first, as in FlyteAdmin
    assert {s.id.signal_id: s for s in remote.list_signals(RUN)}["ok"].value.scalar.primitive.boolean is False


def test_flyte_remote_sees_the_admins_refusals(admin: tuple[AdminService, FlyteRemote]) -> None:
    _service, remote = admin
    with pytest.raises(FlyteInvalidInputException) as wrong_type:
        remote.set_signal("title", RUN, 3)
    cause = wrong_type.value.__cause__
    assert isinstance(cause, grpc.RpcError) and "cannot set signal 'title'" in str(cause.details())
    with pytest.raises(FlyteEntityNotExistException) as missing:
        remote.approve("nobody-waits", RUN)
    cause = missing.value.__cause__
    assert isinstance(cause, grpc.RpcError) and "has no signal 'nobody-waits' (yet)" in str(cause.details())
    assert not any(s.HasField("value") for s in remote.list_signals(RUN))
