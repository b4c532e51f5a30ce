"""The shared half of every outbox reader: validated fetching and at-least-once relaying."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable

from crmkit.errors import ValidationError
from crmkit.ports import OutboxMessage

__all__ = ["OutboxReader"]

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
