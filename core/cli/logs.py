"""``flytecore logs``: a task attempt's stdout and stderr, fetched through the admin.

The local backend writes each attempt's ``stdout.log`` and ``stderr.log`` beside its outputs
and reports their URIs in the task execution's ``closure.logs``. They are downloaded through the
data proxy (``CreateDownloadLocation`` gives a signed URL of the admin's HTTP server), so this
works against an admin on another machine; only when the admin serves no HTTP is a URI that
names a readable local file read directly.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from flytecore.cli.options import admin_options, scope_options

if TYPE_CHECKING:
    from flytecore.cli.remote import AdminClient

__all__ = ["download", "logs"]

_NOT_SIGNABLE = {"FAILED_PRECONDITION", "UNIMPLEMENTED", "INVALID_ARGUMENT"}


def _local_file(uri: str) -> str | None:
    path = uri[len("file://") :] if uri.startswith("file://") else uri
    return path if "://" not in path and os.path.isfile(path) else None


def download(client: AdminClient, uri: str) -> bytes | None:
    """The bytes stored at ``uri`` in the admin's storage; None if nothing is stored there (yet).

    :raises RemoteError: the admin cannot sign a URL for it and it is not a local file, or the
        download failed.
    """
    from flyteidl.service import dataproxy_pb2

    from flytecore.cli.remote import RemoteError

    try:
        response = client.dataproxy(
            "CreateDownloadLocation", dataproxy_pb2.CreateDownloadLocationRequest(native_url=uri)
        )
    except RemoteError as exc:
        local = _local_file(uri)
        if local is not None and exc.code in _NOT_SIGNABLE:
            with open(local, "rb") as f:
                return f.read()
        raise
    try:
        return client.http_get(response.signed_url)
    except RemoteError as exc:
        if exc.code == "HTTP_404":
            return None
        raise


@click.command()
@click.argument("execution")
@click.argument("node")
@click.option("--attempt", type=click.IntRange(0), default=None, help="The attempt (retry) number.  [default: the last]")
@click.option(
    "--stream",
    type=click.Choice(["all", "stdout", "stderr"]),
    default="all",
    show_default=True,
    help="Which log: both under headers, or one without a header.",
)
@scope_options
@admin_options
def logs(
    execution: str, node: str, attempt: int | None, stream: str, project: str, domain: str, admin: str | None, token_file: str | None
) -> None:
    """Print the stdout and stderr of the task NODE of EXECUTION ran (its last attempt, or --attempt)."""
    from flyteidl.admin import task_execution_pb2
    from flyteidl.core import identifier_pb2

    from flytecore.cli.remote import RemoteError, connect
    from flytecore.cli.views import execution_id, list_node_executions

    eid = execution_id(project, domain, execution)
    nid = identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=eid)
    with connect(admin, token_file) as client:
        missing: RemoteError | None = None
        try:
            attempts = client.admin(
                "ListTaskExecutions", task_execution_pb2.TaskExecutionListRequest(node_execution_id=nid, limit=1000)
            ).task_executions
        except RemoteError as exc:
            if exc.code != "NOT_FOUND":
                raise
            missing, attempts = exc, []
        # A task node's attempts are its task executions; a map element's, its external resources.
        tried = {a.id.retry_attempt: {log.name: log.uri for log in a.closure.logs} for a in attempts}
        tried = tried or _map_element(client, nid, node) or {}
        if not tried:
            if missing is not None:
                raise missing
            children = list_node_executions(client, eid, node)
            below = ", ".join(c.id.node_id for c in children[:10]) + (", ..." if len(children) > 10 else "")
            raise click.ClickException(
                f"node {node} of execution {execution} ran no task (yet)"
                + (f"; its nodes: {below}; ask for one of those" if children else "")
            )
        numbers = sorted(tried)
        chosen = numbers[-1] if attempt is None else attempt
        if chosen not in tried:
            raise click.ClickException(
                f"node {node} of execution {execution} has no attempt {chosen}; its attempts: {', '.join(map(str, numbers))}"
            )
        found = tried[chosen]
        names = ["stdout", "stderr"] if stream == "all" else [stream]
        missing = [n for n in names if n not in found]
        if stream != "all" and missing:
            raise click.ClickException(
                f"attempt {chosen} of node {node} reports no {stream} log; it reports: {', '.join(found) or 'none'}"
            )
        for name in names:
            if name not in found:
                continue
            data = download(client, found[name])
            text = (data or b"").decode(errors="replace")
            if stream == "all":
                note = "" if data is not None else " (nothing written, or not yet)"
                click.echo(f"=== {name} of {execution}/{node}, attempt {chosen}{note} ===")
                click.echo(text, nl=bool(text) and not text.endswith("\n"))
            else:
                sys.stdout.write(text)
        sys.stdout.flush()


def _map_element(client: AdminClient, nid: Any, node: str) -> dict[int, dict[str, str]] | None:
    """The attempts of a map task's element ``{array}-{array attempt}-{index}`` (``n1-0-2``) and
    their logs, as the array node's task execution reports them (FlytePropeller's external
    resources, logs named ``stdout-{index}``); None if ``node`` is not one."""
    from flyteidl.admin import task_execution_pb2
    from flyteidl.core import identifier_pb2

    parent, _, index = node.rpartition("-")
    array, _, array_attempt = parent.rpartition("-")
    if not (array and index.isdigit() and array_attempt.isdigit()):
        return None
    array_id = identifier_pb2.NodeExecutionIdentifier(node_id=array, execution_id=nid.execution_id)
    request = task_execution_pb2.TaskExecutionListRequest(node_execution_id=array_id, limit=1000)
    runs = [t for t in client.admin("ListTaskExecutions", request).task_executions if t.id.retry_attempt == int(array_attempt)]
    if not runs:
        return None
    suffix = f"-{index}"
    attempts = {
        r.retry_attempt: {log.name.removesuffix(suffix): log.uri for log in r.logs}
        for r in runs[0].closure.metadata.external_resources
        if r.index == int(index)
    }
    return attempts or None
