"""Ports: the Protocols the application layer needs from the outside world.

An adapter (in memory, SQLAlchemy, or a third party's) implements the repositories and the
unit of work; `crmkit.testing.contract` proves that it does so faithfully. Every repository
is bound to one tenant by the unit of work that hands it out.
"""

from crmkit.ports.clock import Clock, IdSource
from crmkit.ports.customers import AccountRepository, CustomerRepository, CustomerStorage
from crmkit.ports.interactions import InteractionRepository, InteractionStorage
from crmkit.ports.lifecycle import LifecycleStorage, StageHistoryRepository
from crmkit.ports.loyalty import LoyaltyStorage, PointsLedgerRepository, ReferralRepository
from crmkit.ports.outbox import MAX_FETCH, Outbox, OutboxMessage, OutboxReader
from crmkit.ports.pages import ImportResult, OnExisting, Page, check_on_existing
from crmkit.ports.segments import SegmentMembershipRepository, SegmentStorage
from crmkit.ports.store import Capability, Store, capabilities_of
from crmkit.ports.unit_of_work import (
    BaseUnitOfWork,
    EventSource,
    Publisher,
    UnitOfWork,
    UnitOfWorkFactory,
)

__all__ = [
    "MAX_FETCH",
    "AccountRepository",
    "BaseUnitOfWork",
    "Capability",
    "Clock",
    "CustomerRepository",
    "CustomerStorage",
    "EventSource",
    "IdSource",
    "ImportResult",
    "InteractionRepository",
    "InteractionStorage",
    "LifecycleStorage",
    "LoyaltyStorage",
    "OnExisting",
    "Outbox",
    "OutboxMessage",
    "OutboxReader",
    "Page",
    "PointsLedgerRepository",
    "Publisher",
    "ReferralRepository",
    "SegmentMembershipRepository",
    "SegmentStorage",
    "StageHistoryRepository",
    "Store",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "capabilities_of",
    "check_on_existing",
]
