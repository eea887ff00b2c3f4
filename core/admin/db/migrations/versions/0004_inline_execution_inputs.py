"""Inline execution inputs: CreateExecution keeps small inputs in the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-11

The admin's size limit for inline data (``AdminConfig.inline_data_bytes``) keeps an execution's
small inputs in its row instead of writing ``inputs.pb`` and ``user_inputs.pb``: two nullable
columns of serialized flyteidl ``LiteralMap`` bytes on ``executions``, ``inputs_data`` (the
inputs as run) and ``user_inputs_data`` (as the user gave them; NULL when they are the inputs as
run, or when the inputs are files). The rows already there keep their ``inputs_uri`` and
``user_inputs_uri``. Frozen like every revision: column types spelled out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = ("inputs_data", "user_inputs_data")


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("executions", sa.Column(column, sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Inline inputs are lost: a database going back to 0003 keeps the executions without them.
    for column in reversed(COLUMNS):
        op.drop_column("executions", column)
