"""Helpers for the concurrency and fault tests, importable by ``spawn``-ed worker processes.

Worker processes receive the database URL (text), never objects, open their own `CRM`, and
report back through a process pool's results or a pipe. Everything here is deterministic in
content: an interaction's fields derive from its external reference alone (via CRC-32, not
``hash``, which differs between processes), so replays are identical wherever they run.
"""

from __future__ import annotations

import os
import random
import time
import traceback
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from crmkit import (
    CRM,
    Account,
    AccountId,
    AccountLink,
    Customer,
    CustomerId,
    Interaction,
    InteractionId,
    Money,
)
from crmkit.domain import (
    CUSTOMER_LIFECYCLE,
    ConsentRecord,
    MembershipChange,
    PointsLedger,
    Programme,
    Referral,
    SegmentSnapshot,
    SpendRule,
    StageHistory,
)
from crmkit.errors import CrmError
from crmkit.events import DomainEvent

T = TypeVar("T")

SHARED_CUSTOMER = "cust-shared"
#: The loyalty programme of `partial_work`'s points ledgers: a point per euro, at once.
PARTIAL_PROGRAMME = Programme("partial", [SpendRule("per_euro", 1, Money(100, "EUR"))])
BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
#: How long a worker keeps retrying one operation before it gives up (seconds).
RETRY_DEADLINE_S = 45.0


# Databases


@contextmanager
def private_database(url: str) -> Iterator[str]:
    """A fresh, empty database on the server of ``url``, dropped afterwards; SQLite as is.

    Other suites may run against the same server database at the same time (and drop the
    crmkit tables there), so server tests work in a database of their own.
    """
    from sqlalchemy import create_engine, make_url, text

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        yield url
        return
    name = f"crmkit_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    postgres = parsed.get_backend_name() == "postgresql"
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield parsed.set(database=name).render_as_string(hide_password=False)
        finally:
            drop = f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if postgres else "")
            with admin.connect() as connection:
                connection.execute(text(drop))
    finally:
        admin.dispose()


def empty_database(url: str) -> None:
    """Delete every row of every crmkit table (the schema stays): faster than migrating
    afresh on a server, where DDL is slow."""
    from sqlalchemy import delete

    from crmkit.adapters.sqlalchemy import metadata

    engine = plain_engine(url)
    try:
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(delete(table))
    finally:
        engine.dispose()


def plain_engine(url: str) -> Any:
    """A plain SQLAlchemy engine (no crmkit settings, no pooling) to inspect the tables."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(url, poolclass=NullPool)


def snapshot(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every crmkit table, in a stable order, by table name."""
    from sqlalchemy import select

    from crmkit.adapters.sqlalchemy import metadata

    with engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in metadata.sorted_tables
        }


def row_counts(engine: Any) -> dict[str, int]:
    """How many rows each crmkit table has (``SELECT count(*)``)."""
    from sqlalchemy import func, select

    from crmkit.adapters.sqlalchemy import metadata

    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
        }


def outbox_events(engine: Any) -> list[tuple[str, str]]:
    """(event type, aggregate id) of every outbox row, in outbox order."""
    from sqlalchemy import select

    from crmkit.adapters.sqlalchemy.tables import outbox

    with engine.connect() as connection:
        rows = connection.execute(
            select(outbox.c.event_type, outbox.c.aggregate_id).order_by(outbox.c.position)
        )
        return [(row[0], row[1]) for row in rows]


def open_crm(url: str) -> CRM:
    """The front door a worker process uses: `CRM.sqlite` for a file, else `CRM.from_url`."""
    from sqlalchemy import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        return CRM.sqlite(parsed.database, migrate=False)
    return CRM.from_url(url, migrate=False)


def dispose(crm: CRM) -> None:
    """Close the pooled connections of a SQL-backed CRM (left open, they would be closed by
    the garbage collector with a ResourceWarning, an error in this suite)."""
    store = getattr(crm, "store", None)
    if store is None:  # a CRM that does not expose its store: reach it through its method
        store = getattr(crm._open_unit_of_work, "__self__", None)
    if store is not None and hasattr(store, "dispose"):
        store.dispose()


