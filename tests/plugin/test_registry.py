"""The registries that hooks fill: validation, duplicates, look-ups and ordering.

Each registry records which plugin made a registration (``current_plugin``, set by the host
before it calls a plugin's hook), so every error here must name the plugin(s) involved.
"""

from __future__ import annotations

from typing import Any

import attrs
import click
import pytest

from flytecore.errors import PluginError
from flytecore.plugin import (
    CliCommandRegistry,
    CompilerPassRegistry,
    ExecutionRegistry,
    Registry,
    StorageBackend,
    StorageRegistry,
    TaskType,
    TaskTypeRegistry,
    TypeTransformerRegistry,
)


def as_plugin(registry: Any, plugin: str) -> Any:
    """Pretend ``plugin`` is the one registering now, as the host does before calling a hook."""
    registry.current_plugin = plugin
    return registry


# --- Registry (the base) ----------------------------------------------------------------------


def test_duplicate_name_is_rejected_naming_both_plugins() -> None:
    registry: Registry[int] = Registry("widget")
    as_plugin(registry, "first-plugin").add("w", 1)
    with pytest.raises(PluginError) as info:
        as_plugin(registry, "second-plugin").add("w", 2)
    message = str(info.value)
    assert "widget 'w' is registered twice" in message
    assert "'first-plugin'" in message and "'second-plugin'" in message
    assert "FLYTECORE_DISABLE_PLUGINS" in message
    assert registry["w"] == 1 and registry.owner("w") == "first-plugin"


@pytest.mark.parametrize("name", ["", None, 3])
def test_nameless_registration_is_rejected_naming_the_plugin(name: Any) -> None:
    registry: Registry[int] = as_plugin(Registry("widget"), "sloppy")
    with pytest.raises(PluginError, match="plugin 'sloppy' registered a widget without a name"):
        registry.add(name, 1)
    assert len(registry) == 0


def test_lookup_of_unknown_name_lists_what_is_registered() -> None:
    registry: Registry[int] = as_plugin(Registry("widget"), "p")
    registry.add("b", 2)
    registry.add("a", 1)
    assert registry.get("zzz") is None
    with pytest.raises(LookupError, match=r"no widget named 'zzz'; registered: a, b"):
        registry["zzz"]
    with pytest.raises(LookupError, match="registered: none"):
        Registry[int]("widget")["a"]


def test_registry_keeps_registration_order_and_owners() -> None:
    registry: Registry[str] = Registry("widget")
    as_plugin(registry, "p1").add("z", "Z")
    as_plugin(registry, "p2").add("a", "A")
    as_plugin(registry, "p1").add("m", "M")
    assert list(registry) == ["z", "a", "m"]
    assert registry.items() == [("z", "Z"), ("a", "A"), ("m", "M")]
    assert registry.by_owner("p1") == ["z", "m"]
    assert registry.by_owner("p2") == ["a"]
    assert registry.by_owner("p3") == []
    assert "a" in registry and "q" not in registry


def test_discard_owner_withdraws_only_that_plugins_items() -> None:
    registry: Registry[str] = Registry("widget")
    as_plugin(registry, "keep").add("k", "K")
    as_plugin(registry, "drop").add("d", "D")
    assert registry.discard_owner("drop") == ["d"]
    assert list(registry) == ["k"]
    # The name is free again once its owner is gone.
    as_plugin(registry, "other").add("d", "D2")
    assert registry.owner("d") == "other"


# --- task types -------------------------------------------------------------------------------


class SparkConfig:
    """A task_config class claimed by a task type."""


class TunedSparkConfig(SparkConfig):
    """A subclass nobody claims: selects its parent's task type."""


class DatabricksConfig(SparkConfig):
    """A subclass with its own task type: more specific than its parent's."""


def test_task_type_registry_rejects_objects_that_are_not_task_types() -> None:
    registry = as_plugin(TaskTypeRegistry(), "lazy-plugin")
    with pytest.raises(
        PluginError,
        match=r"plugin 'lazy-plugin' registered 'spark' as a task type; expected flytecore\.plugin\.TaskType",
    ):
        registry.register("spark")
    assert len(registry) == 0


def test_task_type_registry_rejects_a_config_type_that_is_not_a_class() -> None:
    registry = as_plugin(TaskTypeRegistry(), "lazy-plugin")
    with pytest.raises(PluginError, match=r"plugin 'lazy-plugin'.*task type 'spark'.*config_type.*class"):
        registry.register(TaskType(name="spark", config_type=SparkConfig()))  # type: ignore[arg-type]
    assert "spark" not in registry


def test_duplicate_task_type_name_names_both_plugins() -> None:
    registry = TaskTypeRegistry()
    as_plugin(registry, "flyte-plugin-spark").register(TaskType(name="spark"))
    with pytest.raises(
        PluginError,
        match=r"task type 'spark' is registered twice: by plugin 'flyte-plugin-spark' and by plugin 'copycat'",
    ):
        as_plugin(registry, "copycat").register(TaskType(name="spark"))


