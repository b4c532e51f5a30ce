"""Add loyalty: points ledgers (entries and a balance row per member) and referrals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _str(length: int) -> sa.String:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def _text() -> sa.Text:
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


_MYSQL: dict[str, Any] = {
    "mariadb_charset": "utf8mb4",
    "mariadb_collate": "utf8mb4_bin",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def upgrade() -> None:
    op.create_table(
        "crmkit_points_entries",
        sa.Column("tenant_id", _str(63), nullable=False),
        sa.Column("programme", _str(64), nullable=False),
        sa.Column("customer_id", _str(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", _str(16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("key", _str(500), nullable=False),
        sa.Column("rule", _str(500), nullable=True),
        sa.Column("interaction_id", _str(64), nullable=True),
        sa.Column("reference", _str(500), nullable=True),
        sa.Column("lot", _str(500), nullable=True),
        sa.Column("takes", _text(), nullable=True),
        sa.Column("spend", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at_us", sa.BigInteger(), nullable=True),
        sa.Column("available_from_us", sa.BigInteger(), nullable=True),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=True),
        sa.Column("shortfall", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "programme", "customer_id", "seq", name=op.f("pk_crmkit_points_entries")
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "programme",
            "customer_id",
            "key",
            name=op.f("uq_crmkit_points_entries_tenant_id_programme_customer_id_key"),
        ),
        **_MYSQL,
    )
    op.create_table(
        "crmkit_points_balances",
        sa.Column("tenant_id", _str(63), nullable=False),
        sa.Column("programme", _str(64), nullable=False),
        sa.Column("customer_id", _str(64), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("tier", _str(64), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("last_at_us", sa.BigInteger(), nullable=True),
        sa.Column("next_due_at_us", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "programme", "customer_id", name=op.f("pk_crmkit_points_balances")
        ),
        **_MYSQL,
    )
    with op.batch_alter_table("crmkit_points_balances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crmkit_points_balances_tenant_id_programme_next_due_at_us"),
            ["tenant_id", "programme", "next_due_at_us"],
            unique=False,
        )

    op.create_table(
        "crmkit_referrals",
        sa.Column("tenant_id", _str(63), nullable=False),
        sa.Column("id", _str(64), nullable=False),
        sa.Column("programme", _str(64), nullable=False),
        sa.Column("referrer_id", _str(64), nullable=False),
        sa.Column("referee_id", _str(64), nullable=False),
        sa.Column("code", _str(500), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("status", _str(16), nullable=False),
        sa.Column("qualified_at_us", sa.BigInteger(), nullable=True),
        sa.Column("qualifying_interaction_id", _str(64), nullable=True),
        sa.Column("rewarded_at_us", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crmkit_referrals")),
        sa.UniqueConstraint(
            "tenant_id",
            "programme",
            "referee_id",
            name=op.f("uq_crmkit_referrals_tenant_id_programme_referee_id"),
        ),
        **_MYSQL,
    )
    with op.batch_alter_table("crmkit_referrals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crmkit_referrals_tenant_id_programme_referrer_id"),
            ["tenant_id", "programme", "referrer_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("crmkit_referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crmkit_referrals_tenant_id_programme_referrer_id"))
    op.drop_table("crmkit_referrals")
    with op.batch_alter_table("crmkit_points_balances", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_crmkit_points_balances_tenant_id_programme_next_due_at_us")
        )
    op.drop_table("crmkit_points_balances")
    op.drop_table("crmkit_points_entries")
