"""Clocks and id sources: the only places crmkit reads the time or draws randomness.

Inject `FixedClock` and `SequentialIds` in tests for fully deterministic runs.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta

from crmkit.domain.values.timestamps import ensure_utc, later
from crmkit.errors import ValidationError

__all__ = ["FixedClock", "SequentialIds", "SystemClock", "UuidIds"]


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        """The current instant."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move: for tests and reproducible batch runs."""

    def __init__(self, at: datetime) -> None:
        self._now = ensure_utc(at, "at")

    def now(self) -> datetime:
        """The instant the clock shows."""
        return self._now

    def set(self, at: datetime) -> None:
        """Move the clock to ``at``."""
        self._now = ensure_utc(at, "at")

    def advance(self, delta: timedelta = timedelta(seconds=1)) -> datetime:
        """Move the clock forward by ``delta`` and return the new instant.

        Raises:
            ValidationError: ``delta`` is no ``timedelta``, or would move the clock past the
                first or last instant a datetime can hold.
        """
        if not isinstance(delta, timedelta):
            raise ValidationError.single("delta", delta, "must be a timedelta")
        moved = later(self._now, delta)
        if moved is None:
            raise ValidationError.single("delta", delta, "moves the clock outside the years 1-9999")
        self._now = moved
        return self._now


class UuidIds:
    """Random UUID4 ids as 32 hex digits: unique across processes and machines."""

    def new_id(self) -> str:
        """A new random id."""
        return uuid.uuid4().hex


class SequentialIds:
    """Predictable ids ``prefix-000001``, ``prefix-000002`` …: for tests and examples."""

    def __init__(self, prefix: str = "id", start: int = 1) -> None:
        self._prefix = prefix
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def new_id(self) -> str:
        """The next id in sequence."""
        with self._lock:
            return f"{self._prefix}-{next(self._counter):06d}"
