"""Timestamps are timezone-aware and in UTC, always.

A naive ``datetime`` is ambiguous (whose local time?), so it is refused instead of guessed.
An aware one in another zone is converted to UTC, which keeps ordering and equality exact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crmkit.errors import ValidationError

__all__ = ["ensure_utc", "ensure_utc_or_none"]


def ensure_utc(value: Any, path: str = "at") -> datetime:
    """Return ``value`` converted to UTC; raise `ValidationError` if it is naive or no datetime."""
    if not isinstance(value, datetime):
        raise ValidationError.single(path, value, "must be a timezone-aware datetime")
    offset = value.utcoffset()
    if offset is None:
        raise ValidationError.single(
            path, value, "naive datetime refused: give a timezone-aware datetime (UTC)"
        )
    if value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def ensure_utc_or_none(value: Any, path: str = "at") -> datetime | None:
    """Like `ensure_utc`, but let ``None`` through."""
    return None if value is None else ensure_utc(value, path)
