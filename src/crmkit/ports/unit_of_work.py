"""The unit of work: one atomic change to one tenant's data, over every capability.

`UnitOfWork` is the Protocol the application uses; `BaseUnitOfWork` is the shared half of
every implementation (the ``with`` protocol, event collection, publishing after commit), which
an adapter subclasses, supplying ``_begin``, ``_commit`` and ``_rollback``. Its repositories
call ``_track`` with every aggregate they hand out or store, so the events those aggregates
collect are gathered at commit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from crmkit.domain import (
    DomainEvent,
    TenantId,
)
from crmkit.errors import UsageError
from crmkit.ports.customers import CustomerStorage
from crmkit.ports.interactions import InteractionStorage
from crmkit.ports.lifecycle import LifecycleStorage
from crmkit.ports.loyalty import LoyaltyStorage
from crmkit.ports.segments import SegmentStorage

__all__ = ["BaseUnitOfWork", "EventSource", "Publisher", "UnitOfWork", "UnitOfWorkFactory"]


class UnitOfWork(
    CustomerStorage, InteractionStorage, LifecycleStorage, SegmentStorage, LoyaltyStorage, Protocol
):
    """One atomic change to one tenant's data.

    Use it as a context manager: leaving the block without `commit` rolls everything back.
    After a successful commit the events of every aggregate it saw are published. Its
    repositories come from one protocol per capability (`CustomerStorage`,
    `InteractionStorage`, …); a store holding only some capabilities declares so in its
    ``capabilities`` (see `crmkit.ports.Store`).
    """

    @property
    def tenant(self) -> TenantId:
        """The tenant every repository of this unit of work is bound to."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> list[DomainEvent]:
        """Make every change durable at once, then publish and return the events."""
        ...

    def rollback(self) -> None:
        """Discard every change made since the unit of work began."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]

#: What a unit of work publishes its committed events to.
Publisher = Callable[[list[DomainEvent]], None]


class EventSource(Protocol):
    """An aggregate that collects domain events."""

    def pull_events(self) -> list[DomainEvent]:
        """Hand over the collected events and forget them."""
        ...


class BaseUnitOfWork(ABC):
    """Begins on ``__enter__``, rolls back on ``__exit__`` unless committed.

    `commit` may be called more than once inside one ``with`` block: each call makes the
    changes so far durable and starts afresh.
    """

    def __init__(self, tenant: TenantId, publish: Publisher | None = None) -> None:
        self.tenant = tenant
        self._publish = publish
        self._seen: dict[int, EventSource] = {}
        self._open = False

    def __enter__(self) -> Self:
        if self._open:
            raise UsageError("this unit of work is already open; create a new one")
        self._seen = {}
        self._begin()
        self._open = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._open = False
            self._close()

    def commit(self) -> list[DomainEvent]:
        """Make every change durable atomically, then publish and return the events."""
        self._require_open()
        events = self._collect()
        self._commit(events)
        self._seen = {}
        if self._publish is not None and events:
            self._publish(events)
        return events

    def rollback(self) -> None:
        """Discard every change since the last commit, and the events of what was seen."""
        if not self._open:
            return
        self._collect()  # drop the events: they describe changes that never happened
        self._seen = {}
        self._rollback()

    def _collect(self) -> list[DomainEvent]:
        return [event for aggregate in self._seen.values() for event in aggregate.pull_events()]

    def _track(self, aggregate: EventSource) -> None:
        self._seen.setdefault(id(aggregate), aggregate)

    def _require_open(self) -> None:
        if not self._open:
            raise UsageError("a unit of work must be used inside its 'with' block")

    # The adapter's half.

    @abstractmethod
    def _begin(self) -> None:
        """Start a transaction."""

    @abstractmethod
    def _commit(self, events: list[DomainEvent]) -> None:
        """Make the transaction durable (an adapter may store ``events`` in it too)."""

    @abstractmethod
    def _rollback(self) -> None:
        """Discard the transaction."""

    def _close(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release resources when the ``with`` block ends (optional)."""
