"""The batch re-evaluation of the default customer lifecycle on SQLite: crmkit's
``reevaluate_all`` against a hand-written SQL job doing the same moves, in the same run.

Run ``python bench/bench_lifecycle.py`` (1,000,000 customers), ``--rows N`` for another size,
``--quick`` for a 2,000-customer smoke run. See ``bench/README.md`` for what is measured.

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

from sqlalchemy import create_engine, insert

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


def build(path: Path, n: int) -> None:
    """The file as yesterday's job left it (untimed)."""
    crm = CRM.sqlite(path, Settings(lifecycles=(CUSTOMER_LIFECYCLE,)))
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
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for start in range(0, n, 20_000):
            histories = [history_as_of(*person) for person in people[start : start + 20_000]]
            conn.execute(
                insert(stage_histories), [rows.stage_history_row(TENANT, h, 1) for h in histories]
            )
            changes = [row for h in histories for row in rows.stage_change_rows(TENANT, h)]
            conn.execute(insert(stage_changes), changes)
    engine.dispose()


def run_crmkit(path: Path) -> tuple[float, int]:
    crm = CRM.sqlite(path, Settings(lifecycles=(CUSTOMER_LIFECYCLE,)))
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
    print(f"BENCH moved {moved} customers")
    print(f"BENCH reevaluate_s {crmkit_s:.2f} s")
    print(f"BENCH handwritten_s {baseline_s:.2f} s")
    print(f"BENCH reevaluate_per_s {n / crmkit_s:.0f} customers/s")
    print(f"BENCH reevaluate_vs_handwritten {crmkit_s / baseline_s:.2f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
