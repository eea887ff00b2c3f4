"""``FlyteError``: what a workflow's on-failure handler learns about the failure.

A handler declared with ``@workflow(on_failure=handler)`` may take an input
``err: typing.Optional[FlyteError] = None``; when the workflow fails, the propeller (or a local
run) gives it the failed node's id and the error message. Its literal is flyteidl's
``Scalar.error`` (``core.Error``) of literal type ``SimpleType.ERROR``, the same as flytekit's
``flytekit.types.error.FlyteError``.
"""

from __future__ import annotations

import dataclasses

__all__ = ["FlyteError"]


@dataclasses.dataclass
class FlyteError:
    """The error of a failed workflow, as its on-failure handler receives it.

    :ivar message: the failed node's error message.
    :ivar failed_node_id: the unique id of the node whose failure failed the workflow (``""``
        when no node is to blame, e.g. in a local run).
    """

    message: str
    failed_node_id: str
