"""Registries that hooks fill: they validate every registration and reject duplicates.

A hook such as ``flytecore_register_task_types(register)`` receives one of these objects instead
of returning loose lists (tox's ``tox_register_tox_env(register)`` is the model). Each
registration records which plugin made it, so a conflict names both plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import attrs

from flytecore.errors import PluginError, UnknownTaskTypeError
from flytecore.plugin.faces import KubernetesFace, missing_plugin_hint

T = TypeVar("T")


class Registry(Generic[T]):
    """Named items contributed by plugins. ``what`` names the kind of item in error messages."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}
        self._owners: dict[str, str] = {}
        self.current_plugin = "<unknown>"

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name``; a second registration of the same name fails."""
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {self.current_plugin!r} registered a {self.what} without a name")
        if name in self._items:
            raise PluginError(
                f"{self.what} {name!r} is registered twice: by plugin {self._owners[name]!r} and by "
                f"plugin {self.current_plugin!r}; disable one of them (FLYTECORE_DISABLE_PLUGINS)"
            )
        self._items[name] = item
        self._owners[name] = self.current_plugin
        return item

    def get(self, name: str) -> T | None:
        """The item registered under ``name``, or None."""
        return self._items.get(name)

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise LookupError(f"no {self.what} named {name!r}; registered: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, item) pairs in registration order."""
        return list(self._items.items())

    def owner(self, name: str) -> str:
        """The plugin that registered ``name``."""
        return self._owners[name]

    def by_owner(self, plugin: str) -> list[str]:
        """Names registered by ``plugin``."""
        return [n for n, o in self._owners.items() if o == plugin]

    def discard_owner(self, plugin: str) -> list[str]:
        """Withdraw everything ``plugin`` registered (the host does this when one of the plugin's
        hooks fails half-way, so a skipped plugin leaves nothing behind); returns the names."""
        names = self.by_owner(plugin)
        for name in names:
            del self._items[name]
            del self._owners[name]
        return names


# --- task types -------------------------------------------------------------------------------


@attrs.define(frozen=True, kw_only=True)
class TaskType:
    """What a plugin says about one task type (``TaskTemplate.type``).

    :ivar name: the task type string, e.g. ``"python-task"``, ``"spark"``.
    :ivar config_type: the class of ``@task(task_config=...)`` that selects this type; None for
        the default python task.
    :ivar to_custom: turns a ``task_config`` instance into ``TaskTemplate.custom`` (JSON-able).
    :ivar local_context: the local face: ``(config, task) -> context manager`` entered around the
        task body wherever the body runs in Python (a local run, or the ``flytecore-execute``
        worker of the local backend or a pod), e.g. starts a Dask ``LocalCluster``; None runs the
        body as it is.
    :ivar local_runner: ``(config, task, kwargs) -> result``, runs the body where the plugin
        wants it instead of calling ``task.fn(**kwargs)`` in this process, e.g. in several worker
        processes of a distributed job (PyTorch's elastic launch) returning rank 0's result;
        entered inside ``local_context``; its exception is the task's error. None calls the body.
    :ivar task_type_version: ``TaskTemplate.task_type_version`` of this type's templates: the
        version of the ``custom`` schema the backend reads (flytekit writes 1 for ``pytorch``;
        FlytePropeller's PyTorch plugin reads version 0 as an older message).
    :ivar kubernetes: the Kubernetes face, a :class:`~flytecore.plugin.KubernetesFace`
        (``build_resource(K8sTaskContext) -> manifest``, ``phase_of(resource) -> TaskStatus``);
        None: the task runs as a plain pod.
    :ivar webapi: the web API face (``create`` / ``get`` / ``delete`` / ``status``).
    :ivar description: one line for ``flytecore plugins list``.
    """

    name: str
    config_type: type | None = None
    to_custom: Callable[[Any], dict[str, Any] | None] | None = None
    local_context: Callable[[Any, Any], Any] | None = None
    local_runner: Callable[[Any, Any, dict[str, Any]], Any] | None = None
    task_type_version: int = 0
    kubernetes: KubernetesFace | None = None
    webapi: Any = None
    description: str = ""


