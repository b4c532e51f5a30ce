"""Concurrent writers, in threads and in processes, on SQLite (file), PostgreSQL and MariaDB.

Every conflict must reach the host as a typed, retryable `ConcurrencyConflict` (never a raw
driver error such as ``sqlite3.OperationalError: database is locked``); work retried after a
conflict must succeed; nothing may be lost or stored twice; and the final state must equal a
serial replay of the same operations on an in-memory CRM.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from crmkit import CRM, Customer, CustomerId, Interaction
from crmkit.adapters.sqlalchemy import SqlStore
from crmkit.errors import ConcurrencyConflict
from crmkit.events import DomainEvent
from tests.workers import (
    CONSENTS_PER_WORKER,
    INCREMENTS_PER_WORKER,
    SHARED_CUSTOMER,
    TAGS_PER_WORKER,
    RetryLog,
    apply,
    concurrency_worker,
    describe,
    dispose,
    expected_refs,
    init_pool_worker,
    interaction_content,
    outbox_events,
    plain_engine,
    plan,
    register_shared,
    retrying,
    run_plan,
)

THREADS = 4
PROCESSES = 3
JOIN_TIMEOUT_S = 90


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    """A store on that database (for tests that drive units of work directly)."""
    store = SqlStore.open(url, migrate=False)
    yield store
    store.dispose()


def _check_retried(retried: list[tuple[str, str, bool]]) -> None:
    """Every error a worker retried was a retryable ConcurrencyConflict."""
    assert {name for name, _kind, _ in retried} <= {ConcurrencyConflict.__name__}, retried
    assert all(retryable for _name, _kind, retryable in retried), retried


def _interaction_facts(interaction: Interaction) -> tuple[Any, ...]:
    i = interaction
    return (i.customer_id, i.occurred_at, i.kind, i.channel, i.amount, dict(i.metadata))


def _consent_facts(customer: Customer) -> Counter[tuple[Any, ...]]:
    return Counter((c.purpose, c.channel, c.status, c.at, c.source) for c in customer.consents)


def _serial_replay(workers: int) -> tuple[Customer, list[Interaction], list[DomainEvent]]:
    """The same operations applied one after the other to a fresh in-memory CRM."""
    crm = CRM.in_memory()
    events: list[DomainEvent] = []
    crm.events.subscribe(DomainEvent, events.append)
    register_shared(crm)
    for worker in range(workers):
        for op in plan(worker):
            apply(crm, op)
    return crm.customers.get(SHARED_CUSTOMER), list(crm.interactions.stream()), events


def _check_final_state(crm: CRM, url: str, workers: int) -> None:
    customer = crm.customers.get(SHARED_CUSTOMER)
    interactions = list(crm.interactions.stream())

    # Nothing lost, nothing twice.
    tags = {f"w{w}-t{i}" for w in range(workers) for i in range(TAGS_PER_WORKER)}
    assert customer.tags == tags | {"seed"}
    assert customer.traits["counter"] == workers * INCREMENTS_PER_WORKER
    assert len(customer.consents) == workers * CONSENTS_PER_WORKER
    updates = workers * (TAGS_PER_WORKER + INCREMENTS_PER_WORKER + CONSENTS_PER_WORKER)
    assert customer.version == 1 + updates
    refs = [i.external_ref for i in interactions]
    assert sorted(refs, key=str) == sorted(expected_refs(workers))
    for interaction in interactions:
        assert interaction.external_ref is not None
        content = interaction_content(interaction.external_ref)
        assert interaction.occurred_at == content["occurred_at"]
        assert interaction.amount == content.get("amount")

    # The same state as a serial replay of the same operations.
    serial, serial_interactions, serial_events = _serial_replay(workers)
    assert customer.tags == serial.tags
    assert dict(customer.traits) == dict(serial.traits)
    assert customer.version == serial.version
    assert customer.given_name == serial.given_name
    assert _consent_facts(customer) == _consent_facts(serial)
    assert {i.external_ref: _interaction_facts(i) for i in interactions} == {
        i.external_ref: _interaction_facts(i) for i in serial_interactions
    }

    # The outbox holds exactly the events of the committed units of work.
    engine = plain_engine(url)
    try:
        stored = Counter(outbox_events(engine))
    finally:
        engine.dispose()
    assert stored == Counter((type(e).__name__, e.aggregate_id) for e in serial_events)


def test_threads_changing_one_customer_lose_nothing(
    backend: str, url: str, request: pytest.FixtureRequest
) -> None:
    crm = CRM.from_url(url, migrate=False)
    try:
        register_shared(crm)
        start = threading.Barrier(THREADS)
        logs = [RetryLog() for _ in range(THREADS)]
        failures: list[str] = []

        def work(worker: int) -> None:
            try:
                start.wait(30)
                run_plan(crm, worker, logs[worker])
            except BaseException as error:  # reported below
                failures.append(describe(error))

        threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
        assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
        assert failures == []
        for log in logs:
            _check_retried(log.retried)
        _check_final_state(crm, url, THREADS)
    finally:
        dispose(crm)


@pytest.fixture(scope="module")
def process_pool() -> Iterator[ProcessPoolExecutor]:
    """Worker processes started with 'spawn' (each opens its CRM from the URL it is given),
    shared by the backends: starting Python with SQLAlchemy and the drivers is the slow part."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    with ProcessPoolExecutor(
        PROCESSES, mp_context=context, initializer=init_pool_worker, initargs=(start,)
    ) as pool:
        yield pool


