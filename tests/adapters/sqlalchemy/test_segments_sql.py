"""Segments evaluated in the database agree with the domain, on every backend.

The heart of it is the parity property: one random population (customers with names in
several cases and scripts, addresses, traits of every type, tags, consents, account links,
stage histories, and interactions of several kinds, currencies and sizes, many of them exactly
on a window's edge) is stored once per backend in two tenants; Hypothesis then draws rule
trees over it, and the customers SQL finds must be exactly those for whom ``holds`` is true.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit import CRM, AccountId, CustomerId, FixedClock, Settings
from crmkit.adapters.memory import InMemoryStore
from crmkit.domain import (
    Account,
    AccountLink,
    AllOf,
    AnyOf,
    Channel,
    Condition,
    ConsentRecord,
    Customer,
    Direction,
    EmailAddress,
    Facts,
    Interaction,
    Money,
    Not,
    PostalAddress,
    StageHistory,
    TimeInStage,
)
from crmkit.domain.rules.aggregates import AggregateCondition, Measure, Window
from crmkit.domain.rules.conditions import MAX_CONDITION_DEPTH
from crmkit.domain.rules.leaves import (
    MAX_LIST_VALUES,
    ConsentCondition,
    FieldCondition,
    Op,
    TagCondition,
    TraitCondition,
)
from crmkit.domain.rules.stage_leaves import Members, StageCondition
from crmkit.errors import ValidationError
from crmkit.lifecycle import CUSTOMER_LIFECYCLE
from crmkit.segments import field, interactions, purchases, tagged, trait
from crmkit.testing.databases import scratch_store
from tests.conftest import backend_url
from tests.workers import private_database

AS_OF = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
DAY = timedelta(days=1)
LIFECYCLE = CUSTOMER_LIFECYCLE.name
TENANT, OTHER_TENANT = "seg-main", "seg-other"

# The vocabulary both the population and the rules draw from, so rules often match.
NAMES = ["Ada", "ada", "ADA", "Zoë", "zoe", "Ωmega", "😀 smile", "O'Brien", "50%_off\\", "x"]
CITIES = ["Berlin", "berlin", "BERLIN", "München", "Köln", "São Paulo", "a_b", "a%b"]
POSTCODES = ["10115", "1011", "10 115", "80331", "ab%", "a_1"]
TEXTS = ["pro", "Pro", "PRO", "pro ", " pro", "pro\t", "", " ", "ünïcode", "😀", "it's", "50%"]
TEXTS += ["a_b", "back\\slash", "ünïcode  "]
INTS = [-(2**63) + 1, -5, -1, 0, 1, 2, 5, 10**12, 2**63 - 1]
DECIMALS = [
    Decimal("0"),
    Decimal("0.0"),
    Decimal("-0"),
    Decimal("1"),
    Decimal("1.0"),
    Decimal("1.50"),
    Decimal("1.5"),
    Decimal("100"),
    Decimal("1E+2"),
    Decimal("-2.25"),
    Decimal("1E-7"),
    # Equal to simpler ones, and stored canonically; SQL used to miss some of them.
    Decimal("1." + "0" * 40),
    Decimal("0E-50"),
    Decimal("-0.000"),
    Decimal("2." + "0" * 25),
    Decimal("2"),
    Decimal("1E+30"),
    Decimal("1" + "0" * 30),
    Decimal("-1E-30"),
    Decimal("-0.000000000000000000000000000001"),
]
DATES = [date(2024, 1, 1), date(2024, 6, 1), date(1999, 12, 31), date(2024, 5, 31)]
INSTANTS = [
    AS_OF,
    AS_OF - US,
    AS_OF + US,
    AS_OF - 90 * DAY,
    AS_OF - 90 * DAY + US,
    AS_OF - 90 * DAY - US,
    AS_OF - 30 * DAY,
    datetime(2024, 1, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 0, tzinfo=UTC),
    datetime(1970, 1, 1, 1, tzinfo=UTC),
    AS_OF - DAY,
    AS_OF.replace(hour=0),
    AS_OF.replace(hour=0) - US,
]
KINDS = ["purchase", "refund", "note", "webinar"]
UNSIGNED_KINDS = {"purchase", "refund"}
CHANNELS = [Channel.EMAIL, Channel.SMS, Channel.WEB, Channel.PHONE]
CAMPAIGNS = ["spring", "Spring", "spring ", " spring", "sale_50%"]
CURRENCIES = ["EUR", "USD", "JPY"]
AMOUNTS = [0, 1, -1, 999, -250, 10**15, -(10**15), 2**62, 2**63 - 1, -(2**63) + 1]
META = {
    "src": ["web", "Web", "web ", " web", "1", "true"],
    "n": [1, 0, 2, -7, True, False],
    "a.b": ["x"],
}
TRAITS = ["plan", "seats", "ratio", "active", "born", "seen", "langs"]
TRAIT_KIND = {
    "plan": "string",
    "seats": "integer",
    "ratio": "decimal",
    "active": "boolean",
    "born": "date",
    "seen": "datetime",
    "langs": "string_list",
}
PURPOSES = ["marketing", "service"]
ACCOUNTS = ["acc-1", "acc-2", "acc-3", "acc-missing"]
STAGES = [s.name for s in CUSTOMER_LIFECYCLE.stages]
AS_OFS = [AS_OF, AS_OF + US, AS_OF - US, AS_OF - 90 * DAY, datetime(2024, 1, 1, tzinfo=UTC)]


def trait_value(rng: random.Random, kind: str) -> Any:
    match kind:
        case "string":
            return rng.choice(TEXTS)
        case "integer":
            return rng.choice(INTS)
        case "decimal":
            return rng.choice(DECIMALS)
        case "boolean":
            return rng.choice([True, False])
        case "date":
            return rng.choice(DATES)
        case "datetime":
            return rng.choice(INSTANTS)
    return tuple(rng.sample(TEXTS, rng.randint(0, 3)))


def population(
    seed: int, size: int
) -> tuple[list[Customer], list[Account], list[Interaction], list[StageHistory]]:
    """A reproducible population full of edge cases."""
    rng = random.Random(seed)
    created = datetime(2023, 1, 1, tzinfo=UTC)
    accounts = [
        Account("acc-1", "Acme", created, created, domain="acme.com", industry="Retail", size="1"),
        Account("acc-2", "acme", created, created, industry="retail"),
        Account("acc-3", "Acme ", created, created, industry=" retail"),
    ]
    customers, interactions, histories = [], [], []
    for n in range(size):
        cid = f"c{n:03d}"
        traits: dict[str, Any] = {}
        for name in rng.sample(TRAITS, rng.randint(0, len(TRAITS))):
            kind = (
                TRAIT_KIND[name]
                if rng.random() < 0.8
                else rng.choice(list(set(TRAIT_KIND.values())))
            )
            traits[name] = trait_value(rng, kind)
        consents = [
            ConsentRecord(
                rng.choice(PURPOSES),
                rng.choice([None, Channel.EMAIL, Channel.SMS]),
                rng.choice(["granted", "withdrawn"]),
                rng.choice(INSTANTS[:7]),
                "form",
                double_opt_in=rng.choice(["not_required", "pending", "confirmed"]),
            )
            for _ in range(rng.randint(0, 3))
        ]
        address = None
        if rng.random() < 0.7:
            address = PostalAddress(
                rng.choice(["DE", "FR", "US"]),
                ("Line 1",),
                city=rng.choice([*CITIES, None]),
                region=rng.choice(["Bayern", "bayern", None]),
                postal_code=rng.choice([*POSTCODES, None]),
            )
        customer = Customer(
            CustomerId(cid),
            created_at=rng.choice(INSTANTS),
            updated_at=rng.choice(INSTANTS),
            given_name=rng.choice([*NAMES, None]),
            family_name=rng.choice([*NAMES, None]),
            email=EmailAddress(f"{cid}@example.com") if rng.random() < 0.7 else None,
            address=address,
            locale=rng.choice([None, "de-DE", "en"]),
            tags=rng.sample(["vip", "churn risk", "ünï", "new"], rng.randint(0, 2)),
            traits=traits,
            consents=consents,
            account=AccountLink(AccountId(rng.choice(ACCOUNTS)), rng.choice(["buyer", "user"]))
            if rng.random() < 0.5
            else None,
        )
        customers.append(customer)
        for k in range(rng.randint(0, 6)):
            currency = rng.choice(CURRENCIES)
            metadata = {
                key: rng.choice(values) for key, values in META.items() if rng.random() < 0.5
            }
            kind = rng.choice(KINDS)
            minor = rng.choice(AMOUNTS)
            if kind in UNSIGNED_KINDS:  # what was paid, what was given back: never negative
                minor = abs(minor)
            interactions.append(
                Interaction(
                    f"{cid}-i{k}",
                    CustomerId(cid),
                    rng.choice(INSTANTS),
                    kind,
                    rng.choice(CHANNELS),
                    direction=rng.choice(list(Direction)),
                    amount=Money(minor, currency) if rng.random() < 0.6 else None,
                    campaign=rng.choice([*CAMPAIGNS, None]),
                    metadata=metadata,
                )
            )
        if rng.random() < 0.6:
            histories.append(
                StageHistory.enter(
                    CUSTOMER_LIFECYCLE,
                    cid,
                    # time in a stage meets its day boundaries to the microsecond
                    at=rng.choice([created, *INSTANTS[:7]]),
                    stage=rng.choice(STAGES),
                )
            )
    return customers, accounts, interactions, histories


# Averages exactly on an operand, between two operands, or beyond 64 bits when summed.
AVERAGE_EDGES = [5000, 4999, 5001, 500, 2**63 - 2, -(2**63) + 2, 333]
AVERAGE_CASES: dict[str, list[Money]] = {
    "avg-exact": [Money(4000, "EUR"), Money(6000, "EUR")],  # exactly 50.00 EUR
    "avg-just-below": [Money(4999, "EUR"), Money(5000, "EUR")],  # 49.995 EUR
    "avg-just-above": [Money(5000, "EUR"), Money(5001, "EUR"), Money(5001, "EUR")],
    "avg-thirds": [Money(333, "EUR"), Money(333, "EUR"), Money(334, "EUR")],  # 333.33…
    "avg-huge": [Money(2**63 - 1, "EUR"), Money(2**63 - 3, "EUR")],  # sum beyond 64 bits
    "avg-huge-usd": [Money(2**63 - 1, "USD")] * 3,
    "avg-huge-negative": [Money(-(2**63) + 1, "JPY"), Money(-(2**63) + 3, "JPY")],
    "avg-mixed": [Money(5000, "EUR"), Money(1, "USD"), Money(10**15, "JPY")],
    "avg-none": [],  # a customer who never bought: no average at all
}


def with_averages(
    data: tuple[list[Customer], list[Account], list[Interaction], list[StageHistory]],
) -> tuple[list[Customer], list[Account], list[Interaction], list[StageHistory]]:
    """The population and a few customers whose purchases average exactly on the edges."""
    customers, accounts, interactions, histories = data
    customers, interactions = list(customers), list(interactions)
    for name, amounts in AVERAGE_CASES.items():
        customers.append(Customer(CustomerId(name), created_at=AS_OF, updated_at=AS_OF))
        for k, amount in enumerate(amounts):
            interactions.append(
                Interaction(
                    f"{name}-i{k}",
                    CustomerId(name),
                    AS_OF - (k + 1) * DAY,
                    "purchase" if amount.minor >= 0 else "note",  # a purchase is never negative
                    Channel.WEB,
                    amount=amount,
                )
            )
        # a purchase without an amount is no part of the average
        interactions.append(
            Interaction(f"{name}-free", CustomerId(name), AS_OF - DAY, "purchase", Channel.WEB)
        )
    return customers, accounts, interactions, histories


def twisted(customers: list[Customer]) -> list[Customer]:
    """Another tenant's customers: the same ids, different data (and a few more)."""
    others = []
    for c in customers:
        others.append(
            Customer(
                c.id,
                created_at=c.created_at,
                updated_at=c.updated_at,
                given_name="Other",
                tags=["vip", "new", "churn risk"],
                traits={"plan": "pro", "seats": 5},
                consents=[ConsentRecord("marketing", None, "granted", AS_OF - DAY, "form")],
                address=PostalAddress("DE", city="Berlin", postal_code="10115"),
                account=AccountLink(AccountId("acc-1")),
            )
        )
    extra = [Customer(CustomerId(f"zz{n}"), created_at=AS_OF, updated_at=AS_OF) for n in range(5)]
    return others + extra


