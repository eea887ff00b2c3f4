"""Large workflows compile (the compiler is iterative and linear; timings live in bench/)."""

from __future__ import annotations

from flytecore.plugin import PluginHost

from .builders import compile_ok
from .generated import chain, fan_out


def test_ten_thousand_node_chain(host: PluginHost) -> None:
    wf, tasks = chain(10_000)
    closure = compile_ok(wf, host, tasks=tasks)
    connections = closure.primary.connections
    assert connections.downstream["start-node"] == ("n0",)
    assert connections.upstream["n9999"] == ("n9998",)
    assert connections.upstream["end-node"] == ("n9999",)
    assert len(connections.upstream) == 10_001


def test_ten_thousand_node_fan_out(host: PluginHost) -> None:
    wf, tasks = fan_out(10_000)
    closure = compile_ok(wf, host, tasks=tasks)
    connections = closure.primary.connections
    assert len(connections.downstream["src"]) == 9_998
    assert len(connections.upstream["gather"]) == 9_998
    assert connections.upstream["end-node"] == ("gather",)


def test_a_cycle_in_a_long_chain_is_found(host: PluginHost) -> None:
    import attrs

    from .builders import compile_errors, out

    wf, tasks = chain(10_000)
    nodes = list(wf.nodes)
    nodes[0] = attrs.evolve(nodes[0], inputs=(attrs.evolve(nodes[0].inputs[0], binding=out("n9999")),))
    errors = compile_errors(attrs.evolve(wf, nodes=tuple(nodes)), host, tasks=tasks)
    assert [(e.code, e.node_id) for e in errors] == [("CycleDetected", "n0")]
    assert errors[0].message.startswith("nodes depend on each other in a cycle: n0 -> n1 -> n2 -> ")
