"""Gate nodes: sleep for a while, wait for a signal's value, or wait for an approval.

Signals come from the signal API the admin serves (``flytecore`` CLI and flytekit set them);
the engine reads them through ``Services.signals``. A gate's timeout is the node's timeout
(the engine enforces it). A sleep needs no outside event: the node asks for a round when it is
due.
"""

from __future__ import annotations

from flytecore.propeller.context import NodeContext, Transition, user_error
from flytecore.spec.literals import Literal, LiteralMap

__all__ = ["GateHandler"]

_UNTIL = "until"


class GateHandler:
    """Runs gate nodes."""

    def handle(self, ctx: NodeContext) -> Transition:
        """Check whether the gate opened."""
        gate = ctx.node.gate_node
        assert gate is not None
        if gate.sleep is not None:
            until = ctx.status.plugin_state.get(_UNTIL)
            if until is None:
                until = ctx.status.plugin_state[_UNTIL] = ctx.now + gate.sleep.duration.total_seconds()
                ctx.touch()
            if ctx.now >= until:
                return Transition.succeeded(LiteralMap())
            return Transition.running(wake_at=until, message=f"sleeping until {until:.3f}")
        signals = ctx.engine.services.signals
        signal_id = gate.approve.signal_id if gate.approve is not None else gate.signal.signal_id  # type: ignore[union-attr]
        value = signals(ctx.run.obj.execution_id, signal_id) if signals is not None else None
        if value is None:
            return Transition.running(message=f"waiting for signal {signal_id!r}")
        if gate.approve is not None:
            approved = _truthy(value)
            if not approved:
                return Transition.failed(user_error("Rejected", f"gate {ctx.node.id}: {signal_id!r} was rejected"))
            # An approval passes the approved value on (flytekit's approve(promise, ...)).
            return Transition.succeeded(ctx.inputs)
        assert gate.signal is not None
        return Transition.succeeded(LiteralMap(literals={gate.signal.output_variable_name: value}))

    def abort(self, ctx: NodeContext, cause: str) -> None:
        """Nothing runs behind a gate."""


def _truthy(value: Literal) -> bool:
    scalar = value.scalar
    return bool(scalar is not None and scalar.primitive is not None and scalar.primitive.boolean)