def store_population(store: Any, tenant: str, data: tuple[Any, ...]) -> None:
    customers, accounts, interactions, histories = data
    with store.unit_of_work(tenant) as uow:
        for account in accounts:
            uow.accounts.add(
                Account(
                    account.id,
                    account.name,
                    account.created_at,
                    account.updated_at,
                    domain=account.domain,
                    industry=account.industry,
                    size=account.size,
                )
            )
        uow.customers.add_many([_copy(c) for c in customers])
        uow.interactions.add_many(interactions)
        for history in histories:
            uow.stage_histories.add(
                StageHistory.enter(
                    CUSTOMER_LIFECYCLE,
                    history.subject_id,
                    at=history.entered_at,
                    stage=history.current,
                )
            )
        uow.commit()


def _copy(customer: Customer) -> Customer:
    import copy

    twin = copy.copy(customer)
    twin.version = 0
    return twin


def expected(data: tuple[Any, ...], rule: Condition, as_of: datetime) -> list[str]:
    """The domain's answer: ``holds`` per customer."""
    customers, accounts, interactions, histories = data
    by_account = {a.id: a for a in accounts}
    stages = {h.subject_id: {h.model: h.current} for h in histories}
    entered = {h.subject_id: {h.model: h.entered_at} for h in histories}
    found = []
    for customer in customers:
        link = customer.account
        facts = Facts.of_customer(
            customer,
            [i for i in interactions if i.customer_id == customer.id],
            as_of,
            account=None if link is None else by_account.get(link.account_id),
            stages=stages.get(customer.id),
            stages_entered_at=entered.get(customer.id),
        )
        if rule.holds(facts):
            found.append(customer.id)
    return sorted(found)


