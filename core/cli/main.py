"""The ``flytecore`` command line."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from flytecore.cli.loader import LoadError, load_entity
from flytecore.cli.options import admin_options, scope_options
from flytecore.errors import FlyteCoreError


def _fail(message: str) -> None:
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(1)


class FlyteCoreGroup(click.Group):
    """The root group: built-in commands plus those plugins register; user-facing errors are
    printed as messages, never as tracebacks."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_commands()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self._plugin_commands().get(name)

    def _plugin_commands(self) -> dict[str, click.Command]:
        from flytecore.plugin import get_host

        try:
            registry = get_host().cli_commands
        except FlyteCoreError as exc:
            click.secho(f"warning: plugin commands unavailable: {exc}", fg="yellow", err=True)
            return {}
        return {n: c for n, c in registry.items() if n not in self.commands}

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlyteCoreError as exc:
            _fail(str(exc))


@click.group(cls=FlyteCoreGroup)
@click.version_option(package_name="flytecore")
def main() -> None:
    """flytecore: author, compile and run Flyte workflows."""


@main.command()
@click.argument("target")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--project", default="flytesnacks", show_default=True)
@click.option("--domain", default="development", show_default=True)
@click.option("--version", "version", default="local", show_default=True)
def compile(target: str, output: str, project: str, domain: str, version: str) -> None:
    """Compile TARGET (file.py:workflow) and print the closure, or every compile error."""
    from flytecore.compiler import CompilationFailed
    from flytecore.sdk.serialize import SerializationSettings, compile_entity
    from flytecore.spec.converter import make_converter

    entity = load_entity(target)
    if not hasattr(entity, "trace") and not hasattr(entity, "workflow"):
        raise LoadError(f"{target} is a {type(entity).__name__}, not a workflow or launch plan")
    settings = SerializationSettings(project=project, domain=domain, version=version)
    try:
        closure = compile_entity(entity, settings)
    except CompilationFailed as exc:
        click.secho(f"{target}: {len(exc.errors)} compile error(s)", fg="red", err=True)
        for error in exc.errors:
            click.echo(f"  {error}", err=True)
        sys.exit(1)
    data = make_converter().unstructure(closure)
    if output == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False), nl=False)


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "allow_interspersed_args": False}
)
@click.option("--remote", is_flag=True, help="Register and run it on the admin instead of in this process.")
@click.option(
    "--sandbox", is_flag=True, help="With --remote: if no admin answers, run in an embedded sandbox (implies --remote)."
)
@click.option("--name", default=None, help="Execution name (idempotent: an existing one is followed).  [default: generated]")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the execution until it ends.")
@click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="json: one JSON object."
)
@scope_options
@click.option("--version", "version", default=None, help="Version to register under.  [default: a digest of the code]")
@admin_options
@click.argument("file")
@click.argument("entity")
@click.pass_context
def run(ctx: click.Context, file: str, entity: str, remote: bool, sandbox: bool, **options: Any) -> None:
    """Run ENTITY (a workflow, launch plan or task) of FILE with inputs given as --name value
    (JSON for lists, dicts and dataclasses; ISO 8601 for datetimes).

    Locally (in this process) by default; with --remote, register it with its code, launch it on
    the admin, follow it and print its outputs (exit status 1 unless it succeeded). Options go
    before FILE; after ENTITY, an option is read as such unless ENTITY has an input of that name.
    """
    from flytecore.cli.inputs import parse_inputs
    from flytecore.cli.run_remote import REMOTE_ONLY, load_for_registration, run_remote, split_late_options

    # A remote run names modules the way registration does (relative to the file's root folder).
    maybe_remote = remote or sandbox or any(a.partition("=")[0] in ("--remote", "--sandbox") for a in ctx.args)
    obj, entities = load_for_registration(file, entity) if maybe_remote else (load_entity(f"{file}:{entity}"), None)
    if not hasattr(obj, "python_interface"):
        raise LoadError(f"{file}:{entity} is a {type(obj).__name__}, not a task, workflow or launch plan")
    late, args = split_late_options(ctx, ctx.args, set(obj.python_interface.inputs))
    remote, sandbox = late.pop("remote", remote), late.pop("sandbox", sandbox)
    options.update(late)
    if remote or sandbox:
        sys.exit(run_remote(obj=obj, entities=entities, args=args, sandbox=sandbox, **options))
    given = [n for n in REMOTE_ONLY if n in late or ctx.get_parameter_source(n) != click.core.ParameterSource.DEFAULT]
    if given:
        raise click.UsageError(f"--{given[0].replace('_', '-')} applies to remote runs only; add --remote")
    kwargs = parse_inputs(obj, args)
    result = obj(**kwargs)
    click.echo(_render(result))


def _render(value: Any) -> str:
    if hasattr(value, "_asdict"):
        return json.dumps({k: _jsonable(v) for k, v in value._asdict().items()}, indent=2, default=str)
    return json.dumps(_jsonable(value), indent=2, default=str)


def _jsonable(value: Any) -> Any:
    import dataclasses
    import enum

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "__fspath__"):
        return str(value.path if hasattr(value, "path") else value)
    return value


@main.group()
def plugins() -> None:
    """Inspect installed plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_list(as_json: bool) -> None:
    """Built-in and installed plugins: distribution, version, hooks, contributions, errors."""
    from flytecore.plugin import get_host

    infos = get_host().plugins
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": i.name,
                        "distribution": i.distribution,
                        "version": i.version,
                        "builtin": i.builtin,
                        "module": i.module,
                        "hooks": i.hooks,
                        "contributions": i.contributions,
                        "error": i.error,
                    }
                    for i in infos
                ],
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="flytecore plugins")
    for col in ("plugin", "distribution", "version", "contributes", "hooks", "status"):
        table.add_column(col)
    for i in infos:
        table.add_row(
            i.name + (" (built-in)" if i.builtin else ""),
            i.distribution,
            i.version,
            "\n".join(f"{what}: {', '.join(names)}" for what, names in i.contributions.items()) or "-",
            "\n".join(h.removeprefix("flytecore_") for h in i.hooks) or "-",
            "[green]loaded[/green]" if i.error is None else f"[red]failed: {i.error}[/red]",
        )
    Console(width=160).print(table)


from flytecore.cli.admin import admin  # noqa: E402
from flytecore.cli.executions import get, terminate  # noqa: E402
from flytecore.cli.logs import logs  # noqa: E402
from flytecore.cli.propeller import propeller  # noqa: E402
from flytecore.cli.register import register  # noqa: E402
from flytecore.cli.sandbox import sandbox  # noqa: E402
from flytecore.cli.signal import signal  # noqa: E402

main.add_command(admin)
for _command in (sandbox, register, get, logs, terminate, propeller):
    main.add_command(_command)
main.add_command(signal)


if __name__ == "__main__":
    main()
