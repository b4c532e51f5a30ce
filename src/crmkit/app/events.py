"""`crm.events`: subscribe to committed domain events, and read the outbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from crmkit.app.context import Context
from crmkit.domain import DomainEvent
from crmkit.domain._arguments import flag
from crmkit.errors import ValidationError
from crmkit.ports import Outbox

__all__ = ["EventService"]

E = TypeVar("E", bound=DomainEvent)


class EventService:
    """The events of one CRM: in-process subscribers and the durable outbox."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Call ``handler`` with every committed event that is an ``event_type`` (a
        `DomainEvent` class), after the commit that stored it.

        A handler that raises is logged on the ``crmkit.events`` logger and the other
        handlers still run (see `crmkit.events.raise_handler_errors` for tests).

        Returns:
            A function that unsubscribes the handler again.

        Raises:
            ValidationError: ``event_type`` is no `DomainEvent` class, or ``handler`` is not
                callable.
        """
        if not isinstance(event_type, type) or not issubclass(event_type, DomainEvent):
            raise ValidationError.single(
                "event_type", event_type, "must be a DomainEvent class, e.g. CustomerRegistered"
            )
        if not callable(handler):
            raise ValidationError.single("handler", handler, "must be callable")
        return self._context.bus.subscribe(event_type, handler)

    def outbox(self, *, all_tenants: bool = False) -> Outbox:
        """The events committed with their changes, waiting to be forwarded: this tenant's,
        or every tenant's with ``all_tenants=True``.

        Returns:
            An `Outbox` to read the messages after a position and acknowledge them.

        Raises:
            ValidationError: ``all_tenants`` is no bool.
        """
        tenant = None if flag(all_tenants, "all_tenants") else self._context.tenant
        return self._context.store.outbox(tenant=tenant)