# Rules.


def _values(draw: Any, kind: str) -> Any:
    return {
        "string": st.sampled_from(TEXTS),
        "integer": st.sampled_from([*INTS, -(2**63)]),
        "decimal": st.sampled_from(DECIMALS),
        "boolean": st.booleans(),
        "date": st.sampled_from(DATES),
        "datetime": st.sampled_from(INSTANTS),
        "string_list": st.sampled_from(TEXTS),
        "text": st.sampled_from(
            [
                *TEXTS,
                *NAMES,
                *CITIES,
                *POSTCODES,
                "DE",
                "c001",
                "acc-1",
                "Acme",
                "acme",
                "Acme ",
                " retail",
                "retail",
                "Retail",
                "1",
                "buyer",
                "de-DE",
                "c001@example.com",
                "Ber",
                "ber",
                "10",
                "a",
            ]
        ),
    }[kind]


OPS_BY_KIND = {
    "text": list(Op),
    "datetime": [o for o in Op if o not in (Op.CONTAINS, Op.STARTS_WITH)],
    "string": list(Op),
    "integer": [o for o in Op if o not in (Op.CONTAINS, Op.STARTS_WITH)],
    "date": [o for o in Op if o not in (Op.CONTAINS, Op.STARTS_WITH)],
    "decimal": [Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.IS_NULL, Op.IS_NOT_NULL],
    "boolean": [Op.EQ, Op.NE, Op.IS_NULL, Op.IS_NOT_NULL],
    "string_list": [Op.CONTAINS, Op.IS_NULL, Op.IS_NOT_NULL],
}


