"""crmkit's pytest plugin (loaded through the ``pytest11`` entry point in every suite).

It stays light: no Hypothesis or SQLAlchemy import until a fixture is used. Fixtures:

- ``crm_clock``: a `FixedClock` at 2024-01-01 00:00 UTC that the test can move.
- ``crm_ids``: `SequentialIds` (``id-000001``, ``id-000002`` …).
- ``crm``: an in-memory `CRM` using both, fresh for every test.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmkit.app.clocks import FixedClock, SequentialIds
from crmkit.front import CRM

__all__ = ["crm", "crm_clock", "crm_ids"]


@pytest.fixture
def crm_clock() -> FixedClock:
    """A clock standing at 2024-01-01 00:00 UTC; move it with ``set`` or ``advance``."""
    return FixedClock(datetime(2024, 1, 1, tzinfo=UTC))


@pytest.fixture
def crm_ids() -> SequentialIds:
    """Predictable ids: ``id-000001``, ``id-000002`` …"""
    return SequentialIds("id")


@pytest.fixture
def crm(crm_clock: FixedClock, crm_ids: SequentialIds) -> CRM:
    """A fresh in-memory CRM with the fixed clock and sequential ids."""
    return CRM.in_memory(clock=crm_clock, ids=crm_ids)
