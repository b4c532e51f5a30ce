"""The batch re-evaluation of the default customer lifecycle on SQLite: crmkit's
``reevaluate_all`` against a hand-written SQL job doing the same moves, in the same run.

Run ``python bench/bench_lifecycle.py`` (1,000,000 customers), ``--rows N`` for another size,
``--quick`` for a 2,000-customer smoke run. With ``CRMKIT_BENCH_POSTGRES_URL`` set (a
SQLAlchemy URL of a scratch database: crmkit's tables in it are dropped), the same run also
happens on PostgreSQL, the baseline on raw psycopg. See ``bench/README.md``.

Workload (the steady state of a nightly job):

- customers imported in bulk (``crm.customers.import_many``), nine in ten with one purchase
  at a random instant of the two years before ``AS_OF`` (``crm.interactions.import_many``);
- each customer's `CUSTOMER_LIFECYCLE` history as the job left it the day before: subscriber,
  customer from the purchase, lapsed 180 days and churned 365 days after it (built with the
  domain's `StageHistory` and written untimed with the adapter's own row mapping);
- timed: ``crm.lifecycle.reevaluate_all(as_of=AS_OF)``, which moves the customers whose
  purchase crossed a day boundary since yesterday (about 0.3 %) and leaves the rest;
- baseline, on a copy of the same file: one hand-written query that finds the same moves
  (every rule of the model as a correlated count on the interaction index, in rule order,
  from the stages each rule applies to), then one ``UPDATE`` and one change ``INSERT`` per
  move in one transaction, on a raw ``sqlite3`` connection. It writes no outbox events and
  checks no versions; crmkit does both. The final stage counts must agree.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from crmkit import CRM, Channel, Customer, CustomerId, Interaction, InteractionId, Money, Settings
from crmkit.adapters.sqlalchemy.lifecycle import rows
from crmkit.adapters.sqlalchemy.lifecycle.tables import stage_changes, stage_histories
from crmkit.lifecycle import CUSTOMER_LIFECYCLE, StageHistory

AS_OF = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
PREVIOUS = AS_OF - timedelta(days=1)
DAY_US = 86_400_000_000
TENANT = "default"
MODEL = CUSTOMER_LIFECYCLE.name


def population(n: int, seed: int = 7) -> Iterator[tuple[CustomerId, datetime, datetime | None]]:
    """``(id, created_at, purchase time or None)`` per customer, ids in scrambled order."""
    rng = random.Random(seed)
    start = AS_OF - timedelta(days=800)
    for i in range(n):
        cid = CustomerId(f"{(i * 2_654_435_761) % 4_294_967_296:08x}-{i}")
        created = start + timedelta(seconds=i % 86_400)
        bought = None
        if rng.random() < 0.9:
            bought = AS_OF - timedelta(microseconds=rng.randint(1, 730 * DAY_US))
        yield cid, created, bought


def history_as_of(cid: CustomerId, created: datetime, bought: datetime | None) -> StageHistory:
    """Where yesterday's run left the customer."""
    history = StageHistory.enter(CUSTOMER_LIFECYCLE, cid, at=created)
    if bought is None or bought > PREVIOUS:
        return history
    history.move(CUSTOMER_LIFECYCLE, "customer", at=bought)
    for days, stage in ((180, "lapsed"), (365, "churned")):
        if PREVIOUS - bought >= timedelta(days=days):
            history.move(CUSTOMER_LIFECYCLE, stage, at=bought + timedelta(days=days))
    return history


def build(path: Path | str, n: int, tenant: str = TENANT) -> None:
    """The database as yesterday's job left it (untimed): a SQLite file or a server URL."""
    crm = _open(path, tenant)
    people = list(population(n))
    crm.customers.import_many(Customer.register(cid, at=created) for cid, created, _ in people)
    purchases = (
        Interaction(
            InteractionId(f"p-{cid}"),
            cid,
            bought,
            "purchase",
            Channel.WEB,
            amount=Money(2500, "EUR"),
        )
        for cid, _, bought in people
        if bought is not None
    )
    crm.interactions.import_many(purchases)
    crm.store.dispose()
    engine = create_engine(path if isinstance(path, str) else f"sqlite:///{path}")
    with engine.begin() as conn:
        for start in range(0, n, 20_000):
            histories = [history_as_of(*person) for person in people[start : start + 20_000]]
            conn.execute(
                insert(stage_histories), [rows.stage_history_row(tenant, h, 1) for h in histories]
            )
            changes = [row for h in histories for row in rows.stage_change_rows(tenant, h)]
            conn.execute(insert(stage_changes), changes)
    if engine.dialect.name == "postgresql":  # as autovacuum will have done by the next night
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    engine.dispose()