@st.composite
def operand(draw: Any, kind: str, op: Op) -> Any:
    values = _values(draw, kind)
    if op in (Op.IS_NULL, Op.IS_NOT_NULL):
        return None
    if op in (Op.IN, Op.NOT_IN):
        return draw(st.lists(values, min_size=1, max_size=4))
    if op is Op.BETWEEN:
        low, high = draw(values), draw(values)
        return sorted([low, high])
    return draw(values)


# Whole values (eq, in …) of the normalised fields, as typed: any other text is refused.
WHOLE_VALUES = {
    "email": ["c001@example.com", "C001@Example.COM", " c002@example.com", "no@example.com"],
    "phone": ["+49 30 12345678"],
    "country": ["DE", "de", " fr", "US", "AT"],
    "locale": ["de-DE", "de_de", "en", "EN", "fr"],
    "account.domain": ["acme.com", "ACME.com", "https://www.acme.com/", "other.org"],
    "account.size": ["1", "2-9"],
}
COLLAPSED = ("given_name", "family_name", "city", "region", "postal_code")


@st.composite
def field_conditions(draw: Any) -> Condition:
    from crmkit.domain.rules.leaves import SEGMENT_FIELDS
    from crmkit.domain.rules.operands import field_operand

    field = draw(st.sampled_from(sorted(SEGMENT_FIELDS)))
    kind = SEGMENT_FIELDS[field].value
    op = draw(st.sampled_from(OPS_BY_KIND[kind]))
    value = draw(operand(kind, op))
    if op in (Op.EQ, Op.NE, Op.IN, Op.NOT_IN) and field in WHOLE_VALUES:
        whole = st.sampled_from(WHOLE_VALUES[field])
        value = draw(st.lists(whole, min_size=1, max_size=3) if op in (Op.IN, Op.NOT_IN) else whole)
    elif op in (Op.EQ, Op.NE, Op.IN, Op.NOT_IN) and field in COLLAPSED:
        items = value if isinstance(value, list) else [value]
        if any(not item.strip() for item in items):
            value = [*[i for i in items if i.strip()], "Ada"] if isinstance(value, list) else "x"
    elif op is Op.BETWEEN and kind == "text":
        value = sorted(field_operand(field, Op.LT.value, item) for item in value)
    return FieldCondition(field, op, value)


@st.composite
def trait_conditions(draw: Any) -> Condition:
    name = draw(st.sampled_from(TRAITS))
    kind = draw(st.sampled_from([TRAIT_KIND[name]] * 3 + sorted(set(TRAIT_KIND.values()))))
    op = draw(st.sampled_from(OPS_BY_KIND[kind]))
    return TraitCondition(name, kind, op, draw(operand(kind, op)))


@st.composite
def windows(draw: Any) -> Window:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return Window()
    if choice == 1:
        return Window(last_days=draw(st.sampled_from([1, 30, 90, 365])))
    since = draw(st.sampled_from([None, *INSTANTS]))
    until = draw(st.sampled_from([None, *INSTANTS]))
    if since is not None and until is not None and until <= since:
        since, until = (until, since) if until < since else (since, None)
    return Window(since, until)


@st.composite
def aggregates(draw: Any, measures: tuple[Measure, ...] = tuple(Measure)) -> Condition:
    measure = draw(st.sampled_from(measures))
    filters: dict[str, Any] = {
        "window": draw(windows()),
        "kinds": draw(st.sets(st.sampled_from(KINDS), max_size=2)),
        "channels": draw(st.sets(st.sampled_from(CHANNELS), max_size=2)),
        "directions": draw(st.sets(st.sampled_from(list(Direction)), max_size=2)),
        "campaigns": draw(st.sets(st.sampled_from(CAMPAIGNS), max_size=2)),
        "metadata": draw(
            st.dictionaries(
                st.sampled_from([*META, "missing", "bad'key\""]),
                st.sampled_from([v for vs in META.values() for v in vs]),
                max_size=2,
            )
        ),
    }
    ops = [Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE, Op.BETWEEN]
    if measure in (Measure.MIN_AT, Measure.MAX_AT):
        op = draw(st.sampled_from([*ops, Op.IS_NULL, Op.IS_NOT_NULL]))
        value = draw(operand("datetime", op))
    elif measure in (Measure.SUM, Measure.NET_SPEND, Measure.AVG):
        if measure is Measure.NET_SPEND:  # it picks the purchases and refunds itself
            filters["kinds"] = set()
        currency = draw(st.sampled_from(CURRENCIES))
        if measure is Measure.AVG:
            op = draw(st.sampled_from([*ops, Op.IS_NULL, Op.IS_NOT_NULL]))
            if op in (Op.IS_NULL, Op.IS_NOT_NULL):
                return AggregateCondition(measure, op, currency=currency, **filters)
        else:
            op = draw(st.sampled_from(ops))
        minors = st.sampled_from(
            [
                0,
                1,
                -1,
                999,
                998,
                1000,
                10**15,
                -(10**15),
                2**63 - 1,
                -(2**63) + 1,
                2**62,
                *AVERAGE_EDGES,
            ]
        )
        if op is Op.BETWEEN:
            value = [Money(m, currency) for m in sorted([draw(minors), draw(minors)])]
        else:
            value = Money(draw(minors), currency)
        return AggregateCondition(measure, op, value, currency=currency, **filters)
    else:
        op = draw(st.sampled_from(ops))
        counts = st.integers(0, 4)
        value = sorted([draw(counts), draw(counts)]) if op is Op.BETWEEN else draw(counts)
    return AggregateCondition(measure, op, value, **filters)


