"""A ledger's head: what booking needs of its stored entries, kept beside them.

Booking on a ledger needs its open lots, its totals, its last entry and, for a programme with
tiers, the entries inside the tier's lookback window — never the whole history. A store keeps
that `LedgerHead` beside the entries (written in the same transaction) and restores a ledger
from it with `PointsLedger.from_head`: the entries are then a `StoredEntries`, which holds
only those booked since and reads the rest from a `LedgerHistory` (the store) when something
asks for them — a statement, a past ``as_of`` — or, a few at a time, when booking must know
whether a key, an interaction or a refunded purchase is already in the ledger.

The head is derived data: `head_of` a ledger equals the head folded from all its entries,
however they were booked, and a store that finds a head of another version rebuilds it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, MutableSequence, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol, overload

import attrs

from crmkit.domain.loyalty.entries import EntryKind, LedgerEntry
from crmkit.domain.loyalty.programme import Programme
from crmkit.domain.values.timestamps import earlier

__all__ = [
    "EntriesHistory",
    "LedgerHead",
    "LedgerHistory",
    "StoredEntries",
    "fits",
    "lookback_of",
    "related",
    "window_of",
]

#: An open lot in a head: the entry that opened it, the points left, whether available.
HeadLot = tuple[LedgerEntry, int, bool]


@attrs.frozen
class LedgerHead:
    """The state of a ledger's first ``entries`` entries that booking needs.

    Attributes:
        entries: how many entries it describes (seq 0 to ``entries - 1``).
        last: the last of them (``None``: none).
        lots: the open lots (points left), in the order they were opened.
        totals: earned, adjusted in, adjusted out, redeemed, expired, reversed.
        window: every earning and reversal booked after ``since`` (all of them when
            ``since`` is ``None``), in ledger order: what a tier window looks at.
        since: the instant the window starts after (see ``window``).
        ordered: whether the entries are in time order.
    """

    entries: int
    last: LedgerEntry | None
    lots: tuple[HeadLot, ...]
    totals: tuple[int, int, int, int, int, int]
    window: tuple[LedgerEntry, ...]
    since: datetime | None
    ordered: bool = True

    def covers(self, since: datetime | None) -> bool:
        """True when the window holds every earning and reversal booked after ``since``."""
        return self.since is None or (since is not None and self.since <= since)


def lookback_of(programme: Programme) -> timedelta | None:
    """How far the programme's tier window looks back from an instant (``None``: no tiers)."""
    if not programme.tiers:
        return None
    policy = programme.tier_policy
    return timedelta(days=policy.window_days + policy.retention_days)


def fits(head: LedgerHead, lookback: timedelta | None) -> bool:
    """True when ``head`` can serve a programme whose tiers look back ``lookback`` (``None``:
    a programme without tiers) from the head's last entry on."""
    if lookback is None or head.last is None:
        return True
    return head.covers(earlier(head.last.at, lookback))


class LedgerHistory(Protocol):
    """A store's stored entries of one ledger (those a `LedgerHead` describes)."""

    def all(self) -> Sequence[LedgerEntry]:
        """Every stored entry, in ledger order."""
        ...

    def related(
        self,
        *,
        keys: Collection[str] = (),
        interactions: Collection[str] = (),
        references: Collection[str] = (),
        occurred: tuple[date, date] | None = None,
    ) -> list[LedgerEntry]:
        """The stored entries with one of ``keys``, booked for one of ``interactions``,
        referring to one of ``references`` or earned for an interaction that occurred on a
        UTC day from ``occurred[0]`` to ``occurred[1]`` (any order)."""
        ...


_QUALIFYING = (EntryKind.EARN, EntryKind.REVERSE)


