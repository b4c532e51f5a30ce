"""Bulk import and streaming of customers on SQLite: crmkit against raw SQLAlchemy Core and
the raw ``sqlite3`` module, in the same run.

Run ``python bench/bench_storage.py`` (1,000,000 rows), ``--rows N`` for another size,
``--quick`` for a 2,000-row smoke run. See ``bench/README.md`` for what is measured.

Workload, identical for the three contenders:

- the input is a stream of source records ``(id, email, phone, given, family, created_at)``
  generated on the fly (ids in scrambled order, like UUIDs);
- *write*: each record becomes one row of an equivalent table (the same 21 columns as
  ``crmkit_customers``, the lower-cased name search keys of migration 0007 included, primary
  key ``(tenant_id, id)``, unique ``(tenant_id, email)``, indexes on ``(tenant_id, account_id)``,
  ``(tenant_id, phone)``, ``(tenant_id, given_name_key)`` and ``(tenant_id, family_name_key)``),
  inserted in batches in one transaction; crmkit builds a validated `Customer` per record
  (``Customer.register``) and imports it with ``CRM.import_customers``, Core builds a dict and
  uses ``conn.execute(insert(table), batch)``, sqlite3 builds a tuple and uses ``executemany``;
- *read*: every customer of the tenant, in id order; crmkit yields `Customer` objects from
  ``CRM.stream_customers``, Core iterates a ``select`` of the 19 data columns (the search keys
  are derived, so crmkit does not read them back either) building a tuple per row, sqlite3
  iterates a cursor over the same columns (its rows are tuples already);
- no tags, traits, consents or external ids (crmkit's child tables stay empty), so one table
  holds everything on both sides;
- every database is a separate file with crmkit's settings: WAL journal, ``synchronous=FULL``
  and crmkit's 32 MB page cache (``SQLITE_CACHE_KIB``; SQLite's default is 2 MB).

Peak memory of crmkit's streaming is measured in a separate process (a fresh interpreter that
only streams the database written here), so neither the timing nor the figure is disturbed.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
)

from crmkit import CRM, Customer, CustomerId, EmailAddress, PhoneNumber
from crmkit.adapters.sqlalchemy import SqlStore
from crmkit.adapters.sqlalchemy.engine import SQLITE_BUSY_TIMEOUT_MS, SQLITE_CACHE_KIB

TENANT = "default"
QUICK_ROWS = 2_000
DEFAULT_ROWS = 1_000_000
DEFAULT_BATCH = 5_000

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
START = datetime(2020, 1, 1, tzinfo=UTC)
GIVEN = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
FAMILY = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")

#: A source record: id, email, phone (E.164), given name, family name, registration time.
Record = tuple[str, str, str, str, str, datetime]

# Source data


def source(rows: int) -> Iterator[Record]:
    """``rows`` distinct customers, generated lazily; ids sort in scrambled order."""
    for i in range(rows):
        yield (
            f"{(i * 2654435761) % 4294967296:08x}-{i:08d}",
            f"user{i}@example.com",
            f"+4930{i:08d}",
            GIVEN[i % len(GIVEN)],
            FAMILY[i % len(FAMILY)],
            START + timedelta(seconds=i),
        )


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# The baseline table: the same columns, keys and indexes as crmkit_customers (as of
# migration 0007: the phone's extension, the lower-cased name keys and their indexes, in the
# physical column order of crmkit's table)

baseline_metadata = MetaData()
baseline = Table(
    "bench_customers",
    baseline_metadata,
    Column("tenant_id", String(63), nullable=False),
    Column("id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("given_name", String(200)),
    Column("family_name", String(200)),
    Column("email", String(254)),
    Column("phone", String(16)),
    Column("other_contacts", Text),
    Column("address_country", CHAR(2)),
    Column("address_lines", Text),
    Column("address_city", String(200)),
    Column("address_region", String(200)),
    Column("address_postal_code", String(200)),
    Column("locale", String(35)),
    Column("account_id", String(64)),
    Column("account_role", String(64)),
    Column("phone_extension", String(20)),  # last, as in crmkit's table (added by 0006)
    Column("given_name_key", String(400)),  # the names lower-cased (str.lower), as crmkit's
    Column("family_name_key", String(400)),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "email"),
    Index("ix_bench_customers_tenant_account", "tenant_id", "account_id"),
    Index("ix_bench_customers_tenant_phone", "tenant_id", "phone"),
    Index("ix_bench_customers_tenant_given_name_key", "tenant_id", "given_name_key"),
    Index("ix_bench_customers_tenant_family_name_key", "tenant_id", "family_name_key"),
)
COLUMNS = tuple(c.name for c in baseline.columns)
#: The columns read back: all but the derived search keys (crmkit reads these 19 too).
READ_COLUMNS = COLUMNS[:-2]
_NULLS = dict.fromkeys(COLUMNS[9:19])  # other_contacts … phone_extension: NULL for every row


def baseline_dict(record: Record) -> dict[str, Any]:
    """The baseline row of a source record, as Core's executemany takes it."""
    id_, email, phone, given, family, at = record
    micros = (at - EPOCH) // MICRO
    return {
        "tenant_id": TENANT,
        "id": id_,
        "version": 1,
        "created_at_us": micros,
        "updated_at_us": micros,
        "given_name": given,
        "family_name": family,
        "email": email,
        "phone": phone,
        **_NULLS,
        "given_name_key": given.lower(),
        "family_name_key": family.lower(),
    }