@st.composite
def interaction_counts(draw: Any) -> Condition:
    """Counts as lifecycle rules write them: ``interactions(...).count() >= n``, ``<= n``,
    ``== 0`` or between two counts, over the last N days or ever."""
    selection = interactions(
        kinds=draw(st.sets(st.sampled_from(KINDS), max_size=2)),
        channels=draw(st.sets(st.sampled_from(CHANNELS), max_size=2)),
        last=draw(st.sampled_from([None, 1, 30, 90])),
    )
    low, high = sorted([draw(st.integers(0, 3)), draw(st.integers(0, 3))])
    shape = draw(st.sampled_from(["at_least", "at_most", "none", "between"]))
    if shape == "at_least":
        return selection.count() >= low
    if shape == "at_most":
        return selection.count() <= high
    if shape == "none":
        return selection.count() == 0
    return selection.count().between(low, high)


LEAVES = st.one_of(
    field_conditions(),
    trait_conditions(),
    aggregates(),
    interaction_counts(),
    st.builds(tagged, st.sampled_from(["vip", "churn risk", "ünï", "new", "old"])),
    st.builds(lambda name: trait(name).exists(), st.sampled_from([*TRAITS, "absent"])),
    st.builds(lambda name: ~trait(name).exists(), st.sampled_from([*TRAITS, "absent"])),
    st.builds(
        lambda name: field(name).exists(),
        st.sampled_from(
            [
                "given_name",
                "family_name",
                "email",
                "phone",
                "country",
                "locale",
                "account_id",
                "account.domain",
            ]
        ),
    ),
    st.builds(
        ConsentCondition,
        st.sampled_from([Channel.EMAIL, Channel.SMS, Channel.PHONE]),
        st.sampled_from(PURPOSES),
    ),
    st.builds(
        StageCondition,
        st.just(LIFECYCLE) | st.just("other_model"),
        st.sets(st.sampled_from(STAGES), min_size=1, max_size=3),
        at_least_days=st.none() | st.sampled_from([0, 1, 30, 90, 517, 518]) | st.integers(0, 900),
    ),
    st.builds(Members, st.sets(st.sampled_from([f"c{n:03d}" for n in range(40)] + ["zz1"]))),
)

RULES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(AllOf),
        st.lists(inner, min_size=1, max_size=3).map(AnyOf),
        inner.map(Not),
    ),
    max_leaves=8,
)


# Stores: one per backend for the whole module, filled once.

BACKENDS = ["memory", "sqlite_file", "postgresql", "mariadb"]
POPULATION = with_averages(population(seed=5, size=60))


