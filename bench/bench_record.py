"""Live recording of interactions on a durable SQLite file: ``crm.interactions.record`` (one
commit each) and ``record_many`` (one commit per batch) against raw ``sqlite3`` writing the
same rows with the same commits, in the same run.

Run ``python bench/bench_record.py`` (5,000 recordings), ``--rows N`` for another count,
``--quick`` for a 200-recording smoke run. With ``CRMKIT_BENCH_POSTGRES_URL`` set (a scratch
database: crmkit's tables in it are dropped) the same recordings also run on PostgreSQL,
against raw psycopg. See ``bench/README.md`` for what is measured.

Workload, a realistic shop's CRM:

- ``Settings`` with the default `CUSTOMER_LIFECYCLE`, a loyalty programme (a point per euro, a
  tier at 500 points, points pending for 14 days) and two tracked segments ("bought in the
  last 30 days", "spent 100 EUR or more this year"), refreshed once before the run;
- 2,000 customers registered beforehand (untimed); the recordings are purchases spread over
  them, skewed (a fifth of the customers make most of the purchases), 5 to 120 EUR;
- *record*: one ``crm.interactions.record(...)`` per purchase, each its own transaction
  (earning, progression, segment tracking, outbox, commit with ``synchronous=FULL``);
- *record_many*: the same purchases through ``crm.interactions.record_many`` in batches of 100;
- baseline: a raw ``sqlite3`` connection to a file with crmkit's settings (WAL,
  ``synchronous=FULL``) inserting each purchase's row into an equivalent interactions table
  and committing it (``record``), or ``executemany`` and one commit per 100 (``record_many``).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine

from crmkit import CRM, Channel, CustomerId, FixedClock, Interaction, InteractionId, Money, Settings
from crmkit.lifecycle import CUSTOMER_LIFECYCLE
from crmkit.loyalty import Programme, SpendRule, Tier
from crmkit.segments import Segment, days, purchases

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CUSTOMERS = 2_000
BATCH = 100
PROGRAMME = Programme(
    "club",
    [SpendRule("spend", 1, Money.of("1.00", "EUR"))],
    tiers=[Tier("silver", 500)],
    pending_days=14,
)
SEGMENTS = (
    Segment("recent_buyers", purchases(last=days(30)).count() >= 1),
    Segment("big_spenders", purchases(last=days(365)).sum("EUR") >= 100),
)
BASELINE_TABLE = """
CREATE TABLE interactions (
    tenant_id TEXT NOT NULL, id TEXT NOT NULL, customer_id TEXT NOT NULL,
    occurred_at_us INTEGER NOT NULL, kind TEXT NOT NULL, channel TEXT NOT NULL,
    direction TEXT NOT NULL, amount_minor INTEGER, currency TEXT, owner TEXT, team TEXT,
    campaign TEXT, metadata TEXT, external_ref TEXT, recorded_at_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, external_ref)
);
CREATE INDEX ix_customer ON interactions (tenant_id, customer_id, occurred_at_us, id);
CREATE INDEX ix_time ON interactions (tenant_id, occurred_at_us, id);
"""


def purchases_for(people: list[str], n: int) -> list[tuple[str, int, int]]:
    """``(customer id, euros, minutes after T0)`` per purchase: skewed towards a fifth."""
    rng = random.Random(11)
    regulars = people[: len(people) // 5]
    return [
        (rng.choice(regulars if rng.random() < 0.8 else people), rng.randint(5, 120), k)
        for k in range(n)
    ]


def shop(path: Path | str) -> tuple[CRM, FixedClock, list[str]]:
    clock = FixedClock(T0)
    settings = Settings(
        clock=clock, lifecycles=(CUSTOMER_LIFECYCLE,), loyalty=PROGRAMME, segments=SEGMENTS
    )
    if isinstance(path, str):
        from crmkit.testing.databases import drop_crmkit_tables

        engine = create_engine(path)
        drop_crmkit_tables(engine)
        engine.dispose()
        crm = CRM.from_url(path, settings)
    else:
        crm = CRM.sqlite(path, settings)
    people = [crm.customers.register(given_name=f"C{n}").id for n in range(CUSTOMERS)]
    for segment in SEGMENTS:
        crm.segments.refresh(segment)
    return crm, clock, people


def run_record(path: Path | str, n: int) -> float:
    crm, clock, people = shop(path)
    plan = purchases_for(people, n)
    started = time.perf_counter()
    for who, euros, minute in plan:
        clock.set(T0 + timedelta(minutes=minute + 1))
        crm.interactions.record(
            who,
            kind="purchase",
            channel="web",
            occurred_at=T0 + timedelta(minutes=minute),
            amount=Money.of(euros, "EUR"),
        )
    elapsed = time.perf_counter() - started
    crm.store.dispose()
    return elapsed


def run_record_many(path: Path | str, n: int) -> float:
    crm, clock, people = shop(path)
    items = [
        Interaction(
            InteractionId(f"p{k}"),
            CustomerId(who),
            T0 + timedelta(minutes=minute),
            "purchase",
            Channel.WEB,
            amount=Money.of(euros, "EUR"),
        )
        for k, (who, euros, minute) in enumerate(purchases_for(people, n))
    ]
    clock.set(T0 + timedelta(minutes=n + 1))
    started = time.perf_counter()
    crm.interactions.record_many(items, batch_size=BATCH)
    elapsed = time.perf_counter() - started
    crm.store.dispose()
    return elapsed


def run_sqlite3(path: Path, n: int, per_commit: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(BASELINE_TABLE)
    people = [f"c{k}" for k in range(CUSTOMERS)]
    rows = [
        (
            *("default", f"p{k}", who, minute * 60_000_000, "purchase", "web", "inbound"),
            *(euros * 100, "EUR", None, None, None, "{}", None, minute * 60_000_000),
        )
        for k, (who, euros, minute) in enumerate(purchases_for(people, n))
    ]
    insert = "INSERT INTO interactions VALUES (" + ", ".join("?" * 15) + ")"
    started = time.perf_counter()
    for start in range(0, n, per_commit):
        conn.execute("BEGIN")
        conn.executemany(insert, rows[start : start + per_commit])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def run_psycopg(url: str, n: int, per_commit: int) -> float:
    """The baseline on PostgreSQL: the same rows, committed one by one or per batch."""
    import psycopg

    people = [f"c{k}" for k in range(CUSTOMERS)]
    rows = [
        (f"p{k}", who, minute * 60_000_000, euros * 100, minute * 60_000_000)
        for k, (who, euros, minute) in enumerate(purchases_for(people, n))
    ]
    insert = (
        "INSERT INTO bench_interactions VALUES ('default', %s, %s, %s, 'purchase', 'web',"
        " 'inbound', %s, 'EUR', NULL, NULL, NULL, '{}', NULL, %s)"
    )
    with psycopg.connect("postgresql://" + url.split("://", 1)[1]) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_interactions")
        for statement in BASELINE_TABLE.replace("interactions", "bench_interactions").split(";"):
            if statement.strip():
                conn.execute(statement.replace("INTEGER", "BIGINT"))
        conn.commit()
        started = time.perf_counter()
        for start in range(0, n, per_commit):
            with conn.cursor() as cur:
                cur.executemany(insert, rows[start : start + per_commit])
            conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_interactions")
        conn.commit()
    return elapsed


def postgres_lines(url: str, n: int) -> list[str]:
    one, many = run_record(url, n), run_record_many(url, n)
    raw_one, raw_many = run_psycopg(url, n, 1), run_psycopg(url, n, BATCH)
    return [
        f"BENCH pg_record_interaction_per_s {n / one:.0f} interactions/s",
        f"BENCH pg_record_many_per_s {n / many:.0f} interactions/s",
        f"BENCH pg_record_interaction_vs_psycopg {one / raw_one:.2f} x",
        f"BENCH pg_record_many_vs_psycopg {many / raw_many:.2f} x",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000, help="recordings")
    parser.add_argument("--quick", action="store_true", help="200 recordings: a smoke run")
    args = parser.parse_args(argv)
    n = 200 if args.quick else args.rows
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as scratch:
        one = run_record(Path(scratch, "record.db"), n)
        many = run_record_many(Path(scratch, "record_many.db"), n)
        raw_one = run_sqlite3(Path(scratch, "raw_one.db"), n, 1)
        raw_many = run_sqlite3(Path(scratch, "raw_many.db"), n, BATCH)
    postgres = os.environ.get("CRMKIT_BENCH_POSTGRES_URL")
    pg_lines = postgres_lines(postgres, n) if postgres else []
    print(f"BENCH record_interaction_per_s {n / one:.0f} interactions/s")
    print(f"BENCH record_many_per_s {n / many:.0f} interactions/s")
    print(f"BENCH sqlite3_commit_each_per_s {n / raw_one:.0f} interactions/s")
    print(f"BENCH sqlite3_commit_batch_per_s {n / raw_many:.0f} interactions/s")
    print(f"BENCH record_interaction_vs_sqlite3 {one / raw_one:.2f} x")
    print(f"BENCH record_many_vs_sqlite3 {many / raw_many:.2f} x")
    for line in pg_lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