# Retrying


class RetryLog:
    """The retryable errors one worker met (type, kind), for the parent to check."""

    def __init__(self) -> None:
        self.retried: list[tuple[str, str, bool]] = []

    def note(self, error: CrmError) -> None:
        self.retried.append(
            (type(error).__name__, str(getattr(error, "kind", "")), bool(error.retryable))
        )


def retrying(operation: Callable[[], T], log: RetryLog) -> T:
    """Run ``operation`` until it succeeds, retrying (after a short random pause) only on
    crmkit errors whose ``retryable`` is True; anything else propagates at once."""
    deadline = time.monotonic() + RETRY_DEADLINE_S
    pause = 0.002
    while True:
        try:
            return operation()
        except CrmError as error:
            if not error.retryable or time.monotonic() > deadline:
                raise
            log.note(error)
        time.sleep(random.uniform(0, pause))
        pause = min(pause * 2, 0.05)


def describe(error: BaseException) -> str:
    """The qualified type, message and traceback of ``error``."""
    kind = f"{type(error).__module__}.{type(error).__qualname__}"
    return f"{kind}: {error}\n{''.join(traceback.format_exception(error))}"


# The operations workers apply to the shared customer


TAGS_PER_WORKER = 2
INCREMENTS_PER_WORKER = 3
OWN_REFS_PER_WORKER = 2
SHARED_REFS = 2
CONSENTS_PER_WORKER = 1

Op = tuple[str, ...]


def plan(worker: int) -> list[Op]:
    """The operations of ``worker``, in its order: tags appended through a unit of work,
    a trait counter incremented with ``expected_version``, consents recorded, interactions
    recorded with unique external refs, replays of its own refs and refs every worker
    records (identical content)."""
    ops: list[Op] = []
    rounds = max(TAGS_PER_WORKER, INCREMENTS_PER_WORKER, OWN_REFS_PER_WORKER, SHARED_REFS)
    for i in range(rounds):
        if i < TAGS_PER_WORKER:
            ops.append(("tag", f"w{worker}-t{i}"))
        if i < INCREMENTS_PER_WORKER:
            ops.append(("increment",))
        if i < OWN_REFS_PER_WORKER:
            ops.append(("record", f"w{worker}-r{i}"))
            # A replay: of the ref just recorded, or of an earlier one.
            ops.append(("record", f"w{worker}-r{i // 2}"))
        if i < SHARED_REFS:
            ops.append(("record", f"shared-r{i}"))
        if i < CONSENTS_PER_WORKER:
            ops.append(("consent", f"purpose_w{worker}_{i}"))
    return ops


def expected_refs(workers: int) -> set[str]:
    """Every distinct external ref the workers record."""
    own = {f"w{w}-r{i}" for w in range(workers) for i in range(OWN_REFS_PER_WORKER)}
    return own | {f"shared-r{i}" for i in range(SHARED_REFS)}


def interaction_content(ref: str) -> dict[str, Any]:
    """The fields of the interaction recorded as ``ref``: the same in every process."""
    n = zlib.crc32(ref.encode())
    content: dict[str, Any] = {
        "occurred_at": BASE_TIME + timedelta(minutes=n % 10_000),
        "metadata": {"ref": ref, "n": n % 97},
    }
    if n % 2:
        content.update(kind="purchase", channel="web", amount=Money(n % 10_000 + 1, "EUR"))
    else:
        content.update(kind="note", channel="email")
    return content


def register_shared(crm: CRM) -> Customer:
    """The customer every worker changes."""
    return crm.customers.register(
        customer_id=SHARED_CUSTOMER,
        email="shared@example.com",
        given_name="Shared",
        traits={"counter": 0},
        tags=["seed"],
    )


