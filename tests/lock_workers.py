"""Workers of the SQLite locking tests, importable by ``spawn``-ed processes: each opens its
own CRM on the file, makes the documented writes of a web process or a cron job, and reports
what failed (nothing should) and the longest a call took."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Any

from crmkit import CRM, Settings
from crmkit.errors import CrmError
from tests.loyalty_workers import PROGRAMME
from tests.workers import SHARED_CUSTOMER

_START: Any = None


def init_writer(start: Any) -> None:
    """Pool initializer: keep the barrier every writer (and the lock holder) waits at."""
    global _START
    _START = start


def writes(crm: CRM, worker: int, step: int) -> list[tuple[str, Any]]:
    """The calls of one round: a registration, an interaction, a consent, a redemption."""
    key = f"w{worker}-{step}"
    return [
        ("register_customer", lambda: crm.customers.register(email=f"{key}@example.com")),
        (
            "record_interaction",
            lambda: crm.interactions.record(
                SHARED_CUSTOMER, kind="note", channel="email", external_ref=key
            ),
        ),
        (
            "record_consent",
            lambda: crm.consent.record(
                SHARED_CUSTOMER,
                purpose=key.replace("-", "_"),
                channel="email",
                status="granted",
                source="lock",
            ),
        ),
        ("redeem_points", lambda: crm.loyalty.redeem(SHARED_CUSTOMER, points=1, key=key)),
    ]


def write_in_process(path: str, worker: int, rounds: int) -> tuple[int, list[str], float]:
    """A pool task: ``(pid, failures, longest call in seconds)`` after ``rounds`` rounds."""
    crm = CRM.sqlite(path, Settings(loyalty=PROGRAMME), migrate=False)
    failures: list[str] = []
    longest = 0.0
    try:
        if _START is not None:
            _START.wait(60)
        for step in range(rounds):
            for name, call in writes(crm, worker, step):
                started = time.monotonic()
                try:
                    call()
                except CrmError as error:
                    failures.append(f"{name}: {type(error).__name__}: {error}")
                longest = max(longest, time.monotonic() - started)
                time.sleep(0.05)
        return os.getpid(), failures, longest
    finally:
        if crm.store is not None:
            crm.store.dispose()


def hold_write_lock(path: str, seconds: float, started: threading.Event | None = None) -> None:
    """Take the file's write lock with a plain connection, as another program would, and
    keep it for ``seconds``."""
    connection = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        if started is not None:
            started.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
    finally:
        connection.close()
