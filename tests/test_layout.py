"""The layout rules of DESIGN.md: every package is packaged, and floors import only downwards."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core"

# floor -> flytecore packages it must not import (DESIGN.md, "Which part may import which")
FORBIDDEN = {
    "spec": {"sdk", "compiler", "plugin", "admin", "propeller", "cli", "testing"},
    "plugin": {"sdk", "compiler", "admin", "propeller", "cli"},
    "compiler": {"sdk", "admin", "propeller", "cli"},
    "sdk": {"admin", "propeller"},
    "admin": {"propeller"},
    "propeller": {"admin"},
}
# Built-in plugins are registered through hooks and may reach the parts they plug in, lazily.
ALLOWED_LAZY = {"plugin/builtin"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("flytecore."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("flytecore."):
                    found.add(alias.name.split(".")[1])
    return found


def test_every_package_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        "flytecore" + ("." + ".".join(p.parent.relative_to(CORE).parts) if p.parent != CORE else "")
        for p in CORE.rglob("__init__.py")
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == set(), "these are listed but do not exist"


@pytest.mark.parametrize("floor", sorted(FORBIDDEN))
def test_floors_import_only_downwards(floor: str) -> None:
    offenders = []
    for path in sorted((CORE / floor).rglob("*.py")):
        rel = path.relative_to(CORE).as_posix()
        if any(rel.startswith(prefix) for prefix in ALLOWED_LAZY):
            continue
        bad = _imports(path) & FORBIDDEN[floor]
        if bad:
            offenders.append(f"{rel} imports flytecore.{', flytecore.'.join(sorted(bad))}")
    assert offenders == []


def test_public_api_is_exactly_all() -> None:
    import flytecore

    required = {
        "task", "workflow", "dynamic", "map_task", "conditional", "LaunchPlan", "current_context",
        "Resources", "FlyteFile", "FlyteDirectory", "kwtypes",
    }  # fmt: skip
    assert required <= set(flytecore.__all__)
    assert all(hasattr(flytecore, name) for name in flytecore.__all__)
