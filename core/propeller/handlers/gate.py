"""Gate nodes: sleep for a while, wait for a signal's value, or wait for an approval.

Signals come from the signal API the admin serves (``flytecore signal set``, flytekit's
``FlyteRemote.set_signal``); the engine reads them through ``Services.signals`` with the type
the gate expects (the signal condition's type; BOOLEAN for an approval), which creates the
signal on the first read, as FlytePropeller's gate handler does with GetOrCreateSignal.

A waiting gate looks again when its execution is woken (the sandbox's admin wakes it when a
signal is set) and, as a safety net for a propeller in its own process, every
``EngineConfig.signal_poll_interval`` seconds. A gate's timeout is the node's timeout (the
engine enforces it: the node ends TIMED_OUT). A sleep needs no outside event: the node asks for
a round when it is due.
"""

from __future__ import annotations

import logging

from flytecore.compiler.values import literal_mismatch
from flytecore.errors import FlyteCoreError
from flytecore.propeller.context import NodeContext, Transition, user_error
from flytecore.spec.literals import Literal, LiteralMap
from flytecore.spec.types import LiteralType, SimpleType

__all__ = ["APPROVAL_TYPE", "GateHandler", "SignalRefused"]

log = logging.getLogger(__name__)

_UNTIL = "until"

APPROVAL_TYPE = LiteralType(simple=SimpleType.BOOLEAN)
"""The type of an approval's signal: true approves, false rejects."""


class SignalRefused(FlyteCoreError):
    """A signal can never be read as asked (for example the admin holds it with another type):
    raised by a ``Services.signals`` callable, it fails the gate with this message. Any other
    exception means "not now" (the admin is unreachable): the gate keeps waiting."""


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
        if gate.approve is not None:
            signal_id, expected = gate.approve.signal_id, APPROVAL_TYPE
        else:
            assert gate.signal is not None
            signal_id, expected = gate.signal.signal_id, gate.signal.type
        signals = ctx.engine.services.signals
        if signals is None:
            return Transition.running(message=f"waiting for signal {signal_id!r} (no signal source configured)")
        poll_at = ctx.now + ctx.engine.config.signal_poll_interval
        try:
            value = signals(ctx.run.obj.execution_id, signal_id, expected)
        except SignalRefused as exc:
            return Transition.failed(user_error("SignalRefused", f"gate {ctx.node.id}: signal {signal_id!r}: {exc}"))
        except Exception as exc:  # the admin is unreachable or busy: ask again at the next poll
            log.warning("gate %s of %s cannot read signal %r yet: %s", ctx.node.id, ctx.run.obj.execution_id, signal_id, exc)
            return Transition.running(wake_at=poll_at, message=f"cannot read signal {signal_id!r} yet: {exc}")
        if value is None:
            return Transition.running(wake_at=poll_at, message=f"waiting for signal {signal_id!r}")
        reason = literal_mismatch(value, expected, f"signal {signal_id!r}")
        if reason is not None:
            return Transition.failed(user_error("SignalTypeMismatch", f"gate {ctx.node.id}: {reason}"))
        if gate.approve is not None:
            if not _truthy(value):
                return Transition.failed(
                    user_error("Rejected", f"gate {ctx.node.id}: approval {signal_id!r} was rejected (set to false)")
                )
            # An approval passes the approved value on (flytekit's approve(promise, ...)).
            return Transition.succeeded(ctx.inputs, message=f"approved by signal {signal_id!r}")
        assert gate.signal is not None
        return Transition.succeeded(
            LiteralMap(literals={gate.signal.output_variable_name: value}), message=f"signal {signal_id!r} received"
        )

    def abort(self, ctx: NodeContext, cause: str) -> None:
        """Nothing runs behind a gate."""


def _truthy(value: Literal) -> bool:
    scalar = value.scalar
    return bool(scalar is not None and scalar.primitive is not None and scalar.primitive.boolean)