def apply(crm: CRM, op: Op) -> None:
    """Apply one operation (once; conflicts propagate)."""
    name = op[0]
    if name == "tag":
        with crm.unit_of_work() as uow:
            customer = uow.customers.get(CustomerId(SHARED_CUSTOMER))
            customer.update_profile(at=crm.settings.clock.now(), tags=customer.tags | {op[1]})
            uow.customers.update(customer)
            uow.commit()
    elif name == "increment":
        current = crm.customers.get(SHARED_CUSTOMER)
        counter = current.traits["counter"]
        assert isinstance(counter, int)
        crm.customers.set_traits(
            SHARED_CUSTOMER, {"counter": counter + 1}, expected_version=current.version
        )
    elif name == "record":
        crm.interactions.record(SHARED_CUSTOMER, external_ref=op[1], **interaction_content(op[1]))
    elif name == "consent":
        crm.consent.record(
            SHARED_CUSTOMER,
            purpose=op[1],
            channel="email",
            status="granted",
            source="worker",
            at=BASE_TIME,
        )
    else:  # pragma: no cover - a typo in a plan
        raise AssertionError(f"unknown operation {op!r}")


def run_plan(crm: CRM, worker: int, log: RetryLog) -> None:
    """Apply every operation of ``worker``'s plan, retrying retryable conflicts."""
    for op in plan(worker):
        retrying(lambda op=op: apply(crm, op), log)  # type: ignore[misc]


_START: Any = None


def init_pool_worker(start: Any) -> None:
    """Initializer of a pool worker process: keep the barrier every worker waits at (a
    multiprocessing primitive must be inherited at spawn, not sent with a task)."""
    global _START
    _START = start


def concurrency_worker(
    url: str, worker: int
) -> tuple[int, int, list[tuple[str, str, bool]], str | None]:
    """A task for a pool worker process: open the CRM from ``url``, wait for every worker,
    run the plan and return ``(worker, process id, retried errors, failure or None)``."""
    log = RetryLog()
    failure: str | None = None
    crm: CRM | None = None
    try:
        crm = open_crm(url)
        _START.wait(60)
        run_plan(crm, worker, log)
    except BaseException as error:  # report everything, the parent asserts
        failure = describe(error)
    finally:
        if crm is not None:
            dispose(crm)
    return worker, os.getpid(), log.retried, failure


# The unit of work a killed worker leaves open


