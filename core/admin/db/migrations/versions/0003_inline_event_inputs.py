"""Inline event inputs: node and task executions keep small inputs in the database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10

The admin's inline event data policy (``AdminConfig.inline_data_bytes``) keeps an event's
small ``input_data`` in the row instead of writing an ``inputs.pb`` file: a nullable column of
serialized flyteidl ``LiteralMap`` bytes on ``node_executions`` and ``task_executions`` (NULL:
no inline inputs; the rows already there keep their ``input_uri``). Small inline outputs need no
column: they live in the closure's ``output_data``, as in FlyteAdmin. Frozen like every
revision: column types spelled out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("node_executions", "task_executions")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("input_data", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Inline inputs are lost: a database going back to 0002 keeps the rows without them.
    for table in TABLES:
        op.drop_column(table, "input_data")
