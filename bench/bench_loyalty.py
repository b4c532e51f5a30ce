"""Loyalty: the bulk earning path into a SQLite file, and balance reads that never scan.

Run ``python bench/bench_loyalty.py`` (100,000 purchase events over 10,000 members),
``--events N`` (or ``--rows N``) for another size, ``--quick`` for a 2,000-event smoke run.
See ``bench/README.md`` for what is measured.

- *earn*: purchases (built before the timing, as a host builds them either way) are
  recorded through ``crm.interactions.import_many(batch, earn_points=True)`` from a cold
  start (the store's cache of committed ledgers emptied before each batch), one committed
  (durable: WAL, ``synchronous=FULL``) transaction per batch: each interaction is stored
  and earns its points (its member's ledger read, the programme applied, the entries
  appended, the materialised balance updated). The baseline
  does the same durable writes by hand on a raw ``sqlite3`` connection to another file: the
  interaction row, one entry row and an upsert of the balance per event, with the points
  computed inline, ``executemany`` per batch, one transaction per batch.
- *balance*: ``CRM.points_balance`` of a member with 10 ledger entries against one with
  10,000 (stored untimed): the read is one row of the balances table, so the two should
  take the same time; and against the same ``SELECT`` on a raw ``sqlite3`` cursor.
- *cold earn*: the tiered earn below on another SQLite file, the store's cache of committed
  ledgers emptied before each purchase: what a member's first purchase after a restart (or
  on another process) costs with a long and with a short ledger.
- *tiered earn*: on a three-tier programme, ``CRM.record_interaction`` of one purchase for
  a member whose ledger holds 10,000 entries (years of old purchases, then the same recent
  ones) against a member with only those 10 recent entries, in memory and on a SQLite
  file: the tier window holds the same entries, so the two should cost the same.
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

from crmkit import (
    CRM,
    Customer,
    CustomerId,
    FixedClock,
    Interaction,
    InteractionId,
    Money,
    Settings,
)
from crmkit.adapters.sqlalchemy import SqlStore
from crmkit.loyalty import (
    EntryKind,
    LedgerEntry,
    PointsLedger,
    Programme,
    SpendRule,
    Tier,
    TierPolicy,
)

TENANT = "default"
QUICK_EVENTS = 2_000
DEFAULT_EVENTS = 100_000
EVENTS_PER_MEMBER = 10
DEFAULT_BATCH = 5_000
BIG_LEDGER = 10_000
SMALL_LEDGER = 10
READS = 500
REPEATS = 9
START = datetime(2026, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

PROGRAMME = Programme("club", [SpendRule("spend", 1, Money.of("1.00", "EUR"))])

#: The tiered programme: three tiers over a year (kept a month more), a return window, and
#: points that expire a year after they become available.
TIERED = Programme(
    "club",
    [SpendRule("spend", 1, Money.of("1.00", "EUR"))],
    tiers=[Tier("silver", 200), Tier("gold", 1_000), Tier("platinum", 5_000)],
    tier_policy=TierPolicy(window_days=365, retention_days=30),
    pending_days=14,
    expiry_days=365,
)
TIERED_EARNS = 25  # timed purchases per member and run
TIERED_REPEATS = 7


def member_id(i: int) -> CustomerId:
    return CustomerId(f"{(i * 2654435761) % 4294967296:08x}-{i:06d}")  # scrambled, like UUIDs


def purchases(events: int, members: int) -> Iterator[Interaction]:
    for n in range(events):
        yield Interaction(
            id=InteractionId(f"i{n:09d}"),
            customer_id=member_id(n % members),
            occurred_at=START + timedelta(seconds=n),
            kind="purchase",
            channel="web",
            amount=Money(500 + (n * 7_919) % 20_000, "EUR"),
        )


def batches(items: Iterator[Interaction], size: int) -> Iterator[list[Interaction]]:
    batch: list[Interaction] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def us(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


# The baseline: the same durable writes by hand.

BASELINE_SCHEMA = """
CREATE TABLE bench_interactions (
    tenant_id TEXT NOT NULL, id TEXT NOT NULL, customer_id TEXT NOT NULL,
    occurred_at_us INTEGER NOT NULL, kind TEXT NOT NULL, channel TEXT NOT NULL,
    direction TEXT NOT NULL, amount_minor INTEGER, currency TEXT, recorded_at_us INTEGER,
    PRIMARY KEY (tenant_id, id));
