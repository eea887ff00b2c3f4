"""Hypothesis strategies that build valid instances of every spec model.

:data:`STRATEGIES` maps each model class of :data:`flytecore.spec.ALL_MODELS` to a strategy.
Oneof groups pick one alternative (or none, when the group is optional); recursive models
(types, literals, bindings, boolean expressions, nodes) are bounded with ``st.recursive``.
Values stay inside what flyteidl can hold: int ranges of the protobuf field, float32 for
``ArrayNode.min_success_ratio``, finite JSON numbers in Structs, aware UTC datetimes.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from flytecore import spec

__all__ = ["STRATEGIES", "json_objects", "literal_types", "literals", "nodes", "text"]

# --- scalars ---------------------------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=6)
"""Any unicode without surrogates (protobuf strings are UTF-8)."""
names = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=6)
u31 = st.integers(0, 2**31 - 1)  # fits int32, uint32 and int64 fields alike
int64 = st.integers(-(2**63), 2**63 - 1)
floats = st.floats(allow_nan=False)
datetimes = st.datetimes(timezones=st.just(_dt.UTC))
timedeltas = st.timedeltas(min_value=_dt.timedelta(days=-36500), max_value=_dt.timedelta(days=36500))
str_tuples = st.lists(text, max_size=3).map(tuple)
str_dicts = st.dictionaries(text, text, max_size=3)


def _tuples(elements: SearchStrategy[Any], max_size: int = 2) -> SearchStrategy[tuple[Any, ...]]:
    return st.lists(elements, max_size=max_size).map(tuple)


def _dicts(values: SearchStrategy[Any], max_size: int = 2) -> SearchStrategy[dict[str, Any]]:
    return st.dictionaries(text, values, max_size=max_size)


def _opt(strategy: SearchStrategy[Any]) -> SearchStrategy[Any]:
    return st.none() | strategy


def _json_leaves() -> SearchStrategy[Any]:
    # Struct numbers are doubles: ints beyond 2**53 and non-finite floats do not survive.
    return (
        st.none()
        | st.booleans()
        | st.integers(-(2**53), 2**53)
        | st.floats(allow_nan=False, allow_infinity=False)
        | text
    )


json_values = st.recursive(
    _json_leaves(), lambda inner: st.lists(inner, max_size=2) | _dicts(inner, 2), max_leaves=3
)
json_objects: SearchStrategy[dict[str, Any]] = _dicts(json_values, 2)
"""The value of a ``google.protobuf.Struct`` field."""


def _oneof(cls: type, alternatives: dict[str, SearchStrategy[Any]], *, required: bool = True,
           **common: SearchStrategy[Any]) -> SearchStrategy[Any]:
    """Build ``cls`` with exactly one (or at most one, if not ``required``) alternative set."""
    choices = [st.fixed_dictionaries({name: s}) for name, s in alternatives.items()]
    if not required:
        choices.append(st.just({}))
    return st.builds(lambda chosen, **kw: cls(**chosen, **kw), st.one_of(choices), **common)


def _merge(cls: type, *groups: SearchStrategy[dict[str, Any]], **common: SearchStrategy[Any]) -> SearchStrategy[Any]:
    """Build ``cls`` from several independent oneof groups (each a strategy of kwargs dicts)."""
    return st.builds(
        lambda chosen, **kw: cls(**{k: v for d in chosen for k, v in d.items()}, **kw),
        st.tuples(*groups),
        **common,
    )


def _group(alternatives: dict[str, SearchStrategy[Any]], *, required: bool = False) -> SearchStrategy[dict[str, Any]]:
    choices = [st.fixed_dictionaries({name: s}) for name, s in alternatives.items()]
    return st.one_of(choices if required else [*choices, st.just({})])


# --- identifiers and types -------------------------------------------------------------------------

identifiers = st.builds(spec.Identifier, resource_type=st.sampled_from(spec.ResourceType), project=text,
                        domain=text, name=text, version=text, org=text)
wf_exec_ids = st.builds(spec.WorkflowExecutionIdentifier, project=text, domain=text, name=text, org=text)
node_exec_ids = st.builds(spec.NodeExecutionIdentifier, node_id=text, execution_id=_opt(wf_exec_ids))
task_exec_ids = st.builds(spec.TaskExecutionIdentifier, task_id=_opt(identifiers),
                          node_execution_id=_opt(node_exec_ids), retry_attempt=u31)

blob_types = st.builds(spec.BlobType, format=text, dimensionality=st.sampled_from(spec.BlobDimensionality))
enum_types = st.builds(spec.EnumType, values=str_tuples)
type_structures = st.builds(spec.TypeStructure, tag=text)
errors = st.builds(spec.Error, failed_node_id=text, message=text)
output_refs = st.builds(spec.OutputReference, node_id=text, var=text, attr_path=_tuples(text | u31, 3))


def _literal_type(kind: SearchStrategy[dict[str, Any]]) -> SearchStrategy[spec.LiteralType]:
    return st.builds(
        lambda k, **kw: spec.LiteralType(**k, **kw), kind, metadata=_opt(json_objects), structure=_opt(type_structures)
    )


literal_types: SearchStrategy[spec.LiteralType] = st.recursive(
    _literal_type(_group({"simple": st.sampled_from(spec.SimpleType), "blob": blob_types, "enum_type": enum_types},
                         required=True)),
    lambda inner: _literal_type(
        _group({"collection_type": inner, "map_value_type": inner,
                "union_type": st.builds(spec.UnionType, variants=_tuples(inner, 3))}, required=True)
    ),
    max_leaves=3,
)
union_types = st.builds(spec.UnionType, variants=_tuples(literal_types, 2))

# --- literals --------------------------------------------------------------------------------------

primitives = _oneof(spec.Primitive, {"integer": int64, "float_value": floats, "string_value": text,
                                     "boolean": st.booleans(), "datetime": datetimes, "duration": timedeltas})
blob_metadata = st.builds(spec.BlobMetadata, type=blob_types)
blobs = st.builds(spec.Blob, metadata=blob_metadata, uri=text)
binaries = st.builds(spec.Binary, value=st.binary(max_size=8), tag=text)
voids = st.builds(spec.Void)
leaf_scalars = _oneof(spec.Scalar, {"primitive": primitives, "blob": blobs, "binary": binaries, "none_type": voids,
                                    "error": errors, "generic": json_objects})


def _literal(kind: SearchStrategy[dict[str, Any]]) -> SearchStrategy[spec.Literal]:
    return st.builds(lambda k, **kw: spec.Literal(**k, **kw), kind, hash=text, metadata=str_dicts)


def _union_scalar(values: SearchStrategy[spec.Literal]) -> SearchStrategy[spec.Scalar]:
    return st.builds(spec.Scalar, union=st.builds(spec.Union, value=values, type=literal_types))


literals: SearchStrategy[spec.Literal] = st.recursive(
    _literal(st.fixed_dictionaries({"scalar": leaf_scalars})),
    lambda inner: _literal(
        _group({"collection": _tuples(inner, 3), "map": _dicts(inner, 3), "scalar": _union_scalar(inner)},
               required=True)
    ),
    max_leaves=4,
)
unions = st.builds(spec.Union, value=literals, type=literal_types)
scalars = leaf_scalars | _union_scalar(literals)
literal_maps = st.builds(spec.LiteralMap, literals=_dicts(literals))


def _binding_data(kind: SearchStrategy[dict[str, Any]]) -> SearchStrategy[spec.BindingData]:
    return st.builds(lambda k, **kw: spec.BindingData(**k, **kw), kind, union=_opt(literal_types))


binding_data: SearchStrategy[spec.BindingData] = st.recursive(
    _binding_data(_group({"scalar": scalars, "promise": output_refs}, required=True)),
    lambda inner: _binding_data(_group({"collection": _tuples(inner, 3), "map": _dicts(inner, 3)}, required=True)),
    max_leaves=3,
)
bindings = st.builds(spec.Binding, var=text, binding=binding_data)
retry_strategies = st.builds(spec.RetryStrategy, retries=u31)
key_values = st.builds(spec.KeyValuePair, key=text, value=text)

# --- interfaces and tasks --------------------------------------------------------------------------

variables = st.builds(spec.Variable, type=literal_types, description=text)
typed_interfaces = st.builds(spec.TypedInterface, inputs=_dicts(variables), outputs=_dicts(variables))
parameters = _oneof(spec.Parameter, {"default": literals, "required": st.booleans()}, required=False,
                    var=variables)
resource_entries = st.builds(spec.ResourceEntry, name=st.sampled_from(spec.ResourceName), value=text)
resources = st.builds(spec.Resources, requests=_tuples(resource_entries, 3), limits=_tuples(resource_entries, 3))
runtime_metadata = st.builds(spec.RuntimeMetadata, type=st.sampled_from(spec.RuntimeType), version=text, flavor=text)
task_metadata = st.builds(
    spec.TaskMetadata, discoverable=st.booleans(), runtime=_opt(runtime_metadata), timeout=_opt(timedeltas),
    retries=retry_strategies, discovery_version=text, deprecated_error_message=text,
    interruptible=_opt(st.booleans()), cache_serializable=st.booleans(), tags=str_dicts, pod_template_name=text,
    cache_ignore_input_vars=str_tuples,
)
containers = st.builds(spec.Container, image=text, command=str_tuples, args=str_tuples, resources=_opt(resources),
                       env=_tuples(key_values), config=_tuples(key_values))
task_templates = st.builds(
    spec.TaskTemplate, id=identifiers, type=text, metadata=task_metadata, interface=typed_interfaces,
    custom=_opt(json_objects), container=_opt(containers), task_type_version=u31, config=str_dicts,
)

# --- conditions and nodes --------------------------------------------------------------------------

operands = _oneof(spec.Operand, {"primitive": primitives, "var": text, "scalar": leaf_scalars})
comparisons = st.builds(spec.ComparisonExpression, operator=st.sampled_from(spec.ComparisonOperator),
                        left_value=operands, right_value=operands)
boolean_expressions: SearchStrategy[spec.BooleanExpression] = st.recursive(
    st.builds(spec.BooleanExpression, comparison=comparisons),
    lambda inner: st.builds(
        spec.BooleanExpression,
        conjunction=st.builds(spec.ConjunctionExpression, operator=st.sampled_from(spec.LogicalOperator),
                              left_expression=inner, right_expression=inner),
    ),
    max_leaves=3,
)
conjunctions = st.builds(spec.ConjunctionExpression, operator=st.sampled_from(spec.LogicalOperator),
                         left_expression=boolean_expressions, right_expression=boolean_expressions)

approve_conditions = st.builds(spec.ApproveCondition, signal_id=text)
# "" is no variable name and reads back from flyteidl as the default "o0".
signal_conditions = st.builds(spec.SignalCondition, signal_id=text, type=literal_types, output_variable_name=names)
sleep_conditions = st.builds(spec.SleepCondition, duration=timedeltas)
gate_nodes = _oneof(spec.GateNode, {"approve": approve_conditions, "signal": signal_conditions,
                                    "sleep": sleep_conditions})
task_node_overrides = st.builds(spec.TaskNodeOverrides, resources=_opt(resources), container_image=text)
task_nodes = st.builds(spec.TaskNode, reference_id=identifiers, overrides=_opt(task_node_overrides))
workflow_nodes = _oneof(spec.WorkflowNode, {"launchplan_ref": identifiers, "sub_workflow_ref": identifiers})
node_metadata = st.builds(
    spec.NodeMetadata, name=text, timeout=_opt(timedeltas), retries=_opt(retry_strategies),
    interruptible=_opt(st.booleans()), cacheable=_opt(st.booleans()), cache_version=_opt(text),
    cache_serializable=_opt(st.booleans()),
)
aliases = st.builds(spec.Alias, var=text, alias=text)


def _node(target: SearchStrategy[dict[str, Any]]) -> SearchStrategy[spec.Node]:
    return st.builds(
        lambda t, **kw: spec.Node(**t, **kw), target, id=text, metadata=_opt(node_metadata),
        inputs=_tuples(bindings, 1), upstream_node_ids=str_tuples, output_aliases=_tuples(aliases, 1),
    )


def _if_blocks(inner: SearchStrategy[spec.Node]) -> SearchStrategy[spec.IfBlock]:
    return st.builds(spec.IfBlock, condition=boolean_expressions, then_node=inner)


def _if_else(inner: SearchStrategy[spec.Node]) -> SearchStrategy[spec.IfElseBlock]:
    return _oneof(spec.IfElseBlock, {"else_node": inner, "error": errors}, required=False,
                  case=_if_blocks(inner), other=_tuples(_if_blocks(inner), 1))


def _array_nodes(inner: SearchStrategy[spec.Node]) -> SearchStrategy[spec.ArrayNode]:
    return _merge(
        spec.ArrayNode,
        _group({"min_successes": u31, "min_success_ratio": st.floats(0, 1, width=32)}),
        node=inner, parallelism=_opt(u31), execution_mode=st.sampled_from(spec.ArrayExecutionMode),
        data_mode=st.sampled_from(spec.ArrayDataMode), bound_inputs=str_tuples,
        is_original_sub_node_interface=_opt(st.booleans()),
    )


nodes: SearchStrategy[spec.Node] = st.recursive(
    _node(_group({"task_node": task_nodes, "workflow_node": workflow_nodes, "gate_node": gate_nodes})),
    lambda inner: _node(_group({"branch_node": st.builds(spec.BranchNode, if_else=_if_else(inner)),
                                "array_node": _array_nodes(inner)}, required=True)),
    max_leaves=2,
)
leaf_nodes = _node(st.just({}))

# --- workflows and compiled closures ---------------------------------------------------------------

workflow_metadata = st.builds(spec.WorkflowMetadata, on_failure=st.sampled_from(spec.OnFailurePolicy), tags=str_dicts)
workflow_metadata_defaults = st.builds(spec.WorkflowMetadataDefaults, interruptible=st.booleans())
workflow_templates = st.builds(
    spec.WorkflowTemplate, id=identifiers, metadata=workflow_metadata, interface=typed_interfaces,
    nodes=_tuples(nodes, 2), outputs=_tuples(bindings, 1), failure_node=_opt(leaf_nodes),
    metadata_defaults=workflow_metadata_defaults,
)
launch_plan_templates = st.builds(spec.LaunchPlanTemplate, id=identifiers, interface=typed_interfaces,
                                  fixed_inputs=literal_maps)
connection_sets = st.builds(spec.ConnectionSet, downstream=_dicts(str_tuples), upstream=_dicts(str_tuples))
compiled_workflows = st.builds(spec.CompiledWorkflow, template=workflow_templates, connections=connection_sets)
compiled_tasks = st.builds(spec.CompiledTask, template=task_templates)
compiled_launch_plans = st.builds(spec.CompiledLaunchPlan, template=launch_plan_templates)
compiled_closures = st.builds(
    spec.CompiledWorkflowClosure, primary=compiled_workflows, sub_workflows=_tuples(compiled_workflows, 1),
    tasks=_tuples(compiled_tasks, 1), launch_plans=_tuples(compiled_launch_plans, 1),
)
# min_successes is an int64 in flyteidl.
dynamic_job_specs = st.builds(
    spec.DynamicJobSpec, nodes=_tuples(nodes, 2), min_successes=st.integers(0, 2**63 - 1),
    outputs=_tuples(bindings, 1), tasks=_tuples(task_templates, 1), subworkflows=_tuples(workflow_templates, 1),
)

# --- launch plans ----------------------------------------------------------------------------------

raw_output_configs = st.builds(spec.RawOutputDataConfig, output_location_prefix=text)
launch_plan_specs = st.builds(
    spec.LaunchPlanSpec, workflow_id=identifiers, default_inputs=_dicts(parameters), fixed_inputs=literal_maps,
    labels=str_dicts, annotations=str_dicts, raw_output_data_config=_opt(raw_output_configs),
    max_parallelism=u31, interruptible=_opt(st.booleans()), overwrite_cache=st.booleans(),
)
launch_plan_closures = st.builds(
    spec.LaunchPlanClosure, state=st.sampled_from(spec.LaunchPlanState), expected_inputs=_dicts(parameters),
    expected_outputs=_dicts(variables), created_at=_opt(datetimes), updated_at=_opt(datetimes),
)
launch_plans = st.builds(spec.LaunchPlan, id=identifiers, spec=launch_plan_specs, closure=launch_plan_closures)

# --- executions ------------------------------------------------------------------------------------

execution_errors = st.builds(spec.ExecutionError, code=text, message=text, error_uri=text,
                             kind=st.sampled_from(spec.ErrorKind))
task_logs = st.builds(spec.TaskLog, uri=text, name=text, ttl=_opt(timedeltas))
execution_metadata = st.builds(
    spec.ExecutionMetadata, mode=st.sampled_from(spec.ExecutionMode), principal=text, nesting=u31,
    scheduled_at=_opt(datetimes), parent_node_execution=_opt(node_exec_ids), reference_execution=_opt(wf_exec_ids),
)
execution_specs = st.builds(
    spec.ExecutionSpec, launch_plan=identifiers, inputs=_opt(literal_maps), metadata=execution_metadata,
    labels=str_dicts, annotations=str_dicts, max_parallelism=u31, raw_output_data_config=_opt(raw_output_configs),
    interruptible=_opt(st.booleans()), overwrite_cache=st.booleans(), tags=str_tuples,
)
_times: dict[str, SearchStrategy[Any]] = {
    "started_at": _opt(datetimes), "duration": _opt(timedeltas), "created_at": _opt(datetimes),
    "updated_at": _opt(datetimes),
}
_results = _group({"output_uri": text, "error": execution_errors, "output_data": literal_maps})
execution_closures = _merge(
    spec.ExecutionClosure,
    _group({"output_data": literal_maps, "error": execution_errors, "abort_cause": text}),
    computed_inputs=_opt(literal_maps), phase=st.sampled_from(spec.WorkflowExecutionPhase),
    workflow_id=_opt(identifiers), **_times,
)
executions = st.builds(spec.Execution, id=wf_exec_ids, spec=execution_specs, closure=execution_closures)
node_execution_closures = _merge(
    spec.NodeExecutionClosure, _results, phase=st.sampled_from(spec.NodeExecutionPhase), deck_uri=text,
    dynamic_job_spec_uri=text, **_times,
)
node_execution_metadata = st.builds(spec.NodeExecutionMetaData, retry_group=text, is_parent_node=st.booleans(),
                                    spec_node_id=text, is_dynamic=st.booleans(), is_array=st.booleans())
node_executions = st.builds(spec.NodeExecution, id=node_exec_ids, input_uri=text, closure=node_execution_closures,
                            metadata=node_execution_metadata)
task_execution_closures = _merge(
    spec.TaskExecutionClosure, _results, phase=st.sampled_from(spec.TaskExecutionPhase), logs=_tuples(task_logs),
    custom_info=_opt(json_objects), reason=text, task_type=text, event_version=u31, **_times,
)
task_executions = st.builds(spec.TaskExecution, id=task_exec_ids, input_uri=text, closure=task_execution_closures,
                            is_parent=st.booleans())

# --- events ----------------------------------------------------------------------------------------

_inputs = _group({"input_uri": text, "input_data": literal_maps})
wf_events = _merge(spec.WorkflowExecutionEvent, _results, execution_id=wf_exec_ids, producer_id=text,
                   phase=st.sampled_from(spec.WorkflowExecutionPhase), occurred_at=_opt(datetimes))
wf_node_metadata = st.builds(spec.WorkflowNodeMetadata, execution_id=wf_exec_ids)
task_node_metadata = st.builds(spec.TaskNodeMetadata, cache_status=st.sampled_from(spec.CatalogCacheStatus))
parent_task_metadata = st.builds(spec.ParentTaskExecutionMetadata, id=task_exec_ids)
parent_node_metadata = st.builds(spec.ParentNodeExecutionMetadata, node_id=text)
node_events = _merge(
    spec.NodeExecutionEvent, _results, _inputs,
    _group({"workflow_node_metadata": wf_node_metadata, "task_node_metadata": task_node_metadata}),
    id=node_exec_ids, producer_id=text, phase=st.sampled_from(spec.NodeExecutionPhase), occurred_at=_opt(datetimes),
    parent_task_metadata=_opt(parent_task_metadata), parent_node_metadata=_opt(parent_node_metadata),
    retry_group=text, spec_node_id=text, node_name=text, event_version=u31, is_parent=st.booleans(),
    is_dynamic=st.booleans(), is_array=st.booleans(), deck_uri=text, reported_at=_opt(datetimes),
    target_entity=_opt(identifiers),
)
external_resources = st.builds(
    spec.ExternalResourceInfo, external_id=text, index=u31, retry_attempt=u31,
    phase=st.sampled_from(spec.TaskExecutionPhase), cache_status=st.sampled_from(spec.CatalogCacheStatus),
    logs=_tuples(task_logs),
)
task_execution_metadata = st.builds(
    spec.TaskExecutionMetadata, generated_name=text, external_resources=_tuples(external_resources), plugin_identifier=text
)
task_events = _merge(
    spec.TaskExecutionEvent, _results, _inputs,
    task_id=identifiers, parent_node_execution_id=node_exec_ids, retry_attempt=u31,
    phase=st.sampled_from(spec.TaskExecutionPhase), producer_id=text, logs=_tuples(task_logs),
    occurred_at=_opt(datetimes), custom_info=_opt(json_objects), phase_version=u31, reason=text, task_type=text,
    event_version=u31, reported_at=_opt(datetimes), metadata=_opt(task_execution_metadata),
)

# --- the registry ----------------------------------------------------------------------------------

STRATEGIES: dict[type, SearchStrategy[Any]] = {
    spec.Identifier: identifiers, spec.WorkflowExecutionIdentifier: wf_exec_ids,
    spec.NodeExecutionIdentifier: node_exec_ids, spec.TaskExecutionIdentifier: task_exec_ids,
    spec.BlobType: blob_types, spec.EnumType: enum_types, spec.TypeStructure: type_structures,
    spec.UnionType: union_types, spec.LiteralType: literal_types, spec.OutputReference: output_refs,
    spec.Error: errors, spec.Primitive: primitives, spec.Void: voids, spec.BlobMetadata: blob_metadata,
    spec.Blob: blobs, spec.Binary: binaries, spec.Union: unions, spec.Scalar: scalars, spec.Literal: literals,
    spec.LiteralMap: literal_maps, spec.BindingData: binding_data, spec.Binding: bindings,
    spec.RetryStrategy: retry_strategies, spec.KeyValuePair: key_values, spec.Variable: variables,
    spec.TypedInterface: typed_interfaces, spec.Parameter: parameters, spec.ResourceEntry: resource_entries,
    spec.Resources: resources, spec.RuntimeMetadata: runtime_metadata, spec.TaskMetadata: task_metadata,
    spec.Container: containers, spec.TaskTemplate: task_templates, spec.Operand: operands,
    spec.ComparisonExpression: comparisons, spec.ConjunctionExpression: conjunctions,
    spec.BooleanExpression: boolean_expressions, spec.IfBlock: _if_blocks(nodes), spec.IfElseBlock: _if_else(nodes),
    spec.BranchNode: st.builds(spec.BranchNode, if_else=_if_else(leaf_nodes)),
    spec.ApproveCondition: approve_conditions, spec.SignalCondition: signal_conditions,
    spec.SleepCondition: sleep_conditions, spec.GateNode: gate_nodes, spec.TaskNodeOverrides: task_node_overrides,
    spec.TaskNode: task_nodes, spec.WorkflowNode: workflow_nodes, spec.ArrayNode: _array_nodes(nodes),
    spec.NodeMetadata: node_metadata, spec.Alias: aliases, spec.Node: nodes,
    spec.WorkflowMetadata: workflow_metadata, spec.WorkflowMetadataDefaults: workflow_metadata_defaults,
    spec.WorkflowTemplate: workflow_templates, spec.LaunchPlanTemplate: launch_plan_templates,
    spec.ConnectionSet: connection_sets, spec.CompiledWorkflow: compiled_workflows,
    spec.CompiledTask: compiled_tasks, spec.CompiledLaunchPlan: compiled_launch_plans,
    spec.CompiledWorkflowClosure: compiled_closures, spec.DynamicJobSpec: dynamic_job_specs,
    spec.RawOutputDataConfig: raw_output_configs,
    spec.LaunchPlanSpec: launch_plan_specs, spec.LaunchPlanClosure: launch_plan_closures,
    spec.LaunchPlan: launch_plans, spec.ExecutionError: execution_errors, spec.TaskLog: task_logs,
    spec.ExecutionMetadata: execution_metadata, spec.ExecutionSpec: execution_specs,
    spec.ExecutionClosure: execution_closures, spec.Execution: executions,
    spec.NodeExecutionClosure: node_execution_closures, spec.NodeExecutionMetaData: node_execution_metadata,
    spec.NodeExecution: node_executions, spec.TaskExecutionClosure: task_execution_closures,
    spec.TaskExecution: task_executions, spec.WorkflowExecutionEvent: wf_events,
    spec.WorkflowNodeMetadata: wf_node_metadata, spec.TaskNodeMetadata: task_node_metadata,
    spec.ParentTaskExecutionMetadata: parent_task_metadata, spec.ParentNodeExecutionMetadata: parent_node_metadata,
    spec.NodeExecutionEvent: node_events, spec.TaskExecutionEvent: task_events,
    spec.ExternalResourceInfo: external_resources, spec.TaskExecutionMetadata: task_execution_metadata,
}
"""Spec model class -> strategy of valid instances."""
