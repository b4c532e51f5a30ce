"""The in-memory adapter passes the adapter contract suite."""

from __future__ import annotations

import pytest

from crmkit.adapters.memory import InMemoryStore
from crmkit.app.context import OpenUnitOfWork
from crmkit.testing.contract import AdapterContract


class TestInMemoryAdapter(AdapterContract):
    @pytest.fixture
    def open_unit_of_work(self) -> OpenUnitOfWork:
        return InMemoryStore().unit_of_work