CREATE INDEX bench_interactions_customer ON bench_interactions (tenant_id, customer_id);
CREATE TABLE bench_entries (
    tenant_id TEXT NOT NULL, programme TEXT NOT NULL, customer_id TEXT NOT NULL,
    seq INTEGER NOT NULL, kind TEXT NOT NULL, points INTEGER NOT NULL, at_us INTEGER NOT NULL,
    key TEXT NOT NULL, rule TEXT, interaction_id TEXT, spend INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, programme, customer_id, seq),
    UNIQUE (tenant_id, programme, customer_id, key));
CREATE TABLE bench_balances (
    tenant_id TEXT NOT NULL, programme TEXT NOT NULL, customer_id TEXT NOT NULL,
    available INTEGER NOT NULL, entries INTEGER NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, programme, customer_id));
"""


def sqlite3_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL"):
        conn.execute(pragma)  # crmkit's settings
    return conn


def baseline_earn(conn: sqlite3.Connection, batch: list[Interaction], seqs: dict[str, int]) -> None:
    now = us(START)
    interactions, entries, balances = [], [], []
    for i in batch:
        assert i.amount is not None
        points = i.amount.minor // 100
        seq = seqs.get(i.customer_id, 0)
        seqs[i.customer_id] = seq + 1
        interactions.append(
            (TENANT, i.id, i.customer_id, us(i.occurred_at), i.kind, i.channel.value,
             i.direction.value, i.amount.minor, i.amount.currency, now)
        )  # fmt: skip
        entries.append(
            (TENANT, "club", i.customer_id, seq, "earn", points, now,
             f"earn:{i.id}:spend", "spend", i.id, i.amount.minor)
        )  # fmt: skip
        balances.append((TENANT, "club", i.customer_id, points))
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO bench_interactions VALUES ({', '.join('?' * 10)})", interactions)
    conn.executemany(f"INSERT INTO bench_entries VALUES ({', '.join('?' * 11)})", entries)
    conn.executemany(
        "INSERT INTO bench_balances VALUES (?, ?, ?, ?, 1, 1) "
        "ON CONFLICT (tenant_id, programme, customer_id) DO UPDATE SET "
        "available = available + excluded.available, entries = entries + 1, "
        "version = version + 1",
        balances,
    )
    conn.execute("COMMIT")


# The run


def timed(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The median seconds of ``repeats`` runs of each contender, alternating (after one
    warm-up run each), so that a busy moment of the machine hits them alike."""
    for run in contenders.values():
        run()
    spent: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            gc.collect()
            started = time.perf_counter()
            run()
            spent[name].append(time.perf_counter() - started)
    return {name: statistics.median(times) for name, times in spent.items()}


def stored_ledger(customer: CustomerId, entries: int) -> PointsLedger:
    """A member's ledger of ``entries`` earnings (built directly: booking 10,000 entries one
    by one through the domain is not what is measured here)."""
    booked = [
        LedgerEntry(
            seq, EntryKind.EARN, 5, START, f"earn:x{seq}:spend",
            rule="spend", interaction_id=f"x{seq}", lot=f"earn:x{seq}:spend",
            spend=500, occurred_at=START, available_from=START,
        )
        for seq in range(entries)
    ]  # fmt: skip
    return PointsLedger(customer, PROGRAMME, booked)


