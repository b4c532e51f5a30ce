"""The in-memory adapter passes the adapter contract suite."""

from __future__ import annotations

import pytest

from crmkit.adapters.memory import InMemoryStore
from crmkit.testing.contract import AdapterContract


class TestInMemoryAdapter(AdapterContract):
    @pytest.fixture
    def store(self) -> InMemoryStore:
        return InMemoryStore()
