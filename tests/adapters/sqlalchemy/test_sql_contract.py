"""The SQL adapter passes the adapter contract suite on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmkit.adapters.sqlalchemy import SqlStore
from crmkit.testing.contract import AdapterContract
from crmkit.testing.databases import scratch_store
from tests.conftest import backend_url


class _SqlContract(AdapterContract):
    backend = ""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqlStore]:
        store = scratch_store(backend_url(self.backend, tmp_path))
        yield store
        store.dispose()


class TestSqliteFile(_SqlContract):
    backend = "sqlite_file"


class TestSqliteScratch(_SqlContract):
    backend = "sqlite_scratch"


class TestPostgreSQL(_SqlContract):
    backend = "postgresql"


class TestMariaDB(_SqlContract):
    backend = "mariadb"
