"""The plugin host: built-ins, extra plugins, failure handling, opting out, strict mode, laziness.

Entry point discovery has its own module (``test_entry_points.py``); here plugins are handed
to :func:`make_plugin_host` directly through ``extra_plugins``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable
from typing import Any

import attrs
import click
import pytest

import flytecore
from flytecore.errors import PluginError
from flytecore.plugin import (
    PluginHost,
    PluginInfo,
    StorageBackend,
    TaskType,
    get_host,
    hookimpl,
    make_plugin_host,
    manager,
    use_host,
)

BUILTINS = ("core_types", "python_task", "local_storage", "core_compiler")

HEAVY_BUILTINS = ("core_types", "core_compiler")
"""Built-ins whose hooks import the type engine and the compiler passes. Tests of other things
leave them out, so that each test tests one thing (a broken type engine fails only the tests
about it); the tests of those two built-ins use a full host."""


def plugin_with(**hooks: Callable[..., Any]) -> types.SimpleNamespace:
    """A plugin object implementing ``hooks`` (hook name -> function)."""
    return types.SimpleNamespace(**{name: hookimpl(function) for name, function in hooks.items()})


def task_type_plugin(*names: str) -> types.SimpleNamespace:
    """A plugin registering plain task types named ``names``."""

    def register_task_types(register: Any) -> None:
        for name in names:
            register.register(TaskType(name=name))

    return plugin_with(flytecore_register_task_types=register_task_types)


def small_host(*extra: tuple[str, object], **kwargs: Any) -> PluginHost:
    """A host without entry points and, unless ``disable`` says otherwise, without the heavy
    built-ins."""
    kwargs.setdefault("disable", HEAVY_BUILTINS)
    return make_plugin_host(entry_points=False, extra_plugins=extra, **kwargs)


def info_of(host: PluginHost, name: str) -> PluginInfo:
    """The one plugin named ``name`` in ``host.plugins``."""
    found = [info for info in host.plugins if info.name == name]
    assert len(found) == 1, f"{len(found)} plugins named {name!r}: {found}"
    return found[0]


# --- built-in plugins ---------------------------------------------------------------------------


def test_builtin_task_type_and_storage_come_from_builtin_plugins() -> None:
    host = make_plugin_host(entry_points=False)
    assert host.task_types["python-task"].config_type is None
    assert host.task_types.owner("python-task") == "python_task"
    assert host.storage.owner("file") == "local_storage"
    assert host.storage["file"].storage_options("file:///tmp/x") == {"auto_mkdir": True}


def test_builtin_plugins_are_described_as_flytecore_builtins() -> None:
    host = small_host()
    python_task = info_of(host, "python_task")
    assert (python_task.module, python_task.distribution, python_task.version) == (
        "flytecore.plugin.builtin.python_task",
        "flytecore",
        flytecore.__version__,
    )
    assert python_task.builtin and python_task.loaded
    assert python_task.hooks == ["flytecore_register_task_types"]
    assert list(python_task.contributions) == ["task types"]
    assert "python-task" in python_task.contributions["task types"]
    local_storage = info_of(host, "local_storage")
    assert local_storage.hooks == ["flytecore_register_storage"]
    assert local_storage.contributions == {"storage": ["file"]}


def test_every_builtin_is_listed_in_order_with_its_hooks() -> None:
    """Needs flytecore.sdk.type_engine and flytecore.compiler.passes (``plugins`` fills every
    registry)."""
    host = make_plugin_host(entry_points=False)
    infos = host.plugins
    assert [info.name for info in infos] == list(BUILTINS)
    assert all(info.builtin and info.loaded for info in infos)
    assert info_of(host, "core_types").hooks == ["flytecore_register_type_transformers"]
    assert info_of(host, "core_compiler").hooks == ["flytecore_register_compiler_passes"]


def test_core_types_builtin_registers_the_type_transformers() -> None:
    """Needs flytecore.sdk.type_engine.builtin_transformers."""
    host = make_plugin_host(entry_points=False)
    transformers = host.type_transformers
    assert len(transformers) > 0
    assert {transformers.owner(name) for name in transformers} == {"core_types"}
    assert any(transformers[name].matches(int) for name in transformers)


def test_core_compiler_builtin_registers_ordered_passes() -> None:
    """Needs flytecore.compiler.passes.core_passes; core passes use orders 100-900 (hookspec)."""
    host = make_plugin_host(entry_points=False)
    passes = host.compiler_passes.ordered()
    assert passes, "the core compiler registered no pass"
    assert {host.compiler_passes.owner(p.name) for p in passes} == {"core_compiler"}
    assert all(100 <= p.order <= 900 and p.order % 100 == 0 for p in passes)
    assert [p.order for p in passes] == sorted(p.order for p in passes)


def test_a_third_party_compiler_pass_is_ordered_among_the_core_passes() -> None:
    """Needs flytecore.compiler.passes.core_passes."""

    @attrs.define
    class Lint:
        name: str = "lint"
        order: int = 150

        def run(self, context: Any) -> None:
            pass

    host = make_plugin_host(
        entry_points=False,
        extra_plugins=[
            (
                "linter",
                plugin_with(flytecore_register_compiler_passes=lambda register: register.register(Lint())),
            )
        ],
    )
    ordered = host.compiler_passes.ordered()
    at = [p.name for p in ordered].index("lint")
    assert host.compiler_passes.owner("lint") == "linter"
    assert all(p.order <= 150 for p in ordered[:at]) and all(p.order >= 150 for p in ordered[at + 1 :])
    assert len(ordered) > 1, "no core pass next to the plugin's"


# --- extra plugins and what they contribute -----------------------------------------------------


@click.command(name="hello")
def hello_command() -> None:
    """Say hello."""


class EverythingPlugin:
    """A class-based plugin implementing every registering hook once."""

    @hookimpl
    def flytecore_register_task_types(self, register: Any) -> None:
        register.register(TaskType(name="everything-task"))

    @hookimpl
    def flytecore_register_storage(self, register: Any) -> None:
        register.register(StorageBackend(protocol="memory"))

    @hookimpl
    def flytecore_register_execution(self, register: Any) -> None:
        register.register_backend("everywhere", dict)
        register.register_node_handler("everything-node", dict)
        register.register_event_sink("everything-log", list)

    @hookimpl
    def flytecore_register_cli_commands(self, register: Any) -> None:
        register.register(hello_command)


def test_extra_plugin_contributions_reach_every_registry_and_its_info() -> None:
    host = small_host(("everything", EverythingPlugin()))
    assert host.task_types.owner("everything-task") == "everything"
    assert host.storage.owner("memory") == "everything"
    assert host.execution.backends["everywhere"] is dict
    assert host.execution.node_handlers.owner("everything-node") == "everything"
    assert host.execution.event_sinks["everything-log"] is list
    assert host.cli_commands["hello"] is hello_command
    info = info_of(host, "everything")
    assert not info.builtin and info.loaded and info.error is None
    assert info.hooks == [
        "flytecore_register_cli_commands",
        "flytecore_register_execution",
        "flytecore_register_storage",
        "flytecore_register_task_types",
    ]
    assert info.contributions == {
        "task types": ["everything-task"],
        "storage": ["memory"],
        "backends": ["everywhere"],
        "node handlers": ["everything-node"],
        "event sinks": ["everything-log"],
    }
    assert info.distribution == "?"  # an object defined here belongs to no installed distribution


def test_extra_plugin_module_is_attributed_to_its_distribution() -> None:
    # Any installed module will do: a module without hooks registers nothing.
    host = small_host(("attrs-as-plugin", attrs))
    info = info_of(host, "attrs-as-plugin")
    assert (info.distribution, info.version) == ("attrs", importlib.metadata.version("attrs"))
    assert info.hooks == [] and info.loaded


def test_plugins_are_called_builtins_first_then_in_the_order_given() -> None:
    calls: list[tuple[str, bool]] = []

    def recorder(name: str) -> types.SimpleNamespace:
        # Records whether the built-in python task type was already there when called.
        return plugin_with(
            flytecore_register_task_types=lambda register: calls.append((name, "python-task" in register))
        )

    host = small_host(("b", recorder("b")), ("a", recorder("a")), ("c", recorder("c")))
    assert host.task_types.owner("python-task") == "python_task"
    assert calls == [("b", True), ("a", True), ("c", True)]


def test_registries_are_built_lazily_and_once() -> None:
    calls: list[str] = []
    plugin = plugin_with(
        flytecore_register_task_types=lambda register: calls.append("task types"),
        flytecore_register_storage=lambda register: calls.append("storage"),
    )
    host = small_host(("counter", plugin))
    assert calls == []
    assert host.task_types is host.task_types
    assert calls == ["task types"]
    assert host.storage is host.storage
    assert calls == ["task types", "storage"]


def test_a_hook_implementation_may_take_fewer_parameters_than_the_spec() -> None:
    """pluggy lets an implementation accept a subset of the spec's parameters."""
    calls: list[str] = []
    host = small_host(("no-args", plugin_with(flytecore_register_storage=lambda: calls.append("called"))))
    assert "file" in host.storage
    assert calls == ["called"]
    assert info_of(host, "no-args").loaded


