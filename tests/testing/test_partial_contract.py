"""An adapter that implements only some ports runs only their contract classes.

The store here hands out units of work whose only repositories are customers, accounts and
interactions: the ports `CustomerContract` and `UnitOfWorkContract` need. It passes those
two classes, and would fail the ports it lacks, which it does not run.
"""

from __future__ import annotations

from typing import Any

import pytest

from crmkit.adapters.memory import InMemoryStore
from crmkit.domain import TenantId
from crmkit.ports import Outbox, UnitOfWork
from crmkit.testing.contract import (
    AdapterContract,
    ContractBase,
    CustomerContract,
    PointsLedgerContract,
    UnitOfWorkContract,
)

#: What the partial store's units of work keep; every other repository is missing.
_KEPT = frozenset({"tenant", "commit", "rollback", "customers", "accounts", "interactions"})


class _Partial:
    """A unit of work that lets through only the repositories in `_KEPT`."""

    def __init__(self, inner: UnitOfWork) -> None:
        self._inner = inner

    def __enter__(self) -> _Partial:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        if name not in _KEPT:
            raise AttributeError(f"this store has no {name}")
        return getattr(self._inner, name)


class _CustomerStore:
    """A store of customers (with their accounts and interactions) and nothing else."""

    def __init__(self) -> None:
        self._inner = InMemoryStore()

    def unit_of_work(
        self, tenant: TenantId, publish: Any = None, *, read_only: bool = False
    ) -> UnitOfWork:
        opened = self._inner.unit_of_work(tenant, publish, read_only=read_only)
        return _Partial(opened)

    def outbox(self, *, tenant: str | None = None) -> Outbox:
        return self._inner.events.outbox(tenant=tenant)


class TestACustomerOnlyStore(CustomerContract, UnitOfWorkContract):
    @pytest.fixture
    def store(self) -> _CustomerStore:
        return _CustomerStore()


def test_the_partial_store_really_lacks_the_other_ports() -> None:
    with _CustomerStore().unit_of_work(TenantId("alpha")) as tx, pytest.raises(AttributeError):
        tx.points_ledgers  # noqa: B018  (the attribute access is the test)


def test_each_port_class_carries_only_its_own_tests() -> None:
    def tests_of(cls: type) -> set[str]:
        return {name for name in dir(cls) if name.startswith("test_")}

    customers, ledgers = tests_of(CustomerContract), tests_of(PointsLedgerContract)
    assert customers
    assert ledgers
    assert not customers & ledgers
    assert not tests_of(ContractBase)
    assert customers | ledgers | tests_of(UnitOfWorkContract) <= tests_of(AdapterContract)
