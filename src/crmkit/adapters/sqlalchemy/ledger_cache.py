"""A process-wide cache of points ledgers' entries, keyed by the ledger and its version.

Booking on a ledger reads it whole; a busy member's ledger is read again and again. Entries
are append-only and every change to a ledger bumps its version in the same transaction, so
the entries of (tenant, programme, customer) at version v never change: a cached copy is
exactly what the database would return for a balance row at version v. Only committed
states are cached (what a transaction read before writing that ledger, or wrote and then
committed), the least recently used ledgers are evicted beyond a total number of entries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from crmkit.domain import LedgerEntry

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
        self._ledgers: OrderedDict[LedgerKey, tuple[int, tuple[LedgerEntry, ...]]] = OrderedDict()

    def get(self, key: LedgerKey, version: int) -> tuple[LedgerEntry, ...] | None:
        """The entries of ``key`` at ``version``, if cached."""
        with self._lock:
            found = self._ledgers.get(key)
            if found is None or found[0] != version:
                return None
            self._ledgers.move_to_end(key)
            return found[1]

    def put(self, key: LedgerKey, version: int, entries: tuple[LedgerEntry, ...]) -> None:
        """Remember the committed entries of ``key`` at ``version`` (a newer version wins)."""
        if len(entries) > self._max:
            return
        with self._lock:
            old = self._ledgers.get(key)
            if old is not None:
                if old[0] > version:
                    return
                self._held -= len(old[1])
            self._ledgers[key] = (version, entries)
            self._ledgers.move_to_end(key)
            self._held += len(entries)
            while self._held > self._max and self._ledgers:
                _, (_, evicted) = self._ledgers.popitem(last=False)
                self._held -= len(evicted)

    def put_all(self, items: Iterable[tuple[LedgerKey, int, tuple[LedgerEntry, ...]]]) -> None:
        """`put` each of ``items``."""
        for key, version, entries in items:
            self.put(key, version, entries)

    def clear(self) -> None:
        """Forget everything (e.g. after the tables were emptied by hand)."""
        with self._lock:
            self._ledgers.clear()
            self._held = 0
