"""Workers of the loyalty concurrency tests, importable by ``spawn``-ed processes: each
opens its own CRM from a URL and reports outcomes as text."""

from __future__ import annotations

import os
from typing import Any

from crmkit import CRM, Money, Settings
from crmkit.errors import ConcurrencyConflict, InsufficientPoints
from crmkit.loyalty import Programme, SpendRule

#: The programme every worker and test uses (points available at once, no expiry).
PROGRAMME = Programme("club", [SpendRule("spend", 1, Money.of("1.00", "EUR"))])

_START: Any = None


def init_redeemer(start: Any) -> None:
    """Pool initializer: keep the barrier the workers wait at before redeeming."""
    global _START
    _START = start


def redeem(crm: CRM, customer_id: str, points: int, tries: int) -> list[str]:
    """Redeem ``points`` ``tries`` times; each outcome is ``"ok"`` or the error's type."""
    outcomes = []
    for _ in range(tries):
        try:
            crm.loyalty.redeem(customer_id, points=points)
            outcomes.append("ok")
        except (InsufficientPoints, ConcurrencyConflict) as error:
            outcomes.append(type(error).__name__)
    return outcomes


def redeem_in_process(url: str, customer_id: str, points: int, tries: int) -> tuple[int, list[str]]:
    """A pool task: open the CRM, wait for every worker, redeem; ``(pid, outcomes)``."""
    crm = CRM.from_url(url, Settings(loyalty=PROGRAMME), migrate=False)
    try:
        if _START is not None:
            _START.wait(60)
        return os.getpid(), redeem(crm, customer_id, points, tries)
    finally:
        if crm.store is not None:
            crm.store.dispose()
