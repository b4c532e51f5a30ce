"""Evaluating aggregate leaves fast: the interactions a leaf selects (kinds, channels,
window …) are selected once per group of leaves that select alike, then measured."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from typing import Any

from crmkit.domain.interactions.interaction import Interaction
from crmkit.domain.rules._compiled import OPERATORS, Groups, Node, comparison
from crmkit.domain.rules.aggregates import (
    MONEY_MEASURES,
    NET_SPEND_SIGNS,
    AggregateCondition,
    Measure,
    Window,
    same_metadata,
)
from crmkit.domain.rules.conditions import Facts
from crmkit.domain.rules.leaves import Op
from crmkit.domain.values.timestamps import earlier

__all__ = ["aggregate_node", "selection_key"]


def aggregate_node(condition: AggregateCondition, groups: Groups) -> Node:
    """An aggregate's node: select its interactions (once per evaluation when other
    aggregates of the tree select the same ones), measure them, compare."""
    operand = condition.value
    if condition.measure in MONEY_MEASURES and operand is not None:  # in minor units
        operand = tuple(m.minor for m in operand) if isinstance(operand, tuple) else operand.minor
    test: Callable[[Any], bool]
    if condition.measure is Measure.AVG:
        test, measure = _average_test(condition.op, operand), _amounts(condition.currency)
    else:
        test, measure = comparison(condition.op, operand), _measure(condition)
    select = _selector(condition)
    key = selection_key(condition)
    if groups.get(key, 0) > 1:

        def shared(facts: Facts, scratch: dict[Any, Any]) -> bool:
            chosen = scratch.get(key)
            if chosen is None:
                chosen = scratch[key] = select(facts)
            return test(measure(chosen))

        return shared
    if condition.measure is Measure.AVG and (node := _average_node(condition, operand)):
        return node
    direct = _direct(condition)
    if direct is not None:  # measured while selecting: no list of the chosen ones
        return lambda facts, scratch: test(direct(facts))
    compare = OPERATORS.get(condition.op)
    if (
        compare is not None and condition.measure is not Measure.AVG
    ):  # inline, one call less (a missing min_at/max_at fails)

        def aggregate_compare(facts: Facts, scratch: dict[Any, Any]) -> bool:
            value = measure(select(facts))
            return value is not None and compare(value, operand)

        return aggregate_compare
    return lambda facts, scratch: test(measure(select(facts)))


def selection_key(condition: AggregateCondition) -> Hashable:
    """What decides which interactions an aggregate looks at: equal keys, equal selections."""
    metadata = tuple(sorted((k, type(v).__name__, v) for k, v in condition.metadata.items()))
    return (
        condition.window,
        condition.kinds,
        condition.channels,
        condition.directions,
        condition.campaigns,
        metadata,
    )


_TICK = timedelta(microseconds=1)  # the resolution of a datetime
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _bounds(window: Window) -> Callable[[datetime], tuple[datetime, datetime] | None]:
    """The window at an ``as_of`` as inclusive bounds ``(first, last)`` (an exclusive bound
    moves by one microsecond, the resolution of a datetime, so the answer is the same), or
    ``None`` when nothing can fall in it."""
    if window.last_days is not None:  # (as_of - N days, as_of]
        span = timedelta(days=window.last_days) - _TICK
        return lambda as_of: (earlier(as_of, span) or _EARLIEST, as_of)
    if window.since is None and window.until is None:  # everything up to as_of
        return lambda as_of: (_EARLIEST, as_of)

    def bounds(as_of: datetime) -> tuple[datetime, datetime] | None:
        low, low_in, high, high_in = window.bounds(as_of)
        if not high_in:
            if high <= _EARLIEST:
                return None
            high -= _TICK
        if low is None:
            low = _EARLIEST
        elif not low_in:
            if low >= _LATEST:
                return None
            low += _TICK
        return low, high

    return bounds


def _selector(condition: AggregateCondition) -> Callable[[Facts], list[Interaction]]:
    """The facts' interactions in the aggregate's window that pass its filters, in one pass."""
    bounds, extra = _bounds(condition.window), _filter(condition)
    kinds, channels = condition.kinds, condition.channels  # the usual filters, inline

    def select(facts: Facts) -> list[Interaction]:
        span = bounds(facts.as_of)
        if span is None:
            return []
        low, high = span
        return [
            i
            for i in facts.interactions
            if low <= i.occurred_at <= high
            and (not kinds or i.kind in kinds)
            and (not channels or i.channel in channels)
            and (extra is None or extra(i))
        ]

    return select


_LISTED = frozenset({Measure.COUNT, Measure.NET_SPEND, Measure.DISTINCT_DAYS})


def _average_node(condition: AggregateCondition, operand: Any) -> Node | None:
    """``avg op v`` (a plain comparison, the usual filters) as one node: select, total and
    compare ``total op v * n`` in one pass; None for the other forms."""
    compare = OPERATORS.get(condition.op)
    if compare is None or _filter(condition) is not None:
        return None
    bounds, kinds, channels = _bounds(condition.window), condition.kinds, condition.channels
    currency = condition.currency

    def average(facts: Facts, scratch: dict[Any, Any]) -> bool:
        span = bounds(facts.as_of)
        if span is None:
            return False
        low, high = span
        open_start = low is _EARLIEST
        total = n = 0
        for i in facts.interactions:
            amount = i.amount
            if (
                amount is not None
                and amount.currency == currency
                and (not kinds or i.kind in kinds)
                and (open_start or low <= i.occurred_at)
                and i.occurred_at <= high
                and (not channels or i.channel in channels)
            ):
                total += amount.minor
                n += 1
        return n > 0 and compare(total, operand * n)

    return average


def _direct(condition: AggregateCondition) -> Callable[[Facts], Any] | None:
    """The measure of a first/last time, an average or a sum in one pass over the facts'
    interactions, selecting as `_selector` does; None when the leaf has rarer filters."""
    if _filter(condition) is not None or condition.measure in _LISTED:
        return None
    bounds, kinds, channels = _bounds(condition.window), condition.kinds, condition.channels
    currency, measure = condition.currency, condition.measure
    if measure is Measure.MIN_AT or measure is Measure.MAX_AT:
        first = measure is Measure.MIN_AT

        def instant(facts: Facts) -> datetime | None:
            span = bounds(facts.as_of)
            if span is None:
                return None
            low, high = span
            best = None
            for i in facts.interactions:
                if (kinds and i.kind not in kinds) or (channels and i.channel not in channels):
                    continue
                at = i.occurred_at
                if low <= at <= high and (best is None or (at < best if first else at > best)):
                    best = at
            return best

        return instant

    def amounts(facts: Facts) -> Any:
        span = bounds(facts.as_of)
        total = n = 0
        if span is not None:
            low, high = span
            for i in facts.interactions:
                amount = i.amount
                if (
                    amount is not None
                    and amount.currency == currency
                    and low <= i.occurred_at <= high
                    and (not kinds or i.kind in kinds)
                    and (not channels or i.channel in channels)
                ):
                    total += amount.minor
                    n += 1
        return (total, n) if measure is Measure.AVG else total

    return amounts


def _measure(condition: AggregateCondition) -> Callable[[list[Interaction]], Any]:
    match condition.measure:
        case Measure.COUNT:
            return len
        case Measure.DISTINCT_DAYS:
            return lambda chosen: len({i.occurred_at.date() for i in chosen})
        case Measure.MIN_AT:
            return lambda chosen: min((i.occurred_at for i in chosen), default=None)
        case Measure.MAX_AT:
            return lambda chosen: max((i.occurred_at for i in chosen), default=None)
    currency = condition.currency
    if condition.measure is Measure.NET_SPEND:
        return _net_spend(currency)

    def total(chosen: list[Interaction]) -> int:
        spent = 0
        for i in chosen:
            amount = i.amount
            if amount is not None and amount.currency == currency:
                spent += amount.minor
        return spent

    return total


def _amounts(currency: str | None) -> Callable[[list[Interaction]], tuple[int, int]]:
    """The total and the number of the amounts in ``currency``, in minor units."""

    def amounts(chosen: list[Interaction]) -> tuple[int, int]:
        total = n = 0
        for i in chosen:
            amount = i.amount
            if amount is not None and amount.currency == currency:
                total += amount.minor
                n += 1
        return total, n

    return amounts


def _average_test(op: Op, operand: Any) -> Callable[[tuple[int, int]], bool]:
    """``op operand`` on the average ``total / n`` of ``(total, n)``, exactly: ``total``
    against ``operand * n`` in integers. ``n == 0`` is a missing average."""
    if op is Op.IS_NULL:
        return lambda pair: pair[1] == 0
    if op is Op.IS_NOT_NULL:
        return lambda pair: pair[1] > 0
    if op is Op.BETWEEN:
        low, high = operand

        def between(pair: tuple[int, int]) -> bool:
            total, n = pair
            return n > 0 and low * n <= total <= high * n

        return between
    compare = OPERATORS[op]

    def average(pair: tuple[int, int]) -> bool:
        total, n = pair
        return n > 0 and compare(total, operand * n)

    return average


def _net_spend(currency: str | None) -> Callable[[list[Interaction]], int]:
    """Purchases minus refunds in ``currency``, in minor units."""

    def net(chosen: list[Interaction]) -> int:
        spent = 0
        for i in chosen:
            amount, sign = i.amount, NET_SPEND_SIGNS.get(i.kind)
            if sign is not None and amount is not None and amount.currency == currency:
                spent += sign * amount.minor
        return spent

    return net


def _filter(condition: AggregateCondition) -> Callable[[Interaction], bool] | None:
    """The aggregate's rarer filters (directions, campaigns, metadata) as one predicate;
    None when there are none."""
    checks: list[Callable[[Interaction], bool]] = []
    if directions := condition.directions:
        checks.append(lambda i: i.direction in directions)
    if campaigns := condition.campaigns:
        checks.append(lambda i: i.campaign in campaigns)
    if metadata := tuple(condition.metadata.items()):
        checks.append(
            lambda i: all(same_metadata(i.metadata.get(k, _ABSENT), v) for k, v in metadata)
        )
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    every = tuple(checks)
    return lambda i: all(check(i) for check in every)


_ABSENT = object()
