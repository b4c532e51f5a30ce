"""What a ledger write must pass before it books: its instant, and an adjustment's arguments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crmkit.domain._checks import MAX_BIGINT
from crmkit.domain.values.texts import ensure_text
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import ValidationError

__all__ = ["MAX_REASON", "check_adjustment", "check_time"]

#: The longest reason an adjustment may give (it is kept on the entry as its rule).
MAX_REASON = 200


def check_time(at: datetime, last: datetime | None) -> None:
    """Refuse an ``at`` that is not UTC, or before ``last`` (the ledger's last entry or
    review): entries are booked in time order."""
    ensure_utc(at, "at")
    if last is not None and at < last:
        raise ValidationError.single(
            "at", at, f"is before the ledger's last entry or review ({last.isoformat()})"
        )


def check_adjustment(points: Any, reason: Any) -> None:
    """Refuse an adjustment of no points or of more than storage holds, or one whose reason
    is empty, too long or not text."""
    if type(points) is not int or points == 0 or abs(points) > MAX_BIGINT:
        raise ValidationError.single(
            "points", points, f"must be a non-zero int of at most {MAX_BIGINT} in size"
        )
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise ValidationError.single(
            "reason", reason, f"must be non-empty text of at most {MAX_REASON} characters"
        )
    ensure_text(reason, "reason")
