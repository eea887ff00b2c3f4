"""``@task``: a Python function as a Flyte task."""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from flytecore.errors import AuthoringError, TaskExecutionError, TypeTransformerError
from flytecore.sdk.base import Entity, _engine, describe_value, type_name, value_to_literal
from flytecore.sdk.context import ExecutionParameters, task_parameters, using_parameters
from flytecore.sdk.interface import single_output_value, transform_function_to_interface
from flytecore.sdk.resources import Resources, to_spec_resources
from flytecore.spec.identifiers import ResourceType
from flytecore.spec.literals import KeyValuePair, Literal, LiteralMap, RetryStrategy
from flytecore.spec.tasks import Container, RuntimeMetadata, RuntimeType, TaskMetadata, TaskTemplate
from flytecore.spec.workflow import TaskNode

if TYPE_CHECKING:  # flyteidl's messages are imported when a task container needs them
    from flyteidl.core import literals_pb2

F = TypeVar("F", bound=Callable[..., Any])

PYTHON_TASK = "python-task"


def entity_name(fn: Callable[..., Any]) -> str:
    """``module.function``: the name a function's task or workflow is registered under."""
    return f"{fn.__module__}.{fn.__qualname__}" if "<locals>" not in fn.__qualname__ else f"{fn.__module__}.{fn.__name__}"


