"""The interaction log's table, ``crmkit_interactions``."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)

from crmkit.adapters.sqlalchemy.schema import (
    ID,
    MYSQL_TABLE,
    PREFIX,
    TEXT,
    fixed,
    long_text,
    metadata,
    string,
    tenant_id,
)

__all__ = [
    "interactions",
]

interactions = Table(
    f"{PREFIX}interactions",
    metadata,
    tenant_id(),
    Column("id", string(ID), nullable=False),
    Column("customer_id", string(ID), nullable=False),
    Column("occurred_at_us", BigInteger, nullable=False),
    Column("kind", string(64), nullable=False),
    Column("channel", string(16), nullable=False),
    Column("direction", string(16), nullable=False),
    Column("amount_minor", BigInteger),
    Column("currency", fixed(3)),
    Column("owner", string(TEXT)),
    Column("team", string(TEXT)),
    Column("campaign", string(TEXT)),
    Column("metadata", long_text()),  # JSON object
    Column("external_ref", string(200)),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "external_ref"),
    Index(None, "tenant_id", "customer_id", "occurred_at_us", "id"),
    Index(None, "tenant_id", "occurred_at_us", "id"),
    CheckConstraint("(amount_minor IS NULL) = (currency IS NULL)", name="amount_has_currency"),
    **MYSQL_TABLE,
)
