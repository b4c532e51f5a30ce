"""The application layer: use cases that load aggregates through a unit of work, call the
domain, commit, and publish the events the aggregates collected."""

from crmkit.app.bus import EventBus
from crmkit.app.clocks import FixedClock, SequentialIds, SystemClock, UuidIds
from crmkit.app.context import OpenUnitOfWork, ServiceContext
from crmkit.app.lifecycle import ProgressionReport
from crmkit.app.loyalty import PointsJobReport
from crmkit.app.service import CrmService
from crmkit.app.unit_of_work import BaseUnitOfWork, Publisher

__all__ = [
    "BaseUnitOfWork",
    "CrmService",
    "EventBus",
    "FixedClock",
    "OpenUnitOfWork",
    "PointsJobReport",
    "ProgressionReport",
    "Publisher",
    "SequentialIds",
    "ServiceContext",
    "SystemClock",
    "UuidIds",
]
