"""The event bus: hands committed domain events to the handlers a host subscribed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from crmkit.domain import DomainEvent

__all__ = ["EventBus", "Handler"]

E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], None]


class EventBus:
    """Calls every handler subscribed to an event's type (or a base type) in subscription order.

    Handlers run after the commit, so a failing handler cannot undo stored data; its exception
    is logged on the ``crmkit.events`` logger and the remaining handlers still run.
    """

    def __init__(self) -> None:
        self._handlers: list[tuple[type[DomainEvent], Handler]] = []

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Call ``handler(event)`` for every published event that is an ``event_type``.

        Returns a function that unsubscribes the handler again.
        """
        entry: tuple[type[DomainEvent], Handler] = (event_type, handler)
        self._handlers.append(entry)

        def unsubscribe() -> None:
            if entry in self._handlers:
                self._handlers.remove(entry)

        return unsubscribe

    def publish(self, events: Iterable[DomainEvent]) -> None:
        """Deliver ``events`` in order to the matching handlers."""
        for event in events:
            for event_type, handler in list(self._handlers):
                if isinstance(event, event_type):
                    try:
                        handler(event)
                    except Exception:
                        import logging  # deferred: most processes never need it

                        logging.getLogger("crmkit.events").exception(
                            "event handler %r failed on %r", handler, event
                        )