def test_config_type_claimed_twice_names_both_task_types_and_both_plugins() -> None:
    registry = TaskTypeRegistry()
    as_plugin(registry, "flyte-plugin-spark").register(TaskType(name="spark", config_type=SparkConfig))
    with pytest.raises(PluginError) as info:
        as_plugin(registry, "copycat").register(TaskType(name="spark2", config_type=SparkConfig))
    message = str(info.value)
    assert "task_config class SparkConfig" in message
    assert "'spark'" in message and "'spark2'" in message
    assert "'flyte-plugin-spark'" in message and "'copycat'" in message
    # The rejected type left nothing behind.
    assert "spark2" not in registry
    assert registry.for_config(SparkConfig()) is registry["spark"]


def test_for_config_walks_the_mro_and_prefers_the_most_specific_class() -> None:
    registry = as_plugin(TaskTypeRegistry(), "p")
    spark = registry.register(TaskType(name="spark", config_type=SparkConfig))
    databricks = registry.register(TaskType(name="databricks", config_type=DatabricksConfig))
    plain = registry.register(TaskType(name="python-task"))
    assert registry.for_config(SparkConfig()) is spark
    assert registry.for_config(TunedSparkConfig()) is spark
    assert registry.for_config(DatabricksConfig()) is databricks
    assert registry.for_config(object()) is None
    assert registry.for_config(None) is None
    assert registry["python-task"] is plain


def test_discarding_a_task_type_owner_frees_its_config_type() -> None:
    registry = TaskTypeRegistry()
    as_plugin(registry, "old").register(TaskType(name="spark", config_type=SparkConfig))
    registry.discard_owner("old")
    assert registry.for_config(SparkConfig()) is None
    new = as_plugin(registry, "new").register(TaskType(name="spark", config_type=SparkConfig))
    assert registry.for_config(SparkConfig()) is new


def test_task_type_is_frozen_and_keyword_only() -> None:
    task_type = TaskType(name="x")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        task_type.name = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        TaskType("x")  # type: ignore[call-arg]


# --- type transformers --------------------------------------------------------------------------


@attrs.define
class FakeTransformer:
    """Just the shape the type engine needs."""

    name: str

    def matches(self, python_type: Any) -> bool:
        return python_type is complex

    def get_literal_type(self, python_type: Any) -> Any:
        return "complex"

    def to_literal(self, value: Any, python_type: Any) -> Any:
        return [value.real, value.imag]

    def to_python_value(self, literal: Any, python_type: Any) -> Any:
        return complex(*literal)


def test_type_transformer_registry_accepts_the_shape_and_rejects_duplicates() -> None:
    registry = as_plugin(TypeTransformerRegistry(), "numbers")
    transformer = FakeTransformer("complex")
    assert registry.register(transformer) is transformer
    assert registry["complex"] is transformer
    with pytest.raises(
        PluginError,
        match="type transformer 'complex' is registered twice: by plugin 'numbers' and by plugin 'more-numbers'",
    ):
        as_plugin(registry, "more-numbers").register(FakeTransformer("complex"))


@pytest.mark.parametrize("missing", ["matches", "get_literal_type", "to_literal", "to_python_value"])
def test_type_transformer_without_a_method_is_rejected_naming_plugin_and_method(missing: str) -> None:
    namespace = {
        name: (lambda *args: None)
        for name in ("matches", "get_literal_type", "to_literal", "to_python_value")
        if name != missing
    }
    half_done = type("HalfDone", (), {"name": "half", **namespace})()
    registry = as_plugin(TypeTransformerRegistry(), "half-plugin")
    with pytest.raises(
        PluginError, match=rf"plugin 'half-plugin' registered type transformer .* without '{missing}'"
    ):
        registry.register(half_done)
    assert len(registry) == 0


# --- storage ------------------------------------------------------------------------------------


def test_storage_registry_registers_by_protocol() -> None:
    registry = as_plugin(StorageRegistry(), "cloud")
    s3 = registry.register(StorageBackend(protocol="s3", storage_options=lambda url: {"anon": True}))
    assert registry["s3"] is s3
    assert registry["s3"].storage_options("s3://bucket/key") == {"anon": True}
    assert StorageBackend(protocol="gs").storage_options("gs://b/k") == {}
    with pytest.raises(
        PluginError,
        match="storage protocol 's3' is registered twice: by plugin 'cloud' and by plugin 'cloud2'",
    ):
        as_plugin(registry, "cloud2").register(StorageBackend(protocol="s3"))


@pytest.mark.parametrize("bad", ["s3", {"protocol": "s3"}, None])
def test_storage_registry_rejects_objects_that_are_not_backends(bad: Any) -> None:
    registry = as_plugin(StorageRegistry(), "cloud")
    with pytest.raises(
        PluginError,
        match=r"plugin 'cloud' registered .* as a storage backend; expected flytecore\.plugin\.StorageBackend",
    ):
        registry.register(bad)


