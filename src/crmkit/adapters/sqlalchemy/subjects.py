"""What a repository call writes, so that a conflict the database reports names it.

When the database refuses a transaction because another one got in the way (a lock timeout,
a deadlock, a serialization failure, SQLite's "database is locked"), the driver's words name
no aggregate. The unit of work knows which aggregate each repository call was given; the
`ConcurrencyConflict` names that one and the version it was read at.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from crmkit.domain import (
    Account,
    Customer,
    Interaction,
    PointsLedger,
    Referral,
    SegmentSnapshot,
    StageHistory,
)

__all__ = ["Subject", "subject_of"]

#: (kind, key, the version it was read at; 0: new), as `ConcurrencyConflict` names them.
Subject = tuple[str, Any, int]


def subject_of(arguments: tuple[Any, ...]) -> Subject | None:
    """The aggregate the first of ``arguments`` is (the first of a batch, saying how many
    were written with it), or ``None`` when the call is given no aggregate (a read)."""
    if not arguments:
        return None
    first = arguments[0]
    if isinstance(first, Collection) and not isinstance(first, str | bytes):
        found = _subject(next(iter(first), None))
        if found is None or len(first) == 1:
            return found
        kind, key, version = found
        return f"{kind} (one of {len(first)} written together)", key, version
    return _subject(first)


def _subject(aggregate: Any) -> Subject | None:
    if isinstance(aggregate, Customer):
        return "customer", aggregate.id, aggregate.version
    if isinstance(aggregate, Account):
        return "account", aggregate.id, aggregate.version
    if isinstance(aggregate, PointsLedger):
        return "points ledger", (aggregate.programme.name, aggregate.customer_id), aggregate.version
    if isinstance(aggregate, StageHistory):
        history = (aggregate.model, aggregate.subject_kind, aggregate.subject_id)
        return "stage history", history, aggregate.version
    if isinstance(aggregate, SegmentSnapshot):
        return "segment snapshot", aggregate.segment, aggregate.version
    if isinstance(aggregate, Referral):
        return "referral", aggregate.id, aggregate.version
    if isinstance(aggregate, Interaction):  # append-only: always a new one
        return "interaction", aggregate.id, 0
    return None
