"""Task cache: catalog entries and cache-serialization reservations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-08

Revisions are frozen: they spell out column types instead of importing the tables module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_KEY = ("project", "domain", "task_name", "cache_version", "interface_hash", "inputs_hash")


def _key_columns() -> list[sa.Column[str]]:
    return [sa.Column(name, sa.String(), nullable=False) for name in _KEY]


def upgrade() -> None:
    op.create_table(
        "propeller_catalog_entries",
        *_key_columns(),
        sa.Column("outputs", sa.LargeBinary(), nullable=False),
        sa.Column("source_execution", sa.String(), nullable=False),
        sa.Column("source_node", sa.String(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint(*_KEY, name="pk_propeller_catalog_entries"),
    )
    op.create_table(
        "propeller_catalog_reservations",
        *_key_columns(),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint(*_KEY, name="pk_propeller_catalog_reservations"),
    )


def downgrade() -> None:
    op.drop_table("propeller_catalog_reservations")
    op.drop_table("propeller_catalog_entries")
