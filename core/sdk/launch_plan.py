"""Launch plans: a workflow with default and fixed inputs, as flytekit's ``LaunchPlan``."""

from __future__ import annotations

from typing import Any, ClassVar

from flytecore.errors import AuthoringError, UserInputError
from flytecore.sdk.base import Entity, _engine
from flytecore.sdk.interface import Interface
from flytecore.sdk.workflow import PythonFunctionWorkflow
from flytecore.spec.identifiers import ResourceType
from flytecore.spec.interface import Parameter, TypedInterface
from flytecore.spec.launch_plan import LaunchPlan as SpecLaunchPlan
from flytecore.spec.launch_plan import LaunchPlanSpec, RawOutputDataConfig
from flytecore.spec.literals import Literal, LiteralMap
from flytecore.spec.workflow import LaunchPlanTemplate, WorkflowNode

__all__ = ["LaunchPlan"]


class LaunchPlan(Entity):
    """A named way to launch a workflow: inputs a caller may override (``default_inputs``) and
    inputs nobody can change (``fixed_inputs``). Every workflow has a default launch plan of the
    same name."""

    resource_type = ResourceType.LAUNCH_PLAN
    kind = "launch plan"
    _CACHE: ClassVar[dict[str, LaunchPlan]] = {}

    def __init__(
        self,
        name: str,
        workflow: PythonFunctionWorkflow,
        default_inputs: dict[str, Any] | None = None,
        fixed_inputs: dict[str, Any] | None = None,
        max_parallelism: int | None = None,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        raw_output_data_config: str | None = None,
    ) -> None:
        if not isinstance(workflow, PythonFunctionWorkflow):
            raise AuthoringError(f"launch plan {name!r}: expected a @workflow, got {workflow!r}")
        wf_inputs = workflow.python_interface.inputs
        default_inputs, fixed_inputs = dict(default_inputs or {}), dict(fixed_inputs or {})
        for what, given in (("default_inputs", default_inputs), ("fixed_inputs", fixed_inputs)):
            unknown = sorted(set(given) - set(wf_inputs))
            if unknown:
                raise UserInputError(
                    f"launch plan {name!r}: {what} names unknown input(s) {', '.join(map(repr, unknown))} of "
                    f"workflow {workflow.name!r}; its inputs are: {workflow.python_interface.describe_inputs()}"
                )
        both = sorted(set(default_inputs) & set(fixed_inputs))
        if both:
            raise UserInputError(f"launch plan {name!r}: input(s) {', '.join(both)} are both default and fixed")
        self.workflow = workflow
        self.default_inputs = default_inputs
        self.fixed_inputs = fixed_inputs
        self.max_parallelism = max_parallelism
        self.labels = dict(labels or {})
        self.annotations = dict(annotations or {})
        self.raw_output_data_config = raw_output_data_config
        inputs = {
            n: (t, default_inputs.get(n, d)) for n, (t, d) in wf_inputs.items() if n not in fixed_inputs
        }
        super().__init__(
            name,
            Interface(
                inputs=inputs,
                outputs=workflow.python_interface.outputs,
                output_tuple=workflow.python_interface.output_tuple,
            ),
        )
        # Fixed values are checked now so a wrong one fails where it is declared.
        self._fixed_literals = {n: self._to_literal(n, v, wf_inputs[n][0]) for n, v in fixed_inputs.items()}

    def _key(self) -> tuple[Any, ...]:
        return (
            self.workflow,
            repr(sorted(self.default_inputs.items())),
            repr(sorted(self.fixed_inputs.items())),
            self.max_parallelism,
            repr(sorted(self.labels.items())),
            repr(sorted(self.annotations.items())),
            self.raw_output_data_config,
        )

    @classmethod
    def get_or_create(
        cls, workflow: PythonFunctionWorkflow, name: str | None = None, **kwargs: Any
    ) -> LaunchPlan:
        """The launch plan ``name`` of ``workflow``, created on first call. Without a name, the
        workflow's default launch plan. The same name with different settings is an error."""
        if name is None:
            if any(v for v in kwargs.values()):
                raise AuthoringError(
                    f"LaunchPlan.get_or_create({workflow.name}): only a named launch plan can have "
                    f"{', '.join(k for k, v in kwargs.items() if v)}; pass name=..."
                )
            name = workflow.name
        candidate = cls(name, workflow, **kwargs)
        existing = cls._CACHE.get(name)
        if existing is not None:
            if existing._key() != candidate._key():
                raise AuthoringError(
                    f"launch plan {name!r} already exists with different settings; use another name"
                )
            return existing
        cls._CACHE[name] = candidate
        return candidate

    @classmethod
    def create(cls, name: str, workflow: PythonFunctionWorkflow, **kwargs: Any) -> LaunchPlan:
        """Create launch plan ``name`` (replacing a cached one of that name), as flytekit's."""
        lp = cls(name, workflow, **kwargs)
        cls._CACHE[name] = lp
        return lp

    @classmethod
    def get_default_launch_plan(cls, *args: Any) -> LaunchPlan:
        """The default launch plan of a workflow: ``get_default_launch_plan(wf)`` or, as in
        flytekit, ``get_default_launch_plan(ctx, wf)``."""
        if not args or len(args) > 2:
            raise AuthoringError("LaunchPlan.get_default_launch_plan expects (workflow) or (context, workflow)")
        return cls.get_or_create(args[-1])

    # --- calling --------------------------------------------------------------------------------

    def _node_target(self, node_id: str) -> dict[str, Any]:
        return {"workflow_node": WorkflowNode(launchplan_ref=self.id)}

    def local_execute(self, inputs: dict[str, Literal]) -> dict[str, Literal]:
        return self.workflow.local_execute({**inputs, **self._fixed_literals})

    # --- registration ---------------------------------------------------------------------------

    def register_into(self, bundle: Any) -> None:
        bundle.add_launch_plan(self)

    def typed_interface(self) -> TypedInterface:
        """The launch plan's interface: the workflow's, without fixed inputs."""
        full = self.workflow.python_interface.to_typed_interface(_engine())
        return TypedInterface(
            inputs={n: v for n, v in full.inputs.items() if n not in self.fixed_inputs}, outputs=full.outputs
        )

    def to_launch_plan_template(self, settings: Any) -> LaunchPlanTemplate:
        """What a workflow node referencing this launch plan needs."""
        return LaunchPlanTemplate(
            id=settings.identify(self.id),
            interface=self.typed_interface(),
            fixed_inputs=LiteralMap(literals=self._fixed_literals),
        )

    def to_spec(self, settings: Any) -> SpecLaunchPlan:
        """The launch plan as registered."""
        engine = _engine()
        typed = self.typed_interface()
        params = {}
        for n, (t, default) in self.python_interface.inputs.items():
            if default is _empty():
                params[n] = Parameter(var=typed.inputs[n], required=True)
            else:
                params[n] = Parameter(var=typed.inputs[n], default=engine.to_literal(default, t))
        return SpecLaunchPlan(
            id=settings.identify(self.id),
            spec=LaunchPlanSpec(
                workflow_id=settings.identify(self.workflow.id),
                default_inputs=params,
                fixed_inputs=LiteralMap(literals=self._fixed_literals),
                labels=self.labels,
                annotations=self.annotations,
                max_parallelism=self.max_parallelism or 0,
                raw_output_data_config=(
                    RawOutputDataConfig(output_location_prefix=self.raw_output_data_config)
                    if self.raw_output_data_config
                    else None
                ),
            ),
        )


def _empty() -> Any:
    import inspect

    return inspect.Parameter.empty
