"""SQLite writers wait for the write lock instead of failing at once.

A unit of work that may write begins with ``BEGIN IMMEDIATE``: it takes the file's write
lock before it reads, waiting for it up to the busy timeout (5 s), so a writer that meets
another's lock waits its turn; a holder beyond the timeout gives a typed, retryable
`LockTimeout` after about the timeout, which crmkit does not retry again. Read-only units of
work (every read of the front door) take no lock: in WAL mode they read beside a writer.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc

from crmkit import CRM, CustomerId, Settings
from crmkit.adapters.sqlalchemy.engine import SQLITE_BUSY_TIMEOUT_MS
from crmkit.adapters.sqlalchemy.failures import storage_errors
from crmkit.app.retries import retry_conflicts
from crmkit.errors import ConcurrencyConflict, LockTimeout
from crmkit.loyalty import EntryKind
from crmkit.segments import tagged
from tests.lock_workers import hold_write_lock, init_writer, write_in_process
from tests.loyalty_workers import PROGRAMME
from tests.workers import SHARED_CUSTOMER, register_shared

PROCESSES = 3
ROUNDS = 6
#: The holder keeps the lock this long each time (well within the busy timeout), this often.
HOLD_S = 1.5
GAP_S = 0.6
HOLDS = 4
TIMEOUT_S = SQLITE_BUSY_TIMEOUT_MS / 1000


@pytest.fixture
def path(tmp_path: Path) -> str:
    """A migrated SQLite file with the shared customer, who has points to redeem."""
    file = str(tmp_path / "crm.db")
    crm = CRM.sqlite(file, Settings(loyalty=PROGRAMME))
    register_shared(crm)
    crm.loyalty.adjust(SHARED_CUSTOMER, 1000, reason="opening balance")
    assert crm.store is not None
    crm.store.dispose()
    return file


@pytest.fixture
def crm(path: str) -> Iterator[CRM]:
    """A CRM on that file."""
    crm = CRM.sqlite(path, Settings(loyalty=PROGRAMME), migrate=False)
    yield crm
    assert crm.store is not None
    crm.store.dispose()


def _holding(path: str, seconds: float) -> threading.Thread:
    """A thread that holds the write lock for ``seconds``, started once it has the lock."""
    started = threading.Event()
    thread = threading.Thread(target=hold_write_lock, args=(path, seconds, started))
    thread.start()
    assert started.wait(10), "the holder never got the lock"
    return thread


def test_processes_writing_one_file_all_succeed_while_another_holds_the_lock(
    path: str, crm: CRM
) -> None:
    """Three processes register, record, consent and redeem while another connection takes
    the write lock again and again for 1.5 s: every call waits its turn, none fails."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES + 1)

    def holder() -> None:
        start.wait(60)
        for _ in range(HOLDS):
            hold_write_lock(path, HOLD_S)
            time.sleep(GAP_S)

    with ProcessPoolExecutor(
        PROCESSES, mp_context=context, initializer=init_writer, initargs=(start,)
    ) as pool:
        tasks = [pool.submit(write_in_process, path, w, ROUNDS) for w in range(PROCESSES)]
        holding = threading.Thread(target=holder)
        holding.start()
        reports = [task.result(timeout=240) for task in tasks]
        holding.join(60)
    assert [failure for _pid, failures, _ in reports for failure in failures] == []
    assert len({pid for pid, _, _ in reports}) == PROCESSES
    # The calls really met the holder's lock, and waited for it.
    assert max(longest for _, _, longest in reports) > HOLD_S / 2

    calls = PROCESSES * ROUNDS
    assert crm.segments.count(~tagged("seed")) == calls  # every registration
    assert len(crm.interactions.timeline(SHARED_CUSTOMER)) == calls  # every interaction
    shared = crm.customers.get(SHARED_CUSTOMER)
    assert len(shared.consents) == calls  # every consent
    redeemed = [
        e for e in crm.loyalty.ledger(SHARED_CUSTOMER).entries if e.kind is EntryKind.REDEEM
    ]
    assert len(redeemed) == calls  # every redemption, once
    assert crm.loyalty.balance(SHARED_CUSTOMER).available == 1000 - calls


@pytest.mark.parametrize("seconds", [1.0, 2.0])
def test_a_write_waits_for_a_lock_held_within_the_timeout(
    path: str, crm: CRM, seconds: float
) -> None:
    holder = _holding(path, seconds)
    started = time.monotonic()
    try:
        customer = crm.customers.register(email="grace@example.com")
    finally:
        holder.join()
    waited = time.monotonic() - started
    assert seconds - 0.3 < waited < TIMEOUT_S
    assert crm.customers.get(customer.id) == customer