def test_make_converter_lets_every_plugin_configure_it() -> None:
    class Money:
        def __init__(self, cents: int) -> None:
            self.cents = cents

    def configure(converter: Any) -> None:
        converter.register_unstructure_hook(Money, lambda m: f"{m.cents / 100:.2f}")

    host = small_host(("money", plugin_with(flytecore_configure_converter=configure)))
    assert host.make_converter().unstructure(Money(1234)) == "12.34"
    # A new converter each time, configured again.
    assert host.make_converter() is not host.make_converter()
    assert host.make_converter().unstructure(Money(5)) == "0.05"


# --- plugins that are wrong -------------------------------------------------------------------


def test_misspelt_hook_is_reported_naming_plugin_and_hook_and_the_plugin_is_skipped() -> None:
    typo = plugin_with(
        flytecore_register_task_type=lambda register: register.register(TaskType(name="typo-task")),
        flytecore_register_storage=lambda register: register.register(StorageBackend(protocol="typo")),
    )
    host = small_host(("typo-plugin", typo), ("good", task_type_plugin("good-task")))
    info = info_of(host, "typo-plugin")
    assert not info.loaded
    assert info.error is not None
    assert "'typo-plugin'" in info.error
    assert "unknown hook(s) flytecore_register_task_type;" in info.error
    assert "known hooks: " in info.error and "flytecore_register_task_types" in info.error
    assert info.hooks == []
    assert "typo" not in host.storage and "typo-task" not in host.task_types
    assert "good-task" in host.task_types
    assert info_of(host, "good").loaded