def baseline_tuple(record: Record) -> tuple[Any, ...]:
    """The baseline row of a source record, as sqlite3's executemany takes it."""
    id_, email, phone, given, family, at = record
    micros = (at - EPOCH) // MICRO
    return (
        TENANT, id_, 1, micros, micros, given, family, email, phone, *_NULLS.values(),
        given.lower(), family.lower(),
    )  # fmt: skip


def crmkit_customer(record: Record) -> Customer:
    """A new, validated customer from a source record, as a host would build it."""
    id_, email, phone, given, family, at = record
    return Customer.register(
        CustomerId(id_),
        at=at,
        email=EmailAddress(email),
        phone=PhoneNumber(phone),
        given_name=given,
        family_name=family,
    )


SQLITE_PRAGMAS = (  # the settings crmkit's engine applies to every SQLite connection
    f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys = ON",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}",  # crmkit's larger page cache, the same size
)


def core_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite+pysqlite:///{path}")

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    return engine


# The contenders. Each ``*_write`` / ``*_read`` gets a database already opened (and, for
# writes, with its schema created): only the work itself is timed. Each returns its row count.


def crmkit_write(crm: CRM, customers: Iterable[Customer], batch_size: int) -> int:
    return crm.customers.import_many(customers, batch_size=batch_size).imported


def crmkit_read(crm: CRM, batch_size: int) -> int:
    count, last = 0, None
    for customer in crm.customers.stream(batch_size=batch_size):
        count += 1
        last = customer
    assert count == 0 or isinstance(last, Customer)
    return count


def core_write(engine: Engine, rows: Iterable[dict[str, Any]], batch_size: int) -> int:
    count = 0
    with engine.begin() as conn:
        for batch in batched(rows, batch_size):
            conn.execute(insert(baseline), batch)
            count += len(batch)
    return count


def core_read(engine: Engine, batch_size: int) -> int:
    columns = [baseline.c[name] for name in READ_COLUMNS]
    query = select(*columns).where(baseline.c.tenant_id == TENANT).order_by(baseline.c.id)
    count, last = 0, ()
    with engine.connect() as conn:
        for row in conn.execute(query):
            last = tuple(row)
            count += 1
    assert count == 0 or len(last) == len(READ_COLUMNS)
    return count


def sqlite3_write(
    conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]], batch_size: int
) -> int:
    statement = (
        f"INSERT INTO bench_customers ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(COLUMNS))})"
    )
    conn.execute("BEGIN")
    count = 0
    for batch in batched(rows, batch_size):
        conn.executemany(statement, batch)
        count += len(batch)
    conn.execute("COMMIT")
    return count


def sqlite3_read(conn: sqlite3.Connection, batch_size: int) -> int:
    cursor = conn.execute(
        f"SELECT {', '.join(READ_COLUMNS)} FROM bench_customers WHERE tenant_id = ? ORDER BY id",
        (TENANT,),
    )
    cursor.arraysize = batch_size
    count, last = 0, ()
    for row in cursor:
        count += 1
        last = row
    assert count == 0 or len(last) == len(READ_COLUMNS)
    return count


