"""``flytecore signal list EXECUTION`` and ``flytecore signal set EXECUTION SIGNAL_ID VALUE``.

Gate nodes (``wait_for_input``, ``approve``) wait for signals of their execution; the admin
creates a signal when the execution reaches its gate. ``list`` shows them with their types and
values; ``set`` reads VALUE by the signal's type, the way ``flytecore run`` reads inputs
(``true``/``false`` for approvals and other booleans, numbers, ISO 8601 datetimes, seconds for
durations, JSON for lists, dicts and dataclasses, text as it is), and sends it with SetSignal.
Both talk to the admin over gRPC (``--admin HOST:PORT``, default the sandbox's).
"""

from __future__ import annotations

import json
from typing import Any

import click

from flytecore.cli.options import admin_options, scope_options

__all__ = ["parse_signal_value", "signal"]

_PAGE = 500


@click.group()
def signal() -> None:
    """Signals that gates of an execution wait for: list them, set them (approve, reject, give input)."""


@signal.command("list")
@click.argument("execution")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@scope_options
@admin_options
def list_signals(execution: str, output: str, project: str, domain: str, admin: str | None, token_file: str | None) -> None:
    """The signals of EXECUTION (its gates reached so far), with their types and values."""
    from flytecore.cli.views import plain_literal
    from flytecore.spec import idl
    from flytecore.spec.literals import Literal
    from flytecore.spec.types import LiteralType

    with _connect(admin, token_file) as client:
        signals = _all_signals(client, project, domain, execution)
    rows = [
        {
            "signal_id": s.id.signal_id,
            "type": idl.from_idl(s.type, LiteralType).short(),
            "set": s.HasField("value"),
            "value": plain_literal(idl.from_idl(s.value, Literal)) if s.HasField("value") else None,
        }
        for s in signals
    ]
    if output == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo(f"execution {execution} waits for no signal (yet): signals appear when it reaches a gate")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"signals of {project}/{domain}/{execution}")
    for column in ("signal", "type", "value"):
        table.add_column(column)
    for row in rows:
        value = json.dumps(row["value"], default=str) if row["set"] else "[cyan](waiting)[/cyan]"
        table.add_row(row["signal_id"], row["type"], value)
    Console(width=140, highlight=False).print(table)


# ignore_unknown_options: a negative number is a VALUE, not an option (`signal set run n -5`).
@signal.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("execution")
@click.argument("signal_id")
@click.argument("value")
@scope_options
@admin_options
def set_signal(
    execution: str, signal_id: str, value: str, project: str, domain: str, admin: str | None, token_file: str | None
) -> None:
    """Set SIGNAL_ID of EXECUTION to VALUE, read by the signal's type (true/false approves or rejects)."""
    from flyteidl.admin import signal_pb2

    from flytecore.spec import idl
    from flytecore.spec.types import LiteralType

    with _connect(admin, token_file) as client:
        signals = _all_signals(client, project, domain, execution)
        found = next((s for s in signals if s.id.signal_id == signal_id), None)
        if found is None:
            known = ", ".join(repr(s.id.signal_id) for s in signals) or "none so far"
            raise click.ClickException(
                f"execution {execution} has no signal {signal_id!r} (yet): a signal appears when the execution "
                f"reaches the gate waiting for it (see `flytecore signal list {execution}`); its signals: {known}"
            )
        literal = parse_signal_value(value, idl.from_idl(found.type, LiteralType), signal_id)
        client.call("SetSignal", signal_pb2.SignalSetRequest(id=found.id, value=idl.to_idl(literal)), service="SignalService")
    click.echo(f"signal {signal_id!r} of execution {execution} set to {value}")


def parse_signal_value(raw: str, literal_type: Any, signal_id: str) -> Any:
    """VALUE read as ``literal_type`` (a spec ``LiteralType``), as a spec ``Literal``.

    :raises click.ClickException: VALUE cannot be read as the signal's type (the message names the
        signal, its type and the value).
    """
    from flytecore.cli.inputs import parse_value
    from flytecore.errors import FlyteCoreError
    from flytecore.sdk.type_engine import get_type_engine

    engine = get_type_engine()
    shown = literal_type.short()
    try:
        py_type = engine.guess_python_type(literal_type)
        value = parse_value(raw, py_type, signal_id)
        return engine.to_literal(value, py_type)
    except FlyteCoreError as exc:
        reason = exc.__cause__ or exc
        raise click.ClickException(f"signal {signal_id!r} expects {shown}: cannot read {raw!r} ({reason})") from None


def _connect(admin: str | None, token_file: str | None) -> Any:
    from flytecore.cli.remote import connect

    return connect(admin, token_file)


def _all_signals(client: Any, project: str, domain: str, execution: str) -> list[Any]:
    from flyteidl.admin import signal_pb2

    from flytecore.cli.views import execution_id

    eid = execution_id(project, domain, execution)
    signals: list[Any] = []
    token = ""
    while True:
        page = client.call(
            "ListSignals",
            signal_pb2.SignalListRequest(workflow_execution_id=eid, limit=_PAGE, token=token),
            service="SignalService",
        )
        signals.extend(page.signals)
        token = page.token
        if not token:
            return signals
