"""crmkit's pytest plugin (loaded through the ``pytest11`` entry point in every suite).

It stays light: no Hypothesis or SQLAlchemy import until a fixture is used. Fixtures:

- ``crm_clock``: a `FixedClock` at 2024-01-01 00:00 UTC that the test can move.
- ``crm_ids``: `SequentialIds` (``id-000001``, ``id-000002`` …).
- ``crm_settings``: `Settings` with both.
- ``crm``: an in-memory `CRM` with those settings, fresh for every test.

While a test runs, an event handler that raises makes the commit that published the event
raise too (`crmkit.events.raise_handler_errors`), so a broken handler fails its test instead
of only being logged; set the ini option ``crmkit_handler_errors = log`` to keep the
production behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from crmkit.app.bus import raise_handler_errors
from crmkit.app.clocks import FixedClock, SequentialIds
from crmkit.app.settings import Settings
from crmkit.front import CRM

__all__ = ["crm", "crm_clock", "crm_ids", "crm_settings"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``crmkit_handler_errors`` ini option (``raise`` or ``log``)."""
    parser.addini(
        "crmkit_handler_errors",
        "raise (default): a failing crmkit event handler fails the test; log: only log it",
        default="raise",
    )


@pytest.fixture(autouse=True)
def _crmkit_handler_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Raise event handler errors during each test, unless the ini option says ``log``."""
    wanted = str(request.config.getini("crmkit_handler_errors")).strip().lower()
    if wanted not in ("raise", "log"):
        raise pytest.UsageError("crmkit_handler_errors must be 'raise' or 'log'")
    previous = raise_handler_errors(wanted == "raise")
    yield
    raise_handler_errors(previous)


@pytest.fixture
def crm_clock() -> FixedClock:
    """A clock standing at 2024-01-01 00:00 UTC; move it with ``set`` or ``advance``."""
    return FixedClock(datetime(2024, 1, 1, tzinfo=UTC))


@pytest.fixture
def crm_ids() -> SequentialIds:
    """Predictable ids: ``id-000001``, ``id-000002`` …"""
    return SequentialIds("id")


@pytest.fixture
def crm_settings(crm_clock: FixedClock, crm_ids: SequentialIds) -> Settings:
    """`Settings` with the fixed clock and sequential ids (replace parts with
    `attrs.evolve`)."""
    return Settings(clock=crm_clock, ids=crm_ids)


@pytest.fixture
def crm(crm_settings: Settings) -> CRM:
    """A fresh in-memory CRM with ``crm_settings``."""
    return CRM.in_memory(crm_settings)
