"""Fixtures shared by crmkit's own tests: the SQL backends to run against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