@pytest.fixture(scope="module", params=BACKENDS)
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A store of the backend holding the population in TENANT and a twisted copy in
    OTHER_TENANT."""
    backend = request.param
    if backend == "memory":
        store: Any = InMemoryStore()
        fill(store)
        yield store
        return
    url = backend_url(backend, tmp_path_factory.mktemp(backend))
    with private_database(url) as private:
        store = scratch_store(private)
        try:
            fill(store)
            yield store
        finally:
            store.dispose()


def fill(store: Any) -> None:
    store_population(store, TENANT, POPULATION)
    customers, accounts, interactions, histories = POPULATION
    other = twisted(customers)
    other_interactions = [
        Interaction(
            i.id,
            i.customer_id,
            AS_OF,
            "purchase",
            Channel.EMAIL,
            amount=Money(500, "EUR"),
            campaign="spring",
            metadata={"src": "web"},
        )
        for i in interactions
    ]
    store_population(store, OTHER_TENANT, (other, accounts, other_interactions, histories))


def sql_answer(store: Any, rule: Condition, as_of: datetime) -> tuple[list[str], int]:
    with store.unit_of_work(TENANT) as uow:
        ids: list[str] = []
        cursor = None
        while True:
            page = uow.customers.matching_ids(rule, as_of=as_of, limit=25, cursor=cursor)
            ids.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        return ids, uow.customers.count_matching(rule, as_of=as_of)


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None
)
@given(rule=RULES, as_of=st.sampled_from(AS_OFS))
def test_parity_with_the_domain(filled: Any, rule: Condition, as_of: datetime) -> None:
    want = expected(POPULATION, rule, as_of)
    ids, count = sql_answer(filled, rule, as_of)
    assert ids == want, rule
    assert count == len(want)


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None
)
@given(rule=aggregates(measures=(Measure.NET_SPEND,)), as_of=st.sampled_from(AS_OFS))
def test_net_spend_parity_with_the_domain(filled: Any, rule: Condition, as_of: datetime) -> None:
    """Purchases minus refunds, exact up to the 64-bit edges (SQLite sums 32-bit halves)."""
    want = expected(POPULATION, rule, as_of)
    ids, count = sql_answer(filled, rule, as_of)
    assert (ids, count) == (want, len(want)), rule


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None
)
@given(rule=aggregates(measures=(Measure.AVG,)), as_of=st.sampled_from(AS_OFS))
def test_average_parity_with_the_domain(filled: Any, rule: Condition, as_of: datetime) -> None:
    """Averages compared exactly (sum against operand times count), missing when none."""
    want = expected(POPULATION, rule, as_of)
    ids, count = sql_answer(filled, rule, as_of)
    assert (ids, count) == (want, len(want)), rule


# Readable examples, one per kind of leaf.

EXAMPLES: list[tuple[str, Condition]] = [
    ("country is DE", FieldCondition("country", "eq", "DE")),
    ("city Berlin (case matters)", FieldCondition("city", "eq", "Berlin")),
    ("city starts with 'Be'", FieldCondition("city", "starts_with", "Be")),
    ("city contains '_'", FieldCondition("city", "contains", "_")),
    ("city contains '%'", FieldCondition("city", "contains", "%")),
    ("postal code prefix '10'", FieldCondition("postal_code", "starts_with", "10")),
    ("no region", FieldCondition("region", "is_null")),
    ("name sorts before 'b'", FieldCondition("given_name", "lt", "b")),
    ("name is not Ada", FieldCondition("given_name", "ne", "Ada")),
    ("family name in", FieldCondition("family_name", "in", ["O'Brien", "50%_off\\"])),
    ("created before 2024", FieldCondition("created_at", "lt", datetime(2024, 1, 1, tzinfo=UTC))),
    ("account named Acme", FieldCondition("account.name", "eq", "Acme")),
    ("account has no domain", FieldCondition("account.domain", "is_null")),
    ("plan is pro", TraitCondition("plan", "string", "eq", "pro")),
    ("plan is 'pro '", TraitCondition("plan", "string", "eq", "pro ")),
    ("seats > 1", TraitCondition("seats", "integer", "gt", 1)),
    ("seats above the smallest int", TraitCondition("seats", "integer", "gt", -(2**63))),
    ("metadata flag is true, not 1", AggregateCondition("count", "ge", 1, metadata={"n": True})),
    ("ratio = 1", TraitCondition("ratio", "decimal", "eq", Decimal("1"))),
    ("ratio != 1.5", TraitCondition("ratio", "decimal", "ne", Decimal("1.5"))),
    ("active", TraitCondition("active", "boolean", "eq", True)),
    ("born in 2024", TraitCondition("born", "date", "ge", date(2024, 1, 1))),
    ("seen lately", TraitCondition("seen", "datetime", "gt", AS_OF - 90 * DAY)),
    ("speaks 😀", TraitCondition("langs", "string_list", "contains", "😀")),
    ("no plan", TraitCondition("plan", "string", "is_null")),
    ("vip", tagged("vip")),
    ("has plan trait", trait("plan").exists()),
    ("has no plan trait of any type", ~trait("plan").exists()),
    ("has a country", field("country").exists()),
    ("linked to an account", field("account_id").exists()),
    ("may email for marketing", ConsentCondition("email", "marketing")),
    ("is a customer", StageCondition(LIFECYCLE, {"customer", "repeat"})),
    ("a customer for 90 days", StageCondition(LIFECYCLE, {"customer"}, at_least_days=90)),
    # entries at AS_OF - 90 days (to the microsecond) and at AS_OF + 1 us meet the boundary
    ("in the model 90 days", StageCondition(LIFECYCLE, set(STAGES), at_least_days=90)),
    ("in the model, entered by now", StageCondition(LIFECYCLE, set(STAGES), at_least_days=0)),
    ("listed", Members({"c001", "c002", "zz1"})),
    ("3+ purchases ever", AggregateCondition("count", "ge", 3, kinds={"purchase"})),
    ("bought in last 90 days", AggregateCondition("count", "ge", 1, window=Window(last_days=90))),
    (
        "spent over 999 EUR cents",
        AggregateCondition("sum", "gt", Money(999, "EUR"), currency="EUR"),
    ),
    (
        "net spend over 999 EUR cents this year",
        AggregateCondition(
            "net_spend", "gt", Money(999, "EUR"), currency="EUR", window=Window(last_days=365)
        ),
    ),
    (
        "refunded more than bought in JPY",
        AggregateCondition("net_spend", "lt", Money(0, "JPY"), currency="JPY"),
    ),
    (
        "first seen before 1970",
        AggregateCondition("min_at", "lt", datetime(1970, 1, 1, tzinfo=UTC)),
    ),
    ("no interaction at all", AggregateCondition("max_at", "is_null")),
    ("purchases average 50+ EUR", purchases().avg("EUR") >= 50),
    ("purchases average over 50 EUR", purchases().avg("EUR") > 50),
    ("purchases average exactly 50 EUR", purchases().avg("EUR") == 50),
    ("purchases average not 50 EUR", purchases().avg("EUR") != 50),
    ("purchases average under 50 EUR", purchases().avg("EUR") < 50),
    ("no average under 50 EUR", ~(purchases().avg("EUR") < 50)),
    ("average between 49.99 and 50.01", purchases().avg("EUR").between("49.99", "50.01")),
    ("average 3.33 EUR or more", purchases().avg("EUR") >= Money(333, "EUR")),
    ("huge average", purchases().avg("EUR") >= Money(2**63 - 2, "EUR")),
    ("huge average, just above", purchases().avg("EUR") > Money(2**63 - 2, "EUR")),
    ("huge USD average", purchases().avg("USD") == Money(2**63 - 1, "USD")),
    ("huge negative average", interactions().avg("JPY") <= Money(-(2**63) + 2, "JPY")),
    ("huge negative average, just below", interactions().avg("JPY") < Money(-(2**63) + 2, "JPY")),
    ("no EUR average", purchases().avg("EUR").is_null()),
    ("some average in 90 days", purchases(last=90).avg("JPY").exists()),
    ("any interaction average", interactions(last=365).avg("EUR") >= 0),
    # a & b & aggregates: grouped over the customers passing a & b only
    (
        "has a country, 2+ interactions, average 5+ EUR",
        field("country").exists()
        & (interactions().count() >= 2)
        & (interactions().avg("EUR") >= 5),
    ),
    (
        "vip, no purchase in 90 days but some ever",
        tagged("vip") & ~(purchases(last=90).count() >= 1) & (purchases().count() >= 1),
    ),
    (
        "has a country, first seen before as_of, or tagged new",
        field("country").exists()
        & (interactions().first_at() < AS_OF)
        & (tagged("new") | (purchases().count() >= 2)),
    ),
    ("no country and never bought", ~field("country").exists() & (purchases().count() == 0)),
    ("on 2+ days", AggregateCondition("distinct_days", "ge", 2)),
    ("metadata n == 1", AggregateCondition("count", "ge", 1, metadata={"n": 1})),
    ("metadata src 'web'", AggregateCondition("count", "ge", 1, metadata={"src": "web"})),
    ("campaign 'spring'", AggregateCondition("count", "ge", 1, campaigns={"spring"})),
    ("a purchase in 30 days", interactions(kinds=["purchase"], last=30).count() >= 1),
    ("no purchase in 90 days", interactions(kinds=["purchase"], last=90).count() == 0),
    ("not vip", Not(TagCondition("vip"))),
    ("not country DE", Not(FieldCondition("country", "eq", "DE"))),
    (
        "DE vip or no plan",
        AnyOf(
            (
                AllOf((FieldCondition("country", "eq", "DE"), TagCondition("vip"))),
                TraitCondition("plan", "string", "is_null"),
            )
        ),
    ),
]


@pytest.mark.parametrize(("title", "rule"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_each_leaf_agrees_with_the_domain(filled: Any, title: str, rule: Condition) -> None:
    want = expected(POPULATION, rule, AS_OF)
    ids, count = sql_answer(filled, rule, AS_OF)
    assert (ids, count) == (want, len(want))


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None
)
@given(rule=RULES, chunk=st.integers(1, 30))
def test_pages_over_aggregates_ask_about_a_range_of_customers_at_a_time(
    filled: Any, rule: Condition, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule over interactions is paged by ranges of customers (each query groups only
    their interactions): any range size gives the same members, page after page."""
    from crmkit.adapters.sqlalchemy.customers import matching

    monkeypatch.setattr(matching, "SEGMENT_CHUNK", chunk)
    rule = rule & (interactions().count() >= 0)  # reads the interactions, always true
    want = expected(POPULATION, rule, AS_OF)
    assert sql_answer(filled, rule, AS_OF) == (want, len(want))


