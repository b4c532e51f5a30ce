"""The outbox: committed events waiting to be forwarded, and the shared half of a reader."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

import attrs

from crmkit.domain import (
    DomainEvent,
    TenantId,
)
from crmkit.errors import ValidationError

__all__ = ["MAX_FETCH", "Outbox", "OutboxMessage", "OutboxReader"]


@attrs.frozen
class OutboxMessage:
    """One stored event awaiting delivery.

    Attributes:
        position: its place in the outbox; messages are handed out in this order.
        tenant: the tenant whose change raised it.
        aggregate_id: the customer or account it is about.
        event: the domain event itself.
        recorded_at: the instant of the change.
    """

    position: int
    tenant: TenantId
    aggregate_id: str
    event: DomainEvent
    recorded_at: datetime


class Outbox(Protocol):
    """The events committed with their changes, waiting to be forwarded by the host."""

    def fetch(self, limit: int = 100) -> list[OutboxMessage]:
        """The oldest undelivered messages, at most ``limit``, in outbox order."""
        ...

    def acknowledge(self, messages: Iterable[OutboxMessage | int]) -> int:
        """Mark messages (or positions) delivered; returns how many were newly marked."""
        ...

    def relay(self, send: Callable[[OutboxMessage], object], *, limit: int = 100) -> int:
        """Send pending messages oldest first, acknowledging each once ``send`` returned."""
        ...

    def pending(self) -> int:
        """How many messages wait for delivery."""
        ...

    def read(self, *, after: int = 0, limit: int = 100) -> list[OutboxMessage]:
        """Messages, delivered or not, positioned after ``after``, oldest first, at most
        ``limit`` (1 to 10,000): pass the last one's position back to read on."""
        ...

    def purge(self) -> int:
        """Delete delivered messages; returns how many were deleted."""
        ...


MAX_FETCH = 10_000


class OutboxReader(ABC):
    """Implements `crmkit.ports.Outbox` on top of an adapter's ``_fetch``, ``_acknowledge``,
    ``pending`` and ``purge``."""

    def fetch(self, limit: int = 100) -> list[OutboxMessage]:
        """The oldest undelivered messages, at most ``limit``, in outbox order."""
        if type(limit) is not int or not 1 <= limit <= MAX_FETCH:
            raise ValidationError.single("limit", limit, f"must be an int from 1 to {MAX_FETCH}")
        return self._fetch(limit)

    def acknowledge(self, messages: Iterable[OutboxMessage | int]) -> int:
        """Mark messages (or positions) as delivered; returns how many were newly marked."""
        positions = []
        for message in messages:
            position = message.position if isinstance(message, OutboxMessage) else message
            if type(position) is not int:
                raise ValidationError.single("messages", message, "must be messages or positions")
            positions.append(position)
        return self._acknowledge(positions) if positions else 0

    def relay(self, send: Callable[[OutboxMessage], object], *, limit: int = 100) -> int:
        """Send each pending message (oldest first) and acknowledge it once ``send`` returned.

        If ``send`` raises, that message and the ones after it stay pending for the next
        call: delivery is at least once. Returns how many were sent.
        """
        sent = 0
        for message in self.fetch(limit):
            send(message)
            self.acknowledge([message])
            sent += 1
        return sent

    @abstractmethod
    def pending(self) -> int:
        """How many messages wait for delivery."""

    @abstractmethod
    def purge(self) -> int:
        """Delete delivered messages; returns how many were deleted."""

    @abstractmethod
    def _fetch(self, limit: int) -> list[OutboxMessage]:
        """The oldest ``limit`` undelivered messages."""

    @abstractmethod
    def _acknowledge(self, positions: list[int]) -> int:
        """Mark positions delivered; return how many were newly marked."""
