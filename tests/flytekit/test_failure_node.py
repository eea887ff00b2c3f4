"""flytekit's failure node against flytecore: a workflow serialized by flytekit with
``on_failure`` compiles (its ``err`` is bound to ``None`` there), the ``err`` the propeller gives
that node reads as flytekit's ``FlyteError``, and error literals read the same both ways."""

from __future__ import annotations

import typing
from collections import OrderedDict

from flytekit import task, workflow
from flytekit.configuration import ImageConfig, SerializationSettings
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.type_engine import TypeEngine
from flytekit.models.literals import Literal as FlytekitLiteral
from flytekit.tools.translator import get_serializable
from flytekit.types.error import FlyteError as FlytekitError

from flytecore.compiler import compile_workflow
from flytecore.propeller.bindings import resolve_bindings
from flytecore.propeller.executable import Closure
from flytecore.propeller.failure_node import error_input_type, with_error_input
from flytecore.sdk.type_engine import get_type_engine
from flytecore.sdk.types import FlyteError
from flytecore.spec import idl
from flytecore.spec.literals import LiteralMap
from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.workflow import WorkflowTemplate


@task
def t1(a: int) -> int:
    if a > 0:
        raise ValueError("Fail!")
    return a


@task
def clean_up(name: str, a: int, err: typing.Optional[FlytekitError] = None) -> None:  # noqa: UP045
    print(name, a, err)


@workflow(on_failure=clean_up)
def wf(name: str = "cluster", a: int = 1) -> int:
    return t1(a=a)


def flytekit_closure() -> tuple[WorkflowTemplate, list[TaskTemplate]]:
    entities: OrderedDict = OrderedDict()  # type: ignore[type-arg]
    settings = SerializationSettings(
        image_config=ImageConfig.auto_default_image(), project="p", domain="d", version="v1"
    )
    spec = get_serializable(entities, settings, wf)
    tasks = [
        idl.from_idl(e.template.to_flyte_idl(), TaskTemplate)
        for e in entities.values()
        if type(getattr(e, "template", None)).__name__ == "TaskTemplate"
    ]
    return idl.from_idl(spec.template.to_flyte_idl(), WorkflowTemplate), tasks


def test_flytekit_failure_node_compiles_and_gets_the_error_it_expects() -> None:
    template, tasks = flytekit_closure()
    failure_node = template.failure_node
    assert failure_node is not None and failure_node.id == "fn0"
    # flytekit binds err to its default (None); the propeller replaces it.
    assert {b.var for b in failure_node.inputs} == {"name", "a", "err"}
    closure = compile_workflow(template, tasks=tasks)
    assert closure.primary.connections.upstream["fn0"] == ("start-node",)

    declared = error_input_type(Closure(closure), failure_node)
    assert declared is not None
    node = with_error_input(failure_node, declared, "n0", "task t1 failed: ValueError: Fail!")
    engine = get_type_engine()
    workflow_inputs = LiteralMap(
        literals={"name": engine.to_literal("c", str), "a": engine.to_literal(1, int)}
    )
    inputs = resolve_bindings(node.inputs, lambda n: workflow_inputs)
    ctx = FlyteContextManager.current_context()
    err = TypeEngine.to_python_value(
        ctx,
        FlytekitLiteral.from_flyte_idl(idl.to_idl(inputs.literals["err"])),
        typing.Optional[FlytekitError],  # noqa: UP045
    )
    assert err == FlytekitError(message="task t1 failed: ValueError: Fail!", failed_node_id="n0")


def test_error_literals_read_the_same_in_both_type_engines() -> None:
    ctx = FlyteContextManager.current_context()
    engine = get_type_engine()
    optional_fk = typing.Optional[FlytekitError]  # noqa: UP045
    ours = engine.to_literal(FlyteError(message="boom", failed_node_id="n1"), FlyteError | None)
    assert TypeEngine.to_python_value(
        ctx, FlytekitLiteral.from_flyte_idl(idl.to_idl(ours)), optional_fk
    ) == FlytekitError(message="boom", failed_node_id="n1")
    theirs = TypeEngine.to_literal(
        ctx,
        FlytekitError(message="m", failed_node_id="n9"),
        optional_fk,
        TypeEngine.to_literal_type(optional_fk),
    )
    assert engine.to_python_value(idl.from_idl(theirs.to_flyte_idl()), FlyteError | None) == FlyteError(
        message="m", failed_node_id="n9"
    )
    assert engine.to_literal_type(FlyteError | None) == idl.from_idl(
        TypeEngine.to_literal_type(optional_fk).to_flyte_idl()
    )
