"""Add lifecycle stage histories: where each subject stands in each model, and every move.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:17:09.153625
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _str(length: int) -> sa.String:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "crmkit_stage_histories",
        sa.Column("tenant_id", _str(63), nullable=False),
        sa.Column("model", _str(64), nullable=False),
        sa.Column("subject_kind", _str(16), nullable=False),
        sa.Column("subject_id", _str(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", _str(64), nullable=False),
        sa.Column("entered_at_us", sa.BigInteger(), nullable=False),
        sa.Column("started_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "model",
            "subject_kind",
            "subject_id",
            name=op.f("pk_crmkit_stage_histories"),
        ),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("crmkit_stage_histories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crmkit_stage_histories_by_stage"),
            ["tenant_id", "model", "stage", "subject_kind", "subject_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_crmkit_stage_histories_tenant_id_subject_kind_subject_id"),
            ["tenant_id", "subject_kind", "subject_id"],
            unique=False,
        )

    op.create_table(
        "crmkit_stage_changes",
        sa.Column("tenant_id", _str(63), nullable=False),
        sa.Column("model", _str(64), nullable=False),
        sa.Column("subject_kind", _str(16), nullable=False),
        sa.Column("subject_id", _str(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_stage", _str(64), nullable=True),
        sa.Column("to_stage", _str(64), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("reason", _str(500), nullable=True),
        sa.Column("actor", _str(200), nullable=True),
        sa.Column("rule", _str(64), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "model",
            "subject_kind",
            "subject_id",
            "seq",
            name=op.f("pk_crmkit_stage_changes"),
        ),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )


def downgrade() -> None:
    op.drop_table("crmkit_stage_changes")
    with op.batch_alter_table("crmkit_stage_histories", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_crmkit_stage_histories_tenant_id_subject_kind_subject_id")
        )
        batch_op.drop_index(batch_op.f("ix_crmkit_stage_histories_by_stage"))

    op.drop_table("crmkit_stage_histories")
