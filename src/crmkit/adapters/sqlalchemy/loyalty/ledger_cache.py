"""A process-wide cache of points ledgers' entries, keyed by the ledger and its version.

Booking on a ledger reads it whole; a busy member's ledger is read again and again. Entries
are append-only and every change to a ledger bumps its version in the same transaction, so
the entries of (tenant, programme, customer) at version v never change: a cached copy is
exactly what the database would return for a balance row at version v. Only committed
states are cached (what a transaction read before writing that ledger, or wrote and then
committed), the least recently used ledgers are evicted beyond a total number of entries.
With the entries it keeps their running tally (`crmkit.domain.loyalty.tally.Tally`), so a
ledger read from the cache is not added up again from its first entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from crmkit.domain import LedgerEntry
from crmkit.domain.loyalty.tally import Tally

__all__ = ["LedgerCache", "LedgerKey"]

LedgerKey = tuple[str, str, str]  # (tenant, programme, customer)

#: How many entries the cache holds at most, all ledgers together (a few tens of MB).
DEFAULT_MAX_ENTRIES = 200_000


class LedgerCache:
    """Committed ledger entries by (tenant, programme, customer) and version."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._max = max_entries
        self._held = 0
        self._ledgers: OrderedDict[LedgerKey, tuple[int, tuple[LedgerEntry, ...], Tally | None]] = (
            OrderedDict()
        )

    def get(self, key: LedgerKey, version: int) -> tuple[LedgerEntry, ...] | None:
        """The entries of ``key`` at ``version``, if cached."""
        found = self.get_with_tally(key, version)
        return None if found is None else found[0]

    def get_with_tally(
        self, key: LedgerKey, version: int
    ) -> tuple[tuple[LedgerEntry, ...], Tally | None] | None:
        """The entries of ``key`` at ``version`` and their running tally (if kept), if
        cached. The tally is shared: hand it to `PointsLedger.restore`, which copies it."""
        with self._lock:
            found = self._ledgers.get(key)
            if found is None or found[0] != version:
                return None
            self._ledgers.move_to_end(key)
            return found[1], found[2]

    def put(
        self,
        key: LedgerKey,
        version: int,
        entries: tuple[LedgerEntry, ...],
        tally: Tally | None = None,
    ) -> None:
        """Remember the committed entries of ``key`` at ``version`` (a newer version wins),
        with their running tally (never changed once given)."""
        if len(entries) > self._max:
            return
        with self._lock:
            old = self._ledgers.get(key)
            if old is not None:
                if old[0] > version:
                    return
                self._held -= len(old[1])
            self._ledgers[key] = (version, entries, tally)
            self._ledgers.move_to_end(key)
            self._held += len(entries)
            while self._held > self._max and self._ledgers:
                _, (_, evicted, _) = self._ledgers.popitem(last=False)
                self._held -= len(evicted)

    def discard(self, key: LedgerKey) -> None:
        """Forget what is cached of ``key`` (it was written without its entries at hand)."""
        with self._lock:
            old = self._ledgers.pop(key, None)
            if old is not None:
                self._held -= len(old[1])

    def put_all(
        self, items: Iterable[tuple[LedgerKey, int, tuple[LedgerEntry, ...] | None, Tally | None]]
    ) -> None:
        """`put` each of ``items``; one without entries (a ledger written from its head) is
        `discard`-ed instead, so that no older state of it stays cached."""
        for key, version, entries, tally in items:
            if entries is None:
                self.discard(key)
            else:
                self.put(key, version, entries, tally)

    def clear(self) -> None:
        """Forget everything (e.g. after the tables were emptied by hand)."""
        with self._lock:
            self._ledgers.clear()
            self._held = 0
