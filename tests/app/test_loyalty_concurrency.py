"""Parallel redemptions of one member's points, in threads and in processes, on SQLite (a
file), PostgreSQL and MariaDB: the total redeemed never exceeds what was available, every
loser gets a typed error, and the ledger and its stored balance stay whole."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest

from crmkit import CRM, Settings
from crmkit.loyalty import EntryKind
from tests.loyalty_workers import PROGRAMME, init_redeemer, redeem, redeem_in_process

WORKERS = 4
TRIES = 3
POINTS = 30
FUNDS = 100  # room for three redemptions of 30, not for twelve
TIMEOUT_S = 120


def _member(crm: CRM) -> str:
    customer = crm.customers.register(email="ada@example.com").id
    crm.loyalty.adjust(customer, FUNDS, reason="opening balance")
    return customer


def _check(crm: CRM, customer: str, outcomes: list[str]) -> None:
    counted = Counter(outcomes)
    assert set(counted) <= {"ok", "InsufficientPoints", "ConcurrencyConflict"}
    assert len(outcomes) == WORKERS * TRIES
    redeemed = counted["ok"] * POINTS
    assert 0 < redeemed <= FUNDS
    ledger = crm.loyalty.ledger(customer)
    entries = [e for e in ledger.entries if e.kind is EntryKind.REDEEM]
    assert len(entries) == counted["ok"]  # one entry per success, none half-written
    state = ledger.state()
    assert state.available == FUNDS - redeemed >= 0
    assert state.adjusted_in == state.redeemed + state.available
    stored = crm.loyalty.balance(customer)
    assert (stored.available, stored.entries, stored.version) == (
        state.available,
        len(ledger.entries),
        ledger.version,
    )


def test_threads_redeeming_one_members_points_never_overspend(url: str) -> None:
    crm = CRM.from_url(url, Settings(loyalty=PROGRAMME), migrate=False)
    try:
        customer = _member(crm)
        start = threading.Barrier(WORKERS)
        outcomes: list[str] = []
        failures: list[BaseException] = []

        def work() -> None:
            try:
                start.wait(30)
                outcomes.extend(redeem(crm, customer, POINTS, TRIES))
            except BaseException as error:  # reported below
                failures.append(error)

        threads = [threading.Thread(target=work) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT_S)
        assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
        assert failures == []
        _check(crm, customer, outcomes)
    finally:
        if crm.store is not None:
            crm.store.dispose()


@pytest.fixture(scope="module")
def redeemers() -> Iterator[ProcessPoolExecutor]:
    """Worker processes started with 'spawn', each opening its own CRM."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    with ProcessPoolExecutor(
        WORKERS, mp_context=context, initializer=init_redeemer, initargs=(start,)
    ) as pool:
        yield pool


def test_processes_redeeming_one_members_points_never_overspend(
    url: str, redeemers: ProcessPoolExecutor
) -> None:
    crm = CRM.from_url(url, Settings(loyalty=PROGRAMME), migrate=False)
    try:
        customer = _member(crm)
        tasks = [
            redeemers.submit(redeem_in_process, url, customer, POINTS, TRIES)
            for _ in range(WORKERS)
        ]
        reports = [task.result(timeout=TIMEOUT_S) for task in tasks]
        pids = {pid for pid, _ in reports}
        assert len(pids) == WORKERS
        assert os.getpid() not in pids
        _check(crm, customer, [o for _, outcomes in reports for o in outcomes])
    finally:
        if crm.store is not None:
            crm.store.dispose()
