"""Add segment membership tracking: a snapshot per tracked segment, and its members.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 20:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _str(length: int) -> sa.String:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "crmkit_segment_snapshots",
        sa.Column("tenant_id", _str(63), nullable=False),
        sa.Column("segment", _str(64), nullable=False),
        sa.Column("as_of_us", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "segment", name=op.f("pk_crmkit_segment_snapshots")),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "crmkit_segment_members",
        sa.Column("tenant_id", _str(63), nullable=False),
        sa.Column("segment", _str(64), nullable=False),
        sa.Column("customer_id", _str(64), nullable=False),
        sa.Column("since_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "segment", "customer_id", name=op.f("pk_crmkit_segment_members")
        ),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )


def downgrade() -> None:
    op.drop_table("crmkit_segment_members")
    op.drop_table("crmkit_segment_snapshots")