class TaskTypeRegistry(Registry[TaskType]):
    """Task types by name; also finds the type selected by a ``task_config`` instance."""

    def __init__(self) -> None:
        super().__init__("task type")
        self._by_config: dict[type, str] = {}

    def register(self, task_type: TaskType) -> TaskType:
        """Register a task type; its ``config_type`` must not be claimed by another type."""
        if not isinstance(task_type, TaskType):
            raise PluginError(
                f"plugin {self.current_plugin!r} registered {task_type!r} as a task type; "
                "expected flytecore.plugin.TaskType"
            )
        if task_type.config_type is not None and not isinstance(task_type.config_type, type):
            raise PluginError(
                f"plugin {self.current_plugin!r} registered task type {task_type.name!r} with "
                f"config_type={task_type.config_type!r}; config_type must be the task_config class"
            )
        if task_type.kubernetes is not None and not isinstance(task_type.kubernetes, KubernetesFace):
            raise PluginError(
                f"plugin {self.current_plugin!r} registered task type {task_type.name!r} with "
                f"kubernetes={task_type.kubernetes!r}; expected flytecore.plugin.KubernetesFace"
            )
        if task_type.config_type is not None and task_type.config_type in self._by_config:
            other = self._by_config[task_type.config_type]
            raise PluginError(
                f"task_config class {task_type.config_type.__qualname__} is claimed by task type "
                f"{other!r} (plugin {self._owners[other]!r}) and task type {task_type.name!r} "
                f"(plugin {self.current_plugin!r}); disable one of them (FLYTECORE_DISABLE_PLUGINS)"
            )
        self.add(task_type.name, task_type)
        if task_type.config_type is not None:
            self._by_config[task_type.config_type] = task_type.name
        return task_type

    def require(self, name: str) -> TaskType:
        """The task type ``name``; :class:`~flytecore.errors.UnknownTaskTypeError` when no installed
        plugin registers it, naming the distribution that would (:func:`missing_plugin_hint`)."""
        task_type = self._items.get(name)
        if task_type is None:
            known = ", ".join(sorted(self._items)) or "none"
            raise UnknownTaskTypeError(
                f"no installed plugin runs task type {name!r} (task types installed: {known}); "
                f"{missing_plugin_hint(name)}"
            )
        return task_type

    def for_config(self, config: Any) -> TaskType | None:
        """The task type selected by a ``task_config`` instance (walks the class's MRO)."""
        for klass in type(config).__mro__:
            name = self._by_config.get(klass)
            if name is not None:
                return self._items[name]
        return None

    def discard_owner(self, plugin: str) -> list[str]:
        """Withdraw ``plugin``'s task types and free the ``task_config`` classes they claimed."""
        names = super().discard_owner(plugin)
        self._by_config = {k: v for k, v in self._by_config.items() if v not in names}
        return names


# --- type transformers ----------------------------------------------------------------------


@runtime_checkable
class TypeTransformerLike(Protocol):
    """The shape the type engine needs (see :class:`flytecore.sdk.type_engine.TypeTransformer`)."""

    @property
    def name(self) -> str: ...

    def matches(self, python_type: Any) -> bool: ...


class TypeTransformerRegistry(Registry[TypeTransformerLike]):
    """Type transformers by name, in registration order; later ones are tried first."""

    def __init__(self) -> None:
        super().__init__("type transformer")

    def register(self, transformer: TypeTransformerLike) -> TypeTransformerLike:
        """Register a transformer (an object with ``name``, ``matches``, ``get_literal_type``,
        ``to_literal`` and ``to_python_value``)."""
        for attr in ("name", "matches", "get_literal_type", "to_literal", "to_python_value"):
            if not hasattr(transformer, attr):
                raise PluginError(
                    f"plugin {self.current_plugin!r} registered type transformer {transformer!r} "
                    f"without {attr!r}"
                )
        return self.add(transformer.name, transformer)


# --- storage ------------------------------------------------------------------------------------


@attrs.define(frozen=True, kw_only=True)
class StorageBackend:
    """A storage protocol: fsspec filesystem options for URLs of ``protocol``.

    :ivar protocol: the URL scheme, e.g. ``"file"``, ``"s3"``.
    :ivar storage_options: ``(url) -> dict`` of keyword arguments for ``fsspec.filesystem``.
    :ivar description: one line for ``flytecore plugins list``.
    """

    protocol: str
    storage_options: Callable[[str], dict[str, Any]] = attrs.field(default=lambda url: {})
    description: str = ""


