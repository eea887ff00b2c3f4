"""Task resolvers: how a task container finds the task object it runs.

A registered task's container arguments end with ``--resolver R -- <loader args>``
(:meth:`flytecore.sdk.serialize.SerializationSettings.entrypoint_args`). The ``flytecore-execute``
entrypoint imports the resolver ``R`` (a dotted path to an object, or to a class it instantiates)
and calls ``R.load_task(loader_args)``; at registration, ``R.loader_args(task)`` produced those
arguments. This is flytekit's ``TaskResolverMixin`` contract, kept so that a plugin can ship its
own resolver (e.g. for tasks built from configuration rather than defined in a module).

:data:`default` resolves ``task-module M task-name N``: import module ``M``, then follow the
attribute path ``N`` (``my_task`` or ``Namespace.my_task``).

Map tasks need no resolver of their own. An array node's sub-node references the mapped task
itself (for ``map_task(functools.partial(t, b=3))`` that is ``t``; the partial's values become
bindings of the array node, listed in ``ArrayNode.bound_inputs``), and the engine hands each
element its own ``inputs.pb`` with the element's values and the bound values. So every element
runs the plain task through :data:`default`, exactly like a task node. (flytekit needs a
``MapTaskResolver`` because its array sub-node runs a wrapper task that picks its element out of
the whole list by an array index; here the engine does that before the container starts.)
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from flytecore.errors import TaskResolutionError

__all__ = ["DEFAULT_RESOLVER", "DefaultTaskResolver", "TaskResolver", "default", "load_resolver", "task_location"]

DEFAULT_RESOLVER = "flytecore.sdk.resolver.default"
"""The ``--resolver`` value of tasks defined in a module (what serialization emits)."""


@runtime_checkable
class TaskResolver(Protocol):
    """Loads a task from the arguments it produced for it at registration."""

    location: str
    """The dotted path the entrypoint imports this resolver by (``--resolver``)."""

    def load_task(self, loader_args: Sequence[str]) -> Any:
        """The task object for ``loader_args``; raises :class:`TaskResolutionError`."""
        ...

    def loader_args(self, task: Any) -> list[str]:
        """The arguments :meth:`load_task` needs to find ``task`` again in a task container."""
        ...


class DefaultTaskResolver:
    """Resolves tasks defined at module level: ``task-module M task-name N``."""

    location = DEFAULT_RESOLVER

    def __repr__(self) -> str:
        return f"<task resolver {self.location}>"

    def loader_args(self, task: Any) -> list[str]:
        """``["task-module", M, "task-name", N]`` for ``task`` (see :func:`task_location`)."""
        module, attribute = task_location(task)
        return ["task-module", module, "task-name", attribute]

    def load_task(self, loader_args: Sequence[str]) -> Any:
        """Import ``task-module`` and follow ``task-name`` to the task object.

        :raises TaskResolutionError: the arguments are malformed, the module cannot be imported
            (the message says where Python looked) or has no such attribute, or the attribute
            is not a task.
        """
        values = _named_args(loader_args, ("task-module", "task-name"), self.location)
        module_name, attribute = values["task-module"], values["task-name"]
        where = f"task-module {module_name} task-name {attribute}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing != module_name and not module_name.startswith(missing + "."):
                # The module exists but imports something that does not: say what.
                raise TaskResolutionError(f"{where}: importing {module_name!r} failed: {exc}") from exc
            roots = ", ".join(p or "." for p in sys.path[:6])
            raise TaskResolutionError(
                f"{where}: no module named {module_name!r} on sys.path ({roots}, ...); run the "
                "container in the folder that holds the code, or pass --code-uri"
            ) from exc
        except Exception as exc:
            raise TaskResolutionError(
                f"{where}: importing {module_name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        obj: Any = module
        for part in attribute.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                from flytecore.sdk.task import PythonFunctionTask

                found = sorted(k for k, v in vars(module).items() if isinstance(v, PythonFunctionTask))
                raise TaskResolutionError(
                    f"{where}: module {module_name!r} ({getattr(module, '__file__', '?')}) has no "
                    f"{attribute!r}; its tasks: {', '.join(found) or 'none'}"
                ) from None
        from flytecore.sdk.task import PythonFunctionTask

        if not isinstance(obj, PythonFunctionTask):
            raise TaskResolutionError(f"{where}: {module_name}.{attribute} is a {type(obj).__name__}, not a task")
        return obj


default = DefaultTaskResolver()
"""The resolver of tasks defined at module level (``--resolver flytecore.sdk.resolver.default``)."""


def load_resolver(location: str) -> TaskResolver:
    """Import the resolver at ``location`` (``package.module.attribute``); a class is
    instantiated without arguments.

    :raises TaskResolutionError: it cannot be imported or has no ``load_task``.
    """
    module_name, _, attribute = location.rpartition(".")
    if not module_name:
        raise TaskResolutionError(f"--resolver {location!r}: expected a dotted path like {DEFAULT_RESOLVER}")
    try:
        obj: Any = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise TaskResolutionError(f"--resolver {location!r} cannot be imported: {exc}") from exc
    if isinstance(obj, type):
        obj = obj()
    if not callable(getattr(obj, "load_task", None)):
        raise TaskResolutionError(f"--resolver {location!r} is a {type(obj).__name__} without load_task(loader_args)")
    resolver: TaskResolver = obj
    return resolver


def task_location(task: Any) -> tuple[str, str]:
    """(module, attribute path) under which a task container can import ``task``.

    The module is the one the task's function was defined in; a script run as ``__main__`` is
    named after its file (as ``flytecore run file.py`` imports it), relative to the ``sys.path``
    entry that holds it. The attribute is the function's qualified name, or the module variable
    that holds the task when that differs (``t = task(fn)``). Tasks defined inside a function
    cannot be imported; they keep their function name, and loading them fails with a clear error.
    """
    fn = getattr(task, "fn", task)
    module_name: str = getattr(fn, "__module__", None) or task.name.rpartition(".")[0]
    qualname: str = getattr(fn, "__qualname__", None) or task.name.rpartition(".")[2]
    if module_name == "__main__":
        module_name = _main_module_name() or module_name
    if "<locals>" in qualname:
        return module_name, getattr(fn, "__name__", qualname)
    module = sys.modules.get(getattr(fn, "__module__", ""))
    if module is not None and _follow(module, qualname) is not task:
        holder = next((k for k, v in vars(module).items() if v is task), None)
        if holder is not None:
            return module_name, holder
    return module_name, qualname


def _follow(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, None)
    return obj


def _main_module_name() -> str | None:
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main_file:
        return None
    path = Path(main_file).resolve()
    best: Path | None = None
    for entry in sys.path:
        root = Path(entry or os.getcwd()).resolve()
        if root in path.parents and (best is None or len(root.parts) > len(best.parts)):
            best = root
    relative = path.relative_to(best) if best is not None else Path(path.name)
    return ".".join(relative.with_suffix("").parts)


def _named_args(args: Sequence[str], names: tuple[str, ...], resolver: str) -> dict[str, str]:
    """``["task-module", "m", "task-name", "t"]`` -> ``{"task-module": "m", "task-name": "t"}``."""
    given = list(args)
    if len(given) % 2:
        raise TaskResolutionError(f"resolver {resolver}: loader arguments come in name/value pairs, got {given}")
    values = dict(zip(given[::2], given[1::2], strict=True))
    missing = [n for n in names if not values.get(n)]
    unknown = sorted(set(values) - set(names))
    if missing or unknown:
        raise TaskResolutionError(
            f"resolver {resolver}: expected loader arguments {' '.join(f'{n} <{n[5:]}>' for n in names)}, "
            f"got {' '.join(given) or 'none'}"
        )
    return values
