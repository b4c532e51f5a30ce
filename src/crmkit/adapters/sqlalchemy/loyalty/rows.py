"""Points ledgers to rows of ``crmkit_points_entries`` and ``crmkit_points_balances``, and back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from crmkit.adapters.sqlalchemy.rows import at_or_none, from_us, hydrate, to_us, us_or_none
from crmkit.domain import EntryKind, LedgerEntry, PointsBalance, PointsLedger

__all__ = [
    "ENTRY_COLUMNS",
    "points_balance_from_row",
    "points_balance_row",
    "points_entry_from_row",
    "points_entry_rows",
    "points_entry_values",
]

#: The columns of ``crmkit_points_entries`` in the order of `points_entry_values`.
ENTRY_COLUMNS = (
    "tenant_id",
    "programme",
    "customer_id",
    "seq",
    "kind",
    "points",
    "at_us",
    "key",
    "rule",
    "interaction_id",
    "reference",
    "lot",
    "takes",
    "spend",
    "occurred_at_us",
    "available_from_us",
    "expires_at_us",
    "shortfall",
)

_SET = object.__setattr__


def points_entry_rows(
    tenant: str, ledger: PointsLedger, first_seq: int = 0
) -> list[dict[str, Any]]:
    """The ``crmkit_points_entries`` rows of a ledger's entries from position ``first_seq``."""
    programme, customer_id = ledger.programme.name, ledger.customer_id
    return [
        {
            "tenant_id": tenant,
            "programme": programme,
            "customer_id": customer_id,
            "seq": seq,
            "kind": entry.kind.value,
            "points": entry.points,
            "at_us": to_us(entry.at),
            "key": entry.key,
            "rule": entry.rule,
            "interaction_id": entry.interaction_id,
            "reference": entry.reference,
            "lot": entry.lot,
            "takes": json.dumps([[lot, points] for lot, points in entry.takes])
            if entry.takes
            else None,
            "spend": entry.spend,
            "occurred_at_us": us_or_none(entry.occurred_at),
            "available_from_us": us_or_none(entry.available_from),
            "expires_at_us": us_or_none(entry.expires_at),
            "shortfall": entry.shortfall,
        }
        for seq, entry in enumerate(ledger.entries[first_seq:], first_seq)
    ]


_KIND_VALUES = {kind: kind.value for kind in EntryKind}


def points_entry_values(
    tenant: str, ledger: PointsLedger, first_seq: int = 0
) -> list[tuple[Any, ...]]:
    """`points_entry_rows` as tuples in `ENTRY_COLUMNS` order (for a driver's executemany)."""
    programme, customer_id = ledger.programme.name, ledger.customer_id
    return [
        (
            tenant,
            programme,
            customer_id,
            seq,
            _KIND_VALUES[entry.kind],
            entry.points,
            to_us(entry.at),
            entry.key,
            entry.rule,
            entry.interaction_id,
            entry.reference,
            entry.lot,
            json.dumps([[lot, points] for lot, points in entry.takes]) if entry.takes else None,
            entry.spend,
            us_or_none(entry.occurred_at),
            us_or_none(entry.available_from),
            us_or_none(entry.expires_at),
            entry.shortfall,
        )
        for seq, entry in enumerate(ledger.entries[first_seq:], first_seq)
    ]


_ENTRY_KINDS = EntryKind._value2member_map_


def points_entry_from_row(row: Mapping[Any, Any]) -> LedgerEntry:
    """A ledger entry from its ``crmkit_points_entries`` row."""
    # Ledgers are read whole on every booking: build entries without re-validating them.
    takes = row["takes"]
    entry = _NEW_ENTRY(LedgerEntry)
    _SET(entry, "seq", row["seq"])
    _SET(entry, "kind", _ENTRY_KINDS[row["kind"]])
    _SET(entry, "points", int(row["points"]))
    _SET(entry, "at", from_us(row["at_us"]))
    _SET(entry, "key", row["key"])
    _SET(entry, "rule", row["rule"])
    _SET(entry, "interaction_id", row["interaction_id"])
    _SET(entry, "reference", row["reference"])
    _SET(entry, "lot", row["lot"])
    _SET(
        entry,
        "takes",
        () if takes is None else tuple((lot, int(n)) for lot, n in json.loads(takes)),
    )
    _SET(entry, "spend", int(row["spend"]))
    _SET(entry, "occurred_at", at_or_none(row["occurred_at_us"]))
    _SET(entry, "available_from", at_or_none(row["available_from_us"]))
    _SET(entry, "expires_at", at_or_none(row["expires_at_us"]))
    _SET(entry, "shortfall", int(row["shortfall"]))
    return entry


_NEW_ENTRY = object.__new__


def points_balance_row(tenant: str, balance: PointsBalance, version: int) -> dict[str, Any]:
    """The ``crmkit_points_balances`` row of a ledger's summary, stored at ``version``."""
    return {
        "tenant_id": tenant,
        "programme": balance.programme,
        "customer_id": balance.customer_id,
        "available": balance.available,
        "pending": balance.pending,
        "tier": balance.tier,
        "entries": balance.entries,
        "last_at_us": us_or_none(balance.last_at),
        "next_due_at_us": us_or_none(balance.next_due_at),
        "version": version,
    }


def points_balance_from_row(row: Mapping[Any, Any]) -> PointsBalance:
    """A ledger's stored summary from its ``crmkit_points_balances`` row."""
    return hydrate(
        PointsBalance,
        customer_id=row["customer_id"],
        programme=row["programme"],
        available=int(row["available"]),
        pending=int(row["pending"]),
        tier=row["tier"],
        entries=int(row["entries"]),
        last_at=at_or_none(row["last_at_us"]),
        next_due_at=at_or_none(row["next_due_at_us"]),
        version=int(row["version"]),
    )
