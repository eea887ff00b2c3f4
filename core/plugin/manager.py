"""The plugin host: builds a pluggy manager, loads plugins and fills the registries.

Nothing here runs at import time. :func:`make_plugin_host` is the application factory; the
SDK, compiler and CLI call :func:`get_host`, which builds the process's default host on first
use from the environment:

- ``FLYTECORE_DISABLE_PLUGINS``: comma-separated plugin names not to load, or ``*`` for every
  plugin found through entry points (the built-ins stay unless named one by one).
- ``FLYTECORE_STRICT_PLUGINS=1``: a plugin that fails to load or register raises
  :class:`~flytecore.errors.PluginError` at once instead of being reported and skipped.

Loading is tiered like opentelemetry's: a plugin whose import fails is recorded with its error
and skipped (a broken plugin never takes the control plane down); strict mode fails fast.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import attrs
import pluggy

from flytecore.errors import PluginError
from flytecore.plugin import hookspecs
from flytecore.plugin._markers import ENTRY_POINT_GROUP, PROJECT_NAME
from flytecore.plugin.registry import (
    CliCommandRegistry,
    CompilerPassRegistry,
    ExecutionRegistry,
    StorageRegistry,
    TaskTypeRegistry,
    TypeTransformerRegistry,
)

log = logging.getLogger(__name__)

R = TypeVar("R")

BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("core_types", "flytecore.plugin.builtin.core_types"),
    ("python_task", "flytecore.plugin.builtin.python_task"),
    ("local_storage", "flytecore.plugin.builtin.local_storage"),
    ("core_compiler", "flytecore.plugin.builtin.core_compiler"),
)
"""Built-in plugins (name, module): registered first, through the same hooks as any plugin."""


@attrs.define(kw_only=True)
class PluginInfo:
    """What the host knows about one plugin, loaded or not (``flytecore plugins list``)."""

    name: str
    module: str
    distribution: str
    version: str
    builtin: bool = False
    hooks: list[str] = attrs.field(factory=list)
    error: str | None = None
    contributions: dict[str, list[str]] = attrs.field(factory=dict)

    @property
    def loaded(self) -> bool:
        """True if the plugin is registered and working."""
        return self.error is None


class PluginHost:
    """A typed facade over the pluggy manager: one method or property per hook.

    Registries are filled lazily, once, on first access, so a process that only authors
    workflows never builds the execution registry.
    """

    def __init__(self, pm: pluggy.PluginManager, infos: list[PluginInfo], *, strict: bool) -> None:
        self.pm = pm
        self.strict = strict
        self._infos = {i.name: i for i in infos}
        self._cache: dict[str, Any] = {}

    # -- introspection -------------------------------------------------------------------------

    @property
    def plugins(self) -> list[PluginInfo]:
        """Every plugin found, loaded or failed, with its contributions filled in."""
        self._fill_all()
        return list(self._infos.values())

    def _fill_all(self) -> None:
        for what, reg in (
            ("task types", self.task_types),
            ("type transformers", self.type_transformers),
            ("storage", self.storage),
            ("compiler passes", self.compiler_passes),
        ):
            for info in self._infos.values():
                names = reg.by_owner(info.name)
                if names:
                    info.contributions[what] = names
        execution = self.execution
        for info in self._infos.values():
            for what, reg in (
                ("backends", execution.backends),
                ("node handlers", execution.node_handlers),
                ("event sinks", execution.event_sinks),
            ):
                names = reg.by_owner(info.name)
                if names:
                    info.contributions[what] = names

    # -- registries ----------------------------------------------------------------------------

    @property
    def task_types(self) -> TaskTypeRegistry:
        """Task types from ``flytecore_register_task_types``."""
        return self._registry("flytecore_register_task_types", TaskTypeRegistry)

    @property
    def type_transformers(self) -> TypeTransformerRegistry:
        """Type transformers from ``flytecore_register_type_transformers``."""
        return self._registry("flytecore_register_type_transformers", TypeTransformerRegistry)

    @property
    def storage(self) -> StorageRegistry:
        """Storage backends from ``flytecore_register_storage``."""
        return self._registry("flytecore_register_storage", StorageRegistry)

    @property
    def compiler_passes(self) -> CompilerPassRegistry:
        """Compiler passes from ``flytecore_register_compiler_passes``."""
        return self._registry("flytecore_register_compiler_passes", CompilerPassRegistry)

    @property
    def execution(self) -> ExecutionRegistry:
        """Backends, node handlers and event sinks from ``flytecore_register_execution``."""
        return self._registry("flytecore_register_execution", ExecutionRegistry)

    @property
    def cli_commands(self) -> CliCommandRegistry:
        """Extra CLI commands from ``flytecore_register_cli_commands``."""
        return self._registry("flytecore_register_cli_commands", CliCommandRegistry)

    def make_converter(self, **kwargs: Any) -> Any:
        """A spec converter (:func:`flytecore.spec.make_converter`) configured by every plugin's
        ``flytecore_configure_converter``."""
        from flytecore.spec.converter import make_converter

        converter = make_converter(**kwargs)
        self._call_each("flytecore_configure_converter", lambda impl: impl.function(converter=converter))
        return converter

    # -- machinery -----------------------------------------------------------------------------

    def _registry(self, hook_name: str, factory: Callable[[], R]) -> R:
        if hook_name not in self._cache:
            registry = factory()

            def call(impl: pluggy.HookImpl) -> None:
                registry.current_plugin = impl.plugin_name  # type: ignore[attr-defined]
                impl.function(register=registry)

            self._call_each(hook_name, call)
            self._cache[hook_name] = registry
        return self._cache[hook_name]  # type: ignore[no-any-return]

    def _call_each(self, hook_name: str, call: Callable[[pluggy.HookImpl], None]) -> None:
        """Call every implementation in registration order (built-ins first, so later plugins
        can override), recording a failing plugin instead of letting it break the others."""
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            info = self._infos.get(impl.plugin_name)
            if info is not None and info.error is not None:
                continue
            try:
                call(impl)
            except Exception as exc:
                message = f"{hook_name} failed: {type(exc).__name__}: {exc}"
                if self.strict or info is None or info.builtin:
                    raise PluginError(f"plugin {impl.plugin_name!r}: {message}") from exc
                log.error("plugin %r skipped: %s", impl.plugin_name, message)
                info.error = message


def _distribution_of(module_name: str, ep: Any = None) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is not None:
        return dist.metadata["Name"], dist.version
    from importlib import metadata

    top = module_name.split(".")[0]
    names = metadata.packages_distributions().get(top, [])
    if names:
        return names[0], metadata.version(names[0])
    return "?", "?"


def _disabled_from_env() -> set[str]:
    raw = os.environ.get("FLYTECORE_DISABLE_PLUGINS", "")
    return {n.strip() for n in raw.split(",") if n.strip()}


def _strict_from_env() -> bool:
    return os.environ.get("FLYTECORE_STRICT_PLUGINS", "").lower() in {"1", "true", "yes", "on"}


def make_plugin_host(
    *,
    disable: Sequence[str] | None = None,
    strict: bool | None = None,
    entry_points: bool = True,
    extra_plugins: Sequence[tuple[str, object]] = (),
) -> PluginHost:
    """Build a plugin host: the built-ins, then plugins of the ``flytecore.plugins`` entry point
    group, then ``extra_plugins``.

    :param disable: plugin names not to load (``*`` for every entry-point plugin); defaults to
        ``FLYTECORE_DISABLE_PLUGINS``.
    :param strict: raise on the first plugin failure; defaults to ``FLYTECORE_STRICT_PLUGINS``.
    :param entry_points: look for plugins in installed distributions.
    :param extra_plugins: (name, module-or-object) pairs registered last, e.g. by tests.
    """
    disabled = set(disable) if disable is not None else _disabled_from_env()
    strict = _strict_from_env() if strict is None else strict
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    import flytecore

    for name, module_name in BUILTIN_PLUGINS:
        if name in disabled:
            continue
        module = importlib.import_module(module_name)
        pm.register(module, name=name)
        infos.append(
            PluginInfo(
                name=name, module=module_name, distribution="flytecore", version=flytecore.__version__, builtin=True
            )
        )

    if entry_points and "*" not in disabled:
        for info, plugin in _load_entry_points(disabled, strict):
            infos.append(info)
            if plugin is not None:
                _register(pm, info, plugin, strict)

    for name, plugin in extra_plugins:
        module_name = getattr(plugin, "__name__", type(plugin).__name__)
        dist, version = _distribution_of(module_name)
        info = PluginInfo(name=name, module=module_name, distribution=dist, version=version)
        infos.append(info)
        _register(pm, info, plugin, strict)

    for info in infos:
        if info.error is None:
            plugin = pm.get_plugin(info.name)
            info.hooks = sorted(hc.name for hc in pm.get_hookcallers(plugin) or [])
    return PluginHost(pm, infos, strict=strict)


def _register(pm: pluggy.PluginManager, info: PluginInfo, plugin: object, strict: bool) -> None:
    """Register one plugin; validate its hooks (a misspelt hook name is an error)."""
    try:
        pm.register(plugin, name=info.name)
        unknown = [
            hc.name
            for hc in pm.get_hookcallers(plugin) or []
            if not hc.has_spec()
        ]
        if unknown:
            pm.unregister(plugin)
            known = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith("flytecore_")))
            raise PluginError(
                f"plugin {info.name!r} ({info.distribution}) implements unknown hook(s) "
                f"{', '.join(unknown)}; known hooks: {known}"
            )
    except Exception as exc:
        if strict:
            raise PluginError(f"plugin {info.name!r} ({info.distribution}) failed to register: {exc}") from exc
        log.error("plugin %r skipped: %s", info.name, exc)
        info.error = f"{type(exc).__name__}: {exc}"


def _load_entry_points(disabled: set[str], strict: bool) -> Iterator[tuple[PluginInfo, object | None]]:
    """Load the ``flytecore.plugins`` entry points through stevedore, reporting failures."""
    from stevedore import ExtensionManager

    failures: list[tuple[Any, BaseException]] = []

    class _Filtered(ExtensionManager):  # type: ignore[misc]
        # Disabled plugins are filtered before import so a broken one can always be switched off.
        def list_entry_points(self) -> list[Any]:
            return [ep for ep in super().list_entry_points() if ep.name not in disabled]

    def on_failure(_mgr: Any, ep: Any, err: BaseException) -> None:
        if strict:
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {type(err).__name__}: {err}") from err
        failures.append((ep, err))

    manager = _Filtered(namespace=ENTRY_POINT_GROUP, on_load_failure_callback=on_failure)
    for ext in manager.extensions:
        module_name = getattr(ext.plugin, "__name__", ext.entry_point.value)
        dist, version = _distribution_of(module_name, ext.entry_point)
        yield PluginInfo(name=ext.name, module=ext.entry_point.value, distribution=dist, version=version), ext.plugin
    for ep, err in failures:
        dist, version = _distribution_of(ep.value.split(":")[0], ep)
        level = logging.INFO if isinstance(err, ModuleNotFoundError) else logging.ERROR
        log.log(level, "plugin %r (%s) not loaded: %s", ep.name, dist, err)
        tb = "".join(traceback.format_exception_only(type(err), err)).strip()
        yield PluginInfo(name=ep.name, module=ep.value, distribution=dist, version=version, error=tb), None


_default_host: PluginHost | None = None


def get_host() -> PluginHost:
    """The process's plugin host, built from the environment on first call."""
    global _default_host
    if _default_host is None:
        _default_host = make_plugin_host()
    return _default_host


@contextlib.contextmanager
def use_host(host: PluginHost) -> Iterator[PluginHost]:
    """Make ``host`` the process's plugin host inside a ``with`` block (tests, embedding)."""
    global _default_host
    previous = _default_host
    _default_host = host
    try:
        yield host
    finally:
        _default_host = previous