def _open(where: Path | str, tenant: str = TENANT) -> CRM:
    settings = Settings(tenant=tenant, lifecycles=(CUSTOMER_LIFECYCLE,))
    if isinstance(where, str):
        return CRM.from_url(where, settings)
    return CRM.sqlite(where, settings)


def run_crmkit(path: Path | str, tenant: str = TENANT) -> tuple[float, int]:
    crm = _open(path, tenant)
    started = time.perf_counter()
    report = crm.lifecycle.reevaluate_all(as_of=AS_OF)
    elapsed = time.perf_counter() - started
    crm.store.dispose()
    return elapsed, report.moved


def _purchases(window_days: int | None, kind: str = "purchase") -> str:
    low = "" if window_days is None else f" AND i.occurred_at_us > :as_of - {window_days * DAY_US}"
    return (
        "(SELECT count(*) FROM crmkit_interactions i WHERE i.tenant_id = h.tenant_id"
        f" AND i.customer_id = h.subject_id AND i.kind = '{kind}'"
        f" AND i.occurred_at_us <= :as_of{low})"
    )


# The default lifecycle's rules in model order, each from the stages it may move from.
MOVES = f"""
SELECT subject_id, stage, CASE
  WHEN stage IN ('subscriber', 'lead', 'qualified') AND {_purchases(None)} >= 1 THEN 'customer'
  WHEN stage IN ('lapsed', 'churned') AND {_purchases(180)} >= 1 THEN 'customer'
  WHEN stage = 'customer' AND {_purchases(365)} >= 2 THEN 'repeat'
  WHEN stage = 'repeat' AND {_purchases(365)} >= 5 THEN 'loyal'
  WHEN stage IN ('customer', 'repeat', 'loyal') AND {_purchases(365, "referral")} >= 1
    THEN 'advocate'
  WHEN stage IN ('customer', 'repeat', 'loyal', 'advocate') AND {_purchases(180)} = 0
    THEN 'lapsed'
  WHEN stage = 'lapsed' AND {_purchases(365)} = 0 THEN 'churned'
END AS target
FROM crmkit_stage_histories h
WHERE h.tenant_id = :tenant AND h.model = :model AND h.subject_kind = 'customer'
"""


