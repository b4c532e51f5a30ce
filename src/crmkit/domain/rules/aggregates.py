"""Aggregate leaves: a measure of the customer's interactions in a time window (counts,
sums, net spend, averages, first and last times), compared with an operand."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any, ClassVar, Final

import attrs

from crmkit.domain._checks import SLUG
from crmkit.domain._frozen import FrozenMap
from crmkit.domain._lists import listed
from crmkit.domain._same import same_value
from crmkit.domain.interactions.channels import (
    Channel,
    Direction,
    InteractionKind,
    channel_of,
    enum_of,
)
from crmkit.domain.interactions.interaction import Interaction
from crmkit.domain.rules.conditions import MAX_WINDOW_DAYS, Condition, Facts
from crmkit.domain.rules.leaves import (
    _INT64,
    EQUALITY,
    MAX_LIST_VALUES,
    NULLS,
    ORDERED,
    FieldType,
    Op,
    _items,
    _op,
    check_operand,
    compare,
)
from crmkit.domain.values.money import Money
from crmkit.domain.values.texts import ensure_text
from crmkit.domain.values.timestamps import earlier, ensure_utc
from crmkit.errors import ValidationError

__all__ = [
    "AggregateCondition",
    "MISSABLE_MEASURES",
    "MONEY_MEASURES",
    "Measure",
    "NET_SPEND_SIGNS",
    "Window",
    "same_metadata",
]


class Measure(StrEnum):
    """What an `AggregateCondition` computes over the matching interactions."""

    COUNT = "count"  # how many (0 when none)
    SUM = "sum"  # the total amount in one currency (0 when none)
    NET_SPEND = "net_spend"  # purchases minus refunds in one currency (0 when none)
    MIN_AT = "min_at"  # the first occurred_at (missing when none)
    MAX_AT = "max_at"  # the last occurred_at (missing when none)
    DISTINCT_DAYS = "distinct_days"  # on how many UTC dates (0 when none)
    AVG = "avg"  # the mean amount in one currency, exactly (missing when none)


#: The measures of amounts of money, compared with `Money` in their ``currency``.
MONEY_MEASURES: Final = frozenset({Measure.SUM, Measure.NET_SPEND, Measure.AVG})
#: The measures that may be missing (no interaction to take them from): they also take
#: ``is_null`` / ``is_not_null``, and any other comparison of a missing one is false.
MISSABLE_MEASURES: Final = frozenset({Measure.MIN_AT, Measure.MAX_AT, Measure.AVG})
#: What net spend adds (purchases) and takes away (refunds); other kinds add nothing.
NET_SPEND_SIGNS: Final[Mapping[str, int]] = {
    InteractionKind.PURCHASE.value: 1,
    InteractionKind.REFUND.value: -1,
}


def _since(value: Any) -> datetime | None:
    return None if value is None else ensure_utc(value, "since")


def _until(value: Any) -> datetime | None:
    return None if value is None else ensure_utc(value, "until")


@attrs.frozen
class Window:
    """Which interactions an aggregate looks at, relative to ``as_of``.

    ``last_days=N``: ``(as_of - N days, as_of]``. ``since``/``until``: ``since <= t < until``
    (either may be open). Neither: every interaction. Never anything after ``as_of``.
    """

    last_days: int | None = attrs.field(default=None, kw_only=True)
    since: datetime | None = attrs.field(default=None, converter=_since)
    until: datetime | None = attrs.field(default=None, converter=_until)

    def __attrs_post_init__(self) -> None:
        days = self.last_days
        if days is not None:
            if type(days) is not int or not 1 <= days <= MAX_WINDOW_DAYS:
                raise ValidationError.single(
                    "last_days", days, f"must be an integer from 1 to {MAX_WINDOW_DAYS}"
                )
            if self.since is not None or self.until is not None:
                raise ValidationError.single("last_days", days, "give last_days or since/until")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValidationError.single("until", self.until, "must be after since")

    def bounds(self, as_of: datetime) -> tuple[datetime | None, bool, datetime, bool]:
        """``(start, start_inclusive, end, end_inclusive)`` of the window at ``as_of``."""
        if self.last_days is not None:
            # Reaching back before the year 1, the window has no start (`earlier` gives None).
            return earlier(as_of, timedelta(days=self.last_days)), False, as_of, True
        if self.until is not None and self.until <= as_of:
            return self.since, True, self.until, False
        return self.since, True, as_of, True

    def contains(self, at: datetime, as_of: datetime) -> bool:
        """True when an interaction at ``at`` falls in the window at ``as_of``."""
        start, start_in, end, end_in = self.bounds(as_of)
        if at > end or (at == end and not end_in):
            return False
        return start is None or at > start or (at == start and start_in)


def _text_set(path: str, value: Any, what: str) -> frozenset[str]:
    items = listed(path, value, what)
    for item in items:
        if not isinstance(item, str) or not item or len(item) > 500:
            raise ValidationError.single(path, item, "must be text of 1-500 characters")
        ensure_text(item, path)
    if len(items) > MAX_LIST_VALUES:
        raise ValidationError.single(path, len(items), f"at most {MAX_LIST_VALUES} values")
    return frozenset(items)


def _campaigns(value: Any) -> frozenset[str]:
    return _text_set("campaigns", value, "campaigns")


def _kinds(value: Any) -> frozenset[str]:
    items = _text_set("kinds", value, "interaction kinds")
    for item in items:
        if not SLUG.fullmatch(item):
            raise ValidationError.single("kinds", item, "must be an interaction kind (a slug)")
    return items


def _channels(value: Any) -> frozenset[Channel]:
    return frozenset(channel_of(c, "channels") for c in listed("channels", value, "channels"))


def _directions(value: Any) -> frozenset[Direction]:
    items = listed("directions", value, "directions")
    return frozenset(enum_of(Direction, d, "directions") for d in items)


def _metadata(value: Any) -> Mapping[str, str | int | bool]:
    if not isinstance(value, Mapping):
        raise ValidationError.single("metadata", value, "must map keys to values")
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 64:
            raise ValidationError.single("metadata", key, "a key must be 1-64 characters")
        ensure_text(key, "metadata")
        if isinstance(item, str):
            ensure_text(item, f"metadata.{key}")
        elif isinstance(item, bool):
            continue
        elif not isinstance(item, int) or not _INT64[0] <= item <= _INT64[1]:
            raise ValidationError.single(
                f"metadata.{key}", item, "must be text, a 64-bit int or a bool"
            )
    return FrozenMap(value)


def same_metadata(actual: object, wanted: object) -> bool:
    # True is not 1 here: metadata keeps its JSON type, and so does the SQL comparison.
    return same_value(actual, wanted)


def _window(value: Any) -> Window:
    if not isinstance(value, Window):
        raise ValidationError.single("window", value, "must be a Window")
    return value


def _measure(value: Any) -> Measure:
    return enum_of(Measure, value, "measure")


_MEASURE_OPS = EQUALITY - {Op.IN, Op.NOT_IN} | ORDERED


@attrs.frozen
class AggregateCondition(Condition):
    """A measure of the customer's matching interactions in a window, compared with a value:
    "3+ purchases in the last 90 days", "spent over 500 EUR this year".

    Filters (empty: any): ``kinds``, ``channels``, ``directions``, ``campaigns``, and
    ``metadata`` (every key equal). ``SUM`` needs ``currency`` and a `Money` value in it;
    interactions with no amount or another currency add nothing. ``NET_SPEND`` is what a
    shop means by spend: the purchases' amounts minus the refunds' (both recorded positive),
    in ``currency`` like ``SUM``; it picks the purchases and refunds itself, so it takes no
    ``kinds``. ``AVG`` is the mean amount of the matching interactions that have an amount in
    ``currency``, compared exactly with a `Money` value ``v``: ``avg >= v`` holds when
    ``sum >= v * n`` in integer minor units (no rounding at all). A customer with no such
    interaction has no average: like a missing first or last time, only ``is_null`` holds for
    it, every other comparison is false, and ``~`` negates that plainly (``~(avg >= v)``
    holds for a customer who never bought).
    """

    kind: ClassVar[str] = "aggregate"
    measure: Measure = attrs.field(converter=_measure)
    op: Op = attrs.field(converter=_op)
    value: Any = attrs.field(default=None)
    window: Window = attrs.field(factory=Window, converter=_window, kw_only=True)
    kinds: frozenset[str] = attrs.field(default=frozenset(), converter=_kinds, kw_only=True)
    channels: frozenset[Channel] = attrs.field(
        default=frozenset(), converter=_channels, kw_only=True
    )
    directions: frozenset[Direction] = attrs.field(
        default=frozenset(), converter=_directions, kw_only=True
    )
    campaigns: frozenset[str] = attrs.field(default=frozenset(), converter=_campaigns, kw_only=True)
    metadata: Mapping[str, str | int | bool] = attrs.field(
        factory=dict, converter=_metadata, kw_only=True
    )
    currency: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        measure, op = self.measure, self.op
        timed = measure in (Measure.MIN_AT, Measure.MAX_AT)
        allowed = _MEASURE_OPS | NULLS if measure in MISSABLE_MEASURES else _MEASURE_OPS
        if op not in allowed:
            raise ValidationError.single("op", op.value, f"does not apply to {measure.value}")
        if measure in MONEY_MEASURES:
            self._check_sum()
            return
        if self.currency is not None:
            raise ValidationError.single(
                "currency", self.currency, "only sum, net_spend and avg take a currency"
            )
        if op in NULLS:
            check_operand(FieldType.DATETIME, op, self.value)
            return
        if timed:
            operand = check_operand(FieldType.DATETIME, op, self.value)
        else:
            operand = _counts(op, self.value)
        object.__setattr__(self, "value", operand)

    def _check_sum(self) -> None:
        if self.measure is Measure.NET_SPEND and self.kinds:
            raise ValidationError.single(
                "kinds",
                sorted(self.kinds),
                "net_spend measures purchases minus refunds itself: give no kinds",
            )
        currency = self.currency
        if self.op in NULLS:  # avg is (not) missing: no value, but the currency it is in
            check_operand(FieldType.DATETIME, self.op, self.value)
            if not isinstance(currency, str):
                raise ValidationError.single("currency", currency, "must be given")
            Money(0, currency)  # a known currency, as a Money value would need
            return
        values = self.value if self.op is Op.BETWEEN else (self.value,)
        if not isinstance(values, tuple | list) or not values:
            raise ValidationError.single("value", self.value, "between takes [low, high]")
        for item in values:
            if not isinstance(item, Money):
                raise ValidationError.single("value", item, "a sum compares with Money")
            if currency is None or item.currency != currency:
                raise ValidationError.single(
                    "currency", currency, f"must be given and match the value's ({item.currency})"
                )
        if self.op is Op.BETWEEN:
            if len(values) != 2 or values[1] < values[0]:
                raise ValidationError.single("value", self.value, "between takes [low, high]")
            object.__setattr__(self, "value", tuple(values))

    def matches(self, interaction: Interaction, as_of: datetime) -> bool:
        """True when ``interaction`` passes the filters and falls in the window."""
        return (
            self.window.contains(interaction.occurred_at, as_of)
            and (not self.kinds or interaction.kind in self.kinds)
            and (not self.channels or interaction.channel in self.channels)
            and (not self.directions or interaction.direction in self.directions)
            and (not self.campaigns or interaction.campaign in self.campaigns)
            and all(
                same_metadata(interaction.metadata.get(k, _ABSENT), v)
                for k, v in self.metadata.items()
            )
        )

    def measure_of(self, facts: Facts) -> Any:
        """The measure over the facts' matching interactions: a count, a sum in minor units of
        ``currency``, an average in minor units as an exact `Fraction`, or an instant
        (``None``: no interaction to take it from)."""
        chosen = [i for i in facts.interactions if self.matches(i, facts.as_of)]
        match self.measure:
            case Measure.COUNT:
                return len(chosen)
            case Measure.DISTINCT_DAYS:
                return len({i.occurred_at.date() for i in chosen})
            case Measure.MIN_AT:
                return min((i.occurred_at for i in chosen), default=None)
            case Measure.MAX_AT:
                return max((i.occurred_at for i in chosen), default=None)
        if self.measure is Measure.AVG:
            amounts = [
                i.amount.minor
                for i in chosen
                if i.amount is not None and i.amount.currency == self.currency
            ]
            return Fraction(sum(amounts), len(amounts)) if amounts else None
        signs = NET_SPEND_SIGNS if self.measure is Measure.NET_SPEND else None
        return sum(
            i.amount.minor * (1 if signs is None else signs.get(i.kind, 0))
            for i in chosen
            if i.amount is not None and i.amount.currency == self.currency
        )

    def holds(self, facts: Facts) -> bool:
        operand = self.value
        if self.measure in MONEY_MEASURES and operand is not None:  # in minor units, exactly
            operand = (
                tuple(m.minor for m in operand) if isinstance(operand, tuple) else operand.minor
            )
        return compare(self.op, self.measure_of(facts), operand)

    def describe(self) -> str:
        what = " or ".join(sorted(self.kinds)) or "any"
        if self.measure is Measure.NET_SPEND:
            what = "purchase and refund"
        return f"{self.measure.value} of {what} interactions {self.op.value} {self.value!r}"


_ABSENT = object()


def _counts(op: Op, value: Any) -> Any:
    if op is Op.BETWEEN:
        items = _items(value, "value")
        if len(items) != 2 or not all(_is_count(i) for i in items) or items[1] < items[0]:
            raise ValidationError.single("value", value, "between takes [low, high] counts")
        return (items[0], items[1])
    if not _is_count(value):
        raise ValidationError.single("value", value, "must be a whole number >= 0")
    return value


def _is_count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= 2**62
