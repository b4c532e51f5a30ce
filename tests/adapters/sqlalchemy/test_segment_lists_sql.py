"""Segment rules with lists at the domain's limits give the domain's answer on every backend.

SQLite used to refuse them (``Expression tree is too large (maximum depth 1000)``): a list
compiled to a chain of ``=`` joined by ``OR``, and the children of `AllOf`/`AnyOf` (or the
metadata keys of an aggregate) to a chain as long. Every list-bearing leaf is checked here at
`MAX_LIST_VALUES` (and `MAX_MEMBERS`), alone, all together and under ``not``, against the same
population as the parity suite; and the statement of the largest rule binds few parameters,
far below SQLite's oldest limit (999).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from sqlalchemy.dialects import postgresql, sqlite

from crmkit.adapters.memory import InMemoryStore
from crmkit.adapters.sqlalchemy.segments.compiler import compile_segment
from crmkit.domain import AllOf, AnyOf, Channel, Condition, Direction, Not, TagCondition
from crmkit.domain.rules.aggregates import AggregateCondition
from crmkit.domain.rules.conditions import MAX_CONDITIONS
from crmkit.domain.rules.leaves import MAX_LIST_VALUES, MAX_MEMBERS, FieldCondition, TraitCondition
from crmkit.domain.rules.stage_leaves import Members, StageCondition
from crmkit.testing.databases import scratch_store
from tests.adapters.sqlalchemy.test_segments_sql import (
    AS_OF,
    CAMPAIGNS,
    CITIES,
    DATES,
    DECIMALS,
    INSTANTS,
    INTS,
    KINDS,
    LIFECYCLE,
    NAMES,
    POPULATION,
    STAGES,
    TENANT,
    TEXTS,
    expected,
    fill,
)
from tests.conftest import backend_url
from tests.workers import private_database


def full(known: list[Any], filler: Any) -> list[Any]:
    """``known`` (values the population holds) padded with ``filler(n)`` to the limit."""
    values = list(dict.fromkeys(known))
    n = 0
    while len(values) < MAX_LIST_VALUES:
        value = filler(n)
        if value not in values:
            values.append(value)
        n += 1
    return values


TEXT_LIST = full([*CITIES, *NAMES, *TEXTS[:5]], lambda n: f"city {n}")
INSTANT_LIST = full(INSTANTS[::2], lambda n: AS_OF - timedelta(seconds=n + 1))
INT_LIST = full(INTS[::2], lambda n: 7 * n + 3)
DECIMAL_LIST = full(DECIMALS[::3], lambda n: Decimal(n) / 8 + Decimal("1000"))
DATE_LIST = full(DATES[:2], lambda n: date(2000, 1, 1) + timedelta(days=n))
SOME_OTHER_IDS = {f"m{n}" for n in range(MAX_MEMBERS - 20)}


def slugs(known: list[str]) -> list[str]:
    return full(known, lambda n: f"other_{n}")


#: Every list-bearing leaf, each with a list at the limit.
LONG_LEAVES: list[tuple[str, Condition]] = [
    ("field in", FieldCondition("city", "in", TEXT_LIST)),
    ("field not_in", FieldCondition("given_name", "not_in", full(NAMES[:5], str))),
    ("datetime field in", FieldCondition("created_at", "in", INSTANT_LIST)),
    ("datetime field not_in", FieldCondition("updated_at", "not_in", INSTANT_LIST)),
    ("account field in", FieldCondition("account.industry", "in", full(["Retail"], str))),
    ("string trait in", TraitCondition("plan", "string", "in", full(TEXTS[:3], str))),
    ("string trait not_in", TraitCondition("plan", "string", "not_in", TEXT_LIST)),
    ("integer trait in", TraitCondition("seats", "integer", "in", INT_LIST)),
    ("integer trait not_in", TraitCondition("seats", "integer", "not_in", INT_LIST)),
    ("decimal trait in", TraitCondition("ratio", "decimal", "in", DECIMAL_LIST)),
    ("decimal trait not_in", TraitCondition("ratio", "decimal", "not_in", DECIMAL_LIST)),
    ("date trait in", TraitCondition("born", "date", "in", DATE_LIST)),
    ("date trait not_in", TraitCondition("born", "date", "not_in", DATE_LIST)),
    ("datetime trait in", TraitCondition("seen", "datetime", "in", INSTANT_LIST)),
    ("datetime trait not_in", TraitCondition("seen", "datetime", "not_in", INSTANT_LIST)),
    ("stages", StageCondition(LIFECYCLE, slugs(STAGES[1:3]))),
    ("members", Members({f"c{n:03d}" for n in range(0, 60, 3)} | SOME_OTHER_IDS)),
    ("kinds", AggregateCondition("count", "ge", 1, kinds=slugs(KINDS[:2]))),
    ("campaigns", AggregateCondition("count", "ge", 1, campaigns=full(CAMPAIGNS[:3], str))),
    (
        "every filter at once",
        AggregateCondition(
            "count",
            "ge",
            1,
            kinds=slugs(KINDS[1:]),
            channels=set(Channel),
            directions=set(Direction),
            campaigns=full(CAMPAIGNS[1:], str),
        ),
    ),
    (
        "interaction count kinds",
        AggregateCondition("count", "ge", 1, kinds=slugs(KINDS[:1])),
    ),
]

BACKENDS = ["memory", "sqlite_file", "postgresql", "mariadb"]


@pytest.fixture(scope="module", params=BACKENDS)
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A store of the backend holding the parity suite's population."""
    if request.param == "memory":
        store: Any = InMemoryStore()
        fill(store)
        yield store
        return
    url = backend_url(request.param, tmp_path_factory.mktemp(request.param))
    with private_database(url) as private:
        store = scratch_store(private)
        try:
            fill(store)
            yield store
        finally:
            store.dispose()


