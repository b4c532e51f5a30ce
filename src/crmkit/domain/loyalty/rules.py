"""Earning rules of a loyalty programme: what earns points, how many, and when.

A `SpendRule` earns points per unit of money spent, rounded with a stated mode; an
`EventRule` earns fixed points per interaction of one kind; a `Multiplier` scales what the
rules earn when its conditions hold; a `PeriodCap` bounds what a member earns per day, week
or month. Every rule has a name (a slug) that the ledger entries it produces carry, and
optional validity dates. Each rule checks its own fields when built; the `Programme` checks
how they fit together.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)
from enum import StrEnum
from typing import Any

import attrs

from crmkit.domain._checks import SLUG, check_slug, optional_storable, to_utc
from crmkit.domain._lists import listed
from crmkit.domain.interactions.channels import Channel, channel_of, enum_of
from crmkit.domain.rules.conditions import Condition
from crmkit.domain.values.money import Money
from crmkit.domain.values.texts import ensure_text
from crmkit.domain.values.timestamps import ensure_utc_or_none
from crmkit.errors import ValidationError

__all__ = [
    "CATEGORY",
    "ROUNDING_MODES",
    "EventRule",
    "Multiplier",
    "Period",
    "PeriodCap",
    "SpendRule",
]

#: The interaction metadata key holding a purchase's product category (for multipliers).
CATEGORY = "category"

#: The rounding modes a spend rule may state (those of `decimal`).
ROUNDING_MODES = frozenset(
    {ROUND_DOWN, ROUND_FLOOR, ROUND_UP, ROUND_CEILING, ROUND_HALF_UP, ROUND_HALF_EVEN}
)


def _positive_int(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or value <= 0:
        raise ValidationError.single(attribute.name, value, "must be an integer > 0")


def _optional_utc(value: Any) -> Any:
    return to_utc(value)


def _check_when(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    ensure_utc_or_none(value, attribute.name)


def _check_window(instance: Any) -> None:
    start, end = instance.valid_from, instance.valid_until
    if start is not None and end is not None and end <= start:
        raise ValidationError.single("valid_until", end, "must be after valid_from")


def _valid(instance: Any, when: datetime) -> bool:
    start, end = instance.valid_from, instance.valid_until
    return (start is None or start <= when) and (end is None or when < end)


def _kind_set(value: Iterable[str]) -> frozenset[str]:
    kinds = listed("kinds", value, "interaction kinds")
    for kind in kinds:
        if not isinstance(kind, str) or not SLUG.fullmatch(kind):
            raise ValidationError.single("kinds", kind, "must be an interaction kind (a slug)")
    return frozenset(kinds)


def _exact(value: Any) -> Any:
    # A whole number is an exact factor too; anything else is left for the validator.
    return Decimal(value) if type(value) is int else value


@attrs.frozen
class SpendRule:
    """Earn ``points`` for every ``per`` of money spent on interactions of ``kinds``.

    The exact quotient (``amount / per * points``, times any multipliers) is rounded once to
    whole points with ``rounding`` (a `decimal` mode; ``ROUND_DOWN`` by default, so a member
    never earns for money not yet spent). Only amounts in ``per``'s currency earn: an amount
    in another currency earns nothing from this rule, as crmkit never guesses a rate.
    The rule applies to interactions that occurred in ``[valid_from, valid_until)``.
    """

    name: str = attrs.field(validator=check_slug)
    points: int = attrs.field(validator=_positive_int)
    per: Money = attrs.field()
    rounding: str = attrs.field(default=ROUND_DOWN, kw_only=True)
    kinds: frozenset[str] = attrs.field(
        default=frozenset({"purchase"}), converter=_kind_set, kw_only=True
    )
    valid_from: datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_check_when, kw_only=True
    )
    valid_until: datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_check_when, kw_only=True
    )

    @per.validator
    def _check_per(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, Money) or value.minor <= 0:
            raise ValidationError.single("per", value, "must be a positive amount of Money")

    @rounding.validator
    def _check_rounding(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in ROUNDING_MODES:
            raise ValidationError.single("rounding", value, "must be a decimal ROUND_* mode")

    def __attrs_post_init__(self) -> None:
        if not self.kinds:
            raise ValidationError.single("kinds", self.kinds, "must name at least one kind")
        _check_window(self)

    def base(self, kind: str, amount: Money | None, when: datetime) -> Decimal:
        """The exact, unrounded points an interaction earns from this rule (0 if none)."""
        if kind not in self.kinds or amount is None or not _valid(self, when):
            return Decimal(0)
        if amount.currency != self.per.currency or amount.minor <= 0:
            return Decimal(0)
        return Decimal(amount.minor) * self.points / Decimal(self.per.minor)


@attrs.frozen
class EventRule:
    """Earn a fixed number of ``points`` for each interaction of ``kind`` (sign-up, review …).

    The kind must be an `InteractionKind` or a custom kind the programme declares.
    """

    name: str = attrs.field(validator=check_slug)
    kind: str = attrs.field()
    points: int = attrs.field(validator=_positive_int)
    valid_from: datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_check_when, kw_only=True
    )
    valid_until: datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_check_when, kw_only=True
    )

    @kind.validator
    def _check_kind(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str) or not SLUG.fullmatch(value):
            raise ValidationError.single("kind", value, "must be a lower-case slug")

    def __attrs_post_init__(self) -> None:
        _check_window(self)

    def base(self, kind: str, amount: Money | None, when: datetime) -> Decimal:
        """The points an interaction earns from this rule (0 if it does not apply)."""
        return Decimal(self.points) if kind == self.kind and _valid(self, when) else Decimal(0)


def _channels(value: Any) -> frozenset[Channel]:
    return frozenset(channel_of(v, "channels") for v in listed("channels", value, "channels"))


def _categories(value: Any) -> frozenset[str]:
    found = frozenset(listed("categories", value, "categories"))
    if not all(isinstance(v, str) and v.strip() for v in found):
        raise ValidationError.single("categories", value, "must hold non-empty text")
    for category in found:
        ensure_text(category, "categories")
    return found


@attrs.frozen
class Multiplier:
    """Scale what the earning rules award by ``factor`` when every stated condition holds.

    Conditions left ``None`` (or empty) do not restrict: ``tier`` (the member's tier),
    ``channels`` (the interaction's channel), ``categories`` (the product category an
    interaction names in its metadata under `CATEGORY`, ``"category"``),
    ``valid_from``/``valid_until`` (when it occurred) and ``segment`` (a `Condition` on the
    member's `Facts`; it holds only when facts are given). Multipliers that apply multiply
    together.
    """

    name: str = attrs.field(validator=check_slug)
    factor: Decimal = attrs.field(converter=_exact)
    tier: str | None = attrs.field(default=None, kw_only=True, validator=optional_storable)
    channels: frozenset[Channel] = attrs.field(
        default=frozenset(), converter=_channels, kw_only=True
    )
    segment: Condition | None = attrs.field(default=None, kw_only=True)
    valid_from: datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_check_when, kw_only=True
    )
    valid_until: datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_check_when, kw_only=True
    )
    categories: frozenset[str] = attrs.field(
        default=frozenset(), converter=_categories, kw_only=True
    )

    @factor.validator
    def _check_factor(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            raise ValidationError.single(
                "factor", value, "must be a whole number or a finite Decimal, above 0"
            )

    @segment.validator
    def _check_segment(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not isinstance(value, Condition):
            raise ValidationError.single("segment", value, "must be a Condition or None")

    def __attrs_post_init__(self) -> None:
        _check_window(self)

    def applies(
        self,
        tier: str | None,
        channel: Channel,
        when: datetime,
        in_segment: bool | None,
        category: object = None,
    ) -> bool:
        """True when every condition of the multiplier holds."""
        if self.tier is not None and tier != self.tier:
            return False
        if self.channels and channel not in self.channels:
            return False
        if self.categories and category not in self.categories:
            return False
        if self.segment is not None and not in_segment:
            return False
        return _valid(self, when)


class Period(StrEnum):
    """A calendar period in UTC: a day, an ISO week (from Monday) or a month."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    def key(self, when: datetime) -> tuple[int, int, int]:
        """The period ``when`` falls in, as a comparable key."""
        if self is Period.DAY:
            return (when.year, when.month, when.day)
        if self is Period.WEEK:
            year, week, _ = when.isocalendar()
            return (year, week, 0)
        return (when.year, when.month, 0)


def _period(value: Any) -> Period:
    return enum_of(Period, value, "period")


@attrs.frozen
class PeriodCap:
    """At most ``points`` earned by one member per ``period`` (by when interactions occurred).

    Gross earnings count: a later reversal does not free room under the cap.
    """

    period: Period = attrs.field(converter=_period)
    points: int = attrs.field(validator=_positive_int)
