"""Tiers: levels a member qualifies for by what they earned or spent in a rolling window.

Qualification counts points *earned* (net of reversals), never the current balance — spending
points must not cost a member their tier — or money spent (net of refunds), over the
``window_days`` before the instant asked about. A member keeps the best tier they qualified
for at any moment of the last ``retention_days`` (0: downgrade as soon as they fall short),
so the tier at T depends only on entries booked in ``(T - window - retention, T]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import attrs

from crmkit.domain._checks import check_slug, non_negative_int
from crmkit.domain.interactions.channels import enum_of
from crmkit.domain.loyalty._tier_window import best_at, qualification_steps, tier_name
from crmkit.domain.loyalty.entries import EntryKind, LedgerEntry
from crmkit.domain.values.timestamps import earlier
from crmkit.errors import ValidationError

__all__ = ["Tier", "TierBasis", "TierPolicy"]


class TierBasis(StrEnum):
    """What qualifies a member for a tier."""

    POINTS_EARNED = "points_earned"
    MONEY_SPENT = "money_spent"


def _exact(value: Any) -> Any:
    # A whole number is an exact factor too; anything else is left for the validator.
    return Decimal(value) if type(value) is int else value


@attrs.frozen
class Tier:
    """A level reached at ``threshold`` (points earned, or minor units spent) in the window.

    ``multiplier`` is the tier's benefit: what its members earn is multiplied by it.
    """

    name: str = attrs.field(validator=check_slug)
    threshold: int = attrs.field(validator=non_negative_int)
    multiplier: Decimal = attrs.field(converter=_exact, default=Decimal(1), kw_only=True)

    @multiplier.validator
    def _check_multiplier(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            raise ValidationError.single(
                "multiplier", value, "must be a whole number or a finite Decimal, above 0"
            )


def _basis(value: Any) -> TierBasis:
    return enum_of(TierBasis, value, "basis")


#: The longest period (a window, a retention, a pending or an expiry period) in days: 100
#: years. Bounded so that adding it to a date is plain arithmetic, never an OverflowError.
MAX_DAYS = 36_600


def _positive_days(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or not 0 < value <= MAX_DAYS:
        raise ValidationError.single(
            attribute.name, value, f"must be a number of days, 1-{MAX_DAYS}"
        )


def day_count(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A number of days from 0 to `MAX_DAYS`, checked by magnitude."""
    if type(value) is not int or not 0 <= value <= MAX_DAYS:
        raise ValidationError.single(
            attribute.name, value, f"must be a number of days, 0-{MAX_DAYS}"
        )


def optional_day_count(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Like `day_count`, or ``None``."""
    if value is not None:
        day_count(instance, attribute, value)


@attrs.frozen
class TierPolicy:
    """How tiers are earned and kept: the basis, the rolling window and the retention."""

    basis: TierBasis = attrs.field(default=TierBasis.POINTS_EARNED, converter=_basis)
    window_days: int = attrs.field(default=365, validator=_positive_days)
    retention_days: int = attrs.field(default=0, validator=day_count)

    @property
    def lookback(self) -> timedelta:
        """How far back the tier at T looks: the window plus the retention."""
        return timedelta(days=self.window_days + self.retention_days)

    def qualifying(self, entries: Sequence[LedgerEntry], at: datetime) -> int:
        """What counts towards a tier at ``at``: entries booked in ``(at - window, at]``."""
        start = earlier(at, timedelta(days=self.window_days))  # None: before the year 1
        inside = [e for e in entries if (start is None or start < e.at) and e.at <= at]
        if self.basis is TierBasis.POINTS_EARNED:
            earned = sum(e.points for e in inside if e.kind is EntryKind.EARN)
            return earned - sum(e.points + e.shortfall for e in inside if _refund(e))
        spent = {e.interaction_id: e.spend for e in inside if e.kind is EntryKind.EARN}
        return sum(spent.values()) - sum(e.spend for e in inside if _refund(e))

    def tier_at(
        self, tiers: Sequence[Tier], entries: Sequence[LedgerEntry], at: datetime
    ) -> str | None:
        """The tier a member holds at ``at`` (``None``: below every threshold), from the
        entries booked by then (one sweep over those of the lookback window)."""
        # A lookback reaching before the calendar's first instant (`earlier` gives None)
        # holds every entry booked by then.
        since = earlier(at, self.lookback)
        relevant = [e for e in entries if (since is None or since < e.at) and e.at <= at]
        steps = qualification_steps(
            relevant, timedelta(days=self.window_days), self.basis is TierBasis.MONEY_SPENT
        )
        return tier_name(tiers, best_at(steps, at, timedelta(days=self.retention_days)))


def _refund(entry: LedgerEntry) -> bool:
    return entry.kind is EntryKind.REVERSE
