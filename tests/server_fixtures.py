"""The SQL backends the reliability suites run on, each with a private server database.

Other suites drop the crmkit tables of the shared test database at any time, so these
fixtures give each test module its own database on the server (SQLite needs none).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmkit.testing.databases import scratch_store
from tests.conftest import backend_url
from tests.workers import empty_database, private_database

BACKENDS = ("sqlite_file", "postgresql", "mariadb")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn."""
    return str(request.param)


@pytest.fixture(scope="module")
def server_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """A private, migrated database on the backend's server for this module (None for
    SQLite): other suites may drop the crmkit tables of the shared test database at any time."""
    if backend.startswith("sqlite"):
        yield None
        return
    with private_database(backend_url(backend, tmp_path_factory.mktemp(backend))) as url:
        scratch_store(url).dispose()
        yield url


@pytest.fixture
def url(server_database: str | None, tmp_path: Path) -> str:
    """The URL of an empty, migrated crmkit database of the backend under test."""
    if server_database is None:
        url = backend_url("sqlite_file", tmp_path)
        scratch_store(url).dispose()
        return url
    empty_database(server_database)
    return server_database
