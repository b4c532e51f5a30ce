"""The contract of the `AccountRepository` (``uow.accounts``)."""

from __future__ import annotations

import pytest

from crmkit.domain import Account, AccountId
from crmkit.errors import ConcurrencyConflict, DuplicateAccount
from crmkit.testing.contract._base import ContractBase
from crmkit.testing.contract._samples import T0, OpenFor

__all__ = ["AccountContract"]


class AccountContract(ContractBase):
    """The `AccountRepository` contract (``uow.accounts``)."""

    def test_accounts_round_trip_and_refuse_a_duplicate_domain(self, uow: OpenFor) -> None:
        acme = Account.register(
            AccountId("a1"), name="Acme", at=T0, domain="acme.com", size="10-49"
        )
        with uow() as tx:
            tx.accounts.add(acme)
            tx.commit()
        with uow() as tx:
            assert tx.accounts.get(AccountId("a1")) == acme
            assert tx.accounts.find_by_domain("acme.com") == acme
            with pytest.raises(DuplicateAccount):
                tx.accounts.add(
                    Account.register(AccountId("a2"), name="X", at=T0, domain="acme.com")
                )
                tx.commit()

    def test_a_stale_account_update_conflicts(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.accounts.add(Account.register(AccountId("a1"), name="Acme", at=T0))
            tx.commit()
        with uow(read_only=True) as reader, uow() as first:
            theirs = reader.accounts.get(AccountId("a1"))
            mine = first.accounts.get(AccountId("a1"))
            mine.update(at=T0, name="Acme GmbH")
            first.accounts.update(mine)
            first.commit()
        with uow() as second:
            theirs.update(at=T0, name="Acme Inc")
            with pytest.raises(ConcurrencyConflict):
                second.accounts.update(theirs)
                second.commit()
        with uow() as tx:
            assert tx.accounts.get(AccountId("a1")).name == "Acme GmbH"
