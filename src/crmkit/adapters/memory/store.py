"""The in-memory store: every tenant's tables and the outbox, behind one lock."""

from __future__ import annotations

import itertools
import threading

from crmkit.adapters.memory.outbox import InMemoryOutbox
from crmkit.adapters.memory.tables import Tables
from crmkit.adapters.memory.unit_of_work import InMemoryUnitOfWork
from crmkit.domain import DomainEvent, TenantId
from crmkit.domain.values.ids import check_tenant
from crmkit.ports import OutboxMessage, Publisher

__all__ = ["InMemoryStore"]


class InMemoryStore:
    """Every tenant's data, in process memory. Share one store between CRMs to share data."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._tenants: dict[TenantId, Tables] = {}
        self._outbox: list[tuple[OutboxMessage, bool]] = []  # (message, delivered)
        self._positions = itertools.count(1)

    def outbox(self, *, tenant: str | None = None) -> InMemoryOutbox:
        """The outbox reader, for every tenant or just ``tenant`` (as the SQL adapter's)."""
        return InMemoryOutbox(self, None if tenant is None else check_tenant(tenant))

    def _append_events(self, tenant: TenantId, events: list[DomainEvent]) -> None:
        for event in events:
            position = next(self._positions)
            message = OutboxMessage(position, tenant, event.aggregate_id, event, event.at)
            self._outbox.append((message, False))

    def tables(self, tenant: TenantId) -> Tables:
        """The tables of ``tenant`` (created empty on first use)."""
        with self.lock:
            return self._tenants.setdefault(tenant, Tables())

    def unit_of_work(
        self, tenant: TenantId, publish: Publisher | None = None, *, read_only: bool = False
    ) -> InMemoryUnitOfWork:
        """A unit of work on ``tenant``'s data. ``read_only`` (a promise to only read) changes
        nothing here: the store takes no lock for a unit of work."""
        return InMemoryUnitOfWork(self, tenant, publish)
