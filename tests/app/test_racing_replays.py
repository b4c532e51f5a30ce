"""Idempotent calls made by several callers at once, in threads and in processes, on SQLite (a
file), PostgreSQL and MariaDB, give the documented answer and never `ConcurrencyConflict`:

- ``record_interaction`` with one ``external_ref``: one interaction is stored and every caller
  gets it back (SQLite used to answer "database is locked" to the losers);
- ``register_customer`` with one external id: one customer, every other caller gets
  `DuplicateCustomer`;
- ``redeem_points`` and ``adjust_points`` with one ``key``: one entry, every caller gets it;
- ``record_consent`` for the same customer: every decision is kept;
- ``refer_customer`` of one referee: one referral, every other caller gets `ReferralRefused`.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest

from crmkit import CRM
from crmkit.loyalty import EntryKind
from tests.replay_workers import (
    REFERRER,
    Outcome,
    init_racer,
    open_racer_crm,
    race,
    race_in_process,
)
from tests.workers import SHARED_CUSTOMER, register_shared

THREADS = 6
PROCESSES = 4
ROUNDS = 2  # keys each race goes through
TIMEOUT_S = 120
OPERATIONS = ("record", "register", "redeem", "adjust", "consent", "refer")


#: The calls only one racer wins, and the error every other racer gets.
REFUSED = {"register": "DuplicateCustomer", "refer": "ReferralRefused"}


def _keys(operation: str, racer: int) -> list[str]:
    """The keys a racer calls with: the same for every racer, except consent purposes (one
    per racer: each decision is a change of the same customer)."""
    if operation == "consent":
        return [f"purpose_{racer}_{i}" for i in range(ROUNDS)]
    return [f"{operation}-{i}" for i in range(ROUNDS)]


@pytest.fixture
def crm(url: str) -> Iterator[CRM]:
    crm = open_racer_crm(url)
    register_shared(crm)
    crm.loyalty.adjust(SHARED_CUSTOMER, 1000, reason="funds to redeem")
    for customer_id in [REFERRER, *_keys("refer", 0)]:
        crm.customers.register(customer_id=customer_id)
    yield crm
    if crm.store is not None:
        crm.store.dispose()


@pytest.fixture(scope="module")
def racers() -> Iterator[ProcessPoolExecutor]:
    """Worker processes started with 'spawn', each opening its own CRM."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    with ProcessPoolExecutor(
        PROCESSES, mp_context=context, initializer=init_racer, initargs=(start,)
    ) as pool:
        yield pool


def _in_threads(crm: CRM, operation: str) -> list[list[Outcome]]:
    start = threading.Barrier(THREADS)
    outcomes: list[list[Outcome]] = [[] for _ in range(THREADS)]

    def work(racer: int) -> None:
        start.wait(30)
        outcomes[racer] = [race(crm, operation, key) for key in _keys(operation, racer)]

    threads = [threading.Thread(target=work, args=(racer,)) for racer in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    return outcomes


def _in_processes(pool: ProcessPoolExecutor, url: str, operation: str) -> list[list[Outcome]]:
    tasks = [
        pool.submit(race_in_process, url, operation, _keys(operation, racer))
        for racer in range(PROCESSES)
    ]
    reports = [task.result(timeout=TIMEOUT_S) for task in tasks]
    assert len({pid for pid, _ in reports}) == PROCESSES
    return [outcomes for _, outcomes in reports]


def _check(crm: CRM, operation: str, outcomes: list[list[Outcome]]) -> None:
    racers = len(outcomes)
    flat = [o for racer in outcomes for o in racer]
    assert not [o for o in flat if o[0] == "error" and o[1] == "ConcurrencyConflict"], flat
    by_key = {
        key: [outcomes[r][i] for r in range(racers)] for i, key in enumerate(_keys(operation, 0))
    }
    if operation == "consent":
        assert all(o[0] == "ok" for o in flat), flat
        purposes = {c.purpose for c in crm.customers.get(SHARED_CUSTOMER).consents}
        assert purposes == {key for r in range(racers) for key in _keys(operation, r)}
        return
    if operation in REFUSED:
        for key, answers in by_key.items():
            winners = [a for a in answers if a[0] == "ok"]
            assert len(winners) == 1, answers
            assert all(a[:2] == ("error", REFUSED[operation]) for a in answers if a[0] != "ok")
            if operation == "register":
                stored = crm.customers.find_by_external_id("shop", key)
            else:
                stored = crm.loyalty.referrals.find_by_referee(key)
            assert stored is not None
            assert stored.id == winners[0][1]
        return
    for answers in by_key.values():
        assert all(a[0] == "ok" for a in answers), answers
        assert all(a == answers[0] for a in answers), answers  # the same answer, every field
    if operation == "record":
        stored = [i for i in crm.interactions.stream() if i.external_ref in by_key]
        assert sorted(i.external_ref or "" for i in stored) == sorted(by_key)
        assert {i.id for i in stored} == {answers[0][1][0] for answers in by_key.values()}
    else:
        kind = EntryKind.REDEEM if operation == "redeem" else EntryKind.ADJUST
        wanted = {f"{operation}:{key}" for key in by_key}
        entries = [e for e in crm.loyalty.ledger(SHARED_CUSTOMER).entries if e.kind is kind]
        assert sorted(e.key for e in entries if e.key in wanted) == sorted(wanted)
        assert {answers[0][1][0] for answers in by_key.values()} == wanted


@pytest.mark.parametrize("operation", OPERATIONS)
def test_threads_making_one_idempotent_call_get_the_documented_answer(
    crm: CRM, operation: str
) -> None:
    _check(crm, operation, _in_threads(crm, operation))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_processes_making_one_idempotent_call_get_the_documented_answer(
    crm: CRM, url: str, racers: ProcessPoolExecutor, operation: str
) -> None:
    _check(crm, operation, _in_processes(racers, url, operation))
