"""Faults in the middle of a unit of work leave nothing behind, on SQLite (file), PostgreSQL
and MariaDB: an exception, a refusal by the database, a failed outbox write at commit, and a
worker process killed with SIGKILL while its transaction is open. Every ``crmkit_`` table is
read with plain SQLAlchemy before and after; the outbox holds exactly the events of the units
of work that committed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from crmkit import CRM, CustomerId, Interaction, InteractionId
from crmkit.adapters.sqlalchemy import SqlStore, metadata
from crmkit.adapters.sqlalchemy.engine import SQLITE_BUSY_TIMEOUT_MS
from crmkit.adapters.sqlalchemy.tables import outbox
from crmkit.domain import PointsLedger
from crmkit.errors import CrmError, IdempotencyConflict, StorageError
from crmkit.events import DomainEvent
from tests.workers import (
    PARTIAL_PROGRAMME,
    SHARED_CUSTOMER,
    dispose,
    killed_worker,
    open_crm,
    outbox_events,
    partial_work,
    plain_engine,
    row_counts,
    seed,
    snapshot,
)

DATA_TABLES = {table.name for table in metadata.sorted_tables} - {outbox.name}
#: A lock left behind must fail the test, not hang it: servers give up waiting after this.
LOCK_WAIT_S = 10
WAIT_S = 60
AT = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    """A store whose lock waits are bounded, so a lock left behind fails instead of hanging."""
    backend = url.split(":", 1)[0].split("+", 1)[0]
    options: dict[str, Any] = {}
    if backend == "postgresql":
        options["connect_args"] = {"options": f"-c lock_timeout={LOCK_WAIT_S * 1000}"}
    elif backend in ("mysql", "mariadb"):
        options["connect_args"] = {
            "init_command": f"SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_S}"
        }
    store = SqlStore.open(url, migrate=False, **options)
    yield store
    store.dispose()


@pytest.fixture
def inspector(url: str) -> Iterator[Any]:
    """A plain SQLAlchemy engine on the same database, to read the tables directly."""
    engine = plain_engine(url)
    yield engine
    engine.dispose()


def _crm(store: SqlStore) -> tuple[CRM, list[DomainEvent]]:
    crm = CRM(store)
    published: list[DomainEvent] = []
    crm.events.subscribe(DomainEvent, published.append)
    return crm, published


def _in_transaction_counts(uow: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    return {
        table.name: uow.connection.execute(select(func.count()).select_from(table)).scalar_one()
        for table in metadata.sorted_tables
    }


def _event_keys(events: list[DomainEvent]) -> list[tuple[str, str]]:
    return [(type(e).__name__, e.aggregate_id) for e in events]


def _assert_wrote_every_data_table(during: dict[str, int], before: dict[str, int]) -> None:
    """The doomed transaction really had rows in every data table (none in the outbox)."""
    grown = {name for name in during if during[name] > before[name]}
    assert grown == DATA_TABLES, (during, before)


def _raise_runtime_error(uow: Any) -> None:
    raise RuntimeError("boom in the middle of the unit of work")


def _raise_keyboard_interrupt(uow: Any) -> None:
    raise KeyboardInterrupt


def _write_a_taken_interaction_id(uow: Any) -> None:
    """A write the database itself refuses (a primary key taken in this transaction)."""
    uow.interactions.add_many(
        [
            Interaction(
                id=InteractionId("int-doomed"),
                customer_id=CustomerId(SHARED_CUSTOMER),
                occurred_at=AT,
                kind="note",
                channel="email",
            )
        ]
    )


FAULTS: dict[str, tuple[Callable[[Any], None], type[BaseException]]] = {
    "exception": (_raise_runtime_error, RuntimeError),
    "keyboard-interrupt": (_raise_keyboard_interrupt, KeyboardInterrupt),
    "database-refusal": (_write_a_taken_interaction_id, IdempotencyConflict),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_mid_unit_of_work_leaves_no_partial_rows(
    fault: str, store: SqlStore, inspector: Any
) -> None:
    crm, published = _crm(store)
    seed(crm)
    before, counts_before = snapshot(inspector), row_counts(inspector)
    published.clear()
    fail, expected = FAULTS[fault]

    with pytest.raises(expected), crm.unit_of_work() as uow:
        partial_work(crm, uow, "doomed")
        _assert_wrote_every_data_table(_in_transaction_counts(uow), counts_before)
        fail(uow)
        uow.commit()  # never reached

    assert row_counts(inspector) == counts_before
    assert snapshot(inspector) == before
    assert published == []

    # The database is usable, and the same keys (ids, refs, domain) are free again.
    with crm.unit_of_work() as uow:
        partial_work(crm, uow, "doomed")
        events = uow.commit()
    assert events
    assert published == events
    assert outbox_events(inspector)[-len(events) :] == _event_keys(events)
    assert len(outbox_events(inspector)) == counts_before[outbox.name] + len(events)


def test_commit_then_fault_keeps_exactly_the_committed_part(
    store: SqlStore, inspector: Any
) -> None:
    crm, published = _crm(store)
    seed(crm)
    outbox_before = outbox_events(inspector)
    published.clear()

    with pytest.raises(RuntimeError), crm.unit_of_work() as uow:
        partial_work(crm, uow, "first")
        committed = uow.commit()
        after_first = snapshot(inspector)
        partial_work(crm, uow, "second")
        _raise_runtime_error(uow)

    assert snapshot(inspector) == after_first
    assert committed
    assert published == committed
    assert outbox_events(inspector) == outbox_before + _event_keys(committed)
    customer = crm.customers.get(SHARED_CUSTOMER)
    assert "first" in customer.tags
    assert "second" not in customer.tags


def test_a_failed_outbox_write_at_commit_stores_nothing(store: SqlStore, inspector: Any) -> None:
    """The outbox insert fails inside commit: the data written before it is rolled back too,
    the host gets a typed `StorageError`, and no subscriber hears of it."""
    crm, published = _crm(store)
    seed(crm)
    before = snapshot(inspector)
    published.clear()

    def break_the_outbox(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> Any:
        if statement.lstrip().upper().startswith(f"INSERT INTO {outbox.name.upper()}"):
            statement = statement.replace(outbox.name, "crmkit_no_such_table", 1)
        return statement, params

    event.listen(store.engine, "before_cursor_execute", break_the_outbox, retval=True)
    try:
        with pytest.raises(StorageError) as caught, crm.unit_of_work() as uow:
            partial_work(crm, uow, "doomed")
            uow.commit()
    finally:
        event.remove(store.engine, "before_cursor_execute", break_the_outbox)
    assert type(caught.value) is StorageError
    assert caught.value.retryable is False
    assert snapshot(inspector) == before
    assert published == []

    with crm.unit_of_work() as uow:
        partial_work(crm, uow, "doomed")
        events = uow.commit()
    assert outbox_events(inspector)[-len(events) :] == _event_keys(events)


def test_a_worker_killed_mid_unit_of_work_leaves_no_partial_rows(
    backend: str, url: str, store: SqlStore, inspector: Any
) -> None:
    crm, published = _crm(store)
    seed(crm)
    published.clear()
    outbox_before = outbox_events(inspector)
    counts_before = row_counts(inspector)

    context = multiprocessing.get_context("spawn")
    go, written = context.Event(), context.Event()
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=killed_worker, args=(url, go, written, sender))
    worker.start()
    sender.close()
    try:
        assert receiver.poll(WAIT_S), "the worker never reported its committed work"
        kind, committed = receiver.recv()
        assert kind == "committed", committed
        before = snapshot(inspector)  # with the worker's committed unit of work
        go.set()
        assert written.wait(WAIT_S), "the worker never wrote"
        kind, during = receiver.recv()
        assert kind == "written", during
        os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
        worker.join(WAIT_S)
    finally:
        if worker.is_alive():  # pragma: no cover - only when an assertion above failed
            worker.kill()
            worker.join()
        receiver.close()
    assert worker.exitcode == -signal.SIGKILL

    # Its open transaction really had rows in every data table; none of them survive.
    _assert_wrote_every_data_table(during, row_counts(inspector))
    assert snapshot(inspector) == before
    # The outbox holds the events of its committed unit of work, and only those.
    assert outbox_events(inspector) == outbox_before + [tuple(e) for e in committed]
    assert len(committed) == 2  # the interaction recorded, the profile changed
    assert row_counts(inspector)[outbox.name] == counts_before[outbox.name] + 2

    # The next writer changes the rows the dead transaction had locked, at its first attempt
    # and within the lock wait: on SQLite the file is not left locked (a writer would fail
    # with a conflict after the busy timeout); the servers released the row and key locks
    # (a lock left behind would fail here after LOCK_WAIT_S).
    started = time.monotonic()
    with crm.unit_of_work() as uow:
        partial_work(crm, uow, "killed")  # the same rows and keys the dead worker wrote
        events = uow.commit()
    elapsed = time.monotonic() - started
    limit = SQLITE_BUSY_TIMEOUT_MS / 1000 if backend.startswith("sqlite") else LOCK_WAIT_S
    assert elapsed < limit, f"the next writer waited {elapsed:.1f}s"
    assert published == events
    assert outbox_events(inspector)[-len(events) :] == _event_keys(events)
    assert "killed" in crm.customers.get(SHARED_CUSTOMER).tags
    fresh = open_crm(url)  # as a new host process would, through the front door
    try:
        fresh.interactions.record(SHARED_CUSTOMER, kind="note", channel="app", external_ref="next")
    finally:
        dispose(fresh)
    if backend.startswith("sqlite"):
        from sqlalchemy import text

        with inspector.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"


def _drop_the_connection(uow: Any, inspector: Any, backend: str) -> None:
    """Have the server end the unit of work's session, as an administrator would, and wait
    until it has ended."""
    from sqlalchemy import text

    postgres = backend == "postgresql"
    session = uow.connection.exec_driver_sql(
        "SELECT pg_backend_pid()" if postgres else "SELECT CONNECTION_ID()"
    ).scalar()
    with inspector.connect() as admin:
        admin.execute(
            text(
                f"SELECT pg_terminate_backend({session}, {WAIT_S * 1000})"
                if postgres
                else f"KILL {session}"
            )
        )
        admin.commit()


def _add_interactions_in_one_batch(uow: Any) -> Callable[[], None]:
    batch = [
        Interaction(
            id=InteractionId(f"int-batch-{i}"),
            customer_id=CustomerId(SHARED_CUSTOMER),
            occurred_at=AT,
            kind="note",
            channel="email",
        )
        for i in range(3)
    ]
    return lambda: uow.interactions.add_many(batch)


def _save_ledgers_in_one_batch(uow: Any) -> Callable[[], None]:
    ledgers = list(uow.points_ledgers.find_many(PARTIAL_PROGRAMME, _LEDGER_MEMBERS).values())
    assert len(ledgers) == len(_LEDGER_MEMBERS)
    for ledger in ledgers:
        ledger.adjust(5, AT, f"batch-{ledger.customer_id}", "a batch correction")
    return lambda: uow.points_ledgers.save_many(ledgers)


_LEDGER_MEMBERS = [CustomerId(SHARED_CUSTOMER), CustomerId("cust-second")]
#: Writes that send many rows in one call (psycopg runs them in a pipeline): each reads what
#: it needs and returns the write.
BATCH_WRITES = {
    "insert-many": _add_interactions_in_one_batch,
    "update-many": _save_ledgers_in_one_batch,
}


@pytest.mark.parametrize("write", sorted(BATCH_WRITES))
def test_a_batch_write_on_a_dropped_connection_is_one_typed_error_and_prints_nothing(
    write: str,
    backend: str,
    store: SqlStore,
    inspector: Any,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A connection the server ended under a batch write (psycopg pipelines those) gives the
    host one typed, retryable `StorageError`; nothing is printed on stderr or logged (psycopg
    used to log "error ignored terminating Pipeline")."""
    if backend.startswith("sqlite"):
        pytest.skip("SQLite has no server to drop the connection")
    crm, _ = _crm(store)
    seed(crm)
    crm.customers.register(customer_id="cust-second")
    with crm.unit_of_work() as uow:  # a ledger for each member, to be updated in one batch
        for member in _LEDGER_MEMBERS:
            ledger = PointsLedger(member, PARTIAL_PROGRAMME)
            ledger.adjust(10, AT, f"opening-{member}", "opening balance")
            uow.points_ledgers.add(ledger)
        uow.commit()
    before = snapshot(inspector)
    capfd.readouterr()
    caplog.clear()

    with pytest.raises(CrmError) as caught, crm.unit_of_work() as uow:
        batch_write = BATCH_WRITES[write](uow)
        _drop_the_connection(uow, inspector, backend)
        batch_write()
        uow.commit()

    assert type(caught.value) is StorageError
    assert caught.value.retryable is True
    assert capfd.readouterr().err == ""
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert snapshot(inspector) == before
    crm.interactions.record(SHARED_CUSTOMER, kind="note", channel="email", external_ref="after")