def test_processes_changing_one_customer_lose_nothing(
    backend: str, url: str, process_pool: ProcessPoolExecutor, request: pytest.FixtureRequest
) -> None:
    crm = CRM.from_url(url, migrate=False)
    try:
        register_shared(crm)
        tasks = [process_pool.submit(concurrency_worker, url, w) for w in range(PROCESSES)]
        reports = [task.result(timeout=JOIN_TIMEOUT_S) for task in tasks]
        assert [failure for _worker, _pid, _retried, failure in reports if failure] == []
        assert sorted(report[0] for report in reports) == list(range(PROCESSES))
        pids = {pid for _worker, pid, _retried, _failure in reports}
        assert len(pids) == PROCESSES
        assert os.getpid() not in pids
        for _worker, _pid, retried, _failure in reports:
            _check_retried(retried)
        _check_final_state(crm, url, PROCESSES)
    finally:
        dispose(crm)


def _tag(crm: CRM, uow: Any, customer_id: str, tag: str) -> None:
    customer = uow.customers.get(CustomerId(customer_id))
    customer.update_profile(at=crm.settings.clock.now(), tags=customer.tags | {tag})
    uow.customers.update(customer)


def test_a_stale_read_is_a_typed_retryable_conflict(store: SqlStore) -> None:
    """A copy read before another writer's commit (in a read-only unit of work that is open
    across it: SQLite lets one unit of work write at a time) cannot be saved over it."""
    crm = CRM(store)
    register_shared(crm)
    with crm.unit_of_work(read_only=True) as reader:
        stale_customer = reader.customers.get(CustomerId(SHARED_CUSTOMER))  # read: version 1
        with crm.unit_of_work() as other:
            _tag(crm, other, SHARED_CUSTOMER, "first")
            other.commit()
    with crm.unit_of_work() as stale:
        stale_customer.update_profile(at=crm.settings.clock.now(), tags={"second"})
        with pytest.raises(ConcurrencyConflict) as caught:
            stale.customers.update(stale_customer)
    assert type(caught.value) is ConcurrencyConflict  # not a driver error, nor a subclass
    assert caught.value.retryable is True

    with pytest.raises(ConcurrencyConflict) as caught:
        crm.customers.update(SHARED_CUSTOMER, expected_version=1, given_name="Stale")
    assert caught.value.retryable is True

    log = RetryLog()
    retrying(lambda: _tagged_in_new_unit(crm, SHARED_CUSTOMER, "second"), log)
    assert log.retried == []
    assert crm.customers.get(SHARED_CUSTOMER).tags == {"seed", "first", "second"}
    assert crm.customers.get(SHARED_CUSTOMER).version == 3