def test_a_rule_never_returns_another_tenants_customers(filled: Any) -> None:
    # OTHER_TENANT's customers all have given name "Other" and five extra ids.
    rule = AnyOf((FieldCondition("given_name", "eq", "Other"), Members({"zz1", "zz2"})))
    assert sql_answer(filled, rule, AS_OF) == ([], 0)
    with filled.unit_of_work(OTHER_TENANT) as uow:
        assert uow.customers.count_matching(rule, as_of=AS_OF) == 60 + len(AVERAGE_CASES) + 2


def test_streamed_members_are_whole_customers(filled: Any) -> None:
    rule = TagCondition("vip")
    with filled.unit_of_work(TENANT) as uow:
        streamed = list(uow.customers.stream_matching(rule, as_of=AS_OF, batch_size=7))
        assert [c.id for c in streamed] == expected(POPULATION, rule, AS_OF)
        assert all("vip" in c.tags for c in streamed)
        assert streamed == [uow.customers.get(c.id) for c in streamed]


def test_time_in_stage_is_refused(filled: Any) -> None:
    with filled.unit_of_work(TENANT) as uow, pytest.raises(ValidationError):
        uow.customers.count_matching(AllOf((TagCondition("vip"), TimeInStage(3))), as_of=AS_OF)


def test_an_account_field_is_named_with_its_prefix(filled: Any) -> None:
    with pytest.raises(ValidationError):
        field("industry").exists()
    rule = field("account.industry").exists()
    with filled.unit_of_work(TENANT) as uow:
        assert uow.customers.count_matching(rule, as_of=AS_OF) == len(
            expected(POPULATION, rule, AS_OF)
        )


