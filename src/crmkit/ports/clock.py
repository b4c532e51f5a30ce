"""Where time and new ids come from."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["Clock", "IdSource"]


class Clock(Protocol):
    """Tells the time. Injected so that tests (and the domain) never read the wall clock."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class IdSource(Protocol):
    """Hands out new unique ids (1-64 URL-safe characters)."""

    def new_id(self) -> str:
        """A new id, never handed out before."""
        ...
