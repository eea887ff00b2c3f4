"""Signals: the values gate nodes wait for (SignalService).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

One row per signal of an execution, as FlyteAdmin's ``signals`` table: created when an execution
reaches a gate (GetOrCreateSignal), its value set later (SetSignal). Rows go with their
execution (ON DELETE CASCADE). Frozen like every revision: column types spelled out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execution_id = ["execution_project", "execution_domain", "execution_name"]
    op.create_table(
        "signals",
        sa.Column("execution_project", sa.String(), nullable=False),
        sa.Column("execution_domain", sa.String(), nullable=False),
        sa.Column("execution_name", sa.String(), nullable=False),
        sa.Column("signal_id", sa.String(), nullable=False),
        sa.Column("type", sa.LargeBinary(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            execution_id,
            ["executions.project", "executions.domain", "executions.name"],
            name=op.f("fk_signals_execution_project_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(*execution_id, "signal_id", name=op.f("pk_signals")),
    )


def downgrade() -> None:
    op.drop_table("signals")