class StorageRegistry(Registry[StorageBackend]):
    """Storage backends by protocol."""

    def __init__(self) -> None:
        super().__init__("storage protocol")

    def register(self, backend: StorageBackend) -> StorageBackend:
        """Register a storage backend for its protocol."""
        if not isinstance(backend, StorageBackend):
            raise PluginError(
                f"plugin {self.current_plugin!r} registered {backend!r} as a storage backend; "
                "expected flytecore.plugin.StorageBackend"
            )
        return self.add(backend.protocol, backend)


# --- compiler passes ------------------------------------------------------------------------


@runtime_checkable
class CompilerPassLike(Protocol):
    """A compiler pass: ``name``, ``order`` (lower runs first) and ``run(context)``. Read-only
    members, so frozen classes and properties fit too."""

    @property
    def name(self) -> str: ...

    @property
    def order(self) -> int: ...

    def run(self, context: Any) -> None: ...


class CompilerPassRegistry(Registry[CompilerPassLike]):
    """Compiler passes by name; :meth:`ordered` gives them in run order."""

    def __init__(self) -> None:
        super().__init__("compiler pass")

    def register(self, compiler_pass: CompilerPassLike) -> CompilerPassLike:
        """Register a pass; it needs a ``name``, an int ``order`` and a ``run(context)`` method."""
        if not isinstance(getattr(compiler_pass, "order", None), int) or not callable(
            getattr(compiler_pass, "run", None)
        ):
            raise PluginError(
                f"plugin {self.current_plugin!r} registered compiler pass {compiler_pass!r} "
                "without an int 'order' and a 'run(context)' method"
            )
        return self.add(getattr(compiler_pass, "name", None), compiler_pass)  # type: ignore[arg-type]

    def ordered(self) -> list[CompilerPassLike]:
        """Passes sorted by (order, name)."""
        return sorted(self._items.values(), key=lambda p: (p.order, p.name))


# --- execution ------------------------------------------------------------------------------


class ExecutionRegistry:
    """What the data plane is made of: backends, node handlers and event sinks.

    Each is a factory called by the propeller with its configuration; the propeller issue
    defines their interfaces. Registered here now so that plugins can contribute them.
    """

    def __init__(self) -> None:
        self.backends: Registry[Callable[..., Any]] = Registry("execution backend")
        self.node_handlers: Registry[Callable[..., Any]] = Registry("node handler")
        self.event_sinks: Registry[Callable[..., Any]] = Registry("event sink")

    @property
    def current_plugin(self) -> str:
        return self.backends.current_plugin

    @current_plugin.setter
    def current_plugin(self, name: str) -> None:
        for r in (self.backends, self.node_handlers, self.event_sinks):
            r.current_plugin = name

    def register_backend(self, name: str, factory: Callable[..., Any]) -> None:
        """A backend that runs task attempts (``local``, ``kubernetes``)."""
        self._add(self.backends, name, factory)

    def register_node_handler(self, kind: str, factory: Callable[..., Any]) -> None:
        """A handler for one node kind (``task``, ``branch``, ``gate`` …)."""
        self._add(self.node_handlers, kind, factory)

    def register_event_sink(self, name: str, factory: Callable[..., Any]) -> None:
        """A destination for workflow/node/task events (admin in-process, gRPC, a log)."""
        self._add(self.event_sinks, name, factory)

    def discard_owner(self, plugin: str) -> list[str]:
        """Withdraw ``plugin``'s backends, node handlers and event sinks; returns their names."""
        return [n for r in (self.backends, self.node_handlers, self.event_sinks) for n in r.discard_owner(plugin)]

    def _add(self, registry: Registry[Callable[..., Any]], name: str, factory: Callable[..., Any]) -> None:
        if not callable(factory):
            raise PluginError(
                f"plugin {self.current_plugin!r} registered {registry.what} {name!r} with a factory "
                f"that is not callable: {factory!r}"
            )
        registry.add(name, factory)


# --- CLI ------------------------------------------------------------------------------------


class CliCommandRegistry(Registry[Any]):
    """click commands added to the ``flytecore`` command line."""

    def __init__(self) -> None:
        super().__init__("CLI command")

    def register(self, command: Any) -> Any:
        """Register a ``click.Command``; its name must not clash with a built-in command."""
        name = getattr(command, "name", None)
        if name is None or not callable(getattr(command, "main", None)):
            raise PluginError(f"plugin {self.current_plugin!r} registered {command!r}, which is not a click command")
        return self.add(name, command)