def _tagged_in_new_unit(crm: CRM, customer_id: str, tag: str) -> None:
    with crm.unit_of_work() as uow:
        _tag(crm, uow, customer_id, tag)
        uow.commit()


def _run_threads(*targets: Callable[[], None]) -> list[str]:
    failures: list[str] = []

    def run(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as error:  # reported to the test
            failures.append(describe(error))

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return failures


def test_crossed_writers_get_one_typed_conflict_and_the_retry_succeeds(
    backend: str, store: SqlStore
) -> None:
    """A changes X then Y while B changes Y then X, both having read before either writes:
    a deadlock on the servers (PostgreSQL 40P01, MariaDB 1213). Exactly one side loses, with
    a retryable `ConcurrencyConflict`, and retrying it succeeds. On SQLite the second unit
    of work waits for the first's write lock before it reads: both commit at once."""
    sqlite = backend.startswith("sqlite")
    crm = CRM(store)
    for name in ("x", "y"):
        crm.customers.register(customer_id=f"cust-{name}", tags=["seed"])
    read = {"a": threading.Event(), "b": threading.Event()}
    holds = {"a": threading.Event(), "b": threading.Event()}
    outcomes: dict[str, list[str]] = {"a": [], "b": []}

    def crossed(side: str, other: str, first: str, second: str) -> None:
        attempts = 0

        def once() -> None:
            nonlocal attempts
            attempts += 1
            racing = attempts == 1
            try:
                with crm.unit_of_work() as uow:
                    customer = uow.customers.get(CustomerId(first))
                    if racing:
                        # Both transactions have begun (reads never block) before either writes.
                        read[side].set()
                        read[other].wait(1 if sqlite else 30)  # SQLite: the other waits
                    customer.update_profile(
                        at=crm.settings.clock.now(), tags=customer.tags | {side}
                    )
                    try:
                        uow.customers.update(customer)
                    finally:
                        holds[side].set()
                    if racing:
                        # Give the other side the time to take its first row (it may instead
                        # be blocked by us, hence no longer wait).
                        holds[other].wait(0.5)
                    _tag(crm, uow, second, side)
                    uow.commit()
                outcomes[side].append("committed")
            except ConcurrencyConflict as error:
                outcomes[side].append(type(error).__name__)
                raise

        log = RetryLog()
        retrying(once, log)
        _check_retried(log.retried)

    failures = _run_threads(
        lambda: crossed("a", "b", "cust-x", "cust-y"),
        lambda: crossed("b", "a", "cust-y", "cust-x"),
    )
    assert failures == []
    first_tries = sorted(outcomes["a"][:1] + outcomes["b"][:1])
    expected = ["committed"] * 2 if sqlite else ["ConcurrencyConflict", "committed"]
    assert first_tries == expected, outcomes
    assert all(o[-1] == "committed" for o in outcomes.values()), outcomes
    for name in ("x", "y"):
        customer = crm.customers.get(f"cust-{name}")
        assert customer.tags == {"seed", "a", "b"}
        assert customer.version == 3


def test_racing_replays_of_one_external_ref_store_it_once(store: SqlStore) -> None:
    """A unit of work holds an uncommitted interaction with ref R while another thread records
    R: once the first commits, the second (retrying conflicts) answers with the stored one."""
    crm = CRM(store)
    register_shared(crm)
    events: list[DomainEvent] = []
    crm.events.subscribe(DomainEvent, events.append)
    content = interaction_content("race")
    racer_started = threading.Event()
    answers: list[Interaction] = []
    log = RetryLog()

    def racer() -> None:
        racer_started.set()
        answers.append(
            retrying(
                lambda: crm.interactions.record(SHARED_CUSTOMER, external_ref="race", **content),
                log,
            )
        )

    with crm.unit_of_work() as uow:
        stored = Interaction(
            id="int-first",
            customer_id=CustomerId(SHARED_CUSTOMER),
            external_ref="race",
            **content,
        )
        uow.interactions.add(stored)
        thread = threading.Thread(target=racer)
        thread.start()
        racer_started.wait(10)
        time.sleep(0.3)  # let the racer reach its insert (it blocks or conflicts there)
        uow.commit()
    thread.join(JOIN_TIMEOUT_S)
    assert not thread.is_alive()
    _check_retried(log.retried)
    assert [a.id for a in answers] == ["int-first"]
    assert [i.id for i in crm.interactions.stream()] == ["int-first"]
    assert [e for e in events if type(e).__name__ == "InteractionRecorded"] == []


def test_a_customer_is_read_from_one_snapshot(
    backend: str, store: SqlStore, request: pytest.FixtureRequest
) -> None:
    """Another writer commits between the statements that load one customer: the reader
    gets the customer before or after that change, never a mixture of the two."""
    from sqlalchemy import event

    crm = CRM(store)
    register_shared(crm)
    fired: list[str] = []

    def commit_a_change_in_between(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if fired or "FROM crmkit_customers" not in statement:
            return
        fired.append(statement)  # the customers row is read; its tags etc. are not yet
        with crm.unit_of_work() as writer:
            customer = writer.customers.get(CustomerId(SHARED_CUSTOMER))
            customer.update_profile(
                at=crm.settings.clock.now(), given_name="Changed", tags={"changed"}
            )
            writer.customers.update(customer)
            writer.commit()

    event.listen(store.engine, "after_cursor_execute", commit_a_change_in_between)
    try:
        read = crm.customers.get(SHARED_CUSTOMER)
    finally:
        event.remove(store.engine, "after_cursor_execute", commit_a_change_in_between)
    assert fired
    assert crm.customers.get(SHARED_CUSTOMER).version == 2  # the change did commit
    assert (read.version, read.given_name, set(read.tags)) in [
        (1, "Shared", {"seed"}),
        (2, "Changed", {"changed"}),
    ]


def test_an_increment_is_never_lost_to_a_torn_read(
    backend: str, store: SqlStore, request: pytest.FixtureRequest
) -> None:
    """Two increments of a trait counter, each read at version 1 with ``expected_version=1``:
    the second commits while the first is loading the customer. The first must then fail with
    `ConcurrencyConflict` (its caller retries from a fresh read); it must never report success
    without storing anything."""
    from sqlalchemy import event

    if backend.startswith("sqlite"):
        pytest.skip(
            "a writing unit of work holds SQLite's write lock from its BEGIN: no commit lands "
            "between its reads (test_sqlite_locking checks that the other writer waits)"
        )
    crm = CRM(store)
    register_shared(crm)  # counter 0, version 1
    fired: list[str] = []

    def another_increment_commits(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if fired or "FROM crmkit_customers" not in statement:
            return
        fired.append(statement)  # the first increment has read the row, not yet the traits
        with crm.unit_of_work() as other:
            customer = other.customers.get(CustomerId(SHARED_CUSTOMER))
            customer.set_traits(
                {"counter": 1}, at=crm.settings.clock.now()
            )  # 0 + 1, from version 1
            other.customers.update(customer)
            other.commit()

    seen = crm.customers.get(SHARED_CUSTOMER)
    assert (seen.version, seen.traits["counter"]) == (1, 0)
    event.listen(store.engine, "after_cursor_execute", another_increment_commits)
    try:
        with pytest.raises(ConcurrencyConflict):
            crm.customers.set_traits(
                SHARED_CUSTOMER, {"counter": 0 + 1}, expected_version=seen.version
            )
    finally:
        event.remove(store.engine, "after_cursor_execute", another_increment_commits)
    assert fired
    stored = crm.customers.get(SHARED_CUSTOMER)
    assert (stored.version, stored.traits["counter"]) == (2, 1)  # the other increment only
