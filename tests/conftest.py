"""Fixtures shared by crmkit's own tests: the SQL backends to run against."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from crmkit import CRM, FixedClock, SequentialIds, Settings
from crmkit.testing.databases import MYSQL_URL_ENV, POSTGRES_URL_ENV, scratch_store, server_url

#: Backend name -> how to get its URL (None: skip, with the reason).
BACKENDS = ("sqlite_file", "sqlite_scratch", "postgresql", "mariadb")
SERVER_ENV = {"postgresql": POSTGRES_URL_ENV, "mariadb": MYSQL_URL_ENV}


def backend_url(backend: str, tmp_path: Path) -> str:
    """The URL of ``backend``, or skip the test saying how to enable it."""
    if backend == "sqlite_file":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    if backend == "sqlite_scratch":
        return "sqlite:///:memory:"
    env = SERVER_ENV[backend]
    url = server_url(env)
    if url is None:
        pytest.skip(f"{backend} tests need a server: set {env} to its SQLAlchemy URL")
    return url


@pytest.fixture(params=BACKENDS)
def sql_backend(request: pytest.FixtureRequest) -> str:
    """Each SQL backend in turn."""
    return str(request.param)


@pytest.fixture
def sql_url(sql_backend: str, tmp_path: Path) -> str:
    """The URL of an empty database of the backend under test."""
    return backend_url(sql_backend, tmp_path)


@pytest.fixture
def sql_store(sql_url: str) -> Iterator[object]:
    """An empty, migrated `SqlStore` of the backend under test."""
    store = scratch_store(sql_url)
    yield store
    store.dispose()


#: Builds a CRM on the test's store: ``make(tenant="alpha", clock=None, **options)``.
MakeCrm = Callable[..., CRM]


@pytest.fixture(params=("memory", "sqlite_file", "postgresql", "mariadb"))
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """An empty store of each adapter in turn: in memory, then each SQL backend."""
    if request.param == "memory":
        from crmkit.adapters.memory import InMemoryStore

        yield InMemoryStore()
        return
    store = scratch_store(backend_url(str(request.param), tmp_path))
    yield store
    store.dispose()


def crm_maker(store: object, start: datetime, **defaults: object) -> MakeCrm:
    """A factory of CRMs sharing ``store``, each with its own fixed clock (at ``start``) and
    sequential ids named after its tenant; ``defaults`` are further CRM options."""

    def make(tenant: str = "alpha", clock: FixedClock | None = None, **options: object) -> CRM:
        settings = {**defaults, "ids": SequentialIds(tenant), **options}
        return CRM(store, Settings(tenant=tenant, clock=clock or FixedClock(start), **settings))

    return make


@pytest.fixture
def production_handlers() -> Iterator[None]:
    """Event handler errors logged and swallowed, as in production (the plugin raises them)."""
    from crmkit.events import raise_handler_errors

    previous = raise_handler_errors(False)
    yield
    raise_handler_errors(previous)
