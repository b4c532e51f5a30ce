"""The ``crmkit_accounts`` table."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)

from crmkit.adapters.sqlalchemy.schema import (
    ID,
    MYSQL_TABLE,
    PREFIX,
    TEXT,
    metadata,
    string,
    tenant_id,
)

__all__ = [
    "accounts",
]

accounts = Table(
    f"{PREFIX}accounts",
    metadata,
    tenant_id(),
    Column("id", string(ID), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", string(TEXT), nullable=False),
    Column("domain", string(254)),
    Column("industry", string(TEXT)),
    Column("size", string(16)),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "domain"),
    **MYSQL_TABLE,
)
