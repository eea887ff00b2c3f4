"""Generated large workflows, shared by the scale tests and ``bench/compile_bench.py``."""

from __future__ import annotations

from flytecore.spec.tasks import TaskTemplate
from flytecore.spec.workflow import WorkflowTemplate

from .builders import INT, list_of, out, task, task_node, wf_in, workflow

STEP = task("gen.step", {"x": INT}, {"o0": INT})
GATHER = task("gen.gather", {"xs": list_of(INT)}, {"o0": INT})


def chain(n: int) -> tuple[WorkflowTemplate, list[TaskTemplate]]:
    """``n`` nodes, each reading the previous node's output."""
    nodes = [task_node("n0", STEP, x=wf_in("x"))]
    nodes += [task_node(f"n{i}", STEP, x=out(f"n{i - 1}")) for i in range(1, n)]
    wf = workflow(f"chain{n}", nodes, inputs={"x": INT}, outputs={"r": INT}, r=out(f"n{n - 1}"))
    return wf, [STEP]


def fan_out(n: int) -> tuple[WorkflowTemplate, list[TaskTemplate]]:
    """One source node, ``n - 2`` nodes reading it, and one node gathering all their outputs."""
    from .builders import coll

    width = max(n - 2, 1)
    nodes = [task_node("src", STEP, x=wf_in("x"))]
    nodes += [task_node(f"w{i}", STEP, x=out("src")) for i in range(width)]
    nodes.append(task_node("gather", GATHER, xs=coll(*(out(f"w{i}") for i in range(width)))))
    wf = workflow(f"fan{n}", nodes, inputs={"x": INT}, outputs={"r": INT}, r=out("gather"))
    return wf, [STEP, GATHER]
