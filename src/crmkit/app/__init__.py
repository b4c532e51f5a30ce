"""The application layer: services that load aggregates through a unit of work, call the
domain, commit, and publish the events the aggregates collected.

Each capability is one service class in its own module (`CustomerService`,
`InteractionService`, …), taking the shared `Context`; the `crmkit.CRM` front door composes
them as attributes.
"""

from crmkit.app.bus import EventBus, raise_handler_errors
from crmkit.app.clocks import FixedClock, SequentialIds, SystemClock, UuidIds
from crmkit.app.context import Context
from crmkit.app.settings import Settings

__all__ = [
    "Context",
    "EventBus",
    "FixedClock",
    "SequentialIds",
    "Settings",
    "SystemClock",
    "UuidIds",
    "raise_handler_errors",
]
