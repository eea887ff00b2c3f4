"""What a compiler pass is, and a decorator that makes one from a function."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from flytecore.compiler.context import CompileContext

__all__ = ["CompilerPass", "FunctionPass", "compiler_pass"]


@runtime_checkable
class CompilerPass(Protocol):
    """A pass: a unique ``name``, an ``order`` (lower runs first; the core passes use 100-900)
    and ``run(context)``, which reads and extends the :class:`CompileContext` and reports
    problems with ``context.error(...)``. A pass that raises is reported as a
    ``WorkflowBuildError`` naming it; the other passes still run."""

    @property
    def name(self) -> str: ...

    @property
    def order(self) -> int: ...

    def run(self, context: CompileContext) -> None: ...


@attrs.define(frozen=True, slots=True)
class FunctionPass:
    """A pass made from a function (see :func:`compiler_pass`)."""

    name: str
    order: int
    function: Callable[[CompileContext], None] = attrs.field(repr=False)
    description: str = ""

    def run(self, context: CompileContext) -> None:
        """Run the function on ``context``."""
        self.function(context)


def compiler_pass(name: str, order: int) -> Callable[[Callable[[CompileContext], None]], FunctionPass]:
    """Make a compiler pass of a function, e.g. in a plugin::

    @compiler_pass("no-gpu-in-dev", order=950)
    def no_gpu_in_dev(ctx: CompileContext) -> None:
        ...

    @hookimpl
    def flytecore_register_compiler_passes(register):
        register.register(no_gpu_in_dev)
    """
    if not isinstance(order, int):
        raise TypeError(f"compiler pass {name!r}: order must be an int, got {order!r}")

    def wrap(function: Callable[[CompileContext], None]) -> FunctionPass:
        doc = (function.__doc__ or "").strip().splitlines()
        return FunctionPass(name, order, function, doc[0] if doc else "")

    return wrap