class StoredEntries(MutableSequence[LedgerEntry]):
    """A ledger's entries when restored from its head: those booked since are held, the
    stored ones read from the `LedgerHistory` the first time anything but the length, the
    last entry or the new entries is asked for (after which it is a plain list)."""

    def __init__(self, head: LedgerHead, history: LedgerHistory) -> None:
        self.head = head
        self._history: LedgerHistory | None = history
        self._items: list[LedgerEntry] = []  # the new entries, or every entry once read
        self._base = head.entries  # how many entries _items lacks at its start
        #: The stored entries as read (`load`); ``None`` until then.
        self.original: tuple[LedgerEntry, ...] | None = () if not head.entries else None

    @property
    def loaded(self) -> bool:
        """True once the stored entries were read (or there were none)."""
        return self._base == 0

    @property
    def new(self) -> list[LedgerEntry]:
        """The entries after the head's (a copy)."""
        return self._items[self.head.entries - self._base :]

    def load(self) -> list[LedgerEntry]:
        """Read the stored entries (once) and return every entry."""
        if self._base:
            assert self._history is not None
            stored = list(self._history.all())
            if len(stored) != self._base:
                raise RuntimeError(  # the store's head and entries disagree: never trusted
                    f"the stored ledger holds {len(stored)} entries, its head {self._base}"
                )
            self.original = tuple(stored)
            self._items = [*stored, *self._items]
            self._base, self._history = 0, None
        return self._items

    def recall(self, **what: Any) -> list[LedgerEntry]:
        """The stored entries `LedgerHistory.related` finds (none once loaded: the caller's
        index holds them all then)."""
        if not self._base or self._history is None:
            return []
        return self._history.related(**what)

    def __len__(self) -> int:
        return self._base + len(self._items)

    @overload
    def __getitem__(self, index: int) -> LedgerEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[LedgerEntry]: ...

    def __getitem__(self, index: int | slice) -> LedgerEntry | list[LedgerEntry]:
        if index == -1 and self._items:
            return self._items[-1]  # the last entry (asked for on every booking)
        base = self._base
        if base:
            if isinstance(index, slice):
                start, stop, step = index.indices(len(self))
                if step == 1 and start >= base:
                    return self._items[start - base : max(stop - base, 0)]
            else:
                at = index + len(self) if index < 0 else index
                if at >= base:
                    return self._items[at - base]
                if at == base - 1 and self.head.last is not None:
                    return self.head.last
        return self.load()[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        self.load()[index] = value

    def __delitem__(self, index: int | slice) -> None:
        del self.load()[index]

    def insert(self, index: int, value: LedgerEntry) -> None:
        if index >= len(self):
            self._items.append(value)
        else:
            self.load().insert(index, value)

    def append(self, value: LedgerEntry) -> None:
        self._items.append(value)

    def extend(self, values: Iterable[LedgerEntry]) -> None:
        self._items.extend(values)

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self.load())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredEntries):
            other = other.load()
        return isinstance(other, list) and self.load() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self._base:
            return f"StoredEntries({self._base} stored, new={self._items!r})"
        return repr(self._items)

    def window(self) -> list[LedgerEntry]:
        """The head's window and the new entries: every entry a tier window looks at from
        the last stored entry on."""
        if not self._base:
            return self._items
        return [*self.head.window, *self._items]


def window_of(
    entries: Sequence[LedgerEntry], since: datetime | None, ordered: bool
) -> tuple[LedgerEntry, ...]:
    """The earnings and reversals of ``entries`` booked after ``since`` (all: ``None``)."""
    if since is not None and ordered:
        low = len(entries)
        while low and entries[low - 1].at > since:
            low -= 1
        scanned: Iterable[LedgerEntry] = entries[low:]
    else:
        scanned = entries
    return tuple(e for e in scanned if e.kind in _QUALIFYING and (since is None or e.at > since))


class EntriesHistory:
    """A `LedgerHistory` over entries in memory (a scan: for tests and small stores)."""

    def __init__(self, entries: Sequence[LedgerEntry]) -> None:
        self._entries = tuple(entries)
        #: How many times every entry was asked for (`all`).
        self.reads = 0

    def all(self) -> Sequence[LedgerEntry]:
        """Every entry."""
        self.reads += 1
        return self._entries

    def related(
        self,
        *,
        keys: Collection[str] = (),
        interactions: Collection[str] = (),
        references: Collection[str] = (),
        occurred: tuple[date, date] | None = None,
    ) -> list[LedgerEntry]:
        """The entries `LedgerHistory.related` describes."""
        return [e for e in self._entries if related(e, keys, interactions, references, occurred)]


def related(
    entry: LedgerEntry,
    keys: Collection[str],
    interactions: Collection[str],
    references: Collection[str],
    occurred: tuple[date, date] | None,
) -> bool:
    """Whether ``entry`` is one `LedgerHistory.related` asks for."""
    if entry.key in keys or entry.interaction_id in interactions or entry.reference in references:
        return True
    if occurred is None or entry.kind is not EntryKind.EARN or entry.occurred_at is None:
        return False
    return occurred[0] <= entry.occurred_at.date() <= occurred[1]
