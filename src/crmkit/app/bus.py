"""The event bus: hands committed domain events to the handlers a host subscribed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from crmkit.domain import DomainEvent

__all__ = ["EventBus", "Handler", "raise_handler_errors"]

E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], None]

# Whether a failing handler's exception reaches the code that committed (tests) instead of
# being logged (production); see `raise_handler_errors`.
_raising = False


def raise_handler_errors(enabled: bool = True) -> bool:
    """Make a failing event handler's exception propagate from the commit that published
    the event (``enabled=True``), or be logged and swallowed (the production default).

    A host's test suite turns it on so that a broken handler fails the test that set it off;
    crmkit's pytest plugin does so for every test (ini option ``crmkit_handler_errors``).
    The data is committed either way: the handler runs after the commit.

    Args:
        enabled: raise (``True``) or log (``False``).

    Returns:
        The previous setting, to restore it.
    """
    global _raising
    if type(enabled) is not bool:
        from crmkit.errors import ValidationError

        raise ValidationError.single("enabled", enabled, "must be True or False")
    previous, _raising = _raising, enabled
    return previous


class EventBus:
    """Calls every handler subscribed to an event's type (or a base type) in subscription order.

    Handlers run after the commit, so a failing handler cannot undo stored data; its exception
    is logged on the ``crmkit.events`` logger and the remaining handlers still run (unless
    `raise_handler_errors` is on: then the first failure propagates).
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
                        if _raising:
                            raise
                        import logging  # deferred: most processes never need it

                        logging.getLogger("crmkit.events").exception(
                            "event handler %r failed on %r", handler, event
                        )