def test_misspelt_hook_in_strict_mode_raises() -> None:
    typo = plugin_with(flytecore_register_task_type=lambda register: None)
    with pytest.raises(
        PluginError, match=r"plugin 'typo-plugin' .*unknown hook\(s\) flytecore_register_task_type"
    ):
        small_host(("typo-plugin", typo), strict=True)


def test_hook_with_a_parameter_the_spec_does_not_have_is_reported_and_nothing_of_it_registered() -> None:
    # pluggy validates the storage hook, then rejects the task type hook's parameter name.
    bad = plugin_with(
        flytecore_register_storage=lambda register: register.register(StorageBackend(protocol="bad")),
        flytecore_register_task_types=lambda registry: None,
    )
    host = small_host(("bad-signature", bad))
    info = info_of(host, "bad-signature")
    assert (
        info.error is not None and "registry" in info.error and "flytecore_register_task_types" in info.error
    )
    assert "bad" not in host.storage
    assert "python-task" in host.task_types


def test_hook_wrappers_are_rejected() -> None:
    def wrapper(register: Any) -> Any:
        yield

    wrapping = types.SimpleNamespace(flytecore_register_task_types=hookimpl(wrapper=True)(wrapper))
    host = small_host(("wrapping", wrapping))
    error = info_of(host, "wrapping").error
    assert error is not None and "'wrapping'" in error and "wrapper" in error
    with pytest.raises(PluginError, match="'wrapping'.*wrapper"):
        small_host(("wrapping", wrapping), strict=True)


