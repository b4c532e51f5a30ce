"""The in-memory store's outbox: the events committed with their changes, in order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmkit.adapters._lookups import check_outbox_read
from crmkit.domain import TenantId
from crmkit.ports import OutboxMessage, OutboxReader

if TYPE_CHECKING:
    from crmkit.adapters.memory.store import InMemoryStore

__all__ = ["InMemoryOutbox"]


class InMemoryOutbox(OutboxReader):
    """The in-memory store's outbox: the same behaviour as the SQL one, for tests."""

    def __init__(self, store: InMemoryStore, tenant: TenantId | None) -> None:
        self._store = store
        self._tenant = tenant

    def _mine(self, message: OutboxMessage) -> bool:
        return self._tenant is None or message.tenant == self._tenant

    def read(self, *, after: int = 0, limit: int = 100) -> list[OutboxMessage]:
        """The messages, delivered or not, whose position is above ``after``, in order.

        Args:
            after: the position to read after: 0 for the start, else the last one read.
            limit: at most this many (1 to 10,000).

        Returns:
            The messages of this outbox's tenant (or of every tenant), oldest first.

        Raises:
            ValidationError: ``after`` or ``limit`` is not an int in range.
        """
        check_outbox_read(after, limit)
        with self._store.lock:
            # The list is in position order: positions are handed out as messages are added.
            later = [m for m, _ in self._store._outbox if m.position > after and self._mine(m)]
        return later[:limit]

    def _fetch(self, limit: int) -> list[OutboxMessage]:
        with self._store.lock:
            waiting = [m for m, done in self._store._outbox if not done and self._mine(m)]
        return waiting[:limit]

    def _acknowledge(self, positions: list[int]) -> int:
        wanted = set(positions)
        marked = 0
        with self._store.lock:
            entries = self._store._outbox
            for index, (message, done) in enumerate(entries):
                if message.position in wanted and not done and self._mine(message):
                    entries[index] = (message, True)
                    marked += 1
        return marked

    def pending(self) -> int:
        """How many messages wait for delivery."""
        with self._store.lock:
            return sum(1 for m, done in self._store._outbox if not done and self._mine(m))

    def purge(self) -> int:
        """Forget delivered messages (positions are never reused); returns how many."""
        with self._store.lock:
            entries = self._store._outbox
            kept = [(m, done) for m, done in entries if not (done and self._mine(m))]
            purged = len(entries) - len(kept)
            entries[:] = kept
            return purged
