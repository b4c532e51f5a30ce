"""Segment queries: crmkit's compiled SQL against a hand-written query, and crmkit's compiled
in-memory evaluator against a hand-written list comprehension, in the same run.

Run ``python bench/bench_segments.py`` (1,000,000 customers, 5,000,000 interactions),
``--customers N`` (or ``--rows N``) for another size, ``--quick`` for a 2,000-customer smoke
run. See ``bench/README.md`` for what is measured.

Workload, identical for both contenders of each pair:

- one SQLite file written by crmkit (``CRM.import_customers`` / ``CRM.import_interactions``,
  untimed), five interactions per customer over the two years before ``AS_OF``, two in three
  of them purchases in EUR;
- one segment: three field conditions and two interaction aggregates, as of ``AS_OF``::

      (field("country") == "DE")
      & (field("locale") == "de-DE")
      & (field("created_at") < CUTOFF)
      & (purchases(last=days(90)).count() >= 2)
      & (purchases(last=days(365)).sum("EUR") >= 200)

- *SQL*: ``crm.segments.count(rule, as_of=AS_OF)`` (the repository's ``count_matching``:
  one ``SELECT count(*)`` compiled from the rule) against the same count written by hand
  (correlated subqueries for the two aggregates) on a raw ``sqlite3`` connection to the same
  file;
- *memory*: the same ``Customer`` and ``Interaction`` objects as `Facts` (built untimed),
  filtered by ``compile_condition(rule)`` (compiled inside the timing) against a list
  comprehension that tests the same rule by hand.

Each contender runs once to warm up (and the answers are checked to agree), then
``--repeats`` times, alternating; the median time counts.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crmkit import CRM, Customer, CustomerId, EmailAddress, Interaction, InteractionId, Money
from crmkit.adapters.sqlalchemy import SqlStore
from crmkit.adapters.sqlalchemy import tables as t
from crmkit.domain import Facts, PostalAddress
from crmkit.segments import Condition, compile_condition, days, field, purchases

TENANT = "default"
QUICK_CUSTOMERS = 2_000
DEFAULT_CUSTOMERS = 1_000_000
PER_CUSTOMER = 5  # interactions per customer
DEFAULT_BATCH = 5_000
DEFAULT_REPEATS = 3

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
START = datetime(2020, 1, 1, tzinfo=UTC)  # the first customer's registration
AS_OF = datetime(2025, 1, 1, tzinfo=UTC)
SPREAD_S = 730 * 86_400  # interactions fall in the two years before AS_OF
COUNTRIES = ("DE", "FR", "AT", "NL", "PL")
LOCALES = ("de-DE", "en-GB", "fr-FR")
CITIES = ("Berlin", "Paris", "Vienna", "Amsterdam", "Warsaw", "Hamburg", "Lyon")
OTHER_KINDS = ("support_case", "campaign_touch")

# The rule's constants, shared by crmkit's rule and both hand-written baselines.
COUNTRY = "DE"
LOCALE = "de-DE"
MIN_RECENT = 2  # purchases in the last 90 days
MIN_SPENT = Money(20_000, "EUR")  # 200.00 EUR in the last 365 days
MIN_AVERAGE = Money(11_000, "EUR")  # purchases average at least 110.00 EUR (about half)
NEW_SINCE_DAYS = 365  # first purchase in the last 365 days (new buyers, about a fifth)


def cutoff(customers: int) -> datetime:
    """Registered before this: the first nine customers in ten."""
    return START + timedelta(seconds=customers * 9 // 10)


def segment_rule(customers: int) -> Condition:
    return (
        (field("country") == COUNTRY)
        & (field("locale") == LOCALE)
        & (field("created_at") < cutoff(customers))
        & (purchases(last=days(90)).count() >= MIN_RECENT)
        & (purchases(last=days(365)).sum("EUR") >= MIN_SPENT)
    )


def average_rule() -> Condition:
    """ "Average purchase value at least 110 EUR", over every purchase up to ``as_of``."""
    return purchases().avg("EUR") >= MIN_AVERAGE


def first_purchase_rule() -> Condition:
    """ "First purchase in the last year": new buyers."""
    return purchases().first_at() > AS_OF - timedelta(days=NEW_SINCE_DAYS)


# Source data: the same objects feed the SQLite file and the in-memory contenders.


def customer_id(i: int) -> str:
    return f"{(i * 2654435761) % 4294967296:08x}-{i:08d}"  # scrambled order, like UUIDs


def make_customer(i: int) -> Customer:
    return Customer.register(
        CustomerId(customer_id(i)),
        at=START + timedelta(seconds=i),
        email=EmailAddress(f"user{i}@example.com"),
        given_name="Ada",
        family_name="Lovelace",
        locale=LOCALES[(i // len(COUNTRIES)) % len(LOCALES)],
        address=PostalAddress(COUNTRIES[i % len(COUNTRIES)], city=CITIES[i % len(CITIES)]),
    )


def make_interactions(i: int) -> Iterator[Interaction]:
    owner = CustomerId(customer_id(i))
    for j in range(PER_CUSTOMER):
        n = i * PER_CUSTOMER + j
        ago = timedelta(seconds=(n * 2_654_435_761 + 12_345) % SPREAD_S)
        purchase = (i + j) % 3 != 2
        yield Interaction(
            id=InteractionId(f"i{n:09d}"),
            customer_id=owner,
            occurred_at=AS_OF - ago,
            kind="purchase" if purchase else OTHER_KINDS[n % len(OTHER_KINDS)],
            channel="web",
            amount=Money(1_000 + (n * 7_919) % 20_000, "EUR") if purchase else None,
        )


# The hand-written baselines


def handwritten_sql(customers: int) -> tuple[str, tuple[Any, ...]]:
    """The rule as a developer would write it for SQLite: correlated subqueries over the
    interactions of each customer who passes the field conditions."""
    to_us: Callable[[datetime], int] = lambda at: (at - EPOCH) // MICRO  # noqa: E731
    as_of = to_us(AS_OF)
    query = f"""
        SELECT count(*) FROM {t.customers.name} AS c
        WHERE c.tenant_id = ?
          AND c.address_country = ? AND c.locale = ? AND c.created_at_us < ?
          AND (SELECT count(*) FROM {t.interactions.name} AS i
               WHERE i.tenant_id = c.tenant_id AND i.customer_id = c.id
                 AND i.kind = 'purchase'
                 AND i.occurred_at_us > ? AND i.occurred_at_us <= ?) >= ?
          AND (SELECT coalesce(sum(i.amount_minor), 0) FROM {t.interactions.name} AS i
               WHERE i.tenant_id = c.tenant_id AND i.customer_id = c.id
                 AND i.kind = 'purchase' AND i.currency = 'EUR'
                 AND i.occurred_at_us > ? AND i.occurred_at_us <= ?) >= ?
    """
    params = (
        TENANT,
        COUNTRY,
        LOCALE,
        to_us(cutoff(customers)),
        to_us(AS_OF - timedelta(days=90)),
        as_of,
        MIN_RECENT,
        to_us(AS_OF - timedelta(days=365)),
        as_of,
        MIN_SPENT.minor,
    )
    return query, params


def _us(at: datetime) -> int:
    return (at - EPOCH) // MICRO


def handwritten_average_sql() -> tuple[str, tuple[Any, ...]]:
    """The average rule as a developer would write it: one grouped pass over the purchases,
    the average compared without division (``sum >= v * count``)."""
    query = f"""
        SELECT count(*) FROM (
            SELECT i.customer_id FROM {t.interactions.name} AS i
            WHERE i.tenant_id = ? AND i.kind = 'purchase' AND i.currency = 'EUR'
              AND i.amount_minor IS NOT NULL AND i.occurred_at_us <= ?
            GROUP BY i.customer_id
            HAVING sum(i.amount_minor) >= ? * count(*)
        )
    """
    return query, (TENANT, _us(AS_OF), MIN_AVERAGE.minor)


def handwritten_first_purchase_sql() -> tuple[str, tuple[Any, ...]]:
    """The first-purchase rule by hand: one grouped pass, ``min(occurred_at)`` per customer."""
    query = f"""
        SELECT count(*) FROM (
            SELECT i.customer_id FROM {t.interactions.name} AS i
            WHERE i.tenant_id = ? AND i.kind = 'purchase' AND i.occurred_at_us <= ?
            GROUP BY i.customer_id
            HAVING min(i.occurred_at_us) > ?
        )
    """
    since = _us(AS_OF - timedelta(days=NEW_SINCE_DAYS))
    return query, (TENANT, _us(AS_OF), since)


def handwritten_average(facts: list[Facts]) -> int:
    """The average rule by hand over the same `Facts`: total and count, then compare."""
    minor, members = MIN_AVERAGE.minor, 0
    for f in facts:
        total = n = 0
        for i in f.interactions:
            amount = i.amount
            if (
                i.kind == "purchase"
                and i.occurred_at <= f.as_of
                and amount is not None
                and amount.currency == "EUR"
            ):
                total += amount.minor
                n += 1
        if n and total >= minor * n:
            members += 1
    return members


def handwritten_first_purchase(facts: list[Facts]) -> int:
    """The first-purchase rule by hand over the same `Facts`."""
    since = AS_OF - timedelta(days=NEW_SINCE_DAYS)
    return sum(
        1
        for f in facts
        if (
            first := min(
                (
                    i.occurred_at
                    for i in f.interactions
                    if i.kind == "purchase" and i.occurred_at <= f.as_of
                ),
                default=None,
            )
        )
        is not None
        and first > since
    )


def handwritten_comprehension(facts: list[Facts], customers: int) -> int:
    """The rule by hand over the same `Facts`, as a developer would filter a list."""
    before = cutoff(customers)
    since_90, since_365 = AS_OF - timedelta(days=90), AS_OF - timedelta(days=365)
    minor = MIN_SPENT.minor
    members = [
        f
        for f in facts
        if (c := f.subject).address is not None
        and c.address.country == COUNTRY
        and c.locale == LOCALE
        and c.created_at < before
        and sum(
            1
            for i in f.interactions
            if i.kind == "purchase" and since_90 < i.occurred_at <= f.as_of
        )
        >= MIN_RECENT
        and sum(
            i.amount.minor
            for i in f.interactions
            if i.kind == "purchase"
            and since_365 < i.occurred_at <= f.as_of
            and i.amount is not None
            and i.amount.currency == "EUR"
        )
        >= minor
    ]
    return len(members)


def compiled_evaluator(facts: list[Facts], rule: Condition) -> int:
    matcher = compile_condition(rule)
    return len([f for f in facts if matcher(f)])


def sqlite3_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("PRAGMA foreign_keys = ON", "PRAGMA synchronous = FULL"):
        conn.execute(pragma)  # crmkit's settings (the file is in WAL mode already)
    return conn


# The run


def timed_pair(
    label: str, contenders: dict[str, Callable[[], int]], repeats: int
) -> tuple[dict[str, float], int]:
    """Warm up and check the answers agree, then time each contender ``repeats`` times,
    alternating; return the median seconds of each and the answer."""
    answers = {name: run() for name, run in contenders.items()}
    if len(set(answers.values())) != 1:
        raise SystemExit(f"{label}: the contenders disagree: {answers}")
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            gc.collect()
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(spent) for name, spent in times.items()}
    for name, spent in medians.items():
        print(f"  {name:<14} {spent * 1000:10.1f} ms (median of {repeats})", flush=True)
    return medians, next(iter(answers.values()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--customers",
        "--rows",
        type=int,
        default=DEFAULT_CUSTOMERS,
        help=f"customers to import ({PER_CUSTOMER} interactions each)",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_CUSTOMERS:,} customers (smoke test)"
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="rows per batch")
    parser.add_argument(
        "--repeats", type=int, default=DEFAULT_REPEATS, help="timed runs of each contender"
    )
    args = parser.parse_args(argv)
    customers = QUICK_CUSTOMERS if args.quick else args.customers
    if customers < 1 or args.batch_size < 1 or args.repeats < 1:
        parser.error("--customers, --batch-size and --repeats must be positive")
    batch = min(args.batch_size, customers * PER_CUSTOMER)
    rule = segment_rule(customers)

    print(
        f"{customers:,} customers, {customers * PER_CUSTOMER:,} interactions, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as scratch:
        path = Path(scratch) / "crmkit.db"
        store = SqlStore.sqlite(path)
        crm = CRM(store)
        raw = sqlite3_connect(path)
        try:
            print("load (untimed: bulk import through the front door)", flush=True)
            started = time.perf_counter()
            people = [make_customer(i) for i in range(customers)]
            crm.customers.import_many(people, batch_size=batch)
            timelines = [list(make_interactions(i)) for i in range(customers)]
            crm.interactions.import_many(
                (x for timeline in timelines for x in timeline), batch_size=batch
            )
            raw.execute("ANALYZE")  # the planner statistics a host's database would have
            print(f"  {time.perf_counter() - started:.1f} s", flush=True)

            print("sql (count the segment's members in the SQLite file)")
            query, params = handwritten_sql(customers)
            sql, members = timed_pair(
                "sql",
                {
                    "crmkit": lambda: crm.segments.count(rule, as_of=AS_OF),
                    "handwritten": lambda: int(raw.execute(query, params).fetchone()[0]),
                },
                args.repeats,
            )
            print(f"  {members:,} members")
            sql_pairs: dict[str, tuple[dict[str, float], int]] = {}
            for name, other, (text, values) in (
                ("avg", average_rule(), handwritten_average_sql()),
                ("first_purchase", first_purchase_rule(), handwritten_first_purchase_sql()),
            ):
                print(f"sql {name} (one aggregate over every customer)")
                sql_pairs[name] = timed_pair(
                    f"sql {name}",
                    {
                        "crmkit": lambda rule=other: crm.segments.count(rule, as_of=AS_OF),
                        "handwritten": lambda q=text, v=values: int(
                            raw.execute(q, v).fetchone()[0]
                        ),
                    },
                    args.repeats,
                )
                print(f"  {sql_pairs[name][1]:,} members")
        finally:
            store.dispose()
            raw.close()

    print("memory (the same objects as Facts)")
    facts = [
        Facts.of_customer(person, timeline, AS_OF)
        for person, timeline in zip(people, timelines, strict=True)
    ]
    del people, timelines
    memory, in_memory = timed_pair(
        "memory",
        {
            "crmkit": lambda: compiled_evaluator(facts, rule),
            "comprehension": lambda: handwritten_comprehension(facts, customers),
        },
        args.repeats,
    )
    if in_memory != members:
        raise SystemExit(f"memory found {in_memory} members, SQL {members}")
    memory_pairs: dict[str, tuple[dict[str, float], int]] = {}
    for name, other, by_hand in (
        ("avg", average_rule(), handwritten_average),
        ("first_purchase", first_purchase_rule(), handwritten_first_purchase),
    ):
        print(f"memory {name}")
        memory_pairs[name] = timed_pair(
            f"memory {name}",
            {
                "crmkit": lambda rule=other: compiled_evaluator(facts, rule),
                "comprehension": lambda count=by_hand: count(facts),
            },
            args.repeats,
        )
        if memory_pairs[name][1] != sql_pairs[name][1]:
            raise SystemExit(f"{name}: memory {memory_pairs[name][1]}, SQL {sql_pairs[name][1]}")

    figures: list[tuple[str, float, str]] = [
        ("members", members, "customers"),
        ("sql_crmkit", sql["crmkit"] * 1000, "ms"),
        ("sql_handwritten", sql["handwritten"] * 1000, "ms"),
        ("memory_crmkit", memory["crmkit"] * 1000, "ms"),
        ("memory_comprehension", memory["comprehension"] * 1000, "ms"),
        ("sql_vs_handwritten", sql["crmkit"] / sql["handwritten"], "x"),
        ("memory_vs_comprehension", memory["crmkit"] / memory["comprehension"], "x"),
    ]
    for name in ("avg", "first_purchase"):
        (on_sql, count), (in_mem, _) = sql_pairs[name], memory_pairs[name]
        figures += [
            (f"{name}_members", count, "customers"),
            (f"{name}_sql_crmkit", on_sql["crmkit"] * 1000, "ms"),
            (f"{name}_sql_handwritten", on_sql["handwritten"] * 1000, "ms"),
            (f"{name}_segment_vs_handwritten", on_sql["crmkit"] / on_sql["handwritten"], "x"),
            (f"{name}_memory_vs_comprehension", in_mem["crmkit"] / in_mem["comprehension"], "x"),
        ]
    decimals = {"customers": 0, "ms": 1, "x": 2}
    for name, value, unit in figures:
        print(f"BENCH {name} {value:.{decimals[unit]}f} {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