def test_plugin_whose_hook_raises_is_reported_skipped_and_withdrawn(caplog: pytest.LogCaptureFixture) -> None:
    def half_then_fail(register: Any) -> None:
        register.register(TaskType(name="half-task"))
        raise RuntimeError("boom")

    flaky = plugin_with(
        flytecore_register_task_types=half_then_fail,
        flytecore_register_storage=lambda register: register.register(StorageBackend(protocol="flaky")),
    )
    host = small_host(("flaky", flaky), ("good", task_type_plugin("good-task")))
    with caplog.at_level(logging.ERROR, logger="flytecore.plugin.manager"):
        task_types = host.task_types
    assert "good-task" in task_types and "python-task" in task_types
    assert "half-task" not in task_types, "a skipped plugin must not leave half its registrations"
    info = info_of(host, "flaky")
    assert info.error == "flytecore_register_task_types failed: RuntimeError: boom"
    assert not info.loaded
    assert any(
        "'flaky'" in record.getMessage() and "boom" in record.getMessage() for record in caplog.records
    )
    # Its other hooks are not called any more.
    assert "flaky" not in host.storage
    assert info_of(host, "good").loaded


def test_plugin_whose_hook_raises_in_strict_mode_raises_naming_plugin_and_hook() -> None:
    host = small_host(
        ("flaky", plugin_with(flytecore_register_task_types=lambda register: 1 / 0)), strict=True
    )
    with pytest.raises(
        PluginError, match=r"plugin 'flaky': flytecore_register_task_types failed: ZeroDivisionError"
    ) as info:
        _ = host.task_types
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_a_failing_builtin_raises_even_when_not_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = types.ModuleType("fake_broken_builtin")
    broken.flytecore_register_storage = hookimpl(lambda register: 1 / 0)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_broken_builtin", broken)
    monkeypatch.setattr(
        manager, "BUILTIN_PLUGINS", (*manager.BUILTIN_PLUGINS, ("broken_builtin", "fake_broken_builtin"))
    )
    host = small_host(strict=False)
    with pytest.raises(PluginError, match="plugin 'broken_builtin': flytecore_register_storage failed"):
        _ = host.storage
    assert "python-task" in host.task_types


def test_duplicate_task_type_skips_the_later_plugin_and_names_both() -> None:
    host = small_host(("first", task_type_plugin("shared")), ("second", task_type_plugin("own", "shared")))
    assert host.task_types.owner("shared") == "first"
    assert "own" not in host.task_types
    error = info_of(host, "second").error
    assert error is not None and "'first'" in error and "'second'" in error
    with pytest.raises(
        PluginError, match="task type 'shared' is registered twice: by plugin 'first' and by plugin 'second'"
    ):
        _ = small_host(
            ("first", task_type_plugin("shared")), ("second", task_type_plugin("shared")), strict=True
        ).task_types


@pytest.mark.parametrize("bad", ["spark", StorageBackend(protocol="s3"), None])
def test_registering_a_wrong_object_is_reported_naming_the_plugin(bad: Any) -> None:
    host = small_host(
        ("wrong", plugin_with(flytecore_register_task_types=lambda register: register.register(bad)))
    )
    assert host.task_types.by_owner("wrong") == [] and "python-task" in host.task_types
    error = info_of(host, "wrong").error
    assert error is not None
    assert "PluginError: plugin 'wrong' registered" in error and "expected flytecore.plugin.TaskType" in error


def test_a_plugin_name_already_taken_is_reported_and_the_first_plugin_keeps_working() -> None:
    host = small_host(
        ("python_task", task_type_plugin("impostor-task")),
        ("good", task_type_plugin("a")),
        ("good", task_type_plugin("b")),
    )
    assert "python-task" in host.task_types and "impostor-task" not in host.task_types
    assert host.task_types.owner("a") == "good" and "b" not in host.task_types
    python_tasks = [info for info in host.plugins if info.name == "python_task"]
    assert [(info.builtin, info.loaded) for info in python_tasks] == [(True, True), (False, False)]
    impostor_error = python_tasks[1].error
    assert impostor_error is not None and "plugin name 'python_task' is already taken" in impostor_error
    assert "flytecore.plugin.builtin.python_task" in impostor_error
    goods = [info for info in host.plugins if info.name == "good"]
    assert [info.loaded for info in goods] == [True, False]
    assert goods[0].contributions == {"task types": ["a"]} and goods[1].contributions == {}
    with pytest.raises(PluginError, match="plugin name 'python_task' is already taken"):
        small_host(("python_task", task_type_plugin("impostor-task")), strict=True)


