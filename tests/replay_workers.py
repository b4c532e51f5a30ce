"""Workers of the racing-replay tests, importable by ``spawn``-ed processes: each caller
makes one idempotent call and reports its answer as plain data (or the error it got)."""

from __future__ import annotations

import os
from typing import Any

from crmkit import CRM, Settings
from crmkit.errors import CrmError
from tests.loyalty_workers import PROGRAMME
from tests.workers import SHARED_CUSTOMER, interaction_content

_START: Any = None
#: The customer who refers the referees of the "refer" race.
REFERRER = "cust-referrer"

#: (outcome, details): ``("ok", the answer as comparable data)`` or ``("error", type, text)``.
Outcome = tuple[Any, ...]


def init_racer(start: Any) -> None:
    """Pool initializer: keep the barrier every racer waits at."""
    global _START
    _START = start


def open_racer_crm(url: str) -> CRM:
    """The CRM every racer uses (with the loyalty programme, for redemptions)."""
    return CRM.from_url(url, Settings(loyalty=PROGRAMME), migrate=False)


def race(crm: CRM, operation: str, key: str) -> Outcome:
    """Make one idempotent call named ``operation`` with the idempotency ``key``."""
    try:
        return ("ok", _call(crm, operation, key))
    except CrmError as error:
        return ("error", type(error).__name__, str(error))


def _call(crm: CRM, operation: str, key: str) -> Any:
    if operation == "record":
        i = crm.interactions.record(SHARED_CUSTOMER, external_ref=key, **interaction_content(key))
        return (i.id, i.customer_id, i.occurred_at, i.kind, i.channel, i.amount, i.metadata)
    if operation == "register":
        customer = crm.customers.register(external_ids={"shop": key}, given_name="Racer")
        return customer.id
    if operation == "redeem":
        entry = crm.loyalty.redeem(SHARED_CUSTOMER, points=1, key=key)
        return (entry.key, entry.points, entry.at)
    if operation == "adjust":
        entry = crm.loyalty.adjust(SHARED_CUSTOMER, 3, reason="goodwill", key=key)
        return (entry.key, entry.points, entry.at)
    if operation == "refer":  # one referee per key, referred by every racer at once
        return crm.loyalty.referrals.refer(REFERRER, key).id
    if operation == "consent":  # each racer its own purpose: every decision must be kept
        record = crm.consent.record(
            SHARED_CUSTOMER, purpose=key, channel="email", status="granted", source="racer"
        )
        return (record.purpose, record.status)
    raise AssertionError(f"unknown operation {operation!r}")  # pragma: no cover


def race_in_process(url: str, operation: str, keys: list[str]) -> tuple[int, list[Outcome]]:
    """A pool task: open the CRM, wait for every racer, make the call for each key in turn;
    ``(pid, outcomes)``."""
    crm = open_racer_crm(url)
    try:
        if _START is not None:
            _START.wait(60)
        return os.getpid(), [race(crm, operation, key) for key in keys]
    finally:
        if crm.store is not None:
            crm.store.dispose()
