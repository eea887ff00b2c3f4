"""Every hook of flytecore, in lifecycle order.

A plugin is a module (or object) with functions marked ``@flytecore.plugin.hookimpl`` whose names
are hooks below. Plugins are found through the ``flytecore.plugins`` entry point group; the
built-in features (python tasks, local storage, the core type transformers and compiler passes)
are plugins registered through these same hooks.

Hooks that contribute things receive a registry that validates each registration and rejects
duplicates; they return nothing. Every hook here is *collected*: the plugin host calls every
implementation itself, one after the other in registration order (the built-ins, then
entry-point plugins, then ``extra_plugins``), unless its docstring says "firstresult". An
implementation that raises is reported and its plugin skipped, with what it had registered in
that hook withdrawn (:mod:`flytecore.plugin.manager`). Hook wrappers are not supported.

``tests/plugin/test_hookspecs_documented.py`` fails when a hook lacks a docstring, a ``:param:``
line for a parameter, or its section in ``docs/plugins.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flytecore.plugin._markers import hookspec

if TYPE_CHECKING:
    from flytecore.plugin.registry import (
        CliCommandRegistry,
        CompilerPassRegistry,
        ExecutionRegistry,
        StorageRegistry,
        TaskTypeRegistry,
        TypeTransformerRegistry,
    )

# --- 1. start-up: what the framework is made of -----------------------------------------------


@hookspec
def flytecore_register_type_transformers(register: TypeTransformerRegistry) -> None:
    """Register type transformers: how Python types become literal types and values.

    Called once when the type engine is first built (the first ``@task`` decoration, local run
    or compile of a process). Transformers registered later take precedence, so a plugin can
    override a built-in one for a type.

    :param register: call ``register.register(transformer)`` for each
        :class:`flytecore.sdk.type_engine.TypeTransformer`; a duplicate name is an error.

    .. versionadded:: 0.1
    """


@hookspec
def flytecore_register_task_types(register: TaskTypeRegistry) -> None:
    """Register task types: the ``TaskTemplate.type`` strings a plugin can run.

    Called once per plugin host, when its task types are first needed
    (:attr:`flytecore.plugin.PluginHost.task_types`). A task type tied to a ``task_config`` class is
    selected by ``@task(task_config=ThatClass(...))``; its ``to_custom`` fills
    ``TaskTemplate.custom``. Its faces: ``local_context`` (local) wraps the task body wherever it
    runs in Python; ``kubernetes``, a :class:`~flytecore.plugin.KubernetesFace`, builds the
    object an operator runs (``build_resource(K8sTaskContext) -> manifest``) and reads its status
    (``phase_of(resource) -> TaskStatus``). The propeller dispatches nodes by task type through
    this registry; a type no plugin registers fails with a message naming the distribution that
    would (:data:`~flytecore.plugin.KNOWN_PLUGIN_DISTRIBUTIONS`).

    :param register: call ``register.register(TaskType(...))``; a duplicate task type name or a
        ``config_type`` claimed twice is an error naming both plugins.

    .. versionadded:: 0.1
    """


@hookspec
def flytecore_register_storage(register: StorageRegistry) -> None:
    """Register storage backends: fsspec protocols and how to open them.

    Called once per plugin host, when its storage backends are first needed
    (:attr:`flytecore.plugin.PluginHost.storage`). Admin (metadata and raw data prefixes), the
    propeller and ``FlyteFile``/``FlyteDirectory`` open URLs of a registered protocol with the
    backend's ``storage_options``; other protocols fall back to fsspec's defaults.

    :param register: call ``register.register(StorageBackend(protocol=..., storage_options=...))``.

    .. versionadded:: 0.1
    """


@hookspec
def flytecore_register_compiler_passes(register: CompilerPassRegistry) -> None:
    """Register compiler passes.

    Called once when the compiler is first used. Passes run in ascending ``order`` (ties by
    name) over one :class:`flytecore.compiler.CompileContext`; every pass runs even when an
    earlier one found errors (unless it needs what an earlier one failed to build), so all errors
    of a workflow are reported together. Core passes use orders 100-900 in steps of 100.

    :param register: call ``register.register(pass_)`` with an object that has ``name``,
        ``order`` and ``run(context)``.

    .. versionadded:: 0.1
    """


@hookspec
def flytecore_register_execution(register: ExecutionRegistry) -> None:
    """Register parts of the data plane: execution backends, node handlers and event sinks.

    Called once when a propeller is built. The propeller looks backends up by name (``local``,
    ``kubernetes``), node handlers by node kind and event sinks by name.

    :param register: call ``register.register_backend(name, factory)``,
        ``register.register_node_handler(kind, factory)`` or
        ``register.register_event_sink(name, factory)``.

    .. versionadded:: 0.1
    """


@hookspec
def flytecore_register_cli_commands(register: CliCommandRegistry) -> None:
    """Register extra ``flytecore`` subcommands.

    Called once when the ``flytecore`` command starts. A command's name must not clash with a
    built-in command or another plugin's.

    :param register: call ``register.register(click_command)``.

    .. versionadded:: 0.1
    """


# --- 2. configuration of shared machinery -----------------------------------------------------


@hookspec
def flytecore_configure_converter(converter: Any) -> None:
    """Configure the spec's cattrs converter, e.g. for a plugin's own ``custom`` config models.

    Called each time :func:`flytecore.plugin.PluginHost.make_converter` builds a converter, after
    the core hooks are registered.

    :param converter: the ``cattrs.Converter`` being built; register hooks on it.

    .. versionadded:: 0.1
    """
