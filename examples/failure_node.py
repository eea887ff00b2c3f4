"""Failure node: a clean-up task that runs when a workflow fails.

Adapted from Flyte's failure-node example (flyteorg/flytesnacks,
examples/development_lifecycle/development_lifecycle/failure_node.py, Apache License 2.0,
Copyright the Flyte authors): the imports name flytecore, and ``clean_up`` takes the error the
workflow failed with (``err``), as Flyte's documentation shows for flytekit 1.15 and later.

A workflow creates a cluster, runs a task that fails, and would delete the cluster at the end.
Because the failing task stops the workflow before that, ``@workflow(on_failure=clean_up)``
names a task to run when the workflow fails: its inputs are the workflow's inputs, plus
optionally ``err``, which receives the failed node's id and the error message.

Run it locally:      python examples/failure_node.py
Run it remotely:     flytecore run examples/failure_node.py wf2 --remote
                     (the failure node ``fn0`` then shows among the execution's nodes)
"""

from __future__ import annotations

import typing

from flytecore import FlyteError, WorkflowFailurePolicy, task, workflow


@task
def create_cluster(name: str):  # type: ignore[no-untyped-def]
    print(f"Creating cluster: {name}")


@task
def t1(a: int, b: str):  # type: ignore[no-untyped-def]
    print(f"{a} {b}")
    raise ValueError("Fail!")


@task
def delete_cluster(name: str):  # type: ignore[no-untyped-def]
    print(f"Deleting cluster {name}")


# The task to run when a workflow fails. Its inputs must be the workflow's inputs (same names
# and types); err is optional and gets the error the workflow failed with.
@task
def clean_up(name: str, err: typing.Optional[FlyteError] = None):  # type: ignore[no-untyped-def]  # noqa: UP045
    reason = err.message.splitlines()[0] if err is not None else "unknown"
    where = f" (node {err.failed_node_id})" if err is not None and err.failed_node_id else ""
    print(f"Cleaning up cluster {name}{where}: {reason}")


@workflow(on_failure=clean_up)
def subwf(name: str):  # type: ignore[no-untyped-def]
    c = create_cluster(name=name)
    t = t1(a=1, b="2")
    d = delete_cluster(name=name)
    c >> t >> d


# FAIL_AFTER_EXECUTABLE_NODES_COMPLETE lets the workflow's other nodes run after subwf fails. Both
# workflows fail: subwf's clean_up runs, and wf1 itself has no on_failure handler.
@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
def wf1(name: str = "my_workflow"):  # type: ignore[no-untyped-def]
    c = create_cluster(name=name)
    subwf(name="another_wf")
    t = t1(a=1, b="2")
    d = delete_cluster(name=name)
    c >> t >> d


@workflow(on_failure=clean_up)
def wf2(name: str = "my_workflow"):  # type: ignore[no-untyped-def]
    c = create_cluster(name=name)
    t = t1(a=1, b="2")
    d = delete_cluster(name=name)
    c >> t >> d


if __name__ == "__main__":
    # A local run executes the body in this process: when it raises, the handler runs with the
    # workflow's inputs and the error, then the error propagates (flytekit does the same).
    for failing in (wf1, wf2):
        try:
            failing()
        except Exception as exc:
            print(f"{failing.short_name} failed: {str(exc).splitlines()[0]}")
