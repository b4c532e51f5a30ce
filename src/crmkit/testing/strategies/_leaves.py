"""Strategies for the segment leaves (fields, traits, consent, stages, members, aggregates)
and their windows."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from hypothesis import strategies as st

from crmkit.domain import (
    SEGMENT_FIELDS,
    AggregateCondition,
    Channel,
    CompanySize,
    Condition,
    ConsentCondition,
    Direction,
    FieldCondition,
    FieldType,
    Measure,
    Members,
    Money,
    Op,
    StageCondition,
    TagCondition,
    TraitCondition,
    TraitType,
    Window,
)
from crmkit.domain._iso import COUNTRIES
from crmkit.domain.rules.aggregates import MISSABLE_MEASURES, MONEY_MEASURES
from crmkit.domain.rules.operands import field_operand
from crmkit.testing.strategies._customers import trait_values
from crmkit.testing.strategies._parts import _KINDS, _TAGS, SEGMENT_AS_OF, _stage_names
from crmkit.testing.strategies._values import (
    _STORABLE,
    _spaced,
    emails,
    ids,
    money,
    phone_numbers,
    purposes,
    slugs,
    utc_datetimes,
    web_domains,
)

_EDGE_DAYS = (0, 1, 7, 30, 90, 365)
_TRAIT_NAMES = ("plan", "seats", "score", "vip", "birthday", "last_seen", "interests")
_TEXTS = ("DE", "de", "Berlin", "berlin", "Köln", "KÖLN", "straße", "STRASSE", "ß", "ada", "Ada")
_OPS_BY_KIND: dict[FieldType | TraitType, tuple[Op, ...]] = {
    FieldType.TEXT: tuple(Op),
    FieldType.DATETIME: tuple(o for o in Op if o not in (Op.CONTAINS, Op.STARTS_WITH)),
    TraitType.STRING: tuple(Op),
    TraitType.INTEGER: tuple(o for o in Op if o not in (Op.CONTAINS, Op.STARTS_WITH)),
    TraitType.DECIMAL: (Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.IS_NULL, Op.IS_NOT_NULL),
    TraitType.BOOLEAN: (Op.EQ, Op.NE, Op.IS_NULL, Op.IS_NOT_NULL),
    TraitType.DATE: tuple(o for o in Op if o not in (Op.CONTAINS, Op.STARTS_WITH)),
    TraitType.DATETIME: tuple(o for o in Op if o not in (Op.CONTAINS, Op.STARTS_WITH)),
    TraitType.STRING_LIST: (Op.CONTAINS, Op.IS_NULL, Op.IS_NOT_NULL),
}


@cache
def _instants() -> st.SearchStrategy[datetime]:
    """Instants near `SEGMENT_AS_OF`, often exactly whole days before it."""
    edges = st.sampled_from(_EDGE_DAYS).map(lambda d: SEGMENT_AS_OF - timedelta(days=d))
    near = st.integers(-400 * 86_400, 86_400).map(lambda s: SEGMENT_AS_OF + timedelta(seconds=s))
    return edges | near | utc_datetimes()


@cache
def _segment_texts() -> st.SearchStrategy[str]:
    return _spaced(st.sampled_from(_TEXTS)) | st.text(_STORABLE, max_size=12)


@cache
def _scalars(kind: FieldType | TraitType) -> st.SearchStrategy[Any]:
    if kind in (FieldType.TEXT, TraitType.STRING, TraitType.STRING_LIST):
        return _segment_texts()
    if kind in (FieldType.DATETIME, TraitType.DATETIME):
        return _instants()
    if kind is TraitType.INTEGER:
        return st.sampled_from([0, 1, -1, 10]) | trait_values(TraitType.INTEGER)
    return trait_values(kind)


def _operand(draw: st.DrawFn, op: Op, scalars: st.SearchStrategy[Any]) -> Any:
    if op in (Op.IS_NULL, Op.IS_NOT_NULL):
        return None
    if op in (Op.IN, Op.NOT_IN):
        return tuple(draw(st.lists(scalars, min_size=1, max_size=4)))
    if op is Op.BETWEEN:
        low, high = sorted(draw(st.lists(scalars, min_size=2, max_size=2)))
        return (low, high)
    return draw(scalars)


def _as_typed(texts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``texts``, sometimes in another case or with spaces around, as a person types them."""
    return _spaced(texts | texts.map(str.upper) | texts.map(str.lower))


@cache
def _whole_values(name: str) -> st.SearchStrategy[str] | None:
    """Values a normalised field could hold, as typed (``eq``, ``in`` … refuse others)."""
    whole: dict[str, st.SearchStrategy[str]] = {
        "email": _as_typed(emails().map(str)),
        "phone": phone_numbers().map(str),
        "country": _as_typed(st.sampled_from(sorted(COUNTRIES))),
        "locale": _as_typed(st.sampled_from(["de-DE", "de", "en-GB", "fr_fr", "zh-Hant-TW"])),
        "account.domain": _as_typed(web_domains().filter(lambda d: not d.startswith("www."))),
        "account.size": st.sampled_from([size.value for size in CompanySize]),
    }
    if name in ("given_name", "family_name", "city", "region", "postal_code"):
        return _segment_texts().filter(lambda text: text.strip() != "")
    return whole.get(name)