class SteppingClock:
    """A clock that moves on a minute each time it is read: every timed purchase is later
    than the last entry of its member's ledger."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        self.at += timedelta(minutes=1)
        return self.at


def tiered_ledger(customer: CustomerId, size: int, now: datetime) -> PointsLedger:
    """A member's ledger on `TIERED` with about ``size`` entries, booked as the application
    books them (the job first, then the purchase): daily purchases long ago (each one an
    earning, its maturing and its expiry), then the 10 entries every member of this
    benchmark has — five purchases of the last 30 days and their maturing."""
    ledger = PointsLedger(customer, TIERED)

    def purchase(n: int, when: datetime) -> None:
        ledger.mature_and_expire(when)
        bought = Interaction(
            id=InteractionId(f"{customer}-{n}"), customer_id=customer, occurred_at=when,
            kind="purchase", channel="web", amount=Money(500 + (n * 7_919) % 20_000, "EUR"),
        )  # fmt: skip
        ledger.earn(bought, when)

    old = max(0, size - SMALL_LEDGER) // 3  # each makes 3 entries: earn, mature, expire
    start = now - timedelta(days=old + 3 * 365)
    for n in range(old):
        purchase(n, start + timedelta(days=n))
    # The old points are gone, two years ago: nothing old is inside the tier's window now.
    ledger.mature_and_expire(now - timedelta(days=2 * 365))
    n = old
    recent = now - timedelta(days=30)
    for day in range(5):
        purchase(n + day, recent + timedelta(days=day))
    ledger.mature_and_expire(recent + timedelta(days=20))
    return ledger


def tiered_earn(crm: CRM, store_ledgers: Callable[[list[PointsLedger]], None],
                quick: bool, forget: Callable[[], object] = lambda: None,
                ) -> tuple[float, float, int, int]:  # fmt: skip
    """The median time of one purchase earned by the long and by the short member, and
    their entry counts; ``forget`` is called before each purchase (a cold start: the
    store's cache of committed ledgers emptied)."""
    long_size = 1_000 if quick else BIG_LEDGER
    long, short = CustomerId("long-member"), CustomerId("short-member")
    crm.customers.import_many([Customer.register(c, at=START) for c in (long, short)])
    ledgers = [tiered_ledger(long, long_size, START), tiered_ledger(short, SMALL_LEDGER, START)]
    sizes = (len(ledgers[0].entries), len(ledgers[1].entries))
    store_ledgers(ledgers)

    def earns(customer: str) -> Callable[[], object]:
        def run() -> None:
            for _ in range(TIERED_EARNS):
                forget()
                crm.interactions.record(
                    customer, kind="purchase", channel="web", amount=Money.of("25.00", "EUR")
                )

        return run

    medians = timed({"long": earns(long), "short": earns(short)}, 3 if quick else TIERED_REPEATS)
    return medians["long"] / TIERED_EARNS, medians["short"] / TIERED_EARNS, *sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", "--rows", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="events per batch")
    args = parser.parse_args(argv)
    events = QUICK_EVENTS if args.quick else args.events
    if events < 1 or args.batch_size < 1:
        parser.error("--events and --batch-size must be positive")
    members = max(1, events // EVENTS_PER_MEMBER)
    reads = READS // 5 if args.quick else READS
    print(f"{events:,} purchases over {members:,} members, SQLite {sqlite3.sqlite_version}")

    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as scratch:
        store = SqlStore.sqlite(Path(scratch) / "crmkit.db")
        crm = CRM(store, Settings(clock=FixedClock(START), loyalty=PROGRAMME))
        raw = sqlite3_connect(Path(scratch) / "baseline.db")
        try:
            people = [Customer.register(member_id(i), at=START) for i in range(members)]
            crm.customers.import_many(people)
            raw.executescript(BASELINE_SCHEMA)

            print("earn (durable, one transaction per batch)", flush=True)
            # The host builds its interactions either way: built before the timing.
            work = list(batches(purchases(events, members), args.batch_size))
            started = time.perf_counter()
            for batch in work:
                store.ledger_cache.clear()  # a cold start: every batch reads its ledgers
                crm.interactions.import_many(batch, batch_size=args.batch_size, earn_points=True)
            crmkit_earn = time.perf_counter() - started
            seqs: dict[str, int] = {}
            started = time.perf_counter()
            for batch in work:
                baseline_earn(raw, batch, seqs)
            baseline = time.perf_counter() - started
            del work
            expected = sum(i.amount.minor // 100 for i in purchases(events, members) if i.amount)
            earned = sum(b.pending + b.available for b in crm.loyalty.stream_balances())
            if earned != expected:
                raise SystemExit(f"crmkit booked {earned} points, the baseline {expected}")
            print(f"  crmkit   {crmkit_earn:8.2f} s   baseline {baseline:8.2f} s", flush=True)

            print("balance reads (10 and 10,000 entries)", flush=True)
            small, big = CustomerId("small-member"), CustomerId("big-member")
            crm.customers.import_many([Customer.register(c, at=START) for c in (small, big)])
            with crm.unit_of_work() as uow:
                uow.points_ledgers.add(stored_ledger(small, SMALL_LEDGER))
                uow.points_ledgers.add(stored_ledger(big, BIG_LEDGER))
                uow.commit()
            assert crm.loyalty.balance(big).available == 5 * BIG_LEDGER

            def reads_of(customer: str) -> Callable[[], object]:
                return lambda: [crm.loyalty.balance(customer) for _ in range(reads)]

            crmkit_db = sqlite3_connect(Path(scratch) / "crmkit.db")
            query = (
                "SELECT available, pending FROM crmkit_points_balances "
                "WHERE tenant_id = ? AND programme = ? AND customer_id = ?"
            )
            medians = timed(
                {
                    "small": reads_of(small),
                    "big": reads_of(big),
                    "raw": lambda: [
                        crmkit_db.execute(query, (TENANT, "club", big)).fetchone()
                        for _ in range(reads)
                    ],
                },
                REPEATS,
            )
            read_small, read_big, read_raw = (medians[k] / reads for k in ("small", "big", "raw"))
            crmkit_db.close()
            print(f"  10: {read_small * 1e6:.0f} us   10,000: {read_big * 1e6:.0f} us", flush=True)
        finally:
            store.dispose()
            raw.close()

        print("tiered earn (three tiers; a long and a short history)", flush=True)
        tiered: dict[str, tuple[float, float, int, int]] = {}
        memory = CRM.in_memory(Settings(clock=SteppingClock(START), loyalty=TIERED))
        tiered["memory"] = tiered_earn(memory, lambda ls: _store(memory, ls), args.quick)
        tiered_store = SqlStore.sqlite(Path(scratch) / "tiered.db")
        try:
            on_file = CRM(tiered_store, Settings(clock=SteppingClock(START), loyalty=TIERED))
            tiered["sqlite"] = tiered_earn(on_file, lambda ls: _store(on_file, ls), args.quick)
        finally:
            tiered_store.dispose()
        cold_store = SqlStore.sqlite(Path(scratch) / "cold.db")
        try:
            cold = CRM(cold_store, Settings(clock=SteppingClock(START), loyalty=TIERED))
            tiered["cold"] = tiered_earn(
                cold, lambda ls: _store(cold, ls), args.quick, cold_store.ledger_cache.clear
            )
        finally:
            cold_store.dispose()
        for name, (slow, fast, big, small) in tiered.items():
            print(f"  {name}: {big:,} entries {slow * 1e3:.2f} ms   {small} entries "
                  f"{fast * 1e3:.2f} ms", flush=True)  # fmt: skip

    figures: list[tuple[str, float, str]] = [
        ("earn_events_per_s", events / crmkit_earn, "events/s"),
        ("baseline_events_per_s", events / baseline, "events/s"),
        ("earn_vs_sqlite3", crmkit_earn / baseline, "x"),
        ("balance_read_10_us", read_small * 1e6, "us"),
        ("balance_read_10000_us", read_big * 1e6, "us"),
        ("balance_read_10000_vs_10", read_big / read_small, "x"),
        ("balance_read_vs_sqlite3", read_big / read_raw, "x"),
        ("earn_tiered_long_ms", tiered["sqlite"][0] * 1e3, "ms"),
        ("earn_tiered_short_ms", tiered["sqlite"][1] * 1e3, "ms"),
        ("earn_tiered_long_vs_short", tiered["sqlite"][0] / tiered["sqlite"][1], "x"),
        ("earn_long_ledger_ms", tiered["cold"][0] * 1e3, "ms"),
        ("earn_short_ledger_ms", tiered["cold"][1] * 1e3, "ms"),
        ("earn_long_ledger_vs_short", tiered["cold"][0] / tiered["cold"][1], "x"),
        ("earn_tiered_long_memory_ms", tiered["memory"][0] * 1e3, "ms"),
        ("earn_tiered_short_memory_ms", tiered["memory"][1] * 1e3, "ms"),
        ("earn_tiered_long_vs_short_memory", tiered["memory"][0] / tiered["memory"][1], "x"),
    ]
    decimals = {"events/s": 0, "us": 1, "ms": 3, "x": 2}
    for name, value, unit in figures:
        print(f"BENCH {name} {value:.{decimals[unit]}f} {unit}")
    return 0


def _store(crm: CRM, ledgers: list[PointsLedger]) -> None:
    with crm.unit_of_work() as uow:
        for ledger in ledgers:
            uow.points_ledgers.add(ledger)
        uow.commit()


if __name__ == "__main__":
    sys.exit(main())
