"""Ledger heads: what booking needs of a points ledger, kept beside its entries.

- ``crmkit_points_balances`` gains ``head`` (a JSON document: the ledger's open lots, its
  totals, its last entry and the entries its tier window looks at) and ``head_version`` (the
  ledger version the head was written at). Both are NULL for the ledgers stored before: a
  ledger without a head (or with a head of another version) is read whole, as before, and
  gets its head the next time it is saved. Nothing is computed here.
- An index on ``(tenant_id, programme, interaction_id)`` of ``crmkit_points_entries``: the
  stored entries of the interactions being booked are looked up, not scanned.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _long_text() -> sa.types.TypeEngine[str]:
    return (
        sa.Text()
        .with_variant(sa.Text(collation="C"), "postgresql")
        .with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
    )


def upgrade() -> None:
    with op.batch_alter_table("crmkit_points_balances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("head", _long_text(), nullable=True))
        batch_op.add_column(sa.Column("head_version", sa.Integer(), nullable=True))
    with op.batch_alter_table("crmkit_points_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crmkit_points_entries_tenant_id_programme_interaction_id"),
            ["tenant_id", "programme", "interaction_id"],
            unique=False,
        )


def downgrade() -> None:
    # The heads are derived from the entries: dropping them loses nothing.
    with op.batch_alter_table("crmkit_points_entries", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_crmkit_points_entries_tenant_id_programme_interaction_id")
        )
    with op.batch_alter_table("crmkit_points_balances", schema=None) as batch_op:
        batch_op.drop_column("head_version")
        batch_op.drop_column("head")
