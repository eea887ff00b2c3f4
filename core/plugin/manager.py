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
from typing import Any, Protocol, TypeVar

import attrs
import pluggy

from flytecore.errors import PluginError
from flytecore.plugin import hookspecs
from flytecore.plugin._markers import ENTRY_POINT_GROUP, PROJECT_NAME
from flytecore.plugin.registry import (
    CliCommandRegistry,
    CompilerPassRegistry,
    ExecutionRegistry,
    Registry,
    StorageRegistry,
    TaskTypeRegistry,
    TypeTransformerRegistry,
)

log = logging.getLogger(__name__)


class _FillableRegistry(Protocol):
    """What the host needs of a registry it fills: who is registering, and a way to take a
    failed plugin's registrations back."""

    current_plugin: str

    def discard_owner(self, plugin: str) -> list[str]: ...


R = TypeVar("R", bound=_FillableRegistry)

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
        self._infos = list(infos)
        # Only the plugins pluggy holds, by name. A plugin refused at load (import error, a name
        # already taken) is listed in ``plugins`` but must not shadow the one that holds the name.
        self._registered = {i.name: i for i in infos if i.error is None}
        self._cache: dict[str, Any] = {}

    # -- introspection -------------------------------------------------------------------------

    @property
    def plugins(self) -> list[PluginInfo]:
        """Every plugin found, loaded or failed, with its contributions filled in."""
        self._fill_all()
        return list(self._infos)

    def _fill_all(self) -> None:
        execution = self.execution
        registries: list[tuple[str, Registry[Any]]] = [
            ("task types", self.task_types),
            ("type transformers", self.type_transformers),
            ("storage", self.storage),
            ("compiler passes", self.compiler_passes),
            ("backends", execution.backends),
            ("node handlers", execution.node_handlers),
            ("event sinks", execution.event_sinks),
        ]
        for info in self._registered.values():
            for what, registry in registries:
                names = registry.by_owner(info.name)
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
        self._call_each("flytecore_configure_converter", lambda impl: _call_impl(impl, converter=converter))
        return converter

    # -- machinery -----------------------------------------------------------------------------

    def _registry(self, hook_name: str, factory: Callable[[], R]) -> R:
        if hook_name not in self._cache:
            registry = factory()

            def call(impl: pluggy.HookImpl) -> None:
                registry.current_plugin = impl.plugin_name
                try:
                    _call_impl(impl, register=registry)
                except Exception:
                    # A plugin that fails half-way is skipped whole, not left half-registered.
                    registry.discard_owner(impl.plugin_name)
                    raise

            self._call_each(hook_name, call)
            self._cache[hook_name] = registry
        cached: R = self._cache[hook_name]
        return cached

    def _call_each(self, hook_name: str, call: Callable[[pluggy.HookImpl], None]) -> None:
        """Call every implementation in registration order (built-ins first, so later plugins
        can override), recording a failing plugin instead of letting it break the others."""
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            info = self._registered.get(impl.plugin_name)
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


