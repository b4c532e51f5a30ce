"""The storage crmkit runs on, and the capabilities it holds."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from crmkit.domain import (
    TenantId,
)
from crmkit.ports.outbox import Outbox
from crmkit.ports.unit_of_work import Publisher, UnitOfWork

__all__ = ["Capability", "Store", "capabilities_of"]


class Capability(StrEnum):
    """A part of crmkit a store may hold the data of (its unit of work's repositories)."""

    CUSTOMERS = "customers"  #: ``customers`` and ``accounts``
    INTERACTIONS = "interactions"  #: ``interactions``
    LIFECYCLE = "lifecycle"  #: ``stage_histories``
    SEGMENTS = "segments"  #: ``segment_memberships``
    LOYALTY = "loyalty"  #: ``points_ledgers`` and ``referrals``


class Store(Protocol):
    """A storage crmkit runs on: how a unit of work is opened for a tenant, and the outbox.

    `crmkit.adapters.memory.InMemoryStore` and `crmkit.adapters.sqlalchemy.SqlStore`
    implement it; so does any third-party adapter, and ``CRM(store, settings)`` then runs on
    it. `crmkit.testing.contract.AdapterContract` proves an implementation.
    """

    def unit_of_work(
        self, tenant: TenantId, publish: Publisher | None = None, *, read_only: bool = False
    ) -> UnitOfWork:
        """A new unit of work on ``tenant``'s data, publishing committed events to
        ``publish``; ``read_only`` promises it will only read (a store may open a cheaper
        transaction then, or ignore it)."""
        ...

    def outbox(self, *, tenant: str | None = None) -> Outbox:
        """The outbox of ``tenant`` (every tenant's with ``None``)."""
        ...


def capabilities_of(store: object) -> frozenset[Capability]:
    """What ``store`` holds: its ``capabilities`` attribute when it declares one (a store
    that implements only some repositories must), else every capability."""
    declared = getattr(store, "capabilities", None)
    if declared is None:
        return frozenset(Capability)
    return frozenset(Capability(c) for c in declared if c in tuple(Capability))