def partial_work(crm: CRM, uow: Any, tag: str) -> None:
    """Write to every data table inside ``uow`` without committing: a new account and
    customer (with tags, traits, external ids, consents, an account link, a lifecycle stage
    history, a segment snapshot, a points ledger and a referral by the shared customer), a
    changed existing customer and account, and interactions."""
    now = crm.settings.clock.now()
    account = Account.register(
        AccountId(f"acct-{tag}"), name=f"Acme {tag}", at=now, domain=f"{tag}.example.com"
    )
    uow.accounts.add(account)
    customer = Customer.register(
        CustomerId(f"cust-{tag}"),
        at=now,
        given_name="Partial",
        traits={"score": 7, "vip": True},
        tags=["partial", tag],
        external_ids={"shop": f"shop-{tag}"},
        account=AccountLink(account.id, "buyer"),
        consents=[
            ConsentRecord(
                purpose="marketing", channel="email", status="granted", at=now, source="form"
            )
        ],
    )
    uow.customers.add(customer)
    history = StageHistory.enter(CUSTOMER_LIFECYCLE, customer.id, at=now, actor=tag)
    history.move(CUSTOMER_LIFECYCLE, "customer", at=now, reason="first purchase")
    uow.stage_histories.add(history)
    snapshot = SegmentSnapshot.empty(f"partial_{tag}".lower().replace("-", "_"), now)
    snapshot.refresh(MembershipChange(snapshot.segment, now, [customer.id], members=1))
    uow.segment_memberships.add(snapshot)
    ledger = PointsLedger(customer.id, PARTIAL_PROGRAMME)
    purchase = Interaction(
        id=InteractionId(f"int-{tag}-loyalty"),
        customer_id=customer.id,
        occurred_at=now,
        kind="purchase",
        channel="web",
        amount=Money(2500, "EUR"),
    )
    ledger.earn(purchase, now)
    ledger.adjust(5, now, f"welcome-{tag}", "welcome")
    uow.points_ledgers.add(ledger)
    uow.referrals.add(
        Referral.record(f"refer-{tag}", "partial", CustomerId(SHARED_CUSTOMER), customer.id, now)
    )
    uow.customers.add_many(
        [Customer.register(CustomerId(f"cust-{tag}-{i}"), at=now, tags=["bulk"]) for i in range(3)]
    )
    shared = uow.customers.get(CustomerId(SHARED_CUSTOMER))
    shared.update_profile(at=now, tags=shared.tags | {tag}, external_ids={"crm": f"x-{tag}"})
    shared.set_traits({"counter": 1000}, at=now)
    shared.record_consent(
        ConsentRecord(purpose="news", channel=None, status="granted", at=now, source="form"),
        at=now,
    )
    uow.customers.update(shared)
    seeded = uow.accounts.get(AccountId("acct-seed"))
    seeded.update(at=now, name=f"Renamed {tag}")
    uow.accounts.update(seeded)
    uow.interactions.add(
        Interaction(
            id=InteractionId(f"int-{tag}"),
            customer_id=customer.id,
            occurred_at=now,
            kind="note",
            channel="email",
            external_ref=f"ref-{tag}",
        )
    )
    uow.interactions.add_many(
        [
            Interaction(
                id=InteractionId(f"int-{tag}-{i}"),
                customer_id=CustomerId(SHARED_CUSTOMER),
                occurred_at=now,
                kind="purchase",
                channel="web",
                amount=Money(100 + i, "EUR"),
            )
            for i in range(3)
        ]
    )


def seed(crm: CRM) -> None:
    """The committed data the fault tests start from."""
    register_shared(crm)
    crm.accounts.register(account_id="acct-seed", name="Seed Ltd", domain="seed.example.com")
    crm.accounts.link(SHARED_CUSTOMER, "acct-seed", role="billing")
    crm.interactions.record(SHARED_CUSTOMER, kind="note", channel="email", external_ref="seed-1")


def killed_worker(url: str, go: Any, written: Any, report: Any) -> None:
    """A worker process that commits one unit of work, then (after ``go``) writes to every
    table in a second one, reports the row counts its transaction sees, sets ``written``
    and blocks until it is killed.

    Messages on the ``report`` pipe: ``("committed", events)``, ``("written", counts)`` or
    ``("failed", description)``.
    """
    from sqlalchemy import func, select

    from crmkit.adapters.sqlalchemy import metadata

    try:
        crm = open_crm(url)
        committed: list[DomainEvent] = []
        crm.events.subscribe(DomainEvent, committed.append)
        crm.interactions.record(SHARED_CUSTOMER, kind="note", channel="sms", external_ref="kept")
        with crm.unit_of_work() as uow:
            customer = uow.customers.get(CustomerId(SHARED_CUSTOMER))
            customer.update_profile(at=crm.settings.clock.now(), given_name="Committed")
            uow.customers.update(customer)
            uow.commit()
        report.send(("committed", [(type(e).__name__, e.aggregate_id) for e in committed]))
        if not go.wait(60):
            raise TimeoutError("the parent never said go")
        with crm.unit_of_work() as uow:
            partial_work(crm, uow, "killed")
            counts = {
                table.name: uow.connection.execute(
                    select(func.count()).select_from(table)
                ).scalar_one()
                for table in metadata.sorted_tables
            }
            report.send(("written", counts))
            written.set()
            time.sleep(600)  # killed long before this ends
            raise TimeoutError("the parent never killed this worker")
    except BaseException as error:
        report.send(("failed", describe(error)))
        written.set()
        raise