def test_naive_as_of_is_refused(filled: Any) -> None:
    with filled.unit_of_work(TENANT) as uow, pytest.raises(ValidationError):
        uow.customers.count_matching(TagCondition("vip"), as_of=datetime(2024, 1, 1))


# Security: hostile input is refused when built, or matched literally.

HOSTILE = ["x'; DROP TABLE crmkit_customers; --", 'name" OR 1=1 --', "1; SELECT 1", "plan)--"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_by_the_nodes(name: str) -> None:
    with pytest.raises(ValidationError):
        FieldCondition(name, "eq", "x")
    with pytest.raises(ValidationError):
        TraitCondition(name, "string", "eq", "x")
    with pytest.raises(ValidationError):
        StageCondition(name, {"lead"})
    with pytest.raises(ValidationError):
        TraitCondition(name, None, "is_not_null")
    with pytest.raises(ValidationError):
        AggregateCondition("count", "ge", 1, kinds={name})


def test_huge_lists_are_refused() -> None:
    with pytest.raises(ValidationError):
        FieldCondition("city", "in", [f"c{n}" for n in range(MAX_LIST_VALUES + 1)])
    with pytest.raises(ValidationError):
        TraitCondition("seats", "integer", "not_in", list(range(MAX_LIST_VALUES + 1)))


def test_numbers_beyond_64_bits_are_refused() -> None:
    with pytest.raises(ValidationError):
        TraitCondition("seats", "integer", "lt", 2**70)
    with pytest.raises(ValidationError):
        AggregateCondition("count", "ge", 1, metadata={"n": 2**64})


def test_deep_trees_give_a_clear_error() -> None:
    rule: Condition = TagCondition("vip")
    with pytest.raises(ValidationError, match="nest at most"):
        for _ in range(MAX_CONDITION_DEPTH + 1):
            rule = Not(rule)


@pytest.fixture(scope="module")
def literal_store(filled: Any) -> Any:
    customers = [
        Customer(
            CustomerId(f"lit{n}"),
            created_at=AS_OF,
            updated_at=AS_OF,
            given_name=name,
            traits={"plan": name},
        )
        for n, name in enumerate(["it's", "50%", "a_b", "back\\slash", "abc", "50x", "axb", "Ab"])
    ]
    with filled.unit_of_work("seg-literal") as uow:
        if uow.customers.count() == 0:
            uow.customers.add_many(customers)
            uow.commit()
    return filled


@pytest.mark.parametrize(
    ("rule", "found"),
    [
        (FieldCondition("given_name", "eq", "it's"), ["lit0"]),
        (FieldCondition("given_name", "contains", "%"), ["lit1"]),
        (FieldCondition("given_name", "contains", "_"), ["lit2"]),
        (FieldCondition("given_name", "starts_with", "a_"), ["lit2"]),
        (FieldCondition("given_name", "contains", "\\"), ["lit3"]),
        (FieldCondition("given_name", "starts_with", "ab"), ["lit4"]),
        (TraitCondition("plan", "string", "contains", "%"), ["lit1"]),
        (TraitCondition("plan", "string", "eq", "' OR '1'='1"), []),
        (FieldCondition("given_name", "in", ["' OR 1=1 --", "50%"]), ["lit1"]),
    ],
)
def test_values_are_matched_literally(
    literal_store: Any, rule: Condition, found: list[str]
) -> None:
    with literal_store.unit_of_work("seg-literal") as uow:
        assert list(uow.customers.matching_ids(rule, as_of=AS_OF).items) == found


# The front door.


def test_crm_segment_use_cases(filled: Any) -> None:
    crm = CRM(filled, Settings(tenant=TENANT, clock=FixedClock(AS_OF)))
    rule = TagCondition("vip")
    want = expected(POPULATION, rule, AS_OF)
    assert crm.segments.count(rule) == len(want)
    page = crm.segments.members(rule, limit=3)
    assert [c.id for c in page.items] == want[:3]
    rest = crm.segments.members(rule, limit=100, cursor=page.next_cursor)
    assert [c.id for c in page.items + rest.items] == want
    assert [c.id for c in crm.segments.stream(rule, batch_size=2)] == want

    from crmkit.segments import Segment

    assert crm.segments.count(Segment("saved", rule), as_of=AS_OF) == len(want)


def test_the_front_door_checks_traits_against_the_crms_schema() -> None:
    """A trait the schema does not declare, or declares with another type, is refused
    before anything is queried, with the path of the bad node."""
    from crmkit import CRM, TraitDefinition, TraitSchema
    from crmkit.domain.segments.segment import Segment
    from crmkit.segments import tagged, trait

    schema = TraitSchema({"plan": TraitDefinition("string")})
    crm = CRM.in_memory(Settings(trait_schema=schema))
    assert crm.segments.count(trait("plan") == "pro") == 0
    with pytest.raises(ValidationError) as raised:
        crm.segments.count(tagged("vip") & (trait("seats") == 5))
    assert raised.value.paths == ("rule.conditions[1].name",)
    with pytest.raises(ValidationError):
        crm.segments.refresh(Segment("pro", trait("plan", "integer") == 1))
