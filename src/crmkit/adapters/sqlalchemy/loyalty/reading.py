"""Reading points ledgers for booking: from their heads where they can serve, whole
otherwise (from the store's cache of committed ledgers, or from their entries)."""

from __future__ import annotations

from collections.abc import Collection, Container, Mapping
from typing import Any

from sqlalchemy import select

from crmkit.adapters.sqlalchemy.loyalty.heads import (
    Prefetched,
    SqlHistory,
    head_from_document,
    prefetch,
)
from crmkit.adapters.sqlalchemy.loyalty.ledger_cache import LedgerCache, LedgerKey
from crmkit.adapters.sqlalchemy.loyalty.stored import StoredLedgers
from crmkit.adapters.sqlalchemy.loyalty.tables import points_balances
from crmkit.adapters.sqlalchemy.rows import at_or_none
from crmkit.adapters.sqlalchemy.session import Session
from crmkit.domain import CustomerId, LedgerEntry, PointsLedger, Programme
from crmkit.domain.loyalty.head import LedgerHead
from crmkit.domain.loyalty.tally import Tally

__all__ = ["restore_ledgers"]

_B = points_balances.c


def _head(row: Mapping[Any, Any]) -> LedgerHead | None:
    """The row's head, if it was written at the row's version and parses."""
    if row["head_version"] is None or int(row["head_version"]) != int(row["version"]):
        return None
    return head_from_document(row["head"], int(row["entries"]))


def restore_ledgers(
    session: Session,
    cache: LedgerCache,
    programme: Programme,
    chunk: list[CustomerId],
    booking: Collection[str] | None,
    written: Container[LedgerKey],
    read: Mapping[str, Prefetched] | None = None,
) -> list[tuple[PointsLedger, bool]]:
    """The stored ledgers of ``chunk`` (at most 500 members), each with whether it came
    from ``cache``: one query for their balance rows and heads; for ``booking`` (the
    interactions about to be booked), one per 500 of those for their stored entries; and one
    for the entries of the ledgers whose head cannot serve (none stored, another version, a
    tier window looking back further, not ``booking``) and which are not cached (nor in
    ``written``: changed by this transaction). ``read``: those stored entries, if read
    already (`crmkit.adapters.sqlalchemy.loyalty.heads.prefetch`)."""
    name, tenant = programme.name, session.tenant
    rows = (
        session.connection.execute(
            select(points_balances).where(
                _B.tenant_id == tenant, _B.programme == name, _B.customer_id.in_(chunk)
            )
        )
        .mappings()
        .all()
    )
    heads = {}
    if booking is not None:
        heads = {row["customer_id"]: head for row in rows if (head := _head(row)) is not None}
    if read is None:
        read = prefetch(session, name, list(heads), booking) if heads and booking else {}
    restored: list[tuple[PointsLedger, bool]] = []
    whole = []
    for row in rows:
        customer_id = row["customer_id"]
        head = heads.get(customer_id)
        ledger = None
        if head is not None:
            history = SqlHistory(session, name, customer_id, head.entries, read.get(customer_id))
            ledger = PointsLedger.from_head(
                CustomerId(customer_id),
                programme,
                head,
                history,
                version=int(row["version"]),
                last_at=at_or_none(row["last_at_us"]),
            )
        if ledger is None:
            whole.append(row)
        else:
            restored.append((ledger, False))
    known: dict[str, tuple[LedgerEntry, ...]] = {}
    tallies: dict[str, Tally | None] = {}
    for row in whole:
        key = (tenant, name, row["customer_id"])
        cached = None if key in written else cache.get_with_tally(key, int(row["version"]))
        if cached is not None:
            known[row["customer_id"]], tallies[row["customer_id"]] = cached
    missing = [row["customer_id"] for row in whole if row["customer_id"] not in known]
    if missing:
        found = StoredLedgers(session).entries_of(name, missing, lock=False)
        known.update((customer_id, found.get(customer_id, ())) for customer_id in missing)
    for row in whole:
        ledger = PointsLedger.restore(
            CustomerId(row["customer_id"]),
            programme,
            known[row["customer_id"]],
            version=int(row["version"]),
            last_at=at_or_none(row["last_at_us"]),
            tally=tallies.get(row["customer_id"]),
        )
        restored.append((ledger, row["customer_id"] in tallies))
    return restored
