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
    except SyntaxError as exc:
        raise LoadError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from exc
    except FlyteCoreError as exc:
        raise LoadError(f"{target}: {exc}") from exc
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = next((f"{f.filename}:{f.lineno}" for f in reversed(frames) if str(path.name) in f.filename), target)
        raise LoadError(f"{where}: loading failed: {type(exc).__name__}: {exc}") from exc


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