def sqlite3_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    return conn


def baseline_ddl() -> list[str]:
    """The baseline table's DDL as SQLAlchemy emits it for SQLite (same as Core's)."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = sqlite.dialect()
    ddl = [str(CreateTable(baseline).compile(dialect=dialect))]
    ddl += [str(CreateIndex(index).compile(dialect=dialect)) for index in baseline.indexes]
    return ddl


# Memory: a separate process streams the crmkit database and reports its peak


def probe_memory(path: Path, batch_size: int, mode: str) -> dict[str, Any]:
    """Stream every customer of the crmkit database at ``path``; return peak memory (MB).

    ``rss``: the peak resident set size while streaming, and its growth over the resident
    set just before. On Linux the peak is ``VmHWM`` of ``/proc/self/status``, reset just before
    streaming; elsewhere it is ``ru_maxrss``, which counts everything since the process
    started (and, after a fork, the parent's peak too), so it can only overstate.
    ``tracemalloc``: peak of Python allocations while streaming (misses SQLite's own C
    allocations, and slows the run: hence a separate process).
    """
    store = SqlStore.sqlite(path, migrate=False)
    crm = CRM(store)
    gc.collect()
    if mode == "tracemalloc":
        import tracemalloc

        tracemalloc.start()
        count = sum(1 for _ in crm.customers.stream(batch_size=batch_size))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        store.dispose()
        return {"rows": count, "traced_peak_mb": peak / 2**20}
    before, method = _rss_before_streaming()
    count = sum(1 for _ in crm.customers.stream(batch_size=batch_size))
    peak = _rss_peak_mb(method)
    store.dispose()
    return {"rows": count, "rss_growth_mb": peak - before, "rss_peak_mb": peak, "how": method}


def _proc_status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 2**10  # kB
    raise LookupError(field)


def _rss_before_streaming() -> tuple[float, str]:
    """The current resident set (MB), after resetting the peak where the OS allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # Linux: reset VmHWM (the peak RSS) to the current RSS
        return _proc_status_mb("VmRSS"), "VmHWM"
    except OSError:
        return _rss_peak_mb("ru_maxrss"), "ru_maxrss"


def _rss_peak_mb(method: str) -> float:
    if method == "VmHWM":
        return _proc_status_mb("VmHWM")
    try:
        import resource
    except ImportError:  # Windows: no resident-set figure; stream_peak_mb falls back to tracemalloc
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def run_probes(path: Path, batch_size: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both memory probes, side by side (each in its own process: they only measure memory)."""

    def start(mode: str) -> subprocess.Popen[str]:
        flags = ["--probe", mode, "--probe-db", str(path), "--batch-size", str(batch_size)]
        return subprocess.Popen(
            [sys.executable, __file__, *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    running = [start("rss"), start("tracemalloc")]
    results = []
    for probe in running:
        out, err = probe.communicate()
        if probe.returncode != 0:
            raise SystemExit(f"memory probe failed:\n{err}")
        results.append(dict(json.loads(out.strip().splitlines()[-1])))
    return results[0], results[1]


# The run


class InputClock:
    """Adds up the time spent producing input items (source record -> object or row), so a
    writer's time splits into making its input and storing it."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def watch(self, items: Iterable[Any]) -> Iterator[Any]:
        items, clock, end = iter(items), time.perf_counter, object()
        while True:
            started = clock()
            item = next(items, end)
            self.seconds += clock() - started
            if item is end:
                return
            yield item


def timed(label: str, run: Callable[[], int], rows: int, inputs: InputClock | None = None) -> float:
    gc.collect()
    started = time.perf_counter()
    count = run()
    elapsed = time.perf_counter() - started
    if count != rows:
        raise SystemExit(f"{label}: expected {rows} rows, got {count}")
    line = f"  {label:<8} {elapsed:9.3f} s {rows / elapsed:>11,.0f} rows/s"
    if inputs is not None:
        stored = elapsed - inputs.seconds
        line += f"  = input {inputs.seconds:8.3f} s + storage {stored:8.3f} s"
        line += f" ({rows / stored:>9,.0f} rows/s)"
    print(line, flush=True)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="customers to import")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows (smoke test)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="rows per batch")
    parser.add_argument("--probe", choices=("rss", "tracemalloc"), help=argparse.SUPPRESS)
    parser.add_argument("--probe-db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe_memory(args.probe_db, args.batch_size, args.probe)))
        return 0
    rows = QUICK_ROWS if args.quick else args.rows
    batch = min(args.batch_size, rows)
    if rows < 1 or batch < 1:
        parser.error("--rows and --batch-size must be positive")

    print(f"{rows:,} customers, batches of {batch:,}, SQLite {sqlite3.sqlite_version}")
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as scratch:
        crmkit_db = Path(scratch) / "crmkit.db"
        store = SqlStore.sqlite(crmkit_db)  # creates the schema (migrations), untimed
        crm = CRM(store)
        engine = core_engine(Path(scratch) / "core.db")
        baseline_metadata.create_all(engine)
        raw = sqlite3_connect(Path(scratch) / "sqlite3.db")
        for ddl in baseline_ddl():
            raw.execute(ddl)
        try:
            print("write (build input from source records, insert in one transaction)")
            clocks = {name: InputClock() for name in ("crmkit", "core", "sqlite3")}
            inputs = {
                "crmkit": clocks["crmkit"].watch(map(crmkit_customer, source(rows))),
                "core": clocks["core"].watch(map(baseline_dict, source(rows))),
                "sqlite3": clocks["sqlite3"].watch(map(baseline_tuple, source(rows))),
            }
            writers: dict[str, Callable[[], int]] = {
                "crmkit": lambda: crmkit_write(crm, inputs["crmkit"], batch),
                "core": lambda: core_write(engine, inputs["core"], batch),
                "sqlite3": lambda: sqlite3_write(raw, inputs["sqlite3"], batch),
            }
            write = {name: timed(name, run, rows, clocks[name]) for name, run in writers.items()}
            print("read (every row in id order, one object per row)")
            read = {
                "crmkit": timed("crmkit", lambda: crmkit_read(crm, batch), rows),
                "core": timed("core", lambda: core_read(engine, batch), rows),
                "sqlite3": timed("sqlite3", lambda: sqlite3_read(raw, batch), rows),
            }
        finally:
            store.dispose()
            engine.dispose()
            raw.close()
        print("memory of crmkit's streaming (separate processes)")
        rss, traced = run_probes(crmkit_db, batch)
        for probe in (rss, traced):
            if probe["rows"] != rows:
                raise SystemExit(f"memory probe streamed {probe['rows']} of {rows} rows")
        print(f"  resident set: +{rss['rss_growth_mb']:.1f} MB while streaming, peak", end=" ")
        print(f"{rss['rss_peak_mb']:.1f} MB ({rss['how']})")
        print(f"  tracemalloc peak {traced['traced_peak_mb']:.1f} MB")

    figures: list[tuple[str, float, str]] = []
    for name in ("crmkit", "core", "sqlite3"):
        figures.append((f"{name}_write", rows / write[name], "rows/s"))
        figures.append((f"{name}_read", rows / read[name], "rows/s"))
    figures.append(("crmkit_build", rows / clocks["crmkit"].seconds, "rows/s"))
    for base in ("core", "sqlite3"):
        figures.append((f"write_vs_{base}", write["crmkit"] / write[base], "x"))
        figures.append((f"read_vs_{base}", read["crmkit"] / read[base], "x"))
    stored = {name: write[name] - clocks[name].seconds for name in write}
    for base in ("core", "sqlite3"):
        figures.append((f"write_storage_vs_{base}", stored["crmkit"] / stored[base], "x"))
    growth = rss["rss_growth_mb"]  # NaN where the OS gives no resident-set figure
    figures.append(
        ("stream_peak_mb", traced["traced_peak_mb"] if math.isnan(growth) else growth, "MB")
    )
    figures.append(("stream_peak_rss_mb", rss["rss_peak_mb"], "MB"))
    figures.append(("stream_traced_peak_mb", traced["traced_peak_mb"], "MB"))
    decimals = {"rows/s": 0, "x": 2, "MB": 1}
    for name, value, unit in figures:
        print(f"BENCH {name} {value:.{decimals[unit]}f} {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
