"""The builder for rules over a customer's interactions: ``interactions(...)`` and
``purchases(...)`` select them, ``.count()``, ``.sum()``, ``.avg()`` … measure them, and
comparing the measure makes an `AggregateCondition` (``purchases(last=days(90)).count() >= 3``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from crmkit.domain.interactions.channels import Channel, Direction
from crmkit.domain.rules.aggregates import MONEY_MEASURES, AggregateCondition, Measure, Window
from crmkit.domain.rules.leaves import Op
from crmkit.domain.segments.builder import _Comparable, _no_truth_value
from crmkit.domain.values.money import Money
from crmkit.errors import ValidationError

__all__ = ["Aggregate", "Interactions", "interactions", "purchases"]


class Interactions:
    """A selection of a customer's interactions (filters and a window), to measure."""

    __slots__ = ("filters", "window")

    def __init__(self, window: Window, filters: Mapping[str, Any]) -> None:
        # Check the filters now, as the condition will: `kinds="purchase"` is refused where it
        # is written, not later where the selection happens to be measured.
        probe = AggregateCondition(Measure.COUNT, Op.GE, 0, window=window, **filters)
        self.window = window
        self.filters = {name: getattr(probe, name) for name in filters}

    def _measure(self, measure: Measure, currency: str | None = None) -> Aggregate:
        return Aggregate(self, measure, currency)

    def count(self) -> Aggregate:
        """How many (0 when none)."""
        return self._measure(Measure.COUNT)

    def sum(self, currency: str) -> Aggregate:
        """The total amount in ``currency``; amounts in other currencies add nothing."""
        return self._measure(Measure.SUM, currency)

    def net_spend(self, currency: str) -> Aggregate:
        """What the customer spent, as a shop means it: the purchases' amounts minus the
        refunds' in ``currency`` (other kinds and currencies add nothing):
        ``interactions(last=days(365)).net_spend("EUR") > 500``.

        Raises:
            ValidationError: the selection has ``kinds`` (``purchases(...)``): net spend
                picks the purchases and refunds itself.
        """
        if self.filters.get("kinds"):
            raise ValidationError.single(
                "kinds",
                sorted(self.filters["kinds"]),
                "net_spend measures purchases minus refunds itself: use interactions(...)",
            )
        return self._measure(Measure.NET_SPEND, currency)

    def avg(self, currency: str) -> Aggregate:
        """The average amount in ``currency`` of those that have one, compared exactly (no
        rounding): ``purchases(last=days(90)).avg("EUR") >= 50`` holds when the amounts sum
        to at least 50 EUR times their number. Amounts in other currencies, and
        interactions without one, are left out; with none left there is no average, and
        only `is_null` holds."""
        return self._measure(Measure.AVG, currency)

    def first_at(self) -> Aggregate:
        """When the first one happened (missing when none)."""
        return self._measure(Measure.MIN_AT)

    def last_at(self) -> Aggregate:
        """When the last one happened (missing when none)."""
        return self._measure(Measure.MAX_AT)

    def distinct_days(self) -> Aggregate:
        """On how many UTC dates they happened (0 when none)."""
        return self._measure(Measure.DISTINCT_DAYS)

    def exist(self) -> AggregateCondition:
        """At least one of them happened."""
        return self.count() >= 1

    def __bool__(self) -> bool:
        raise _no_truth_value("interactions(...)", "measure it: .count() >= 1, .exist()")

    def __repr__(self) -> str:
        return f"interactions({self.window!r}, {self.filters!r})"


class Aggregate(_Comparable[AggregateCondition]):
    """A measure of a selection of interactions, to compare: ``... .count() >= 3``."""

    __slots__ = ("currency", "measure", "selection")

    def __init__(self, selection: Interactions, measure: Measure, currency: str | None) -> None:
        self.selection = selection
        self.measure = measure
        self.currency = currency

    def _make(self, op: Op, value: Any = None) -> AggregateCondition:
        if self.measure in MONEY_MEASURES and self.currency is not None:
            value = _money(value, self.currency)
        return AggregateCondition(
            self.measure,
            op,
            value,
            window=self.selection.window,
            currency=self.currency,
            **self.selection.filters,
        )

    def __repr__(self) -> str:
        return f"{self.selection!r}.{self.measure.value}()"


def _money(value: Any, currency: str) -> Any:
    """Plain amounts (``500``, ``"12.50"``, a ``Decimal``) as `Money` in ``currency``."""
    if isinstance(value, tuple):
        return tuple(_money(item, currency) for item in value)
    if isinstance(value, int | Decimal | str) and not isinstance(value, bool):
        return Money.of(value, currency)
    return value


def _window(last: timedelta | int | None, since: Any, until: Any) -> Window:
    if last is None:
        return Window(since, until)
    if since is not None or until is not None:
        raise ValidationError.single("last", last, "give last or since/until, not both")
    if isinstance(last, timedelta):
        if last % timedelta(days=1):
            raise ValidationError.single("last", last, "must be whole days: use days(n)")
        return Window(last_days=last.days)
    return Window(last_days=last)


def interactions(
    *,
    kinds: Iterable[str] = (),
    channels: Iterable[Channel | str] = (),
    directions: Iterable[Direction | str] = (),
    campaigns: Iterable[str] = (),
    metadata: Mapping[str, str | int | bool] | None = None,
    last: timedelta | int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Interactions:
    """The customer's interactions of some kinds, channels, directions, campaigns and
    metadata (each empty: any), in a window: the ``last`` days up to the evaluation's
    ``as_of`` (``days(90)``), or ``since <= t < until`` (either may be left open), or
    ever. Measure them with `count`, `sum`, `net_spend`, `avg`, `first_at`, `last_at` or
    `distinct_days`."""
    filters = {
        "kinds": kinds,
        "channels": channels,
        "directions": directions,
        "campaigns": campaigns,
        "metadata": metadata or {},
    }
    return Interactions(_window(last, since, until), filters)


def purchases(
    *,
    channels: Iterable[Channel | str] = (),
    campaigns: Iterable[str] = (),
    metadata: Mapping[str, str | int | bool] | None = None,
    last: timedelta | int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Interactions:
    """The customer's purchases: `interactions` of kind ``"purchase"``."""
    return interactions(
        kinds=["purchase"],
        channels=channels,
        campaigns=campaigns,
        metadata=metadata,
        last=last,
        since=since,
        until=until,
    )
