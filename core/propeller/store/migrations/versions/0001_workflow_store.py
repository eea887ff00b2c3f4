"""Workflow store: workflows, their objects, node states, event outbox.

Revision ID: 0001
Revises:
Create Date: 2026-12-01

Revisions are frozen: they spell out column types instead of importing the tables module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "propeller_workflows",
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("phase", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("lease_expires_at", sa.Double(), nullable=True),
        sa.Column("next_round_at", sa.Double(), nullable=True),
        sa.Column("wake_at", sa.Double(), nullable=True),
        sa.Column("due_at", sa.Double(), nullable=True),
        sa.Column("abort_requested_at", sa.Double(), nullable=True),
        sa.Column("abort_cause", sa.String(), nullable=True),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", name="pk_propeller_workflows"),
    )
    for column in ("due_at", "finished_at"):
        op.create_index(f"ix_propeller_workflows_{column}", "propeller_workflows", [column])
    op.create_table(
        "propeller_workflow_objects",
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("object", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", name="pk_propeller_workflow_objects"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["propeller_workflows.execution_id"],
            name="fk_propeller_workflow_objects_workflow",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "propeller_node_states",
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("node_key", sa.String(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "node_key", name="pk_propeller_node_states"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["propeller_workflows.execution_id"],
            name="fk_propeller_node_states_workflow",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "propeller_event_outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_propeller_event_outbox"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("propeller_event_outbox")
    op.drop_table("propeller_node_states")
    op.drop_table("propeller_workflow_objects")
    op.drop_index("ix_propeller_workflows_finished_at", "propeller_workflows")
    op.drop_index("ix_propeller_workflows_due_at", "propeller_workflows")
    op.drop_table("propeller_workflows")
