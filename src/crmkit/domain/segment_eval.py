"""Evaluate condition trees fast: compile a tree once into closures, then call it per customer.

`Condition.holds` is the reference meaning of a tree: it re-reads each node (its operator,
its window, its filters) for every customer. `compile_condition` reads them once. Operators
become plain functions, windows and filters one generator per aggregate, and aggregates
that look at the same interactions (a count and a sum of the same purchases) select them
in a single pass, the first time one of them is needed: a customer who fails an earlier
condition costs no pass at all.

The compiled function and ``condition.holds`` always agree; the test suite checks it over
random trees and facts.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeAlias

from crmkit.domain.conditions import AllOf, AnyOf, Condition, Facts, HasTag, Not
from crmkit.domain.interaction import Interaction
from crmkit.domain.segments import (
    NULLS,
    SEGMENT_FIELDS,
    AggregateCondition,
    FieldCondition,
    Measure,
    Members,
    Op,
    StageCondition,
    TraitCondition,
    same_metadata,
)
from crmkit.domain.traits import TraitType, trait_type_of

__all__ = ["Matcher", "compile_condition", "evaluate", "matching"]

#: A compiled condition: facts in, membership out.
Matcher: TypeAlias = Callable[[Facts], bool]

# Inside a compiled tree every node also receives the evaluation's scratch space: the
# interactions selected for aggregates that share a selection, by selection key.
_Node: TypeAlias = Callable[[Facts, dict[Any, Any]], bool]
# How many aggregates of the tree make each selection.
_Groups: TypeAlias = Mapping[Hashable, int]
_Test: TypeAlias = Callable[[Any], bool]


def compile_condition(condition: Condition) -> Matcher:
    """Compile ``condition`` once into a function of `Facts` equal to ``condition.holds``."""
    groups: _Groups = Counter(
        _selection_key(leaf) for leaf in condition.leaves() if type(leaf) is AggregateCondition
    )
    shares = any(n > 1 for n in groups.values())
    if type(condition) is AllOf:  # the usual root (a & b & c): loop here, one call less
        children = tuple(_compile(c, groups) for c in _flattened(condition))

        def all_of(facts: Facts) -> bool:
            scratch: dict[Any, Any] = {} if shares else _UNUSED
            for child in children:  # noqa: SIM110
                if not child(facts, scratch):
                    return False
            return True

        return all_of
    root = _compile(condition, groups)
    if shares:
        return lambda facts: root(facts, {})
    return lambda facts: root(facts, _UNUSED)


def matching(condition: Condition, facts: Iterable[Facts]) -> Iterator[Facts]:
    """The facts (one per customer) that ``condition`` holds for, compiled once."""
    matcher = compile_condition(condition)
    return (f for f in facts if matcher(f))


def evaluate(condition: Condition, facts: Iterable[Facts]) -> Iterator[tuple[Facts, bool]]:
    """Each of ``facts`` with whether ``condition`` holds for it, compiled once."""
    matcher = compile_condition(condition)
    return ((f, matcher(f)) for f in facts)


_UNUSED: dict[Any, Any] = {}  # never written: no two aggregates of the tree share a selection


def _compile(condition: Condition, groups: _Groups) -> _Node:
    # Exact types only: a host's subclass may change holds(), so it keeps its own meaning.
    kind = type(condition)
    if kind is AllOf or kind is AnyOf:
        assert isinstance(condition, AllOf | AnyOf)
        return _combination(condition, groups)
    if kind is Not:
        assert isinstance(condition, Not)
        inner = _compile(condition.condition, groups)
        return lambda facts, scratch: not inner(facts, scratch)
    if kind is AggregateCondition:
        assert isinstance(condition, AggregateCondition)
        return _aggregate(condition, groups)
    if kind is FieldCondition:
        assert isinstance(condition, FieldCondition)
        read = _field_reader(condition.field)
        compare = _OPERATORS.get(condition.op)
        if compare is not None:  # the test inlined: one call less per customer
            operand = condition.value
            return lambda facts, scratch: (v := read(facts)) is not None and compare(v, operand)
        test = _test(condition.op, condition.value)
        return lambda facts, scratch: test(read(facts))
    if kind is TraitCondition:
        assert isinstance(condition, TraitCondition)
        return _trait(condition)
    return _simple_leaf(condition)


def _flattened(condition: AllOf | AnyOf) -> Iterator[Condition]:
    """The children of ``condition``, with nested groups of its own kind spliced in, in
    order: ``a & b & c`` builds ``AllOf(AllOf(a, b), c)``, evaluated as ``AllOf(a, b, c)``."""
    for child in condition.conditions:
        if type(child) is type(condition):
            assert isinstance(child, AllOf | AnyOf)
            yield from _flattened(child)
        else:
            yield child


def _combination(condition: AllOf | AnyOf, groups: _Groups) -> _Node:
    children = tuple(_compile(c, groups) for c in _flattened(condition))
    # Plain loops, not all()/any() over a generator: this runs once per customer and node.
    if isinstance(condition, AllOf):

        def all_of(facts: Facts, scratch: dict[Any, Any]) -> bool:
            for child in children:  # noqa: SIM110
                if not child(facts, scratch):
                    return False
            return True

        return all_of

    def any_of(facts: Facts, scratch: dict[Any, Any]) -> bool:
        for child in children:  # noqa: SIM110
            if child(facts, scratch):
                return True
        return False

    return any_of


def _simple_leaf(condition: Condition) -> _Node:
    if type(condition) is HasTag:
        assert isinstance(condition, HasTag)
        tag = condition.tag
        return lambda facts, scratch: tag in facts.tags
    if type(condition) is StageCondition:
        assert isinstance(condition, StageCondition)
        model, stages = condition.model, condition.stages
        return lambda facts, scratch: facts.stages.get(model) in stages
    if type(condition) is Members:
        assert isinstance(condition, Members)
        ids = condition.ids
        return lambda facts, scratch: getattr(facts.subject, "id", None) in ids
    holds = condition.holds  # cheap already, or not a segment leaf: its own meaning
    return lambda facts, scratch: holds(facts)


# --- Comparisons ------------------------------------------------------------------------


def _test(op: Op, operand: Any) -> _Test:
    """The comparison ``op operand`` as a one-argument function; ``None`` (a missing value)
    satisfies only IS_NULL, as in `crmkit.domain.segments.compare`."""
    if op in NULLS:
        return (lambda v: v is None) if op is Op.IS_NULL else (lambda v: v is not None)
    if op is Op.IN or op is Op.NOT_IN:
        values = frozenset(operand)
        if op is Op.IN:
            return lambda v: v is not None and v in values
        return lambda v: v is not None and v not in values
    if op is Op.BETWEEN:
        low, high = operand
        return lambda v: v is not None and low <= v <= high
    return _SCALAR_TESTS[op](operand)


# The plain comparisons, as C functions of (value, operand).
_OPERATORS: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}

_SCALAR_TESTS: dict[Op, Callable[[Any], _Test]] = {
    Op.EQ: lambda x: lambda v: v is not None and v == x,
    Op.NE: lambda x: lambda v: v is not None and v != x,
    Op.LT: lambda x: lambda v: v is not None and v < x,
    Op.LE: lambda x: lambda v: v is not None and v <= x,
    Op.GT: lambda x: lambda v: v is not None and v > x,
    Op.GE: lambda x: lambda v: v is not None and v >= x,
    Op.CONTAINS: lambda x: lambda v: v is not None and x in v,
    Op.STARTS_WITH: lambda x: lambda v: v is not None and v.startswith(x),
}


# --- Fields and traits ------------------------------------------------------------------

_ADDRESS_FIELDS = frozenset({"country", "region", "city", "postal_code"})


def _field_reader(name: str) -> Callable[[Facts], Any]:
    """A reader of catalogue field ``name``, as `crmkit.domain.segments.field_value` reads it."""
    assert name in SEGMENT_FIELDS
    if name.startswith("account."):
        part = name.partition(".")[2]

        def account_field(facts: Facts) -> Any:
            account = facts.account
            value = None if account is None else getattr(account, part)
            return None if value is None else str(value)

        return account_field
    if name in _ADDRESS_FIELDS:

        def address_field(facts: Facts) -> Any:
            address = getattr(facts.subject, "address", None)
            return None if address is None else getattr(address, name)

        return address_field
    if name in ("account_id", "account_role"):
        part = "account_id" if name == "account_id" else "role"

        def link_field(facts: Facts) -> Any:
            link = getattr(facts.subject, "account", None)
            return None if link is None else getattr(link, part)

        return link_field

    def plain_field(facts: Facts) -> Any:
        value = getattr(facts.subject, name, None)
        if value is None or isinstance(value, str | datetime):
            return value
        return str(value)

    return plain_field


# Whether a trait value has each type, as `trait_type_of` decides (bool is an int, a
# datetime is a date).
_IS_TYPE: dict[TraitType, Callable[[Any], bool]] = {
    TraitType.STRING: lambda v: isinstance(v, str),
    TraitType.INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
    TraitType.BOOLEAN: lambda v: isinstance(v, bool),
    TraitType.DATETIME: lambda v: isinstance(v, datetime),
}


def _trait(condition: TraitCondition) -> _Node:
    name, kind = condition.name, condition.type
    test = _test(condition.op, condition.value)
    is_kind = _IS_TYPE.get(kind) or (lambda v: trait_type_of(v) is kind)

    def trait(facts: Facts, scratch: dict[Any, Any]) -> bool:
        value = facts.traits.get(name)
        return test(value if value is not None and is_kind(value) else None)

    return trait


# --- Aggregates -------------------------------------------------------------------------


def _aggregate(condition: AggregateCondition, groups: _Groups) -> _Node:
    """An aggregate's node: select its interactions (once per evaluation when other
    aggregates of the tree select the same ones), measure them, compare."""
    operand = condition.value
    if condition.measure is Measure.SUM:  # compared in minor units, as holds() does
        operand = tuple(m.minor for m in operand) if isinstance(operand, tuple) else operand.minor
    test = _test(condition.op, operand)
    measure = _measure(condition)
    select = _selector(condition)
    key = _selection_key(condition)
    if groups.get(key, 0) < 2:
        return lambda facts, scratch: test(measure(select(facts)))

    def shared(facts: Facts, scratch: dict[Any, Any]) -> bool:
        chosen = scratch.get(key)
        if chosen is None:
            chosen = scratch[key] = tuple(select(facts))
        return test(measure(chosen))

    return shared


def _selection_key(condition: AggregateCondition) -> Hashable:
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


def _selector(condition: AggregateCondition) -> Callable[[Facts], Iterable[Interaction]]:
    """The facts' interactions in the aggregate's window that pass its filters, lazily."""
    window, accept = condition.window, _filter(condition)

    def select(facts: Facts) -> Iterable[Interaction]:
        low, low_in, high, high_in = window.bounds(facts.as_of)
        items = facts.interactions
        if low is None:
            if high_in:
                chosen = (i for i in items if i.occurred_at <= high)
            else:
                chosen = (i for i in items if i.occurred_at < high)
        elif low_in and high_in:
            chosen = (i for i in items if low <= i.occurred_at <= high)
        elif low_in:
            chosen = (i for i in items if low <= i.occurred_at < high)
        elif high_in:
            chosen = (i for i in items if low < i.occurred_at <= high)
        else:
            chosen = (i for i in items if low < i.occurred_at < high)
        return chosen if accept is None else filter(accept, chosen)

    return select


def _measure(condition: AggregateCondition) -> Callable[[Iterable[Interaction]], Any]:
    match condition.measure:
        case Measure.COUNT:
            return lambda chosen: sum(1 for _ in chosen)
        case Measure.DISTINCT_DAYS:
            return lambda chosen: len({i.occurred_at.date() for i in chosen})
        case Measure.MIN_AT:
            return lambda chosen: min((i.occurred_at for i in chosen), default=None)
        case Measure.MAX_AT:
            return lambda chosen: max((i.occurred_at for i in chosen), default=None)
    currency = condition.currency

    def total(chosen: Iterable[Interaction]) -> int:
        return sum(
            i.amount.minor for i in chosen if i.amount is not None and i.amount.currency == currency
        )

    return total


def _filter(condition: AggregateCondition) -> Callable[[Interaction], bool] | None:
    """The aggregate's filters (all but the window) as one predicate; None when there are none."""
    checks: list[Callable[[Interaction], bool]] = []
    if kinds := condition.kinds:
        checks.append(lambda i: i.kind in kinds)
    if channels := condition.channels:
        checks.append(lambda i: i.channel in channels)
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