def test_a_connection_dropped_by_the_server_mid_unit_of_work(
    backend: str, store: SqlStore, inspector: Any
) -> None:
    """The server ends the unit of work's session (an administrator, a failover): the host
    gets a typed, retryable `StorageError`, nothing is stored, and the next unit of work
    runs on a fresh connection."""
    if backend.startswith("sqlite"):
        pytest.skip("SQLite has no server to drop the connection")
    from sqlalchemy import text

    crm, published = _crm(store)
    seed(crm)
    before = snapshot(inspector)
    published.clear()
    postgres = backend == "postgresql"

    with pytest.raises(StorageError) as caught, crm.unit_of_work() as uow:
        partial_work(crm, uow, "dropped")
        session = uow.connection.exec_driver_sql(
            "SELECT pg_backend_pid()" if postgres else "SELECT CONNECTION_ID()"
        ).scalar()
        with inspector.connect() as admin:
            admin.execute(
                text(f"SELECT pg_terminate_backend({session})" if postgres else f"KILL {session}")
            )
            admin.commit()
        uow.customers.get(CustomerId(SHARED_CUSTOMER))
        uow.commit()
    assert type(caught.value) is StorageError
    assert caught.value.retryable is True
    assert snapshot(inspector) == before
    assert published == []

    crm.interactions.record(SHARED_CUSTOMER, kind="note", channel="email", external_ref="after")
    assert [type(e).__name__ for e in published] == ["InteractionRecorded"]
