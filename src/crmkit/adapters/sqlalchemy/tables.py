"""Every table of crmkit's SQL schema, on one `metadata`: the catalogue migrations compare
the database with, and a report (or a test) reads from.

Each capability declares its own tables (`customers.tables`, `loyalty.tables`, …) on the
shared `crmkit.adapters.sqlalchemy.schema.metadata`; importing this module imports them all,
so `metadata` is complete.
"""

from __future__ import annotations

from crmkit.adapters.sqlalchemy.accounts.tables import accounts
from crmkit.adapters.sqlalchemy.customers.tables import (
    consents,
    customers,
    external_ids,
    tags,
    traits,
)
from crmkit.adapters.sqlalchemy.interactions.tables import interactions
from crmkit.adapters.sqlalchemy.lifecycle.tables import stage_changes, stage_histories
from crmkit.adapters.sqlalchemy.loyalty.tables import points_balances, points_entries, referrals
from crmkit.adapters.sqlalchemy.outbox import outbox
from crmkit.adapters.sqlalchemy.schema import (
    MARIADB_COLLATION,
    MYSQL_COLLATION,
    PREFIX,
    metadata,
    mysql_collation,
)
from crmkit.adapters.sqlalchemy.segments.tables import segment_members, segment_snapshots

__all__ = [
    "MARIADB_COLLATION",
    "MYSQL_COLLATION",
    "PREFIX",
    "accounts",
    "consents",
    "customers",
    "external_ids",
    "interactions",
    "metadata",
    "mysql_collation",
    "outbox",
    "points_balances",
    "points_entries",
    "referrals",
    "segment_members",
    "segment_snapshots",
    "stage_changes",
    "stage_histories",
    "tags",
    "traits",
]