def test_a_lock_held_beyond_the_timeout_is_a_lock_timeout_after_about_the_timeout(
    path: str, crm: CRM
) -> None:
    """Not at once, and not ten timeouts later: crmkit does not wait the whole timeout again."""
    holder = _holding(path, TIMEOUT_S + 3)
    started = time.monotonic()
    try:
        with pytest.raises(LockTimeout) as caught:
            crm.customers.register(email="grace@example.com")
        waited = time.monotonic() - started
    finally:
        holder.join()
    assert TIMEOUT_S - 0.5 < waited < TIMEOUT_S + 2
    error = caught.value
    assert isinstance(error, ConcurrencyConflict)
    assert error.retryable
    assert "write lock" in str(error)
    assert "busy timeout" in str(error)
    assert crm.customers.find_by_email("grace@example.com") is None  # nothing stored
    assert crm.customers.register(email="grace@example.com").version == 1  # now it can


def test_a_writing_unit_of_work_holds_the_write_lock_from_its_start(path: str, crm: CRM) -> None:
    with crm.unit_of_work():  # nothing read or written yet
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
    with crm.unit_of_work(read_only=True):
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # a read-only unit of work takes no lock
            other.execute("ROLLBACK")
        finally:
            other.close()


def test_readers_are_not_blocked_by_a_writing_unit_of_work(crm: CRM) -> None:
    """In WAL mode the write lock does not block readers: every read of the front door
    answers at once, from the last commit, while a unit of work writes."""
    with crm.unit_of_work() as writer:
        writer.customers.get(CustomerId(SHARED_CUSTOMER))  # the writer reads, then writes
        crm_clock = crm.settings.clock.now()
        shared = writer.customers.get(CustomerId(SHARED_CUSTOMER))
        shared.update_profile(at=crm_clock, given_name="Uncommitted")
        writer.customers.update(shared)
        started = time.monotonic()
        assert crm.customers.get(SHARED_CUSTOMER).given_name == "Shared"
        assert [c.id for c in crm.customers.list().items] == [SHARED_CUSTOMER]
        assert [c.id for c in crm.customers.stream()] == [SHARED_CUSTOMER]
        assert crm.segments.count(tagged("seed")) == 1
        assert crm.interactions.timeline(SHARED_CUSTOMER) == []
        assert crm.loyalty.balance(SHARED_CUSTOMER).available == 1000
        assert crm.customers.find_by_email("nobody@example.com") is None
        assert time.monotonic() - started < 1.0
        writer.commit()
    assert crm.customers.get(SHARED_CUSTOMER).given_name == "Uncommitted"


def test_a_read_only_unit_of_work_does_not_block_a_writer(crm: CRM) -> None:
    with crm.unit_of_work(read_only=True) as reader:
        assert reader.customers.count() == 1  # its snapshot starts here
        started = time.monotonic()
        crm.customers.register(email="grace@example.com")
        assert time.monotonic() - started < 1.0
        assert reader.customers.count() == 1  # still its snapshot
    assert crm.customers.find_by_email("grace@example.com") is not None


def test_read_only_must_be_a_bool(crm: CRM) -> None:
    from crmkit.errors import ValidationError

    with pytest.raises(ValidationError, match="read_only"):
        crm.unit_of_work(read_only="yes")  # type: ignore[arg-type]


def test_a_lock_timeout_is_not_retried_by_the_use_cases() -> None:
    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        raise LockTimeout("transaction", "waiting for the lock", None)

    with pytest.raises(LockTimeout):
        retry_conflicts(attempt)
    assert calls == [1]


class _ServerError(Exception):
    """A driver error carrying a server's error code, as pymysql's and psycopg's do."""

    def __init__(self, *args: Any, sqlstate: str | None = None) -> None:
        super().__init__(*args)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("orig", "expected"),
    [
        (_ServerError(1205, "Lock wait timeout exceeded"), LockTimeout),
        (_ServerError("canceling statement due to lock timeout", sqlstate="55P03"), LockTimeout),
        (_ServerError(1213, "Deadlock found"), ConcurrencyConflict),
        (_ServerError("could not serialize access", sqlstate="40001"), ConcurrencyConflict),
        (sqlite3.OperationalError("database is locked"), ConcurrencyConflict),
    ],
)
def test_a_servers_lock_wait_timeout_is_a_lock_timeout(
    orig: Exception, expected: type[ConcurrencyConflict]
) -> None:
    with pytest.raises(ConcurrencyConflict) as caught, storage_errors("writing"):
        raise exc.OperationalError("UPDATE t SET x = 1", {}, orig)
    assert type(caught.value) is expected
    assert caught.value.retryable
