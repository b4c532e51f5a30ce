"""What a member's ledger adds up to: the stored balance beside it, and statement lines."""

from __future__ import annotations

from datetime import datetime

import attrs

from crmkit.domain.loyalty.entries import LedgerEntry
from crmkit.domain.values.ids import CustomerId

__all__ = ["PointsBalance", "StatementLine"]


@attrs.frozen
class StatementLine:
    """One line of a statement: an entry, and the member's points just after it."""

    entry: LedgerEntry
    available: int
    pending: int


@attrs.frozen
class PointsBalance:
    """What a member's booked ledger adds up to, kept beside the ledger so that reading a
    balance never scans it (the SQL adapter stores it as one row per member).

    Attributes:
        customer_id: the member.
        programme: the programme's name.
        available: the booked available points (the balance).
        pending: the booked pending points.
        tier: the tier at ``last_at`` (``None``: no tier).
        entries: how many entries the ledger holds.
        last_at: the instant the figures are as of: the last entry, or the last run of the
            batch job for the member if later (``None``: never).
        next_due_at: the earliest instant after ``last_at`` when a pending lot matures, a lot
            with points left expires or the tier changes with time alone, as entries leave
            its window or its retention (``None``: nothing will). Until then the stored
            figures are exact.
        version: the ledger's stored version.
    """

    customer_id: CustomerId
    programme: str
    available: int
    pending: int
    tier: str | None
    entries: int
    last_at: datetime | None
    next_due_at: datetime | None
    version: int

    def settled_at(self, as_of: datetime) -> bool:
        """True when nothing matures or expires by ``as_of``: the booked figures hold then."""
        return self.next_due_at is None or as_of < self.next_due_at
