"""``flytecore run --remote``: register, launch, follow, print the outputs.

1. load the file and find the entity (a workflow, launch plan or task);
2. read the ``--input value`` arguments with the local run's rules (:mod:`flytecore.cli.inputs`)
   and turn them into literals with the type engine; a bad value fails here, naming the input;
3. register the entity and what it needs, with the code of the file's root folder
   (:class:`flytecore.cli.register.Registrar`);
4. ``CreateExecution`` of the workflow's default launch plan (which carries its default inputs),
   the named launch plan, or the task; ``--name`` makes it idempotent: an execution of that name
   that exists already is followed instead;
5. poll ``GetExecution`` and ``ListNodeExecutions``, printing node phase changes to stderr;
6. print the outputs as plain JSON to stdout (or, with ``-o json``, one JSON object with name,
   phase, outputs, error and nodes); the exit status is 1 unless the execution SUCCEEDED.

``--sandbox``: when no admin answers at the address, start an embedded sandbox (admin +
propeller, under ``$FLYTECORE_HOME``) in this process for this one run.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import click

from flytecore.cli.loader import LoadError

__all__ = ["REMOTE_ONLY", "load_for_registration", "run_remote", "split_late_options"]

REMOTE_ONLY = ("name", "wait", "output", "project", "domain", "version", "admin", "token_file")
"""``flytecore run`` options that mean something only with ``--remote``."""
_POLL_MAX = 1.0


def split_late_options(
    ctx: click.Context, args: list[str], input_names: set[str]
) -> tuple[dict[str, Any], list[str]]:
    """Options of ``ctx.command`` given after the entity (``run f.py wf --n 5 -o json``), unless
    the entity has an input of that name: (option values by parameter name, the other args)."""
    by_flag: dict[str, click.Option] = {}
    for known in ctx.command.params:
        if isinstance(known, click.Option):
            for flag in (*known.opts, *known.secondary_opts):
                by_flag[flag] = known
    options: dict[str, Any] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        flag, eq, value = token.partition("=")
        param = by_flag.get(flag)
        if param is None or (flag.startswith("--") and flag[2:].replace("-", "_") in input_names):
            # An input: its flag and (unless given as --x=v) its value.
            rest.append(token)
            if token.startswith("--") and not eq and i + 1 < len(args):
                rest.append(args[i + 1])
                i += 1
            i += 1
            continue
        assert param.name is not None
        if param.is_flag:
            options[param.name] = flag not in param.secondary_opts
            i += 1
            continue
        if not eq:
            if i + 1 >= len(args):
                raise click.UsageError(f"option {flag} needs a value")
            value = args[i + 1]
            i += 1
        options[param.name] = param.type_cast_value(ctx, value)
        i += 1
    return options, rest


def load_for_registration(file: str, entity: str) -> tuple[Any, Any]:
    """(the entity, the entities of the file), loaded the way registration names them.

    :raises LoadError: the file cannot be loaded, or has no task, workflow or launch plan ``entity``.
    """
    from flytecore.cli.packaging import collect_entities, find_sources

    sources = find_sources([file])
    entities = collect_entities(sources)
    module = sys.modules[sources[0].module]
    obj = getattr(module, entity, None)
    if obj is None or not hasattr(obj, "python_interface"):
        found = sorted(k for k, v in vars(module).items() if hasattr(v, "python_interface"))
        what = "no" if obj is None else f"a {type(obj).__name__} as"
        raise LoadError(f"{file} has {what} {entity!r}; tasks, workflows and launch plans there: {', '.join(found) or 'none'}")
    entities.add(obj)
    return obj, entities


@contextlib.contextmanager
def _connection(admin: str | None, token_file: str | None, sandbox: bool) -> Iterator[Any]:
    """A client of the admin; with ``sandbox``, of an embedded sandbox if none answers."""
    from flytecore.cli.remote import AdminClient, connect

    client = connect(admin, token_file)
    if not sandbox or client.reachable(timeout=1.5):
        with client:
            yield client
        return
    client.close()
    from flytecore.cli.sandbox_app import Sandbox, SandboxConfig

    # One execution, then gone: its events are delivered by the propeller's loop (an event
    # process would take longer to start than a short run takes).
    box = Sandbox(SandboxConfig(grpc_port=0, http_port=0, event_process=False))
    try:
        servers = box.serve()
        click.echo(
            f"no admin at {client.target}: running in an embedded sandbox (home {box.config.home}); "
            "`flytecore sandbox` keeps one running",
            err=True,
        )
        with AdminClient(f"127.0.0.1:{servers.grpc_port}") as embedded:
            yield embedded
    finally:
        box.stop()


def _launch(client: Any, target: Any, inputs: Any, *, project: str, domain: str, name: str | None) -> Any:
    from flyteidl.admin import execution_pb2

    from flytecore.cli.executions import current_user
    from flytecore.cli.remote import RemoteError
    from flytecore.cli.views import execution_id
    from flytecore.spec import idl

    request = execution_pb2.ExecutionCreateRequest(
        project=project,
        domain=domain,
        name=name or "",
        spec=execution_pb2.ExecutionSpec(
            launch_plan=idl.to_idl(target),
            metadata=execution_pb2.ExecutionMetadata(mode=execution_pb2.ExecutionMetadata.MANUAL, principal=current_user()),
        ),
        inputs=idl.to_idl(inputs),
    )
    try:
        return client.admin("CreateExecution", request).id
    except RemoteError as exc:
        if exc.code == "ALREADY_EXISTS" and name:
            click.echo(f"execution {name} exists already: following it", err=True)
            return execution_id(project, domain, name)
        raise


def follow(client: Any, eid: Any, *, echo: bool) -> Any:
    """Poll until the execution ends; with ``echo``, print its and its nodes' phase changes to
    stderr. Returns the final ``Execution``."""
    from flytecore.cli.views import get_execution, list_node_executions, node_names, seconds, show_seconds
    from flytecore.spec.phases import NodeExecutionPhase, WorkflowExecutionPhase

    names: dict[str, str] | None = None
    seen: dict[str, str] = {}
    delay = 0.1
    while True:
        execution = get_execution(client, eid)
        phase = WorkflowExecutionPhase(execution.closure.phase)
        if echo:
            if seen.get("") != phase.name and not phase.is_terminal:
                click.echo(f"execution {eid.name}: {phase.name}", err=True)
                seen[""] = phase.name
            if names is None and execution.closure.workflow_id.name:
                names = node_names(client, execution)
            for node in list_node_executions(client, eid):
                node_id, node_phase = node.id.node_id, NodeExecutionPhase(node.closure.phase)
                if node_id in ("start-node", "end-node") or seen.get(node_id) == node_phase.name:
                    continue
                seen[node_id] = node_phase.name
                took = f" ({show_seconds(seconds(node.closure))})" if node_phase.is_terminal else ""
                label = (names or {}).get(node_id, "")
                click.echo(f"  {node_id:<8} {label:<40} {node_phase.name}{took}", err=True)
        if phase.is_terminal:
            return execution
        time.sleep(delay)
        delay = min(delay * 1.5, _POLL_MAX)


def run_remote(
    *,
    obj: Any,
    entities: Any,
    args: list[str],
    project: str,
    domain: str,
    version: str | None,
    name: str | None,
    wait: bool,
    output: str,
    admin: str | None,
    token_file: str | None,
    sandbox: bool,
) -> int:
    """Register ``obj`` (found with ``entities``, see :func:`load_for_registration`), launch it
    with the inputs in ``args`` and, if ``wait``, follow it; returns the exit status."""
    from flytecore.cli.inputs import parse_inputs
    from flytecore.cli.register import Registrar
    from flytecore.cli.remote import RemoteError
    from flytecore.cli.views import execution_json, get_execution, show_seconds
    from flytecore.errors import UserInputError
    from flytecore.sdk.type_engine import get_type_engine

    values = parse_inputs(obj, args)
    missing = [n for n in obj.python_interface.required if n not in values]
    if missing:
        raise UserInputError(
            f"{obj.name!r}: missing input(s) {', '.join(missing)}; give them as --{missing[0]} VALUE "
            f"(inputs: {obj.python_interface.describe_inputs()})"
        )
    inputs = get_type_engine().literal_map_from_python(values, obj.python_interface.input_types)
    if sandbox and not wait:
        click.echo("--sandbox: the embedded sandbox stops after this command, so the run waits (--wait)", err=True)
        wait = True
    quiet = output == "json"
    try:
        with _connection(admin, token_file, sandbox) as client:
            registrar = Registrar(client, entities, project=project, domain=domain, version=version)
            registrar.upload_code()
            target = registrar.target(obj)
            new = sum(r.status == "registered" for r in registrar.rows)
            if not quiet:
                click.echo(
                    f"registered {obj.name} ({len(registrar.rows)} entities, {new} new) as {project}/{domain} "
                    f"version {registrar.version}",
                    err=True,
                )
            eid = _launch(client, target, inputs, project=project, domain=domain, name=name)
            if not wait:
                execution = get_execution(client, eid)
                doc = execution_json(client, execution, nodes=False)
                click.echo(json.dumps(doc, indent=2) if quiet else f"launched execution {eid.name} ({doc['phase']})")
                return 0
            try:
                execution = follow(client, eid, echo=not quiet)
            except KeyboardInterrupt:
                click.echo(f"\nstopped following; the execution goes on: flytecore get execution {eid.name}", err=True)
                return 130
            doc = execution_json(client, execution)
    except RemoteError as exc:
        if exc.code == "UNAVAILABLE" and not sandbox:
            raise RemoteError(f"{exc}; or add --sandbox to run in an embedded one", exc.code) from None
        raise
    succeeded = doc["phase"] == "SUCCEEDED"
    if quiet:
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(f"execution {doc['name']} {doc['phase']} in {show_seconds(doc['duration'])}", err=True)
        if doc["error"]:
            click.secho(f"{doc['error']['code']}: {doc['error']['message']}", fg="red", err=True)
        if succeeded:
            click.echo(json.dumps(doc["outputs"], indent=2))
    return 0 if succeeded else 1
