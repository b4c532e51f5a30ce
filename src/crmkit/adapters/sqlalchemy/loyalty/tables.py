"""The loyalty tables: points ledgers (entries and balances) and referrals."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)

from crmkit.adapters.sqlalchemy.schema import (
    ID,
    MYSQL_TABLE,
    PREFIX,
    SLUG,
    TEXT,
    long_text,
    metadata,
    string,
    tenant_id,
)

__all__ = [
    "points_balances",
    "points_entries",
    "referrals",
]

# A member's points ledger under one programme: append-only entries, numbered from 0. The
# ``takes`` of an entry (the ``(lot, points)`` it took) are a JSON list of pairs, never queried.
points_entries = Table(
    f"{PREFIX}points_entries",
    metadata,
    tenant_id(),
    Column("programme", string(SLUG), nullable=False),
    Column("customer_id", string(ID), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", string(16), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("key", string(TEXT), nullable=False),
    Column("rule", string(TEXT)),
    Column("interaction_id", string(ID)),
    Column("reference", string(TEXT)),
    Column("lot", string(TEXT)),
    Column("takes", long_text()),  # JSON list of [lot, points]; NULL: took nothing
    Column("spend", BigInteger, nullable=False),
    Column("occurred_at_us", BigInteger),
    Column("available_from_us", BigInteger),
    Column("expires_at_us", BigInteger),
    Column("shortfall", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "programme", "customer_id", "seq"),
    UniqueConstraint("tenant_id", "programme", "customer_id", "key"),
    Index(None, "tenant_id", "programme", "interaction_id"),  # the entries of interactions
    **MYSQL_TABLE,
)

# Beside each ledger, what it adds up to (`PointsBalance`), one row per member, kept in the
# same transaction as the entries: reading a balance never scans them. The row's version is
# the ledger's; ``next_due_at_us`` lists the members the batch job has work for.
points_balances = Table(
    f"{PREFIX}points_balances",
    metadata,
    tenant_id(),
    Column("programme", string(SLUG), nullable=False),
    Column("customer_id", string(ID), nullable=False),
    Column("available", BigInteger, nullable=False),
    Column("pending", BigInteger, nullable=False),
    Column("tier", string(SLUG)),  # NULL: no tier
    Column("entries", Integer, nullable=False),
    Column("last_at_us", BigInteger),  # the last entry or job review; NULL: neither yet
    Column("next_due_at_us", BigInteger),  # NULL: nothing matures or expires
    Column("version", Integer, nullable=False),
    # The ledger's head (`LedgerHead`, JSON) and the version it was written at: a head of
    # another version (or none: a ledger stored before 0008) is not used, the entries are.
    Column("head", long_text()),
    Column("head_version", Integer),
    PrimaryKeyConstraint("tenant_id", "programme", "customer_id"),
    Index(None, "tenant_id", "programme", "next_due_at_us"),  # due
    **MYSQL_TABLE,
)

# Referrals: a referee is referred at most once per programme (the unique key enforces it).
referrals = Table(
    f"{PREFIX}referrals",
    metadata,
    tenant_id(),
    Column("id", string(ID), nullable=False),
    Column("programme", string(SLUG), nullable=False),
    Column("referrer_id", string(ID), nullable=False),
    Column("referee_id", string(ID), nullable=False),
    Column("code", string(TEXT)),
    Column("created_at_us", BigInteger, nullable=False),
    Column("status", string(16), nullable=False),
    Column("qualified_at_us", BigInteger),
    Column("qualifying_interaction_id", string(ID)),
    Column("rewarded_at_us", BigInteger),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "programme", "referee_id"),
    Index(None, "tenant_id", "programme", "referrer_id"),  # by_referrer
    **MYSQL_TABLE,
)