def agrees(store: Any, rule: Condition) -> None:
    """The store's members and count are the domain's (one page: compiling a rule of a
    thousand leaves takes SQLAlchemy a second or two)."""
    want = expected(POPULATION, rule, AS_OF)
    with store.unit_of_work(TENANT) as uow:
        page = uow.customers.matching_ids(rule, as_of=AS_OF, limit=len(POPULATION[0]))
        count = uow.customers.count_matching(rule, as_of=AS_OF)
    assert (list(page.items), count) == (want, len(want))


def test_the_examples_are_at_the_limit_and_match_someone() -> None:
    """The lists are full, and each leaf (or its negation) finds part of the population:
    a leaf that matched everyone or no one could not tell a wrong answer from a right one."""
    for title, rule in LONG_LEAVES:
        lists = [
            v
            for v in attrs.asdict(rule, recurse=False).values()
            if isinstance(v, tuple | frozenset)
        ]
        assert max(len(v) for v in lists) >= MAX_LIST_VALUES, title
        assert 0 < len(expected(POPULATION, rule, AS_OF)) < len(POPULATION[0]), title


@pytest.mark.parametrize(("title", "rule"), LONG_LEAVES, ids=[t for t, _ in LONG_LEAVES])
def test_a_leaf_with_a_list_at_the_limit_agrees_with_the_domain(
    filled: Any, title: str, rule: Condition
) -> None:
    agrees(filled, rule)
    agrees(filled, Not(rule))


LEAVES = [rule for _, rule in LONG_LEAVES]
#: Every long list in one rule, in each combination.
EVERY_LIST = [
    AnyOf(LEAVES),
    AllOf([Not(rule) for rule in LEAVES]),
    AllOf((AnyOf(LEAVES[::2]), Not(AllOf(LEAVES[1::2])))),
    Not(AnyOf((AllOf(LEAVES[:8]), AnyOf(LEAVES[8:]), Not(AnyOf(LEAVES[4:12]))))),
]


@pytest.mark.parametrize("rule", EVERY_LIST, ids=["any", "none", "mixed", "nested"])
def test_a_rule_holding_every_list_at_the_limit_agrees_with_the_domain(
    filled: Any, rule: Condition
) -> None:
    agrees(filled, rule)


def _parts(leaves: list[Condition]) -> list[list[Condition]]:
    return [leaves[n : n + MAX_CONDITIONS] for n in range(0, len(leaves), MAX_CONDITIONS)]


def _many_children() -> list[tuple[str, Condition]]:
    tags = [TagCondition(tag) for tag in ["vip", "new", *(f"tag-{n}" for n in range(998))]]
    # Not 1000 negated tags: PostgreSQL takes seconds to plan 1000 NOT EXISTS subqueries.
    cities = [Not(FieldCondition("city", "eq", city)) for city in TEXT_LIST]
    metadata = {f"key-{n}": n for n in range(999)}
    # A group holds at most MAX_CONDITIONS children: a thousand leaves take groups of groups.
    return [
        ("any of 1000 tags", AnyOf([AnyOf(part) for part in _parts(tags)])),
        ("all of 1000 negated tests", AllOf([AllOf(part) for part in _parts(cities)])),
        ("1000 metadata keys", AggregateCondition("max_at", "is_null", metadata=metadata)),
    ]


MANY_CHILDREN = _many_children()


@pytest.mark.parametrize(("title", "rule"), MANY_CHILDREN, ids=[t for t, _ in MANY_CHILDREN])
def test_a_thousand_children_or_metadata_keys_agree_with_the_domain(
    filled: Any, title: str, rule: Condition
) -> None:
    agrees(filled, rule)


DIALECTS = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.dialect(),
}


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_list_travels_as_one_bound_parameter(dialect: str) -> None:
    """However long its lists, the rule holding every list at the limit binds a handful of
    parameters per leaf: under SQLite's oldest limit (999), let alone psycopg's 65535."""
    for rule in [*EVERY_LIST, AllOf((*LEAVES, *LEAVES))]:
        query = compile_segment(rule, dialect=dialect, tenant=TENANT, as_of=AS_OF)
        compiled = query.compile(
            dialect=DIALECTS[dialect], compile_kwargs={"render_postcompile": True}
        )
        leaves = len(list(rule.leaves()))
        assert len(compiled.params) <= 12 * leaves < 999


EXACT = [
    FieldCondition("city", "in", ["berlin ", " Berlin", "BERLIN", "München"]),
    FieldCondition("city", "not_in", ["berlin ", "köln", "São Paulo"]),
    TraitCondition("plan", "string", "in", ["pro ", "PRO"]),
    AggregateCondition("count", "ge", 1, campaigns={"spring ", "Spring"}),
]


@pytest.mark.parametrize("rule", EXACT, ids=[r.describe() for r in EXACT])
def test_list_values_match_exactly(filled: Any, rule: Condition) -> None:
    """Case and trailing spaces count in a list as in ``eq`` (MariaDB's ``_bin``
    collations would ignore trailing spaces: the column is compared as BINARY)."""
    assert expected(POPULATION, rule, AS_OF)
    agrees(filled, rule)


def test_an_instant_list_matches_the_microsecond() -> None:
    """A datetime ``in`` compares epoch microseconds, as the single comparisons do."""
    at = datetime(2024, 1, 1, tzinfo=UTC)
    rule = FieldCondition("created_at", "in", [at, at + timedelta(microseconds=1)])
    query = compile_segment(rule, dialect="sqlite", tenant=TENANT, as_of=AS_OF)
    params = query.compile(dialect=DIALECTS["sqlite"]).params
    assert "[1704067200000000, 1704067200000001]" in params.values()
