"""Ledger heads in ``crmkit_points_balances.head``, and the stored entries behind them.

The head (`crmkit.domain.loyalty.head.LedgerHead`) is a JSON document written with the
balance row, in the same statement, with the version it describes (``head_version``). It is
used only when that version is the row's and it describes as many entries as the row
counts; anything else — no head (a ledger stored before migration 0008), another version, a
document that does not parse — and the ledger is read whole, as before, and gets a fresh
head when next saved. `SqlHistory` answers what booking asks of the stored entries
(`LedgerHistory`) with indexed lookups, or from what `find_many` read for the interactions
about to be booked.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from crmkit.adapters.sqlalchemy.loyalty import rows as m
from crmkit.adapters.sqlalchemy.loyalty.tables import points_entries
from crmkit.adapters.sqlalchemy.rows import from_us, to_us, us_or_none
from crmkit.adapters.sqlalchemy.session import Session
from crmkit.domain import EntryKind, LedgerEntry
from crmkit.domain.loyalty.head import LedgerHead

__all__ = ["HEAD_FORMAT", "SqlHistory", "head_document", "head_from_document", "prefetch"]

#: The format of the head documents this code writes (others are not used).
HEAD_FORMAT = 1

_E = points_entries.c
#: The interactions whose stored entries were read, and those entries by interaction.
Prefetched = tuple[frozenset[str], dict[str, list[LedgerEntry]]]
_SET = object.__setattr__
_NEW = object.__new__
_KINDS = EntryKind._value2member_map_


def _entry(e: LedgerEntry) -> list[Any]:
    return [
        e.seq, e.kind.value, e.points, to_us(e.at), e.key, e.rule, e.interaction_id,
        e.reference, e.lot, [list(take) for take in e.takes], e.spend,
        us_or_none(e.occurred_at), us_or_none(e.available_from), us_or_none(e.expires_at),
        e.shortfall,
    ]  # fmt: skip


def _at(micros: int | None) -> datetime | None:
    return None if micros is None else from_us(micros)


def _from(values: list[Any]) -> LedgerEntry:
    # Written by `_entry` from a checked entry: rebuilt without checking it again.
    entry = _NEW(LedgerEntry)
    _SET(entry, "seq", int(values[0]))
    _SET(entry, "kind", _KINDS[values[1]])
    _SET(entry, "points", int(values[2]))
    _SET(entry, "at", from_us(values[3]))
    for name, value in zip(
        ("key", "rule", "interaction_id", "reference", "lot"), values[4:9], strict=True
    ):
        _SET(entry, name, value)
    _SET(entry, "takes", tuple((str(lot), int(n)) for lot, n in values[9]))
    _SET(entry, "spend", int(values[10]))
    _SET(entry, "occurred_at", _at(values[11]))
    _SET(entry, "available_from", _at(values[12]))
    _SET(entry, "expires_at", _at(values[13]))
    _SET(entry, "shortfall", int(values[14]))
    return entry


def head_document(head: LedgerHead) -> str:
    """The JSON document of ``head``."""
    return json.dumps(
        {
            "format": HEAD_FORMAT,
            "entries": head.entries,
            "last": None if head.last is None else _entry(head.last),
            "lots": [[_entry(e), left, ready] for e, left, ready in head.lots],
            "totals": list(head.totals),
            "window": [_entry(e) for e in head.window],
            "since": us_or_none(head.since),
            "ordered": head.ordered,
        },
        separators=(",", ":"),
    )


def head_from_document(document: str | None, entries: int) -> LedgerHead | None:
    """The head in ``document`` if it is one this code wrote for ``entries`` entries, or
    ``None`` (never trusted otherwise: the ledger is then read whole)."""
    if document is None:
        return None
    try:
        found = json.loads(document)
        if found["format"] != HEAD_FORMAT or found["entries"] != entries:
            return None
        head = LedgerHead(
            entries=entries,
            last=None if found["last"] is None else _from(found["last"]),
            lots=tuple((_from(e), int(left), bool(ready)) for e, left, ready in found["lots"]),
            totals=tuple(int(n) for n in found["totals"]),  # type: ignore[arg-type]
            window=tuple(_from(e) for e in found["window"]),
            since=_at(found["since"]),
            ordered=bool(found["ordered"]),
        )
    except (ValueError, KeyError, TypeError, IndexError, OverflowError):
        return None
    if len(head.totals) != 6 or (head.last is None) != (entries == 0):
        return None
    if head.last is not None and head.last.seq != entries - 1:
        return None
    return head


def _day_us(day: date) -> int:
    return to_us(datetime.combine(day, time(), tzinfo=UTC))


class SqlHistory:
    """The stored entries of one ledger (the first ``count``), read when booking asks."""

    def __init__(
        self,
        session: Session,
        programme: str,
        customer_id: str,
        count: int,
        read: Prefetched | None = None,
    ) -> None:
        self._s, self._programme, self._customer, self._count = (
            session, programme, customer_id, count,
        )  # fmt: skip
        #: The interactions whose stored entries were read, and those entries by interaction.
        self._asked, self._known = read if read is not None else (frozenset(), {})

    def _mine(self) -> Any:
        return and_(
            _E.tenant_id == self._s.tenant,
            _E.programme == self._programme,
            _E.customer_id == self._customer,
            _E.seq < self._count,
        )

    def _read(self, condition: Any) -> list[LedgerEntry]:
        query = select(points_entries).where(self._mine(), condition).order_by(_E.seq)
        rows = self._s.connection.execute(query).mappings().all()
        return [m.points_entry_from_row(row) for row in rows]

    def all(self) -> Sequence[LedgerEntry]:
        """Every stored entry, in order."""
        return self._read(_E.seq >= 0)

    def related(
        self,
        *,
        keys: Collection[str] = (),
        interactions: Collection[str] = (),
        references: Collection[str] = (),
        occurred: tuple[date, date] | None = None,
    ) -> list[LedgerEntry]:
        """The stored entries `crmkit.domain.loyalty.head.LedgerHistory.related` names: the
        interactions already read come from memory, the rest from one query."""
        count, known = self._count, self._known
        found = [
            e for i in interactions if i in self._asked for e in known.get(i, ()) if e.seq < count
        ]
        asked = [i for i in interactions if i not in self._asked]
        conditions: list[Any] = []
        if keys:
            conditions.append(_E.key.in_(list(keys)))
        if asked:
            conditions.append(_E.interaction_id.in_(asked))
        if references:
            conditions.append(_E.reference.in_(list(references)))
        if occurred is not None:
            first = _day_us(occurred[0])
            after = _day_us(occurred[1] + timedelta(days=1)) if occurred[1] < date.max else None
            window: list[Any] = [_E.kind == EntryKind.EARN.value, _E.occurred_at_us >= first]
            if after is not None:
                window.append(_E.occurred_at_us < after)
            conditions.append(and_(*window))
        if conditions:
            found += self._read(or_(*conditions))
        return found


def prefetch(
    session: Session, programme: str, customers: Collection[str], interactions: Collection[str]
) -> dict[str, Prefetched]:
    """The stored entries of ``interactions`` that belong to each of ``customers``, read
    with one query per 500 interactions on the interaction index (no ``ORDER BY``: one on
    the primary key would tempt a planner into scanning the table in key order)."""
    wanted = sorted(set(interactions))
    asked = frozenset(wanted)
    found: dict[str, dict[str, list[LedgerEntry]]] = {c: {} for c in customers}
    for start in range(0, len(wanted), 500):
        query = select(points_entries).where(
            _E.tenant_id == session.tenant,
            _E.programme == programme,
            _E.interaction_id.in_(wanted[start : start + 500]),
        )
        for row in session.connection.execute(query).mappings().all():
            mine = found.get(row["customer_id"])
            if mine is not None:
                entry = m.points_entry_from_row(row)
                mine.setdefault(str(entry.interaction_id), []).append(entry)
    for entries in found.values():
        for listed in entries.values():
            listed.sort(key=lambda e: e.seq)
    return {customer: (asked, entries) for customer, entries in found.items()}