def run_handwritten(path: Path) -> tuple[float, int]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=FULL")
    as_of = (AS_OF - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    found = conn.execute(
        f"SELECT subject_id, stage, target FROM ({MOVES}) WHERE target IS NOT NULL",
        {"as_of": as_of, "tenant": TENANT, "model": MODEL},
    ).fetchall()
    for subject_id, stage, target in found:
        key = (TENANT, MODEL, "customer", subject_id)
        conn.execute(
            "UPDATE crmkit_stage_histories SET stage = ?, entered_at_us = ?, version = version + 1"
            " WHERE tenant_id = ? AND model = ? AND subject_kind = ? AND subject_id = ?",
            (target, as_of, *key),
        )
        conn.execute(
            "INSERT INTO crmkit_stage_changes (tenant_id, model, subject_kind, subject_id, seq,"
            " from_stage, to_stage, at_us, reason, actor, rule) SELECT ?, ?, ?, ?,"
            " max(seq) + 1, ?, ?, ?, NULL, 'job', NULL FROM crmkit_stage_changes"
            " WHERE tenant_id = ? AND model = ? AND subject_kind = ? AND subject_id = ?",
            (*key, stage, target, as_of, *key),
        )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, len(found)


def run_handwritten_pg(url: str, tenant: str) -> tuple[float, int]:
    """The hand-written job on raw psycopg, for one tenant of the PostgreSQL database."""
    import psycopg

    as_of = (AS_OF - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    moves = MOVES.replace(":as_of", "%(as_of)s").replace(":tenant", "%(tenant)s")
    moves = moves.replace(":model", "%(model)s")
    with psycopg.connect(_libpq(url)) as conn:
        started = time.perf_counter()
        found = conn.execute(
            f"SELECT subject_id, stage, target FROM ({moves}) m WHERE target IS NOT NULL",
            {"as_of": as_of, "tenant": tenant, "model": MODEL},
        ).fetchall()
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE crmkit_stage_histories SET stage = %s, entered_at_us = %s,"
                " version = version + 1 WHERE tenant_id = %s AND model = %s"
                " AND subject_kind = 'customer' AND subject_id = %s",
                [(target, as_of, tenant, MODEL, subject) for subject, _, target in found],
            )
            cur.executemany(
                "INSERT INTO crmkit_stage_changes (tenant_id, model, subject_kind, subject_id,"
                " seq, from_stage, to_stage, at_us, reason, actor, rule) SELECT %s, %s,"
                " 'customer', %s, max(seq) + 1, %s, %s, %s, NULL, 'job', NULL"
                " FROM crmkit_stage_changes WHERE tenant_id = %s AND model = %s"
                " AND subject_kind = 'customer' AND subject_id = %s",
                [
                    (tenant, MODEL, subject, stage, target, as_of, tenant, MODEL, subject)
                    for subject, stage, target in found
                ],
            )
        conn.commit()
        elapsed = time.perf_counter() - started
    return elapsed, len(found)


def _libpq(url: str) -> str:
    """A libpq URL from a SQLAlchemy one."""
    return "postgresql://" + url.split("://", 1)[1]


def pg_stage_counts(url: str, tenant: str) -> Counter[str]:
    import psycopg

    with psycopg.connect(_libpq(url)) as conn:
        found = conn.execute(
            "SELECT stage, count(*) FROM crmkit_stage_histories WHERE tenant_id = %s"
            " GROUP BY stage",
            (tenant,),
        ).fetchall()
    return Counter(dict(found))


def run_postgres(url: str, n: int) -> list[str]:
    """The same job on PostgreSQL: crmkit and the baseline on two tenants of one database."""
    from crmkit.testing.databases import drop_crmkit_tables

    engine = create_engine(url)
    drop_crmkit_tables(engine)
    engine.dispose()
    for tenant in ("crmkit", "handwritten"):
        build(url, n, tenant)
    crmkit_s, moved = run_crmkit(url, "crmkit")
    baseline_s, their_moves = run_handwritten_pg(url, "handwritten")
    if moved != their_moves or pg_stage_counts(url, "crmkit") != pg_stage_counts(
        url, "handwritten"
    ):
        raise SystemExit(f"PostgreSQL: crmkit moved {moved}, the hand-written job {their_moves}")
    return [
        f"BENCH pg_reevaluate_s {crmkit_s:.2f} s",
        f"BENCH pg_handwritten_s {baseline_s:.2f} s",
        f"BENCH pg_reevaluate_per_s {n / crmkit_s:.0f} customers/s",
        f"BENCH pg_reevaluate_vs_handwritten {crmkit_s / baseline_s:.2f} x",
    ]


def stage_counts(path: Path) -> Counter[str]:
    conn = sqlite3.connect(path)
    found = Counter(
        dict(conn.execute("SELECT stage, count(*) FROM crmkit_stage_histories GROUP BY stage"))
    )
    conn.close()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="customers")
    parser.add_argument("--quick", action="store_true", help="2,000 customers: a smoke run")
    args = parser.parse_args(argv)
    n = 2_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as scratch:
        ours, theirs = Path(scratch, "crmkit.db"), Path(scratch, "handwritten.db")
        started = time.perf_counter()
        build(ours, n)
        shutil.copy(ours, theirs)  # the engines are disposed: the WAL is checkpointed
        print(f"built {n} customers in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        crmkit_s, moved = run_crmkit(ours)
        baseline_s, their_moves = run_handwritten(theirs)
        if moved != their_moves or stage_counts(ours) != stage_counts(theirs):
            raise SystemExit(f"crmkit moved {moved}, the hand-written job {their_moves}")
    postgres = os.environ.get("CRMKIT_BENCH_POSTGRES_URL")
    pg_lines = run_postgres(postgres, n) if postgres else []
    print(f"BENCH moved {moved} customers")
    print(f"BENCH reevaluate_s {crmkit_s:.2f} s")
    print(f"BENCH handwritten_s {baseline_s:.2f} s")
    print(f"BENCH reevaluate_per_s {n / crmkit_s:.0f} customers/s")
    print(f"BENCH reevaluate_vs_handwritten {crmkit_s / baseline_s:.2f} x")
    for line in pg_lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