# --- compiler passes ----------------------------------------------------------------------------


@attrs.define
class FakePass:
    """A compiler pass that records that it ran."""

    name: str
    order: int

    def run(self, context: Any) -> None:
        context.append(self.name)


def test_compiler_passes_are_ordered_by_order_then_name() -> None:
    registry = as_plugin(CompilerPassRegistry(), "p")
    for compiler_pass in (
        FakePass("typecheck", 300),
        FakePass("b-lint", 950),
        FakePass("a-lint", 950),
        FakePass("nodes", 100),
    ):
        registry.register(compiler_pass)
    ran: list[str] = []
    for compiler_pass in registry.ordered():
        compiler_pass.run(ran)
    assert ran == ["nodes", "typecheck", "a-lint", "b-lint"]
    assert list(registry) == ["typecheck", "b-lint", "a-lint", "nodes"]  # registration order kept


@pytest.mark.parametrize(
    "bad",
    [
        FakePass("no-int-order", "100"),  # type: ignore[arg-type]
        type("NoRun", (), {"name": "no-run", "order": 100})(),
        type("RunNotCallable", (), {"name": "run-attr", "order": 100, "run": 3})(),
        type("NoName", (), {"order": 100, "run": lambda self, c: None})(),
    ],
)
def test_compiler_pass_without_name_int_order_or_run_is_rejected_naming_the_plugin(bad: Any) -> None:
    registry = as_plugin(CompilerPassRegistry(), "bad-passes")
    with pytest.raises(PluginError, match=r"plugin 'bad-passes' registered (a )?compiler pass"):
        registry.register(bad)
    assert len(registry) == 0


def test_duplicate_compiler_pass_names_both_plugins() -> None:
    registry = as_plugin(CompilerPassRegistry(), "core")
    registry.register(FakePass("typecheck", 300))
    with pytest.raises(
        PluginError,
        match="compiler pass 'typecheck' is registered twice: by plugin 'core' and by plugin 'mine'",
    ):
        as_plugin(registry, "mine").register(FakePass("typecheck", 301))


# --- execution ---------------------------------------------------------------------------------


def test_execution_registry_tracks_the_plugin_in_all_three_parts() -> None:
    registry = as_plugin(ExecutionRegistry(), "k8s")
    registry.register_backend("kubernetes", dict)
    registry.register_node_handler("task", dict)
    registry.register_event_sink("log", dict)
    assert registry.current_plugin == "k8s"
    assert registry.backends.owner("kubernetes") == "k8s"
    assert registry.node_handlers.owner("task") == "k8s"
    assert registry.event_sinks.owner("log") == "k8s"
    as_plugin(registry, "other")
    with pytest.raises(
        PluginError,
        match="execution backend 'kubernetes' is registered twice: by plugin 'k8s' and by plugin 'other'",
    ):
        registry.register_backend("kubernetes", dict)
    with pytest.raises(PluginError, match="node handler 'task' is registered twice"):
        registry.register_node_handler("task", dict)
    with pytest.raises(PluginError, match="event sink 'log' is registered twice"):
        registry.register_event_sink("log", dict)
    assert registry.discard_owner("k8s") == ["kubernetes", "task", "log"]
    assert len(registry.backends) == len(registry.node_handlers) == len(registry.event_sinks) == 0


@pytest.mark.parametrize("method", ["register_backend", "register_node_handler", "register_event_sink"])
def test_execution_factories_must_be_callable(method: str) -> None:
    registry = as_plugin(ExecutionRegistry(), "k8s")
    with pytest.raises(
        PluginError, match=r"plugin 'k8s' registered .*'thing'.* factory that is not callable"
    ):
        getattr(registry, method)("thing", "not a factory")


# --- CLI commands ------------------------------------------------------------------------------


@click.command(name="hello")
def hello_command() -> None:
    """Say hello."""


def test_cli_registry_accepts_click_commands_and_groups() -> None:
    registry = as_plugin(CliCommandRegistry(), "greeter")
    registry.register(hello_command)
    group = click.Group(name="spark")
    registry.register(group)
    assert registry["hello"] is hello_command and registry["spark"] is group
    assert registry.by_owner("greeter") == ["hello", "spark"]


@pytest.mark.parametrize("bad", [lambda: None, "hello", object()])
def test_cli_registry_rejects_what_is_not_a_click_command(bad: Any) -> None:
    registry = as_plugin(CliCommandRegistry(), "greeter")
    with pytest.raises(PluginError, match="plugin 'greeter' registered .*, which is not a click command"):
        registry.register(bad)


def test_cli_command_name_clash_names_both_plugins() -> None:
    registry = as_plugin(CliCommandRegistry(), "greeter")
    registry.register(hello_command)
    with pytest.raises(
        PluginError,
        match="CLI command 'hello' is registered twice: by plugin 'greeter' and by plugin 'other'",
    ):
        as_plugin(registry, "other").register(click.Command(name="hello"))