# --- opting out and strict mode -----------------------------------------------------------------


def test_disable_leaves_out_builtins_and_extra_plugins_by_name() -> None:
    host = small_host(
        ("mine", task_type_plugin("mine-task")), disable=[*HEAVY_BUILTINS, "python_task", "mine"]
    )
    assert len(host.task_types) == 0
    assert "file" in host.storage
    assert [info.name for info in host.plugins] == ["local_storage"]


def test_disable_star_keeps_builtins_and_extra_plugins() -> None:
    host = small_host(("mine", task_type_plugin("mine-task")), disable=[*HEAVY_BUILTINS, "*"])
    assert "python-task" in host.task_types
    assert host.task_types.by_owner("mine") == ["mine-task"]


def test_env_variable_disables_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTECORE_DISABLE_PLUGINS", " python_task , mine,core_types,core_compiler,")
    host = make_plugin_host(entry_points=False, extra_plugins=[("mine", task_type_plugin("mine-task"))])
    assert len(host.task_types) == 0
    assert [info.name for info in host.plugins] == ["local_storage"]
    # An explicit ``disable`` wins over the environment.
    assert "python-task" in make_plugin_host(entry_points=False, disable=[]).task_types


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_env_variable_turns_strict_mode_on(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FLYTECORE_STRICT_PLUGINS", value)
    typo = plugin_with(flytecore_register_task_type=lambda register: None)
    with pytest.raises(PluginError, match="'typo-plugin'"):
        small_host(("typo-plugin", typo))
    # An explicit ``strict`` wins over the environment.
    assert not small_host(("typo-plugin", typo), strict=False).strict


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_env_variable_other_values_leave_strict_mode_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FLYTECORE_STRICT_PLUGINS", value)
    typo = plugin_with(flytecore_register_task_type=lambda register: None)
    host = small_host(("typo-plugin", typo))
    assert not host.strict
    assert not info_of(host, "typo-plugin").loaded


# --- the process's host -------------------------------------------------------------------------


def test_get_host_builds_once_on_first_use_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[PluginHost] = []

    def counting_factory(**kwargs: Any) -> PluginHost:
        host = make_plugin_host(entry_points=False, **kwargs)
        built.append(host)
        return host

    monkeypatch.setattr(manager, "make_plugin_host", counting_factory)
    monkeypatch.setenv("FLYTECORE_DISABLE_PLUGINS", "python_task")
    assert built == []
    host = get_host()
    assert get_host() is host
    assert built == [host]
    assert "python-task" not in host.task_types


def test_use_host_swaps_the_process_host_and_restores_it() -> None:
    outer = small_host()
    inner = small_host(("mine", task_type_plugin("mine-task")))
    with use_host(outer):
        assert get_host() is outer
        with use_host(inner) as entered:
            assert entered is inner and get_host() is inner
            assert "mine-task" in get_host().task_types
        assert get_host() is outer
        with pytest.raises(KeyError), use_host(inner):
            raise KeyError("restored even on error")
        assert get_host() is outer
    assert manager._default_host is None


def test_importing_flytecore_loads_no_plugin_machinery() -> None:
    script = textwrap.dedent(
        """
        import sys
        import flytecore
        assert "stevedore" not in sys.modules, "import flytecore imported stevedore"
        manager = sys.modules.get("flytecore.plugin.manager")
        assert manager is None or manager._default_host is None, "import flytecore built the plugin host"
        import flytecore.plugin
        assert "stevedore" not in sys.modules, "import flytecore.plugin imported stevedore"
        assert flytecore.plugin.manager._default_host is None
        flytecore.plugin.make_plugin_host(entry_points=False)
        assert "stevedore" not in sys.modules, "a host without entry points imported stevedore"
        flytecore.plugin.get_host()
        assert "stevedore" in sys.modules, "get_host() did not look for entry points"
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
