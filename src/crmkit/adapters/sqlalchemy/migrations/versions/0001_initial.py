"""Create crmkit's tables.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 10:19:01.291500
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
        "crmkit_accounts",
        sa.Column(
            "tenant_id",
            sa.String(length=63).with_variant(sa.String(length=63, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "name",
            sa.String(length=500).with_variant(sa.String(length=500, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "domain",
            sa.String(length=254).with_variant(sa.String(length=254, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "industry",
            sa.String(length=500).with_variant(sa.String(length=500, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "size",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crmkit_accounts")),
        sa.UniqueConstraint(
            "tenant_id", "domain", name=op.f("uq_crmkit_accounts_tenant_id_domain")
        ),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "crmkit_consents",
        sa.Column(
            "tenant_id",
            sa.String(length=63).with_variant(sa.String(length=63, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "customer_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "status",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column(
            "source",
            sa.String(length=500).with_variant(sa.String(length=500, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "method",
            sa.String(length=500).with_variant(sa.String(length=500, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "evidence",
            sa.String(length=500).with_variant(sa.String(length=500, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "double_opt_in",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "customer_id", "seq", name=op.f("pk_crmkit_consents")),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "crmkit_customer_external_ids",
        sa.Column(
            "tenant_id",
            sa.String(length=63).with_variant(sa.String(length=63, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "external_id",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "customer_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "source", "external_id", name=op.f("pk_crmkit_customer_external_ids")
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "customer_id",
            "source",
            name=op.f("uq_crmkit_customer_external_ids_tenant_id_customer_id_source"),
        ),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "crmkit_customer_tags",
        sa.Column(
            "tenant_id",
            sa.String(length=63).with_variant(sa.String(length=63, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "customer_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "tag",
            sa.String(length=100).with_variant(sa.String(length=100, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "customer_id", "tag", name=op.f("pk_crmkit_customer_tags")
        ),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("crmkit_customer_tags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crmkit_customer_tags_tenant_id_tag"), ["tenant_id", "tag"], unique=False
        )

    op.create_table(
        "crmkit_customer_traits",
        sa.Column(
            "tenant_id",
            sa.String(length=63).with_variant(sa.String(length=63, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "customer_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "name",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "type",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "value_text",
            sa.Text().with_variant(sa.Text(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("value_int", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "customer_id", "name", name=op.f("pk_crmkit_customer_traits")
        ),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_table(
        "crmkit_customers",
        sa.Column(
            "tenant_id",
            sa.String(length=63).with_variant(sa.String(length=63, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.Column(
            "given_name",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "family_name",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "email",
            sa.String(length=254).with_variant(sa.String(length=254, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "phone",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "other_contacts",
            sa.Text().with_variant(sa.Text(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "address_country",
            sa.CHAR(length=2).with_variant(sa.CHAR(length=2, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "address_lines",
            sa.Text().with_variant(sa.Text(collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "address_city",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "address_region",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "address_postal_code",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "locale",
            sa.String(length=35).with_variant(sa.String(length=35, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "account_role",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crmkit_customers")),
        sa.UniqueConstraint("tenant_id", "email", name=op.f("uq_crmkit_customers_tenant_id_email")),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("crmkit_customers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crmkit_customers_tenant_id_account_id"),
            ["tenant_id", "account_id"],
            unique=False,
        )

    op.create_table(
        "crmkit_interactions",
        sa.Column(
            "tenant_id",
            sa.String(length=63).with_variant(sa.String(length=63, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "customer_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("occurred_at_us", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "direction",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column(
            "currency",
            sa.CHAR(length=3).with_variant(sa.CHAR(length=3, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "owner",
            sa.String(length=500).with_variant(sa.String(length=500, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "team",
            sa.String(length=500).with_variant(sa.String(length=500, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "campaign",
            sa.String(length=500).with_variant(sa.String(length=500, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "metadata", sa.Text().with_variant(sa.Text(collation="C"), "postgresql"), nullable=True
        ),
        sa.Column(
            "external_ref",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "(amount_minor IS NULL) = (currency IS NULL)",
            name=op.f("ck_crmkit_interactions_amount_has_currency"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_crmkit_interactions")),
        sa.UniqueConstraint(
            "tenant_id", "external_ref", name=op.f("uq_crmkit_interactions_tenant_id_external_ref")
        ),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    with op.batch_alter_table("crmkit_interactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crmkit_interactions_tenant_id_customer_id_occurred_at_us_id"),
            ["tenant_id", "customer_id", "occurred_at_us", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_crmkit_interactions_tenant_id_occurred_at_us_id"),
            ["tenant_id", "occurred_at_us", "id"],
            unique=False,
        )

    op.create_table(
        "crmkit_outbox",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "tenant_id",
            sa.String(length=63).with_variant(sa.String(length=63, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "aggregate_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "event_type",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "payload", sa.Text().with_variant(sa.Text(collation="C"), "postgresql"), nullable=False
        ),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_crmkit_outbox")),
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_bin",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("crmkit_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crmkit_outbox_delivered_position"),
            ["delivered", "position"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_crmkit_outbox_tenant_id_delivered_position"),
            ["tenant_id", "delivered", "position"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("crmkit_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crmkit_outbox_tenant_id_delivered_position"))
        batch_op.drop_index(batch_op.f("ix_crmkit_outbox_delivered_position"))

    op.drop_table("crmkit_outbox")
    with op.batch_alter_table("crmkit_interactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crmkit_interactions_tenant_id_occurred_at_us_id"))
        batch_op.drop_index(
            batch_op.f("ix_crmkit_interactions_tenant_id_customer_id_occurred_at_us_id")
        )

    op.drop_table("crmkit_interactions")
    with op.batch_alter_table("crmkit_customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crmkit_customers_tenant_id_account_id"))

    op.drop_table("crmkit_customers")
    op.drop_table("crmkit_customer_traits")
    with op.batch_alter_table("crmkit_customer_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crmkit_customer_tags_tenant_id_tag"))

    op.drop_table("crmkit_customer_tags")
    op.drop_table("crmkit_customer_external_ids")
    op.drop_table("crmkit_consents")
    op.drop_table("crmkit_accounts")