class PythonFunctionTask(Entity):
    """A task whose body is a Python function (task type ``python-task`` or a plugin's type)."""

    resource_type = ResourceType.TASK
    kind = "task"

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        task_config: Any = None,
        cache: bool = False,
        cache_version: str = "",
        cache_serialize: bool = False,
        cache_ignore_input_vars: tuple[str, ...] = (),
        retries: int = 0,
        interruptible: bool | None = None,
        deprecated: str = "",
        timeout: _dt.timedelta | int | None = None,
        container_image: str | None = None,
        environment: dict[str, str] | None = None,
        requests: Resources | None = None,
        limits: Resources | None = None,
        pod_template_name: str = "",
        docs: Any = None,
        task_resolver: Any = None,
    ) -> None:
        name = name or entity_name(fn)
        super().__init__(name, transform_function_to_interface(fn, f"task {name!r}"))
        self.fn = fn
        self.task_config = task_config
        if isinstance(timeout, int) and not isinstance(timeout, bool):
            timeout = _dt.timedelta(seconds=timeout)
        if timeout is not None and not isinstance(timeout, _dt.timedelta):
            raise AuthoringError(f"task {name!r}: timeout must be seconds (int) or a timedelta, got {timeout!r}")
        if cache and not cache_version:
            # flytekit computes a version from the function source when none is given; so do we.
            import hashlib
            import inspect

            try:
                source = inspect.getsource(fn)
            except (OSError, TypeError):
                source = name
            cache_version = hashlib.sha256(source.encode()).hexdigest()[:16]
        if not isinstance(retries, int) or retries < 0:
            raise AuthoringError(f"task {name!r}: retries must be a non-negative int, got {retries!r}")
        self.metadata = TaskMetadata(
            discoverable=bool(cache),
            runtime=RuntimeMetadata(type=RuntimeType.FLYTE_SDK, version=_version(), flavor="python"),
            timeout=timeout,
            retries=RetryStrategy(retries=retries),
            discovery_version=cache_version,
            deprecated_error_message=deprecated,
            interruptible=interruptible,
            cache_serializable=cache_serialize,
            pod_template_name=pod_template_name,
            cache_ignore_input_vars=tuple(cache_ignore_input_vars),
        )
        self.container_image = container_image
        self.environment = dict(environment or {})
        self.resources = to_spec_resources(requests, limits)
        self.task_type = self._resolve_task_type()
        # How a task container finds this task (flytecore.sdk.resolver); None: the default one.
        self.task_resolver = task_resolver
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def _resolve_task_type(self) -> Any:
        from flytecore.plugin import get_host

        host = get_host()
        registry = host.task_types
        if self.task_config is None:
            return registry[PYTHON_TASK]
        task_type = registry.for_config(self.task_config)
        if task_type is None:
            known = ", ".join(sorted(registry)) or "none"
            raise AuthoringError(
                f"task {self.name!r}: no installed plugin handles task_config of type "
                f"{type(self.task_config).__qualname__}; installed task types: {known}. "
                + _missing_plugin_advice(type(self.task_config), host.plugins)
            )
        return task_type

    # --- tracing ------------------------------------------------------------------------------

    def _node_target(self, node_id: str) -> dict[str, Any]:
        return {"task_node": TaskNode(reference_id=self.id)}

    # --- local execution ------------------------------------------------------------------------

    def local_execute(self, inputs: dict[str, Literal]) -> dict[str, Literal]:
        return self.outputs_to_literals(self.run_body(self.inputs_to_python(inputs)))

    def inputs_to_python(self, inputs: dict[str, Literal]) -> dict[str, Any]:
        """Literal inputs as the body's Python arguments (inputs left out take the function's
        defaults); the error names the input that does not fit."""
        engine = _engine()
        values: dict[str, Any] = engine.python_from_literal_map(
            LiteralMap(literals=inputs), self.python_interface.input_types
        )
        return values

    def inputs_from_idl(self, literal_map: literals_pb2.LiteralMap) -> dict[str, Any] | None:
        """:meth:`inputs_to_python` for a flyteidl ``LiteralMap`` (an ``inputs.pb``) whose
        literals are all plain integers, floats, strings and booleans of inputs declared ``int``,
        ``float``, ``str`` and ``bool`` (see :meth:`TypeEngine.primitive_field`), read without
        spec models or the type engine's general path; None if any is not: convert the map to
        spec literals for :meth:`inputs_to_python` (which also says what does not fit). A
        subclass (or an instance) that overrides :meth:`inputs_to_python` always gets its own
        conversion."""
        if type(self).inputs_to_python is not PythonFunctionTask.inputs_to_python or "inputs_to_python" in vars(self):
            return None
        engine = _engine()
        declared = self.python_interface.inputs
        values: dict[str, Any] = {}
        for name, literal in literal_map.literals.items():
            input_spec = declared.get(name)
            if input_spec is None or literal.WhichOneof("value") != "scalar":
                return None
            field = engine.primitive_field(input_spec[0])
            scalar = literal.scalar
            if field is None or scalar.WhichOneof("value") != "primitive":
                return None
            primitive = scalar.primitive
            stored = primitive.WhichOneof("value")
            if stored == field:
                values[name] = getattr(primitive, field)
            elif stored == "integer" and field == "float_value":  # as FloatTransformer reads it
                values[name] = float(primitive.integer)
            else:
                return None
        return values

    def run_body(self, kwargs: dict[str, Any], parameters: ExecutionParameters | None = None) -> Any:
        """Run the body with Python arguments under the task type's context and ``parameters``
        (what ``current_context()`` returns; fresh local ones if None). An exception of the body
        comes out as :class:`TaskExecutionError` (see :meth:`execute`)."""
        scope = using_parameters(parameters) if parameters is not None else task_parameters(self.id)
        with scope, self._local_context():
            return self.execute(**kwargs)

    def execute(self, **kwargs: Any) -> Any:
        """Run the body with Python values; an exception is wrapped with the task name and the
        original traceback (the original is the ``__cause__``)."""
        try:
            runner = self.task_type.local_runner
            if runner is None:
                return self.fn(**kwargs)
            return runner(self.task_config, self, kwargs)
        except TaskExecutionError:
            raise
        except Exception as exc:
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None))
            raise TaskExecutionError(self.name, exc, tb) from exc

    def _local_context(self) -> contextlib.AbstractContextManager[Any]:
        if self.task_type.local_context is None:
            return contextlib.nullcontext()
        return self.task_type.local_context(self.task_config, self)  # type: ignore[no-any-return]

    def _output_values(self, result: Any) -> list[Any]:
        """The body's return value as one value per declared output, checking the count."""
        outputs = self.python_interface.outputs
        names = list(outputs)
        if not names:
            if result is not None and not _is_void(result):
                raise AuthoringError(
                    f"task {self.name!r} declares no outputs but returned {describe_value(result)}; "
                    "add a return type annotation"
                )
            return []
        if len(names) == 1:
            return [single_output_value(result, self.python_interface)]
        if not isinstance(result, tuple) or len(result) != len(names):
            raise AuthoringError(
                f"task {self.name!r} declares {len(names)} outputs ({', '.join(names)}) but returned "
                f"{describe_value(result)}"
            )
        return list(result)

    def outputs_to_literals(self, result: Any) -> dict[str, Literal]:
        """The body's return value as literals by output name, checking count and types."""
        outputs = self.python_interface.outputs
        names = list(outputs)
        values = self._output_values(result)
        engine = _engine()
        literals = {}
        for name, value in zip(names, values, strict=True):
            try:
                literals[name] = value_to_literal(engine, value, outputs[name])
            except TypeTransformerError as exc:
                message = f"task {self.name!r}, output {name!r}: expected {type_name(outputs[name])}, got {describe_value(value)}"
                detail = str(exc)
                # The engine's own "expected X, got Y" would only repeat the sentence.
                if detail and not detail.startswith("expected") and detail not in message:
                    message += f" ({detail})"
                raise TypeTransformerError(message) from exc
        return literals

    def outputs_to_idl(self, result: Any) -> literals_pb2.LiteralMap:
        """The body's return value as a flyteidl ``LiteralMap`` (an ``outputs.pb``): outputs
        declared ``int``, ``float``, ``str`` or ``bool`` holding exactly such a value are written
        straight into the message; if any output is not, all go through
        :meth:`outputs_to_literals` (its checks and errors; always, in a subclass or an instance
        that overrides it). The bytes are the same either way."""
        from flyteidl.core import literals_pb2

        if type(self).outputs_to_literals is not PythonFunctionTask.outputs_to_literals or "outputs_to_literals" in vars(self):
            return self._general_outputs(result)
        values = self._output_values(result)
        engine = _engine()
        message = literals_pb2.LiteralMap()
        for (name, python_type), value in zip(self.python_interface.outputs.items(), values, strict=True):
            field = engine.primitive_field(python_type)
            if field is None or type(value) is not python_type:
                return self._general_outputs(result)
            try:
                setattr(message.literals[name].scalar.primitive, field, value)
            except (TypeError, ValueError):  # e.g. an int beyond 64 bits: the general path says so
                return self._general_outputs(result)
        return message

    def _general_outputs(self, result: Any) -> literals_pb2.LiteralMap:
        from flytecore.spec.idl import to_idl

        message: literals_pb2.LiteralMap = to_idl(LiteralMap(literals=self.outputs_to_literals(result)))
        return message

    # --- registration ---------------------------------------------------------------------------

    def register_into(self, bundle: Any) -> None:
        bundle.add_task(self)

    def to_template(self, settings: Any) -> TaskTemplate:
        """The task template for ``settings`` (a :class:`flytecore.sdk.serialize.SerializationSettings`)."""
        custom = None
        if self.task_config is not None and self.task_type.to_custom is not None:
            custom = self.task_type.to_custom(self.task_config)
        return TaskTemplate(
            id=settings.identify(self.id),
            type=self.task_type.name,
            metadata=self.metadata,
            interface=self.python_interface.to_typed_interface(_engine()),
            custom=custom,
            task_type_version=self.task_type.task_type_version,
            container=Container(
                image=self.container_image or settings.image,
                command=(),
                args=settings.entrypoint_args(self),
                resources=self.resources,
                env=tuple(KeyValuePair(key=k, value=v) for k, v in sorted({**settings.env, **self.environment}.items())),
            ),
        )


