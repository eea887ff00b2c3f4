"""``map_task``: run a task once per element of list inputs (an array node)."""

from __future__ import annotations

import functools
import typing
from typing import Any

from flytecore.errors import AuthoringError, TaskExecutionError
from flytecore.sdk.base import Entity, _engine
from flytecore.sdk.interface import Interface
from flytecore.sdk.task import PythonFunctionTask
from flytecore.spec.literals import Literal, Scalar, Void
from flytecore.spec.workflow import ArrayNode, Node, TaskNode

__all__ = ["MapTask", "map_task"]


class MapTask(Entity):
    """A task mapped over list inputs. Inputs fixed with ``functools.partial`` are passed whole
    to every element (``bound_inputs``)."""

    kind = "map task"

    def __init__(
        self,
        target: PythonFunctionTask | functools.partial[Any],
        *,
        concurrency: int | None = None,
        min_success_ratio: float | None = None,
    ) -> None:
        bound: dict[str, Any] = {}
        if isinstance(target, functools.partial):
            if target.args:
                raise AuthoringError("map_task: functools.partial must bind inputs by name, e.g. partial(t, b=3)")
            bound = dict(target.keywords)
            target = target.func
        if not isinstance(target, PythonFunctionTask):
            raise AuthoringError(f"map_task expects a @task (or a functools.partial of one), got {target!r}")
        unknown = set(bound) - set(target.python_interface.inputs)
        if unknown:
            raise AuthoringError(f"map_task({target.name}): partial binds unknown input(s) {', '.join(sorted(unknown))}")
        if min_success_ratio is not None and not 0 <= min_success_ratio <= 1:
            raise AuthoringError(f"map_task({target.name}): min_success_ratio must be within [0, 1], got {min_success_ratio}")
        if concurrency is not None and concurrency < 0:
            raise AuthoringError(f"map_task({target.name}): concurrency must be >= 0, got {concurrency}")
        self.task = target
        self.bound = bound
        self.concurrency = concurrency
        self.min_success_ratio = min_success_ratio
        allow_failures = min_success_ratio is not None and min_success_ratio < 1
        inner = target.python_interface
        # Mapped inputs become required lists; bound inputs keep their type with the partial's
        # value as default.
        inputs = {
            n: ((t, bound[n]) if n in bound else (list[t], _empty()))  # type: ignore[valid-type]
            for n, (t, _default) in inner.inputs.items()
        }
        outputs = {
            n: list[t | None] if allow_failures else list[t]  # type: ignore[valid-type]
            for n, t in inner.outputs.items()
        }
        super().__init__(f"{target.name}_mapped", Interface(inputs=inputs, outputs=outputs))

    @property
    def mapped_inputs(self) -> list[str]:
        """Inputs that are lists, one element per run."""
        return [n for n in self.task.python_interface.inputs if n not in self.bound]

    def _node_target(self, node_id: str) -> dict[str, Any]:
        array = ArrayNode(
            node=Node(id=f"{node_id}-sub", task_node=TaskNode(reference_id=self.task.id)),
            parallelism=self.concurrency,
            min_success_ratio=self.min_success_ratio,
            bound_inputs=tuple(sorted(self.bound)),
            # The sub-node is the element task itself (flytekit's maps point at a task whose
            # interface is already lifted to lists, and say False).
            is_original_sub_node_interface=True,
        )
        return {"array_node": array}


    def local_execute(self, inputs: dict[str, Literal]) -> dict[str, Literal]:
        mapped = self.mapped_inputs
        lengths = {n: len(inputs[n].collection or ()) for n in mapped}
        if len(set(lengths.values())) > 1:
            raise AuthoringError(
                f"map task {self.name!r}: list inputs differ in length: "
                + ", ".join(f"{n}={k}" for n, k in lengths.items())
            )
        size = next(iter(lengths.values()), 0)
        outputs: dict[str, list[Literal]] = {n: [] for n in self.python_interface.outputs}
        failures: list[TaskExecutionError] = []
        for i in range(size):
            element = {n: (inputs[n].collection or ())[i] for n in mapped}
            element.update({n: inputs[n] for n in self.bound})
            try:
                result = self.task.local_execute(element)
            except TaskExecutionError as exc:
                if self.min_success_ratio is None or self.min_success_ratio >= 1:
                    raise
                failures.append(exc)
                result = {n: Literal(scalar=Scalar(none_type=Void())) for n in outputs}
            for n in outputs:
                outputs[n].append(_as_optional(result[n], self.task.python_interface.outputs[n]) if self._optional else result[n])
        if size and failures and (size - len(failures)) / size < (self.min_success_ratio or 0):
            raise AuthoringError(
                f"map task {self.name!r}: {len(failures)} of {size} elements failed, more than "
                f"min_success_ratio={self.min_success_ratio} allows; first failure:\n{failures[0]}"
            )
        return {n: Literal(collection=tuple(v)) for n, v in outputs.items()}

    @property
    def _optional(self) -> bool:
        return self.min_success_ratio is not None and self.min_success_ratio < 1

    def register_into(self, bundle: Any) -> None:
        bundle.add_task(self.task)


def _as_optional(literal: Literal, py_type: Any) -> Literal:
    # Elements of list[Optional[T]] are union literals; re-type through the engine.
    engine = _engine()
    if literal.scalar is not None and literal.scalar.none_type is not None:
        return engine.to_literal(None, typing.Optional[py_type])  # noqa: UP045 - built at run time
    return engine.to_literal(engine.to_python_value(literal, py_type), typing.Optional[py_type])  # noqa: UP045 - built at run time


def _empty() -> Any:
    import inspect

    return inspect.Parameter.empty


def map_task(
    target: PythonFunctionTask | functools.partial[Any],
    concurrency: int | None = None,
    min_success_ratio: float | None = None,
    **kwargs: Any,
) -> MapTask:
    """Map ``target`` over list inputs, as flytekit's ``map_task``.

    :param concurrency: how many elements run at once (None: no limit).
    :param min_success_ratio: the share of elements that must succeed; below 1, failed
        elements give None outputs.
    """
    if kwargs:
        raise AuthoringError(f"map_task: unsupported option(s) {', '.join(sorted(kwargs))}")
    return MapTask(target, concurrency=concurrency, min_success_ratio=min_success_ratio)
