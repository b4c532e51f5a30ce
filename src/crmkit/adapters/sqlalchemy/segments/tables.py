"""The stored memberships of tracked segments."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    PrimaryKeyConstraint,
    Table,
)

from crmkit.adapters.sqlalchemy.schema import (
    ID,
    MYSQL_TABLE,
    PREFIX,
    SLUG,
    metadata,
    string,
    tenant_id,
)

__all__ = [
    "segment_members",
    "segment_snapshots",
]

# The stored membership of each tracked segment: one row per segment (the ``as_of`` of its last
# full evaluation, a version for optimistic concurrency, the member count) ...
segment_snapshots = Table(
    f"{PREFIX}segment_snapshots",
    metadata,
    tenant_id(),
    Column("segment", string(SLUG), nullable=False),
    Column("as_of_us", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("members", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "segment"),
    **MYSQL_TABLE,
)

# ... and one row per member, since when it is one. The key streams members in id order.
segment_members = Table(
    f"{PREFIX}segment_members",
    metadata,
    tenant_id(),
    Column("segment", string(SLUG), nullable=False),
    Column("customer_id", string(ID), nullable=False),
    Column("since_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "segment", "customer_id"),
    **MYSQL_TABLE,
)
