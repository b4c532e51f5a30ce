"""The in-memory adapter passes the adapter contract suite."""

from __future__ import annotations

import pytest

from crmkit.adapters.memory import InMemoryStore
from crmkit.app.context import OpenUnitOfWork
from crmkit.testing._contract_lookups import OutboxOf
from crmkit.testing.contract import AdapterContract


class TestInMemoryAdapter(AdapterContract):
    @pytest.fixture
    def store(self) -> InMemoryStore:
        return InMemoryStore()

    @pytest.fixture
    def open_unit_of_work(self, store: InMemoryStore) -> OpenUnitOfWork:
        return store.unit_of_work

    @pytest.fixture
    def outbox_of(self, store: InMemoryStore) -> OutboxOf:
        return lambda tenant: store.outbox(tenant=tenant)
