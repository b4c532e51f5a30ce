"""The running sums of a ledger's entries: the fold behind every balance, and the index that
finds entries by what they refer to.

`fold` adds up the entries booked up to an instant into a `LedgerState`; `running` gives the
balance after each entry; `Tally` is that fold kept beside a ledger by the stores, so a
ledger handed back does not add up its whole history again; `LedgerIndex` finds an entry by
its key, interaction or lot without scanning them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from crmkit.domain.loyalty.entries import EntryKind, LedgerEntry, LedgerState, LotState

if TYPE_CHECKING:
    from crmkit.domain.loyalty.head import LedgerHead

__all__ = ["LedgerIndex", "Tally", "fold", "running"]


_Lot = tuple[LedgerEntry, int, bool]  # (opening entry, remaining, available)
_TOTALS = ("earned", "in", "out", "redeem", "expire", "reverse")


def _moment(entry: LedgerEntry, left: int, ready: bool) -> datetime | None:
    """When a lot with ``left`` points next matures (pending) or expires (available)."""
    if not left:
        return None
    return entry.available_from if not ready else entry.expires_at


class _Tally:
    """The running sums of a fold: lots by key and totals. Lots are immutable tuples, so a
    copy of the tally (`copy`) costs a few dict copies, whatever the lots hold."""

    def __init__(self) -> None:
        self.lots: dict[str, _Lot] = {}
        self.open: dict[str, _Lot] = {}  # the lots with points left
        self.totals = dict.fromkeys(_TOTALS, 0)
        self.available = 0
        self.pending = 0
        #: The earliest instant an open lot matures or expires (None: never), if known.
        self.due: datetime | None = None
        self.due_known = True

    def copy(self) -> _Tally:
        twin = _Tally()
        twin.lots, twin.open, twin.totals = self.lots.copy(), self.open.copy(), self.totals.copy()
        twin.available, twin.pending = self.available, self.pending
        twin.due, twin.due_known = self.due, self.due_known
        return twin

    def next_due(self) -> datetime | None:
        """The earliest instant a lot with points left matures or expires (``None``: never)."""
        if not self.due_known:
            due = None
            for entry, left, ready in self.open.values():
                moment = _moment(entry, left, ready)
                if moment is not None and (due is None or moment < due):
                    due = moment
            self.due, self.due_known = due, True
        return self.due

    def _put(self, key: str, lot: _Lot) -> None:
        self.lots[key] = lot
        if lot[1]:
            self.open[key] = lot
        else:
            self.open.pop(key, None)

    def apply(self, entry: LedgerEntry) -> None:
        if entry.opens_lot:
            ready = entry.available_from is None or entry.available_from <= entry.at
            self.lots[entry.key] = self.open[entry.key] = (entry, entry.points, ready)
            self.totals["earned" if entry.kind is EntryKind.EARN else "in"] += entry.points
            self._move(entry.points, ready)
            moment = _moment(entry, entry.points, ready)
            # A new lot can only bring the next instant due forward (when it is known).
            if self.due_known and moment is not None and (self.due is None or moment < self.due):
                self.due = moment
        elif entry.kind is EntryKind.MATURE:
            self.due_known = False
            key = str(entry.lot)
            opened_by, left, _ = self.lots[key]
            self._move(-left, False)
            self._move(left, True)
            self._put(key, (opened_by, left, True))
        else:
            self.due_known = False
            for key, points in entry.takes:
                opened_by, left, ready = self.lots[key]
                self._move(-points, ready)
                self._put(key, (opened_by, left - points, ready))
            taken = sum(points for _, points in entry.takes)
            self.totals["out" if entry.kind is EntryKind.ADJUST else entry.kind.value] += taken

    def _move(self, points: int, available: bool) -> None:
        if available:
            self.available += points
        else:
            self.pending += points

    def state(self, as_of: datetime | None, *, open_only: bool = False) -> LedgerState:
        totals = self.totals
        lots = self.open if open_only else self.lots
        return LedgerState(
            as_of=as_of,
            lots=tuple(LotState(k, e, left, ok) for k, (e, left, ok) in lots.items()),
            earned=totals["earned"],
            adjusted_in=totals["in"],
            adjusted_out=totals["out"],
            redeemed=totals["redeem"],
            expired=totals["expire"],
            reversed=totals["reverse"],
        )


class LedgerIndex:
    """Where a ledger's entries are found by what they refer to, so that checking a replay or
    planning a refund looks up a few entries instead of scanning them all."""

    def __init__(self) -> None:
        #: Each idempotency key's first entry.
        self.keys: dict[str, LedgerEntry] = {}
        #: The earning entries of each interaction.
        self.earned: dict[str | None, tuple[LedgerEntry, ...]] = {}
        #: The refunds (interactions) that booked a reversal.
        self.refunds: set[str | None] = set()
        #: The reversals of each purchase.
        self.reversals: dict[str | None, tuple[LedgerEntry, ...]] = {}
        #: The earning entries by the UTC day their interaction occurred (for period caps).
        self.earned_on: dict[date, tuple[LedgerEntry, ...]] = {}

    def copy(self) -> LedgerIndex:
        # The values are tuples, replaced rather than changed: shallow copies are independent.
        twin = LedgerIndex()
        twin.keys, twin.earned = self.keys.copy(), self.earned.copy()
        twin.reversals, twin.earned_on = self.reversals.copy(), self.earned_on.copy()
        twin.refunds = set(self.refunds)
        return twin

    def apply(self, entry: LedgerEntry) -> None:
        self.keys.setdefault(entry.key, entry)
        if entry.kind is EntryKind.EARN:
            self.earned[entry.interaction_id] = (*self.earned.get(entry.interaction_id, ()), entry)
            if entry.occurred_at is not None:
                day = entry.occurred_at.date()
                self.earned_on[day] = (*self.earned_on.get(day, ()), entry)
        elif entry.kind is EntryKind.REVERSE:
            self.refunds.add(entry.interaction_id)
            self.reversals[entry.reference] = (*self.reversals.get(entry.reference, ()), entry)

    def earned_between(self, first: date, last: date) -> list[LedgerEntry]:
        """The earning entries whose interaction occurred from day ``first`` to ``last``."""
        found: list[LedgerEntry] = []
        day = first
        while day <= last:
            found.extend(self.earned_on.get(day, ()))
            day += timedelta(days=1)
        return found


class Tally:
    """A fold kept up to date as entries are appended, with an index of them, so a ledger's
    current state costs only the entries booked since it was last asked for."""

    def __init__(self) -> None:
        self._tally = _Tally()
        self._index = LedgerIndex()
        self._count = 0
        self._last: LedgerEntry | None = None
        self._state: LedgerState | None = None
        self._ordered = True
        self._shared = False  # the sums and the index are shared with a copy
        self._learned: set[int] = set()  # the stored entries learned (`learn`)

    def copy(self) -> Tally:
        """An independent copy (for another ledger holding the same entries). It shares
        the sums and the index until one of the two books an entry, which then copies
        them (a few dict copies, never a new fold)."""
        twin = Tally()
        twin._tally, twin._index = self._tally, self._index
        twin._count, twin._last, twin._state = self._count, self._last, self._state
        twin._ordered, twin._learned = self._ordered, self._learned
        twin._shared = self._shared = True
        return twin

    @classmethod
    def from_head(cls, head: LedgerHead) -> Tally:
        """The tally of the entries ``head`` describes: their sums (open lots only) and an
        index that knows none of them until they are `learn`-ed."""
        tally = cls()
        sums = tally._tally
        for entry, left, ready in head.lots:
            sums.lots[entry.key] = sums.open[entry.key] = (entry, left, ready)
            sums._move(left, ready)
        sums.due_known = False
        sums.totals = dict(zip(_TOTALS, head.totals, strict=True))
        tally._count, tally._last, tally._ordered = head.entries, head.last, head.ordered
        return tally

    def learn(self, entries: list[LedgerEntry], found: Iterable[LedgerEntry]) -> None:
        """Add stored entries found in the store (``found``, among those the head of
        ``entries`` describes) to the index, each once."""
        self._catch_up(entries)
        self._own()
        for entry in found:
            if entry.seq not in self._learned:
                self._learned.add(entry.seq)
                self._index.apply(entry)

    def head_parts(
        self, entries: list[LedgerEntry]
    ) -> tuple[tuple[tuple[LedgerEntry, int, bool], ...], tuple[int, ...], bool]:
        """The open lots, the totals (in `LedgerHead` order) and whether ``entries`` are in
        time order."""
        self._catch_up(entries)
        totals = self._tally.totals
        return tuple(self._tally.open.values()), tuple(totals[k] for k in _TOTALS), self._ordered

    def _own(self) -> None:
        if self._shared:
            self._tally, self._index = self._tally.copy(), self._index.copy()
            self._learned = set(self._learned)
            self._shared = False

    def holds(self, entries: Sequence[LedgerEntry]) -> bool:
        """True when the tally is caught up with exactly ``entries`` (the same last entry)."""
        return self._count == len(entries) and (not entries or entries[-1] is self._last)

    def _catch_up(self, entries: list[LedgerEntry]) -> None:
        known, count = self._count, len(entries)
        if count == known and (not count or entries[-1] is self._last):
            return  # caught up already (the usual case)
        if known > count or (known and entries[known - 1] is not self._last):
            # The list was replaced or changed: start over.
            self._tally, self._index = _Tally(), LedgerIndex()
            known, self._count, self._last, self._state = 0, 0, None, None
            self._learned = set()
            self._ordered, self._shared = True, False
        if known < len(entries):
            self._own()
            previous = self._last
            for entry in entries[known:]:
                self._tally.apply(entry)
                self._index.apply(entry)
                if previous is not None and entry.at < previous.at:
                    self._ordered = False
                previous = entry
            self._count = len(entries)
            self._last = entries[-1]
            self._state = None

    def in_time_order(self, entries: list[LedgerEntry]) -> bool:
        """True when no entry of ``entries`` is dated before the one it follows."""
        self._catch_up(entries)
        return self._ordered

    def index(self, entries: list[LedgerEntry]) -> LedgerIndex:
        """The index of ``entries`` (which must only ever grow)."""
        self._catch_up(entries)
        return self._index

    def open_state(self, entries: list[LedgerEntry]) -> LedgerState:
        """The state after ``entries`` with only the lots that have points left: what booking
        needs, at the cost of the open lots rather than of every lot ever opened."""
        self._catch_up(entries)
        return self._tally.state(None, open_only=True)

    def state(self, entries: list[LedgerEntry], as_of: datetime | None = None) -> LedgerState:
        """The state after every entry of ``entries`` (which must only ever grow)."""
        self._catch_up(entries)
        if self._state is None or self._state.as_of != as_of:
            self._state = self._tally.state(as_of)
        return self._state

    def points(self, entries: list[LedgerEntry]) -> int:
        """The member's points (available and pending) after ``entries``."""
        self._catch_up(entries)
        return self._tally.available + self._tally.pending

    def figures(self, entries: list[LedgerEntry]) -> tuple[int, int, datetime | None]:
        """The available and pending points after ``entries`` and the earliest instant a lot
        with points left matures or expires (``None``: never), without building a state."""
        self._catch_up(entries)
        tally = self._tally
        return tally.available, tally.pending, tally.next_due()


def fold(entries: Iterable[LedgerEntry], as_of: datetime | None = None) -> LedgerState:
    """Add up the entries booked at or before ``as_of`` (all of them when ``None``)."""
    tally = _Tally()
    for entry in entries:
        if as_of is not None and entry.at > as_of:
            break
        tally.apply(entry)
    return tally.state(as_of)


def running(entries: Iterable[LedgerEntry]) -> Iterator[tuple[LedgerEntry, int, int]]:
    """Each entry with the member's available and pending points just after it."""
    tally = _Tally()
    for entry in entries:
        tally.apply(entry)
        yield entry, tally.available, tally.pending
