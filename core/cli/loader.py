"""Loading user code for the CLI: ``path/to/file.py:entity`` or ``package.module:entity``."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from flytecore.errors import FlyteCoreError


class LoadError(FlyteCoreError):
    """User code could not be loaded: a missing file, a syntax error, an import error."""


def load_module(target: str) -> ModuleType:
    """Import a Python file (by path) or a module (by dotted name).

    A file is imported under its stem as module name, with its folder put first on ``sys.path``
    so that sibling imports work as they do with ``python file.py``.
    """
    path = Path(target)
    try:
        if target.endswith(".py") or path.exists():
            if not path.is_file():
                raise LoadError(f"{target}: no such file")
            folder = str(path.resolve().parent)
            if folder not in sys.path:
                sys.path.insert(0, folder)
            name = path.stem
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            return module
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        return importlib.import_module(target)
    except LoadError:
        raise
    except Exception as exc:
        raise _load_error(exc, target, path) from exc


def _load_error(exc: Exception, target: str, path: Path) -> LoadError:
    """What went wrong while importing ``target`` (a file at ``path``), as one message."""
    if isinstance(exc, SyntaxError):
        return LoadError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}")
    if isinstance(exc, FlyteCoreError):
        return LoadError(f"{target}: {exc}")
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f"{f.filename}:{f.lineno}" for f in reversed(frames) if str(path.name) in f.filename), target)
    return LoadError(f"{where}: loading failed: {type(exc).__name__}: {exc}")


def load_module_from_root(path: Path, root: Path) -> ModuleType:
    """Import the file at ``path`` as the module its place below ``root`` names
    (``root/pkg/mod.py`` -> ``pkg.mod``), with ``root`` first on ``sys.path``: the name a task
    container imports it by once the code archive of ``root`` is unpacked.

    A module of that name already imported from another file is imported afresh.
    """
    path, root = path.resolve(), root.resolve()
    name = module_name_in_root(path, root)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    known = sys.modules.get(name)
    if known is not None:
        known_file = getattr(known, "__file__", None)
        if known_file and Path(known_file).resolve() == path:
            return known
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[loaded]
    importlib.invalidate_caches()
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise _load_error(exc, str(path), path) from exc


def module_name_in_root(path: Path, root: Path) -> str:
    """``pkg.mod`` for ``root/pkg/mod.py``; ``pkg`` for ``root/pkg/__init__.py``."""
    parts = list(path.resolve().relative_to(root.resolve()).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(part.isidentifier() for part in parts):
        raise LoadError(f"{path}: {'.'.join(parts) or '(empty)'} is not an importable module name below {root}")
    return ".".join(parts)


def load_entity(spec: str, default_name: str | None = None) -> Any:
    """``file.py:name`` -> the object ``name`` of that file."""
    module_part, sep, name = spec.rpartition(":")
    if not sep:
        module_part, name = spec, default_name or ""
    if not name:
        raise LoadError(f"{spec}: say which entity, e.g. {spec}:my_wf")
    module = load_module(module_part)
    try:
        return getattr(module, name)
    except AttributeError:
        found = sorted(k for k, v in vars(module).items() if hasattr(v, "python_interface"))
        raise LoadError(
            f"{module_part} has no {name!r}; tasks, workflows and launch plans there: {', '.join(found) or 'none'}"
        ) from None
