"""Timestamps are timezone-aware and in UTC, always.

A naive ``datetime`` is ambiguous (whose local time?), so it is refused instead of guessed.
An aware one in another zone is converted to UTC, which keeps ordering and equality exact.

Python's datetimes end at the years 1 and 9999 *in their own zone*: 0001-01-01 00:00 at
UTC+14 is a moment of the year 0 in UTC, and 9999-12-31 23:00 at UTC-14 one of the year
10000, so neither can be converted. Such a value is refused, naming the parameter, instead
of letting ``OverflowError`` escape. Arithmetic near the ends (a window reaching back 90
days from 0001-01-05, points expiring a year after 9999-06-01) goes through `earlier` and
`later`, which say "before the calendar starts" or "after it ends" instead of overflowing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crmkit.errors import ValidationError

__all__ = ["EARLIEST", "LATEST", "earlier", "ensure_utc", "ensure_utc_or_none", "later"]

#: The first and last instants a UTC datetime can hold.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def ensure_utc(value: Any, path: str = "at") -> datetime:
    """Return ``value`` converted to UTC.

    Args:
        value: an aware ``datetime`` in any zone.
        path: the parameter or field the error names.

    Returns:
        The same instant, in UTC.

    Raises:
        ValidationError: ``value`` is no datetime, is naive, has an offset its zone cannot
            give, or falls outside the years 1-9999 once in UTC.
    """
    if not isinstance(value, datetime):
        raise ValidationError.single(path, value, "must be a timezone-aware datetime")
    try:
        offset = value.utcoffset()
    except (ValueError, TypeError, OverflowError):  # a tzinfo answering nonsense
        raise ValidationError.single(path, value, "has a time zone with no valid offset") from None
    if offset is None:
        raise ValidationError.single(
            path, value, "naive datetime refused: give a timezone-aware datetime (UTC)"
        )
    if value.tzinfo is UTC:
        return value
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError.single(
            path, value, "cannot be converted to UTC: it falls outside the years 1-9999 there"
        ) from None


def ensure_utc_or_none(value: Any, path: str = "at") -> datetime | None:
    """Like `ensure_utc`, but let ``None`` through."""
    return None if value is None else ensure_utc(value, path)


def earlier(moment: datetime, delta: timedelta) -> datetime | None:
    """``moment - delta``, or ``None`` when that is before the first representable instant.

    A window's start before the calendar begins is no bound at all: nothing happened before
    it, so "since ``None``" is the exact answer.
    """
    try:
        return moment - delta
    except OverflowError:
        return None


def later(moment: datetime, delta: timedelta) -> datetime | None:
    """``moment + delta``, or ``None`` when that is after the last representable instant.

    A deadline after the calendar ends is never reached by any instant crmkit can hold, so
    ``None`` ("never") is the exact answer.
    """
    try:
        return moment + delta
    except OverflowError:
        return None
