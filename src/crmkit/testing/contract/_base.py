"""The fixtures every contract class shares: the ``store`` an adapter supplies, and what the
tests open on it."""

from __future__ import annotations

import pytest

from crmkit.app.clocks import FixedClock, SequentialIds
from crmkit.app.settings import Settings
from crmkit.domain import DomainEvent, TenantId
from crmkit.front import CRM
from crmkit.ports import Store, UnitOfWork
from crmkit.testing.contract._samples import T0, TENANT, OpenFor

__all__ = ["ContractBase"]


class ContractBase:
    """The fixtures of the contract classes. A test class supplies the adapter by overriding
    ``store``; the rest derive from it."""

    @pytest.fixture
    def store(self) -> Store:
        """Override: return (or yield, to clean up after) a store on fresh, empty storage.

        Returns:
            A `crmkit.ports.Store`: ``unit_of_work(tenant, publish=None, *,
            read_only=False)`` and ``outbox(*, tenant=None)``, as `InMemoryStore` and
            `SqlStore` have.
        """
        pytest.fail("override the store fixture to supply your adapter")

    @pytest.fixture
    def published(self) -> list[DomainEvent]:
        """The events published by units of work opened with ``uow``.

        Returns:
            A list the units of work append to after each commit.
        """
        return []

    @pytest.fixture
    def uow(self, store: Store, published: list[DomainEvent]) -> OpenFor:
        """Opens units of work on ``store`` that record what they publish in ``published``.

        Returns:
            ``(tenant="alpha", *, read_only=False) -> UnitOfWork``.
        """

        def open_for(tenant: TenantId = TENANT, *, read_only: bool = False) -> UnitOfWork:
            return store.unit_of_work(tenant, published.extend, read_only=read_only)

        return open_for

    @pytest.fixture
    def crm(self, store: Store) -> CRM:
        """A CRM on ``store``, with a fixed clock and sequential ids.

        Returns:
            The CRM, on tenant ``alpha``.
        """
        return CRM(store, Settings(tenant=TENANT, clock=FixedClock(T0), ids=SequentialIds()))
