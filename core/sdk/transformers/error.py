"""The transformer of :class:`~flytecore.sdk.types.FlyteError`.

flyteidl has a literal for errors: ``Scalar.error`` (``core.Error``: ``failed_node_id``,
``message``) of literal type ``SimpleType.ERROR``. flytekit's ``ErrorTransformer`` (name
``"FlyteError"``, which also tags the variant in ``Optional[FlyteError]``) stores a
``FlyteError`` the same way, so the literal the propeller hands to an on-failure handler reads
the same in a flytecore and in a flytekit task.
"""

from __future__ import annotations

from typing import Any

from flytecore.sdk.type_engine import TypeTransformer, describe_literal, describe_value, mismatch
from flytecore.sdk.types.error import FlyteError
from flytecore.spec.literals import Literal, Scalar
from flytecore.spec.types import Error, LiteralType, SimpleType

__all__ = ["ErrorTransformer", "error_literal"]


def error_literal(failed_node_id: str, message: str) -> Literal:
    """The literal of an error: ``Scalar(error=Error(failed_node_id, message))``."""
    return Literal(scalar=Scalar(error=Error(failed_node_id=failed_node_id, message=message)))


class ErrorTransformer(TypeTransformer[FlyteError]):
    """``FlyteError`` as ``Scalar.error`` of literal type ``ERROR``.

    ``FlyteError`` is a dataclass, so this transformer is registered after the dataclass
    transformer: a later registration wins, and the error must not become a JSON struct.
    """

    name, python_type = "FlyteError", FlyteError

    def is_instance(self, value: Any, python_type: Any) -> bool:
        """Exactly a ``FlyteError`` (not a subclass's instance of some other dataclass)."""
        return type(value) is FlyteError

    def get_literal_type(self, python_type: Any) -> LiteralType:
        """``LiteralType(simple=ERROR)``."""
        return LiteralType(simple=SimpleType.ERROR)

    def to_literal(self, value: Any, python_type: Any, expected: LiteralType) -> Literal:
        """A ``FlyteError`` as an error literal."""
        if not isinstance(value, FlyteError):
            raise mismatch(expected, describe_value(value))
        if not isinstance(value.message, str) or not isinstance(value.failed_node_id, str):
            raise mismatch(
                expected, f"a FlyteError whose message and failed_node_id are not both str: {value!r}"
            )
        return error_literal(value.failed_node_id, value.message)

    def to_python_value(self, literal: Literal, python_type: Any) -> FlyteError:
        """The ``FlyteError`` of an error literal."""
        error = literal.scalar.error if literal.scalar is not None else None
        if error is None:
            raise mismatch("FlyteError", describe_literal(literal))
        return FlyteError(message=error.message, failed_node_id=error.failed_node_id)

    def guess_python_type(self, literal_type: LiteralType) -> Any | None:
        """``FlyteError`` for ``ERROR``."""
        return FlyteError if literal_type.simple == SimpleType.ERROR else None
