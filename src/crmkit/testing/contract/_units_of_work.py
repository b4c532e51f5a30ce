"""The contract of the `UnitOfWork`: atomicity, rollback, events published after commit only,
and a unit of work refusing work outside its block."""

from __future__ import annotations

import pytest

from crmkit.domain import Account, AccountId, CustomerId, CustomerRegistered, DomainEvent
from crmkit.errors import UsageError
from crmkit.testing.contract._base import ContractBase
from crmkit.testing.contract._samples import T0, OpenFor, _customer, _interaction

__all__ = ["UnitOfWorkContract"]


class UnitOfWorkContract(ContractBase):
    """The `UnitOfWork` contract: atomicity, rollback, events published after commit
    only, and a unit of work refusing work outside its block. Besides ``uow.customers`` it
    uses ``uow.accounts`` and ``uow.interactions``."""

    def test_leaving_without_commit_stores_nothing(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.interactions.add(_interaction(1, "c001", 0))
        with uow() as tx:
            assert tx.customers.count() == 0
            assert tx.interactions.count() == 0

    def test_an_exception_inside_rolls_everything_back(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        with pytest.raises(RuntimeError), uow() as tx:
            customer = tx.customers.get(CustomerId("c001"))
            customer.update_profile(at=T0, given_name="Changed")
            tx.customers.update(customer)
            tx.customers.add(_customer(2))
            tx.accounts.add(Account.register(AccountId("a1"), name="Acme", at=T0))
            tx.interactions.add(_interaction(1, "c001", 0))
            raise RuntimeError("boom")
        with uow() as tx:
            assert tx.customers.get(CustomerId("c001")).given_name is None
            assert tx.customers.count() == 1
            assert tx.accounts.find(AccountId("a1")) is None
            assert tx.interactions.count() == 0

    def test_events_are_published_after_commit_only(
        self, uow: OpenFor, published: list[DomainEvent]
    ) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
        assert published == []
        with uow() as tx:
            tx.customers.add(_customer(2))
            tx.commit()
        assert published == [CustomerRegistered(T0, customer_id=CustomerId("c002"))]

    def test_a_unit_of_work_outside_its_block_refuses_work(self, uow: OpenFor) -> None:
        tx = uow()
        with pytest.raises(UsageError):
            tx.commit()
