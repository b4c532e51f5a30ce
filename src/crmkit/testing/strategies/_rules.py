"""Strategies for the rule language: condition trees, segment rules and the facts they read."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

import attrs
from hypothesis import strategies as st

from crmkit.domain import (
    ACCOUNT_FIELDS,
    CUSTOMER_FIELDS,
    AggregateCondition,
    AllOf,
    AnyOf,
    Condition,
    Facts,
    FieldCondition,
    Not,
    SubjectKind,
    TimeInStage,
)
from crmkit.domain.rules.conditions import MAX_CONDITION_DEPTH
from crmkit.testing.strategies._customers import traits
from crmkit.testing.strategies._interactions import interactions
from crmkit.testing.strategies._leaves import (
    _aggregate_condition,
    _field_condition,
    _segment_leaves,
)
from crmkit.testing.strategies._parts import _KINDS, _TAGS
from crmkit.testing.strategies._values import utc_datetimes

_FIELDS = {
    None: CUSTOMER_FIELDS + ACCOUNT_FIELDS,
    SubjectKind.CUSTOMER: CUSTOMER_FIELDS,
    SubjectKind.ACCOUNT: ACCOUNT_FIELDS,
}


@cache
def _leaves(subject: SubjectKind | None) -> dict[type[Condition], st.SearchStrategy[Condition]]:
    leaves: dict[type[Condition], st.SearchStrategy[Condition]] = {
        TimeInStage: st.builds(TimeInStage, st.integers(0, 400)),
    }
    if subject is SubjectKind.ACCOUNT:  # accounts have no tags, traits, consent or stages
        leaves[AggregateCondition] = _aggregate_condition()
        leaves[FieldCondition] = _field_condition(account_only=True)
    else:
        leaves.update(_segment_leaves())
    return leaves


@cache
def conditions(
    max_depth: int = 3, *, of: type[Condition] = Condition, subject: SubjectKind | None = None
) -> st.SearchStrategy[Condition]:
    """Valid condition trees nesting at most ``max_depth`` levels (1: leaves only).

    Leaves are the segment leaves (see `segment_rules`) and time in the current stage;
    `AllOf`, `AnyOf` and `Not` combine them. ``of`` narrows to one class (e.g. ``Not``) or, with
    ``Condition``, allows any. With ``subject``, only conditions a customer (or an account)
    can meet, as a lifecycle model for them requires. Trees shrink towards a single leaf.
    """
    if not 1 <= max_depth <= MAX_CONDITION_DEPTH:
        raise ValueError(f"max_depth must be from 1 to {MAX_CONDITION_DEPTH}")
    found = _leaves(subject)
    leaves = [strategy for cls, strategy in found.items() if issubclass(cls, of)]
    if max_depth == 1 or of in found:
        if not leaves:
            raise ValueError(f"no {of.__name__} nests only {max_depth} level deep")
        return st.one_of(*leaves)
    inner = conditions(max_depth - 1, subject=subject)
    children = st.lists(inner, min_size=1, max_size=3).map(tuple)
    branches: dict[type[Condition], st.SearchStrategy[Condition]] = {
        AllOf: st.builds(AllOf, children),
        AnyOf: st.builds(AnyOf, children),
        Not: st.builds(Not, inner),
    }
    chosen = [strategy for cls, strategy in branches.items() if issubclass(cls, of)]
    return st.one_of(*leaves, *chosen)


def facts(
    *,
    as_of: datetime | None = None,
    kinds: list[str] | None = None,
    subject: SubjectKind | None = None,
) -> st.SearchStrategy[Facts]:
    """Facts about a subject as of an instant (``as_of`` if given): some profile fields
    filled, tags and traits, a few interactions (of ``kinds`` if given) from 400 days
    before ``as_of`` to a day after it (which no condition counts), and sometimes when the
    subject entered its current stage.

    With ``subject``, the fields are a customer's (with tags and traits) or an account's
    (without); by default both kinds of field are there, so that any condition may hold.
    """
    seconds = st.integers(-400 * 86_400, 86_400).map(lambda s: timedelta(seconds=s))
    values = st.none() | st.just("") | st.just("x")
    account = subject is SubjectKind.ACCOUNT
    return st.builds(
        lambda when, offsets, entered, **parts: Facts(
            as_of=when,
            interactions=[attrs.evolve(i, occurred_at=when + d) for i, d in offsets],
            stage_entered_at=None if entered is None else when - entered,
            **parts,
        ),
        st.just(as_of) if as_of is not None else utc_datetimes(datetime(2000, 1, 1)),
        st.lists(st.tuples(interactions(kinds=kinds or list(_KINDS)), seconds), max_size=5),
        st.none() | st.integers(0, 400).map(lambda days: timedelta(days=days)),
        fields=st.fixed_dictionaries(dict.fromkeys(_FIELDS[subject], values)),
        tags=st.just(frozenset()) if account else st.frozensets(st.sampled_from(_TAGS), max_size=2),
        traits=st.just({}) if account else traits(),
    )


@cache
def segment_rules(
    max_depth: int = 3, *, of: type[Condition] = Condition
) -> st.SearchStrategy[Condition]:
    """Valid segment rules nesting at most ``max_depth`` levels (1: leaves only).

    Leaves are every kind a segment may hold: fields (Unicode and case in text, datetimes
    near `SEGMENT_AS_OF`), typed traits, consent, stages, members, interaction aggregates
    (sums in several currencies, large and negative, windows on whole-day edges) and tags.
    ``of`` narrows to one class.
    """
    if not 1 <= max_depth <= MAX_CONDITION_DEPTH:
        raise ValueError(f"max_depth must be from 1 to {MAX_CONDITION_DEPTH}")
    found = {k: v for k, v in _leaves(SubjectKind.CUSTOMER).items() if k is not TimeInStage}
    leaves = [strategy for cls, strategy in found.items() if issubclass(cls, of)]
    if max_depth == 1 or of in found:
        if not leaves:
            raise ValueError(f"no {of.__name__} nests only {max_depth} level deep")
        return st.one_of(*leaves)
    inner = segment_rules(max_depth - 1)
    children = st.lists(inner, min_size=1, max_size=3).map(tuple)
    branches: dict[type[Condition], st.SearchStrategy[Condition]] = {
        AllOf: st.builds(AllOf, children),
        AnyOf: st.builds(AnyOf, children),
        Not: st.builds(Not, inner),
    }
    chosen = [strategy for cls, strategy in branches.items() if issubclass(cls, of)]
    return st.one_of(*leaves, *chosen)
