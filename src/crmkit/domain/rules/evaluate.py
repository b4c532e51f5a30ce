"""Evaluate condition trees fast: compile a tree once into closures, then call it per customer.

`Condition.holds` is the reference meaning of a tree: it re-reads each node (its operator,
its window, its filters) for every customer. `compile_condition` reads them once. Operators
become plain functions, a field condition one function that reads and compares (the
subject is read once per evaluation), a window inclusive bounds and an aggregate's
filters one pass over the interactions; aggregates
that look at the same interactions (a count and a sum of the same purchases) select them
in a single pass, the first time one of them is needed: a customer who fails an earlier
condition costs no pass at all.

The compiled function and ``condition.holds`` always agree; the test suite checks it over
random trees and facts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeAlias

from crmkit.domain.customers.traits import TraitType, trait_type_of
from crmkit.domain.rules._compiled import OPERATORS, Groups, Node, comparison
from crmkit.domain.rules.aggregates import AggregateCondition
from crmkit.domain.rules.conditions import AllOf, AnyOf, Condition, Facts, Not
from crmkit.domain.rules.evaluate_aggregates import aggregate_node, selection_key
from crmkit.domain.rules.leaves import (
    SEGMENT_FIELDS,
    FieldCondition,
    Op,
    TagCondition,
    TraitCondition,
    text_of,
)
from crmkit.domain.rules.stage_leaves import Members, StageCondition

__all__ = ["Matcher", "compile_condition", "evaluate", "matching"]

#: A compiled condition: facts in, membership out.
Matcher: TypeAlias = Callable[[Facts], bool]

# A field condition compiled to a test of the facts' subject, read once per evaluation.
_SubjectTest: TypeAlias = Callable[[Any], bool]


def compile_condition(condition: Condition) -> Matcher:
    """Compile ``condition`` once into a function of `Facts` equal to ``condition.holds``."""
    groups: Groups = Counter(
        selection_key(leaf) for leaf in condition.leaves() if type(leaf) is AggregateCondition
    )
    shares = any(n > 1 for n in groups.values())
    if type(condition) is FieldCondition and (alone := _subject_test(condition)) is not None:
        return lambda facts: alone(facts.subject)
    if type(condition) is not AllOf:
        root = _compile(condition, groups)
        if shares:
            return lambda facts: root(facts, {})
        return lambda facts: root(facts, _UNUSED)
    # The usual root (a & b & c): loop here, one call less, and the scratch space is made
    # only for a customer who passes the leading field tests.
    assert isinstance(condition, AllOf)
    tests, rest = _split(condition, groups)
    if not rest:

        def all_fields(facts: Facts) -> bool:
            subject = facts.subject
            for test in tests:  # noqa: SIM110
                if not test(subject):
                    return False
            return True

        return all_fields

    def all_of(facts: Facts) -> bool:
        subject = facts.subject
        for test in tests:
            if not test(subject):
                return False
        scratch: dict[Any, Any] = {} if shares else _UNUSED
        for child in rest:  # noqa: SIM110
            if not child(facts, scratch):
                return False
        return True

    return all_of


def matching(condition: Condition, facts: Iterable[Facts]) -> Iterator[Facts]:
    """The facts (one per customer) that ``condition`` holds for, compiled once."""
    matcher = compile_condition(condition)
    return (f for f in facts if matcher(f))


def evaluate(condition: Condition, facts: Iterable[Facts]) -> Iterator[tuple[Facts, bool]]:
    """Each of ``facts`` with whether ``condition`` holds for it, compiled once."""
    matcher = compile_condition(condition)
    return ((f, matcher(f)) for f in facts)


_UNUSED: dict[Any, Any] = {}  # never written: no two aggregates of the tree share a selection


def _compile(condition: Condition, groups: Groups) -> Node:
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
        return aggregate_node(condition, groups)
    if kind is FieldCondition:
        assert isinstance(condition, FieldCondition)
        test = _subject_test(condition)
        if test is not None:
            return lambda facts, scratch: test(facts.subject)
        return _account_field(condition)
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


def _split(
    condition: AllOf | AnyOf, groups: Groups
) -> tuple[tuple[_SubjectTest, ...], tuple[Node, ...]]:
    """The children of ``condition`` in order: the leading ones that test only the subject's
    fields, as tests of the subject (read once per evaluation), then the others as nodes."""
    tests: list[_SubjectTest] = []
    rest: list[Node] = []
    for child in _flattened(condition):
        test = _subject_test(child) if not rest and type(child) is FieldCondition else None
        if test is not None:
            tests.append(test)
        else:
            rest.append(_compile(child, groups))
    return tuple(tests), tuple(rest)


def _combination(condition: AllOf | AnyOf, groups: Groups) -> Node:
    tests, children = _split(condition, groups)
    # Plain loops, not all()/any() over a generator: this runs once per customer and node.
    if isinstance(condition, AllOf):

        def all_of(facts: Facts, scratch: dict[Any, Any]) -> bool:
            if tests:
                subject = facts.subject
                for test in tests:
                    if not test(subject):
                        return False
            for child in children:  # noqa: SIM110
                if not child(facts, scratch):
                    return False
            return True

        return all_of

    def any_of(facts: Facts, scratch: dict[Any, Any]) -> bool:
        if tests:
            subject = facts.subject
            for test in tests:
                if test(subject):
                    return True
        for child in children:  # noqa: SIM110
            if child(facts, scratch):
                return True
        return False

    return any_of


def _simple_leaf(condition: Condition) -> Node:
    if type(condition) is TagCondition:
        assert isinstance(condition, TagCondition)
        tag = condition.tag
        return lambda facts, scratch: tag in facts.tags
    if type(condition) is StageCondition:
        assert isinstance(condition, StageCondition)
        model, stages = condition.model, condition.stages
        if condition.at_least_days is None:
            return lambda facts, scratch: facts.stages.get(model) in stages
        return lambda facts, scratch: condition.holds(facts)
    if type(condition) is Members:
        assert isinstance(condition, Members)
        ids = condition.ids
        return lambda facts, scratch: getattr(facts.subject, "id", None) in ids
    holds = condition.holds  # cheap already, or not a segment leaf: its own meaning
    return lambda facts, scratch: holds(facts)


# --- Fields and traits ------------------------------------------------------------------

_ADDRESS_FIELDS = frozenset({"country", "region", "city", "postal_code"})
_LINK_FIELDS = {"account_id": "account_id", "account_role": "role"}
# The values a plain field keeps as they are; others (an EmailAddress) compare as text.
_KEPT = (str, datetime)


def _subject_test(condition: Condition) -> _SubjectTest | None:
    """A field condition as one function of the subject (the customer) that reads the field
    and compares it, as `crmkit.domain.rules.leaves.field_value` and ``compare`` do; ``None`` for
    another condition, or a field of the linked account (read from the facts)."""
    if type(condition) is not FieldCondition:
        return None
    assert isinstance(condition, FieldCondition)
    name, op, operand = condition.field, condition.op, condition.value
    assert name in SEGMENT_FIELDS
    if name.startswith("account."):
        return None
    # The plain comparisons run inline, one call less; a missing value fails them all.
    compare = OPERATORS.get(op)
    test = comparison(op, operand)
    expected: object = operand  # typed: == on objects gives a bool
    if name in _ADDRESS_FIELDS:
        if op is Op.EQ:  # the usual geographic test: no call at all

            def address_equals(subject: Any) -> bool:
                try:  # getattr(subject, "address", None), without the call
                    address = subject.address
                except AttributeError:
                    return False
                if address is None:
                    return False
                value: object = getattr(address, name)
                return value is not None and value == expected

            return address_equals
        if compare is not None:

            def address_compare(subject: Any) -> bool:
                try:
                    address = subject.address
                except AttributeError:
                    return False
                if address is None:
                    return False
                value = getattr(address, name)
                return value is not None and compare(value, operand)

            return address_compare

        def address_test(subject: Any) -> bool:
            address = getattr(subject, "address", None)
            return test(None if address is None else getattr(address, name))

        return address_test
    if name in _LINK_FIELDS:
        part = _LINK_FIELDS[name]

        def link_test(subject: Any) -> bool:
            link = getattr(subject, "account", None)
            return test(None if link is None else getattr(link, part))

        return link_test
    if op is Op.EQ:

        def plain_equals(subject: Any) -> bool:
            value = getattr(subject, name, None)
            if value is None:
                return False
            if not isinstance(value, _KEPT):
                value = text_of(value)
            return value == expected

        return plain_equals
    if compare is not None:

        def plain_compare(subject: Any) -> bool:
            value = getattr(subject, name, None)
            if value is None:
                return False
            if not isinstance(value, _KEPT):
                value = text_of(value)
            return compare(value, operand)

        return plain_compare

    def plain_test(subject: Any) -> bool:
        value = getattr(subject, name, None)
        if value is not None and not isinstance(value, _KEPT):
            value = text_of(value)
        return test(value)

    return plain_test


def _account_field(condition: FieldCondition) -> Node:
    """An ``account.*`` field condition: a field of the account the facts carry, as text."""
    part = condition.field.partition(".")[2]
    test = comparison(condition.op, condition.value)

    def account_field(facts: Facts, scratch: dict[Any, Any]) -> bool:
        account = facts.account
        value = None if account is None else getattr(account, part)
        return test(None if value is None else str(value))

    return account_field


# Whether a trait value has each type, as `trait_type_of` decides (bool is an int, a
# datetime is a date).
_IS_TYPE: dict[TraitType, Callable[[Any], bool]] = {
    TraitType.STRING: lambda v: isinstance(v, str),
    TraitType.INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
    TraitType.BOOLEAN: lambda v: isinstance(v, bool),
    TraitType.DATETIME: lambda v: isinstance(v, datetime),
}


def _trait(condition: TraitCondition) -> Node:
    name, kind = condition.name, condition.type
    test = comparison(condition.op, condition.value)
    if kind is None:  # a trait of any type
        return lambda facts, scratch: test(facts.traits.get(name))
    is_kind = _IS_TYPE.get(kind) or (lambda v: trait_type_of(v) is kind)

    def trait(facts: Facts, scratch: dict[Any, Any]) -> bool:
        value = facts.traits.get(name)
        return test(value if value is not None and is_kind(value) else None)

    return trait
