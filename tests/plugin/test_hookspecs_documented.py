"""Every hook is documented: in its spec (docstring, ``:param:`` lines, type annotations) and in
``docs/plugins.md`` (a ``## <hook name>`` section with its signature and an example that works).

Like datasette's ``tests/test_docs.py``: adding a hook without documenting it fails here.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import flytecore.plugin.registry
from flytecore.plugin import PluginHost, hookspecs, make_plugin_host
from flytecore.plugin._markers import PROJECT_NAME

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"

HOOKS: list[Callable[..., Any]] = [
    function
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("flytecore_") and function.__module__ == hookspecs.__name__
]
HOOK_NAMES = [hook.__name__ for hook in HOOKS]


def docs_sections() -> dict[str, str]:
    """``## heading`` -> the text up to the next ``## `` heading."""
    parts = re.split(r"^## (.+)$", DOCS.read_text(), flags=re.MULTILINE)
    return {heading.strip(): body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


def signature_text(hook: Callable[..., Any]) -> str:
    """``name(param: Annotation, ...) -> Return`` as written in the spec (annotations are
    strings under ``from __future__ import annotations``)."""
    parameters = inspect.signature(hook).parameters.values()
    params = ", ".join(f"{p.name}: {p.annotation}" for p in parameters)
    return f"{hook.__name__}({params}) -> {inspect.signature(hook).return_annotation}"


def test_the_hooks_are_found() -> None:
    # Guards the walk below: a broken filter would make every other test here pass vacuously.
    assert "flytecore_register_task_types" in HOOK_NAMES
    assert len(HOOKS) >= 7


@pytest.mark.parametrize("hook", HOOKS, ids=HOOK_NAMES)
def test_hook_is_a_registered_spec(hook: Callable[..., Any]) -> None:
    assert getattr(hook, f"{PROJECT_NAME}_spec", None) is not None, f"{hook.__name__} is not marked @hookspec"
    caller = getattr(make_plugin_host(entry_points=False).pm.hook, hook.__name__, None)
    assert caller is not None and caller.has_spec(), f"{hook.__name__} is not added to the plugin manager"


@pytest.mark.parametrize("hook", HOOKS, ids=HOOK_NAMES)
def test_hook_docstring_documents_every_parameter(hook: Callable[..., Any]) -> None:
    doc = inspect.getdoc(hook)
    assert doc, f"{hook.__name__} has no docstring"
    assert doc.splitlines()[0].strip(), f"{hook.__name__}: the docstring starts with a blank line"
    parameters = list(inspect.signature(hook).parameters)
    documented = re.findall(r"^:param (\w+):", doc, flags=re.MULTILINE)
    assert documented == parameters, f"{hook.__name__}: :param: lines {documented} != parameters {parameters}"
    assert "called" in doc.lower(), f"{hook.__name__}: the docstring does not say when it is called"


@pytest.mark.parametrize("hook", HOOKS, ids=HOOK_NAMES)
def test_hook_result_rule_matches_its_spec(hook: Callable[..., Any]) -> None:
    firstresult = getattr(hook, f"{PROJECT_NAME}_spec")["firstresult"]
    says_firstresult = "firstresult" in (inspect.getdoc(hook) or "")
    assert firstresult == says_firstresult, (
        f"{hook.__name__}: firstresult={firstresult} but the docstring disagrees"
    )


@pytest.mark.parametrize("hook", HOOKS, ids=HOOK_NAMES)
def test_hook_is_fully_annotated_with_resolvable_types(hook: Callable[..., Any]) -> None:
    signature = inspect.signature(hook)
    for parameter in signature.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, (
            f"{hook.__name__}: {parameter.name} has no type"
        )
    assert signature.return_annotation is not inspect.Signature.empty, f"{hook.__name__} has no return type"
    # The registry types are imported under TYPE_CHECKING only; resolve against their module.
    hints = typing.get_type_hints(hook, localns=vars(flytecore.plugin.registry))
    assert set(hints) == {*signature.parameters, "return"}


@pytest.mark.parametrize("hook", HOOKS, ids=HOOK_NAMES)
def test_hook_has_a_section_in_docs_with_its_signature(hook: Callable[..., Any]) -> None:
    sections = docs_sections()
    assert hook.__name__ in sections, f"docs/plugins.md has no '## {hook.__name__}' section"
    body = sections[hook.__name__]
    assert signature_text(hook) in body, (
        f"docs/plugins.md: the section of {hook.__name__} lacks `{signature_text(hook)}`"
    )
    for marker in ("**Called:**", "**Result:**", "**Parameters:**", "**Example:**", "```python"):
        assert marker in body, f"docs/plugins.md: the section of {hook.__name__} lacks {marker}"
    for parameter in inspect.signature(hook).parameters:
        assert f"`{parameter}`" in body, (
            f"docs/plugins.md: the section of {hook.__name__} does not describe `{parameter}`"
        )


def test_docs_have_no_section_for_a_hook_that_does_not_exist() -> None:
    stale = [
        heading
        for heading in docs_sections()
        if heading.startswith("flytecore_") and heading not in HOOK_NAMES
    ]
    assert stale == []


def test_docs_cover_the_environment_variables_and_the_entry_point_group() -> None:
    text = DOCS.read_text()
    for needle in (
        '[project.entry-points."flytecore.plugins"]',
        "FLYTECORE_DISABLE_PLUGINS",
        "FLYTECORE_STRICT_PLUGINS",
        "stevedore",
    ):
        assert needle in text
    for builtin in ("core_types", "python_task", "local_storage", "core_compiler"):
        assert f"`{builtin}`" in docs_sections()["Built-in plugins"]


# --- the examples in the docs are plugins that work ---------------------------------------------------

FILLED_BY: dict[str, Callable[[PluginHost], list[str]]] = {
    "flytecore_register_type_transformers": lambda host: host.type_transformers.by_owner("example"),
    "flytecore_register_task_types": lambda host: host.task_types.by_owner("example"),
    "flytecore_register_storage": lambda host: host.storage.by_owner("example"),
    "flytecore_register_compiler_passes": lambda host: host.compiler_passes.by_owner("example"),
    "flytecore_register_execution": lambda host: [
        name
        for registry in (host.execution.backends, host.execution.node_handlers, host.execution.event_sinks)
        for name in registry.by_owner("example")
    ],
    "flytecore_register_cli_commands": lambda host: host.cli_commands.by_owner("example"),
    "flytecore_configure_converter": lambda host: [type(host.make_converter()).__name__],
}
"""How to make a host call each hook, and what the example plugin contributed through it."""


def test_every_hook_has_an_example_runner() -> None:
    assert sorted(FILLED_BY) == sorted(HOOK_NAMES)


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_docs_example_works_as_a_plugin(hook_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = docs_sections()[hook_name]
    code = body.split("```python\n", 1)[1].split("```", 1)[0]
    module = types.ModuleType(f"docs_example_{hook_name}")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # dataclass-like decorators look it up
    exec(compile(code, f"docs/plugins.md ({hook_name})", "exec"), module.__dict__)
    assert callable(getattr(module, hook_name, None)), f"the example of {hook_name} does not implement it"
    assert [name for name in vars(module) if name.startswith("flytecore_")] == [hook_name]
    # Strict: an example that raises or registers something invalid fails here. The built-ins
    # that import the type engine and the compiler are left out: the examples stand alone.
    host = make_plugin_host(
        entry_points=False,
        strict=True,
        disable=["core_types", "core_compiler"],
        extra_plugins=[("example", module)],
    )
    assert FILLED_BY[hook_name](host), f"the example of {hook_name} registered nothing"