def _call_impl(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one hook implementation the way pluggy does: with only the arguments it asks for
    (an implementation may take fewer parameters than its spec)."""
    return impl.function(*(kwargs[name] for name in impl.argnames))


def _distribution_of(module_name: str) -> tuple[str, str]:
    """(name, version) of the installed distribution providing ``module_name``'s top package."""
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
    taken: dict[str, PluginInfo] = {}
    import flytecore

    for name, module_name in BUILTIN_PLUGINS:
        if name in disabled:
            continue
        module = importlib.import_module(module_name)
        pm.register(module, name=name)
        info = PluginInfo(
            name=name, module=module_name, distribution="flytecore", version=flytecore.__version__, builtin=True
        )
        infos.append(info)
        taken[name] = info

    if entry_points and "*" not in disabled:
        for info, plugin in _load_entry_points(disabled, strict):
            infos.append(info)
            if plugin is not None:
                _register(pm, info, plugin, strict, taken)

    for name, plugin in extra_plugins:
        if name in disabled:
            continue
        module_name = getattr(plugin, "__name__", type(plugin).__name__)
        dist, version = _distribution_of(module_name)
        info = PluginInfo(name=name, module=module_name, distribution=dist, version=version)
        infos.append(info)
        _register(pm, info, plugin, strict, taken)

    for info in infos:
        if info.error is None:
            plugin = pm.get_plugin(info.name)
            info.hooks = sorted(hc.name for hc in pm.get_hookcallers(plugin) or [])
    return PluginHost(pm, infos, strict=strict)


def _register(
    pm: pluggy.PluginManager, info: PluginInfo, plugin: object, strict: bool, taken: dict[str, PluginInfo]
) -> None:
    """Register one plugin and validate its hooks: its name must be free, every hook it
    implements must exist (a misspelt hook name is an error) and none may be a wrapper (the host
    calls each implementation itself). A plugin that fails is registered with nothing."""
    try:
        other = taken.get(info.name)
        if other is not None:
            raise PluginError(
                f"plugin name {info.name!r} is already taken by {other.module} ({other.distribution}); "
                "rename one of the two entry points"
            )
        pm.register(plugin, name=info.name)
        callers = pm.get_hookcallers(plugin) or []
        unknown = [hc.name for hc in callers if not hc.has_spec()]
        if unknown:
            known = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith("flytecore_")))
            raise PluginError(
                f"plugin {info.name!r} ({info.distribution}) implements unknown hook(s) "
                f"{', '.join(unknown)}; known hooks: {known}"
            )
        wrappers = [
            hc.name
            for hc in callers
            for impl in hc.get_hookimpls()
            if impl.plugin is plugin and (impl.wrapper or impl.hookwrapper)
        ]
        if wrappers:
            raise PluginError(
                f"plugin {info.name!r} ({info.distribution}) implements {', '.join(wrappers)} as a hook "
                "wrapper; flytecore hooks take plain implementations only"
            )
    except Exception as exc:
        # pluggy may have registered part of the plugin before it failed validation.
        if pm.get_plugin(info.name) is plugin:
            pm.unregister(plugin)
        if strict:
            raise PluginError(f"plugin {info.name!r} ({info.distribution}) failed to register: {exc}") from exc
        log.error("plugin %r skipped: %s", info.name, exc)
        info.error = f"{type(exc).__name__}: {exc}"
    else:
        taken[info.name] = info


def _load_entry_points(disabled: set[str], strict: bool) -> Iterator[tuple[PluginInfo, object | None]]:
    """Load the ``flytecore.plugins`` entry points through stevedore, reporting failures."""
    from stevedore import ExtensionManager

    failures: list[tuple[Any, BaseException]] = []

    class _Filtered(ExtensionManager):
        # Disabled plugins are filtered before import so a broken one can always be switched off.
        def list_entry_points(self) -> list[Any]:
            return [ep for ep in super().list_entry_points() if ep.name not in disabled]

        def _load_one_plugin(self, ep: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return super()._load_one_plugin(ep, *args, **kwargs)
            except AssertionError as err:
                # stevedore lets AssertionError escape; a plugin's failed assert is a load error.
                raise _LoadAssertionError(str(err)) from err

    def on_failure(_mgr: Any, ep: Any, err: BaseException) -> None:
        if isinstance(err, _LoadAssertionError) and err.__cause__ is not None:
            err = err.__cause__
        if strict:
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {type(err).__name__}: {err}") from err
        failures.append((ep, err))

    owners: dict[tuple[str, str], tuple[str, str]] | None = None

    def distribution_of(ep: Any) -> tuple[str, str]:
        nonlocal owners
        dist = getattr(ep, "dist", None)
        if dist is not None:
            return dist.metadata["Name"], dist.version
        # stevedore's cached entry points do not know their distribution; ask importlib which
        # distribution declares this one (its top-level module may not say: namespace packages,
        # editable installs without top_level.txt).
        if owners is None:
            owners = _entry_point_owners()
        return owners.get((ep.name, ep.value)) or _distribution_of(ep.value.split(":")[0])

    manager = _Filtered(namespace=ENTRY_POINT_GROUP, on_load_failure_callback=on_failure)
    for ext in manager.extensions:
        dist, version = distribution_of(ext.entry_point)
        yield PluginInfo(name=ext.name, module=ext.entry_point.value, distribution=dist, version=version), ext.plugin
    for ep, err in failures:
        dist, version = distribution_of(ep)
        level = logging.INFO if isinstance(err, ModuleNotFoundError) else logging.ERROR
        log.log(level, "plugin %r (%s) not loaded: %s", ep.name, dist, err)
        tb = "".join(traceback.format_exception_only(type(err), err)).strip()
        yield PluginInfo(name=ep.name, module=ep.value, distribution=dist, version=version, error=tb), None


class _LoadAssertionError(Exception):
    """An AssertionError raised while importing a plugin, carried past stevedore."""


def _entry_point_owners() -> dict[tuple[str, str], tuple[str, str]]:
    """(entry point name, value) -> (distribution, version) for the ``flytecore.plugins`` group."""
    from importlib import metadata

    owners: dict[tuple[str, str], tuple[str, str]] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.dist is not None:
            owners.setdefault((ep.name, ep.value), (ep.dist.metadata["Name"], ep.dist.version))
    return owners


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
