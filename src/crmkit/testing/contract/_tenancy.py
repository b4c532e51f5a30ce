"""The contract on tenancy across ports: one tenant sees nothing of another's, and tenants
may reuse ids, emails, references and loyalty keys."""

from __future__ import annotations

import pytest

from crmkit.domain import Account, AccountId, CustomerId, EmailAddress, InteractionId
from crmkit.errors import NotFound
from crmkit.testing.contract._base import ContractBase
from crmkit.testing.contract._samples import (
    _DAY,
    CLUB,
    OTHER,
    SHOP,
    T0,
    TENANT,
    OpenFor,
    _customer,
    _hour,
    _interaction,
    _ledger,
    _referral,
)

__all__ = ["TenancyContract"]


class TenancyContract(ContractBase):
    """Tenancy across ports: nothing of one tenant is visible to another, and tenants may
    reuse ids, emails, references and loyalty keys. It uses customers, accounts,
    interactions, points ledgers and referrals; each other port's class checks its own
    tenancy."""

    def test_no_ledger_or_referral_of_one_tenant_is_visible_to_another(self, uow: OpenFor) -> None:
        with uow(TENANT) as tx:
            tx.points_ledgers.add(_ledger("c001", 1, programme=CLUB))
            tx.referrals.add(_referral(1, "c002", "c001", programme="club"))
            tx.commit()
        c001 = CustomerId("c001")
        with uow(OTHER) as tx:
            assert tx.points_ledgers.find(CLUB, c001) is None
            assert tx.points_ledgers.find_many(CLUB, [c001]) == {}
            assert tx.points_ledgers.balance("club", c001) is None
            assert tx.points_ledgers.due("club", T0 + 1000 * _DAY) == []
            assert list(tx.points_ledgers.stream_balances("club")) == []
            stolen = _ledger("c001", 1, programme=CLUB)
            stolen.version = 1
            with pytest.raises(NotFound):
                tx.points_ledgers.update(stolen)
            with pytest.raises(NotFound):
                tx.referrals.get("r001")
            assert tx.referrals.for_referee("club", c001) is None
            assert tx.referrals.by_referrer("club", CustomerId("c002")) == []
            with pytest.raises(NotFound):
                tx.referrals.update(_referral(1, "c002", "c001", programme="club", version=1))

    def test_tenants_may_reuse_ledger_and_referral_keys(self, uow: OpenFor) -> None:
        for tenant, purchase in ((TENANT, 1), (OTHER, 2)):
            with uow(tenant) as tx:
                tx.points_ledgers.add(_ledger("c001", purchase))
                tx.referrals.add(_referral(1, "c002", "c001", code=tenant))
                tx.commit()
        with uow(OTHER) as tx:
            ledger = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            assert ledger is not None
            ledger.redeem(_hour(3), "r1", points=2)
            tx.points_ledgers.update(ledger)
            referral = tx.referrals.get("r001")
            referral.qualify("i001", at=T0 + _DAY)
            tx.referrals.update(referral)
            tx.commit()
        with uow(TENANT) as tx:
            mine = tx.points_ledgers.balance("shop", CustomerId("c001"))
            assert mine is not None
            assert (mine.available, mine.version) == (1, 1)
            assert tx.referrals.get("r001") == _referral(1, "c002", "c001", code=TENANT, version=1)
        with uow(OTHER) as tx:
            assert tx.points_ledgers.balance("shop", CustomerId("c001")) == ledger.summary()
            assert tx.referrals.get("r001") == referral

    def test_nothing_of_one_tenant_is_visible_to_another(self, uow: OpenFor) -> None:
        with uow(TENANT) as tx:
            tx.customers.add(_customer(1, external_ids={"shop": "1"}))
            tx.accounts.add(
                Account.register(AccountId("a1"), name="Acme", at=T0, domain="acme.com")
            )
            tx.interactions.add(_interaction(1, "c001", 0, external_ref="order-1"))
            tx.commit()
        with uow(OTHER) as tx:
            assert tx.customers.find(CustomerId("c001")) is None
            assert tx.customers.find_by_email(EmailAddress("person1@example.com")) is None
            assert tx.customers.find_by_external_id("shop", "1") is None
            assert tx.customers.count() == 0
            assert list(tx.customers.stream()) == []
            assert tx.customers.list().items == ()
            assert tx.accounts.find(AccountId("a1")) is None
            assert tx.accounts.find_by_domain("acme.com") is None
            assert tx.interactions.count() == 0
            assert tx.interactions.find_by_external_ref("order-1") is None
            assert tx.interactions.timeline(CustomerId("c001")) == []
            with pytest.raises(NotFound):
                tx.interactions.get(InteractionId("i001"))

    def test_tenants_may_reuse_ids_emails_and_references(self, uow: OpenFor) -> None:
        for tenant in (TENANT, OTHER):
            with uow(tenant) as tx:
                tx.customers.add(_customer(1, given_name=tenant, external_ids={"shop": "1"}))
                tx.accounts.add(
                    Account.register(AccountId("a1"), name=tenant, at=T0, domain="acme.com")
                )
                tx.interactions.add(_interaction(1, "c001", 0, external_ref="order-1"))
                tx.commit()
        for tenant in (TENANT, OTHER):
            with uow(tenant) as tx:
                assert tx.customers.get(CustomerId("c001")).given_name == tenant
                assert tx.accounts.get(AccountId("a1")).name == tenant
                assert tx.interactions.count() == 1

    def test_an_update_in_one_tenant_leaves_the_other_alone(self, uow: OpenFor) -> None:
        for tenant in (TENANT, OTHER):
            with uow(tenant) as tx:
                tx.customers.add(_customer(1))
                tx.commit()
        with uow(OTHER) as tx:
            customer = tx.customers.get(CustomerId("c001"))
            customer.update_profile(at=T0, given_name="Other")
            tx.customers.update(customer)
            tx.commit()
        with uow(TENANT) as tx:
            stored = tx.customers.get(CustomerId("c001"))
            assert (stored.given_name, stored.version) == (None, 1)