@st.composite
def _field_condition(draw: st.DrawFn, *, account_only: bool = False) -> FieldCondition:
    names = [n for n in sorted(SEGMENT_FIELDS) if n.startswith("account.") or not account_only]
    name = draw(st.sampled_from(names))
    kind = SEGMENT_FIELDS[name]
    op = draw(st.sampled_from(_OPS_BY_KIND[kind]))
    scalars = _scalars(kind)
    whole = _whole_values(name)
    if whole is not None and op in (Op.EQ, Op.NE, Op.IN, Op.NOT_IN):
        scalars = whole
    elif kind is FieldType.TEXT and op is Op.BETWEEN:
        # Bounds in the field's stored form, so that putting them in it keeps their order.
        scalars = scalars.map(lambda text: field_operand(name, Op.LT.value, text))
    return FieldCondition(name, op, _operand(draw, op, scalars))


@st.composite
def _trait_condition(draw: st.DrawFn) -> TraitCondition:
    name = draw(st.sampled_from(_TRAIT_NAMES) | slugs(12))
    kind = draw(st.sampled_from(TraitType) | st.none())
    if kind is None:  # a trait of any type: present or missing
        return TraitCondition(name, None, draw(st.sampled_from([Op.IS_NULL, Op.IS_NOT_NULL])))
    op = draw(st.sampled_from(_OPS_BY_KIND[kind]))
    return TraitCondition(name, kind, op, _operand(draw, op, _scalars(kind)))


@cache
def windows() -> st.SearchStrategy[Window]:
    """Windows: ever, the last N days (often a round number), or since and/or until."""
    last = st.sampled_from(_EDGE_DAYS[1:]) | st.integers(1, 400)

    def since_until(pair: tuple[datetime | None, datetime | None]) -> Window:
        since, until = pair
        if since is not None and until is not None and until <= since:
            since, until = until, since + timedelta(seconds=1) if until == since else since
        return Window(since, until)

    open_or = st.none() | _instants()
    return st.one_of(
        st.just(Window()),
        last.map(lambda n: Window(last_days=n)),
        st.tuples(open_or, open_or).map(since_until),
    )


@st.composite
def _aggregate_condition(draw: st.DrawFn) -> AggregateCondition:
    measure = draw(st.sampled_from(Measure))
    timed = measure in (Measure.MIN_AT, Measure.MAX_AT)
    ops = [Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE, Op.BETWEEN]
    missable = measure in MISSABLE_MEASURES
    op = draw(st.sampled_from([*ops, Op.IS_NULL, Op.IS_NOT_NULL] if missable else ops))
    currency = None
    scalars: st.SearchStrategy[Any]
    if measure in MONEY_MEASURES:
        currency = draw(st.sampled_from(["EUR", "USD", "JPY"]))
        edge = st.sampled_from([0, 1, -1, 10_000, -10_000]).map(lambda m: Money(m, currency))
        scalars = edge | money(currency)
    elif timed:
        scalars = _instants()
    else:
        scalars = st.integers(0, 6)
    filters = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "kinds": st.frozensets(st.sampled_from(_KINDS), min_size=1, max_size=2),
                "channels": st.frozensets(st.sampled_from(Channel), min_size=1, max_size=2),
                "directions": st.frozensets(st.sampled_from(Direction), min_size=1, max_size=1),
                "campaigns": st.frozensets(
                    st.sampled_from(["spring_sale", "welcome"]), min_size=1, max_size=2
                ),
                "metadata": st.dictionaries(
                    st.sampled_from(["source", "n"]),
                    st.sampled_from(["app", "web", 1, True]),
                    min_size=1,
                    max_size=1,
                ),
            },
        )
    )
    if measure is Measure.NET_SPEND:  # it picks the purchases and refunds itself
        filters.pop("kinds", None)
    return AggregateCondition(
        measure,
        op,
        _operand(draw, op, scalars),
        window=draw(windows()),
        currency=currency,
        **filters,
    )


@cache
def _segment_leaves() -> dict[type[Condition], st.SearchStrategy[Condition]]:
    return {
        FieldCondition: _field_condition(),
        TraitCondition: _trait_condition(),
        ConsentCondition: st.builds(
            ConsentCondition,
            st.sampled_from([Channel.EMAIL, Channel.SMS, Channel.PHONE]),
            st.sampled_from(["marketing", "newsletter"]) | purposes(),
        ),
        StageCondition: st.builds(
            StageCondition,
            st.sampled_from(["customer_lifecycle", "pipeline"]) | slugs(12),
            st.frozensets(_stage_names(), min_size=1, max_size=3),
            at_least_days=st.none() | st.sampled_from(_EDGE_DAYS) | st.integers(0, 400),
        ),
        Members: st.builds(
            Members, st.frozensets(st.sampled_from(["c1", "c2"]) | ids(), min_size=1, max_size=4)
        ),
        AggregateCondition: _aggregate_condition(),
        TagCondition: st.builds(TagCondition, st.sampled_from(_TAGS) | slugs(12)),
    }
