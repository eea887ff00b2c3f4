"""``flytecore get executions``, ``flytecore get execution NAME`` and ``flytecore terminate NAME``."""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from flytecore.cli.options import admin_options, scope_options

__all__ = ["current_user", "get", "print_execution", "terminate"]

_SHOWN_CHILDREN = 50
"""Children of one node shown in a table (JSON has all)."""


def current_user() -> str:
    """The login name, for execution metadata and abort causes ("unknown" if there is none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _console() -> Any:
    from rich.console import Console

    return Console(width=max(Console().width, 140), highlight=False)


def _short(text: str | None, limit: int = 80) -> str:
    if not text:
        return "-"
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _phase(phase: str) -> str:
    color = {"SUCCEEDED": "green", "FAILED": "red", "TIMED_OUT": "red", "ABORTED": "yellow", "ABORTING": "yellow"}
    style = color.get(phase, "cyan")
    return f"[{style}]{phase}[/{style}]"


def _time(iso: str | None) -> str:
    return "-" if iso is None else iso.replace("T", " ")[:23]


@click.group()
def get() -> None:
    """Read executions from the admin."""


@get.command("executions")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many, newest first.")
@click.option(
    "--phase",
    default=None,
    metavar="PHASE",
    help="Only executions in this phase (QUEUED, RUNNING, SUCCEEDED, FAILED, ABORTED, TIMED_OUT, ...).",
)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@scope_options
@admin_options
def get_executions(
    limit: int, phase: str | None, output: str, project: str, domain: str, admin: str | None, token_file: str | None
) -> None:
    """List the executions of a project and domain, newest first."""
    from flyteidl.admin import common_pb2

    from flytecore.cli.remote import connect
    from flytecore.cli.views import error_json, seconds, show_seconds, timestamp
    from flytecore.spec.phases import WorkflowExecutionPhase

    filters = ""
    if phase is not None:
        try:
            filters = f"eq(phase,{WorkflowExecutionPhase[phase.upper()].name})"
        except KeyError:
            known = ", ".join(p.name for p in WorkflowExecutionPhase)
            raise click.BadParameter(f"{phase!r} is not a phase; phases: {known}", param_hint="--phase") from None
    request = common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=project, domain=domain),
        limit=limit,
        filters=filters,
        sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING),
    )
    with connect(admin, token_file) as client:
        executions = client.admin("ListExecutions", request).executions
    rows = [
        {
            "name": e.id.name,
            "launch_plan": e.spec.launch_plan.name,
            "version": e.spec.launch_plan.version,
            "phase": WorkflowExecutionPhase(e.closure.phase).name,
            "started_at": timestamp(e.closure),
            "duration": seconds(e.closure),
            "error": error_json(e.closure),
        }
        for e in executions
    ]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"executions of {project}/{domain}", title_justify="left")
    for column in ("name", "launch plan", "phase", "started", "duration", "error"):
        table.add_column(column)
    for row in rows:
        error = row["error"]
        table.add_row(
            row["name"],
            row["launch_plan"],
            _phase(row["phase"]),
            _time(row["started_at"]),
            show_seconds(row["duration"]),
            _short(error["message"] if error else None, 60),
        )
    console = _console()
    console.print(table)
    if not rows:
        console.print(f"no executions{' in phase ' + phase.upper() if phase else ''}")


@get.command("execution")
@click.argument("name")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@scope_options
@admin_options
def get_execution(name: str, output: str, project: str, domain: str, admin: str | None, token_file: str | None) -> None:
    """Show one execution: phase, times, outputs or error, and a table of its nodes."""
    from flytecore.cli.remote import connect
    from flytecore.cli.views import execution_id, execution_json, get_execution

    with connect(admin, token_file) as client:
        doc = execution_json(client, get_execution(client, execution_id(project, domain, name)))
    if output == "json":
        click.echo(json.dumps(doc, indent=2))
    else:
        print_execution(doc)


def print_execution(doc: dict[str, Any]) -> None:
    """An execution (as :func:`flytecore.cli.views.execution_json` gives it) as text and a node table."""
    from rich.table import Table

    from flytecore.cli.views import show_seconds

    console = _console()
    lp = doc["launch_plan"]
    console.print(f"execution   {doc['name']}  ({doc['project']}/{doc['domain']})")
    console.print(f"launch plan {lp['name']}  (version {lp['version']})")
    console.print(f"phase       {_phase(doc['phase'])}")
    console.print(f"started     {_time(doc['started_at'])}   duration {show_seconds(doc['duration'])}")
    if doc.get("abort_cause"):
        console.print(f"abort cause {doc['abort_cause']}")
    if doc["error"]:
        console.print(f"error       [red]{doc['error']['code']}[/red]: {doc['error']['message']}")
    if doc["outputs"]:
        console.print(f"outputs     {json.dumps(doc['outputs'])}")
    table = Table(title="nodes", title_justify="left")
    for column in ("node", "name", "phase", "started", "duration", "cache", "error"):
        table.add_column(column, overflow="fold")

    def add(node: dict[str, Any], depth: int) -> None:
        error = node["error"]
        child = f" → {node['child_execution']}" if node["child_execution"] else ""
        table.add_row(
            "  " * depth + node["id"],
            (node["name"] or "-") + child,
            _phase(node["phase"]),
            _time(node["started_at"]),
            show_seconds(node["duration"]),
            node["cache_status"] or "-",
            _short(f"{error['code']}: {error['message']}" if error else None),
        )
        children = node["children"]
        for sub in children[:_SHOWN_CHILDREN]:
            add(sub, depth + 1)
        if len(children) > _SHOWN_CHILDREN:
            table.add_row("  " * (depth + 1) + f"… {len(children) - _SHOWN_CHILDREN} more (see -o json)", "", "", "", "", "", "")

    for node in doc.get("nodes", []):
        add(node, 0)
    console.print(table)


@click.command()
@click.argument("execution")
@click.option("--cause", default=None, help="Why (recorded with the execution).  [default: terminated by USER]")
@scope_options
@admin_options
def terminate(execution: str, cause: str | None, project: str, domain: str, admin: str | None, token_file: str | None) -> None:
    """Terminate a queued or running EXECUTION; it becomes ABORTED once the propeller stopped it."""
    from flyteidl.admin import execution_pb2

    from flytecore.cli.remote import connect
    from flytecore.cli.views import execution_id, get_execution
    from flytecore.spec.phases import WorkflowExecutionPhase

    eid = execution_id(project, domain, execution)
    cause = cause or f"terminated by {current_user()} from the command line"
    with connect(admin, token_file) as client:
        client.admin("TerminateExecution", execution_pb2.ExecutionTerminateRequest(id=eid, cause=cause))
        phase = WorkflowExecutionPhase(get_execution(client, eid).closure.phase).name
    click.echo(f"execution {execution}: terminate requested ({cause}); now {phase}")