def _missing_plugin_advice(config_type: type, plugins: Any) -> str:
    """What to do about a ``task_config`` class no loaded plugin claims: name the distribution
    it comes from and why its plugin is not loaded, else the project's plugin distributions."""
    import importlib.metadata

    from flytecore.plugin import KNOWN_PLUGIN_DISTRIBUTIONS

    package = config_type.__module__.split(".")[0]
    for info in plugins:
        if info.module.split(".")[0] == package and info.error is not None:
            return f"Its plugin {info.name!r} (distribution {info.distribution}) failed to load: {info.error}"
    distributions = importlib.metadata.packages_distributions().get(package, [])
    if distributions:
        return (
            f"It comes from the distribution {distributions[0]}, whose plugin is not loaded: is it "
            "disabled (FLYTECORE_DISABLE_PLUGINS), or does the distribution lack its "
            "'flytecore.plugins' entry point?"
        )
    known = ", ".join(f"{d} for {t!r} tasks" for t, d in sorted(KNOWN_PLUGIN_DISTRIBUTIONS.items()))
    return f"Install the plugin distribution for it ({known})."


def _is_void(value: Any) -> bool:
    from flytecore.sdk.promise import VoidPromise

    return isinstance(value, VoidPromise)


def _version() -> str:
    import flytecore

    return flytecore.__version__


@overload
def task(_fn: F) -> PythonFunctionTask: ...


@overload
def task(_fn: None = None, **kwargs: Any) -> Callable[[F], PythonFunctionTask]: ...


def task(_fn: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """Declare a task, as flytekit's ``@task``.

    Options: ``cache``, ``cache_version``, ``cache_serialize``, ``cache_ignore_input_vars``,
    ``retries``, ``interruptible``, ``deprecated``, ``timeout`` (seconds or timedelta),
    ``container_image``, ``environment``, ``requests``, ``limits`` (:class:`Resources`),
    ``task_config`` (a plugin's config: selects the plugin's task type), ``pod_template_name``,
    ``task_resolver`` (how a task container loads the task; see :mod:`flytecore.sdk.resolver`).
    """

    def wrapper(fn: Callable[..., Any]) -> PythonFunctionTask:
        return PythonFunctionTask(fn, **kwargs)

    return wrapper(_fn) if _fn is not None else wrapper
