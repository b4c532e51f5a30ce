"""The adapter contract suite: what every storage adapter must do, as pytest tests.

To prove an adapter, subclass `AdapterContract` in a test module, name the class
``Test…`` and override the ``open_unit_of_work`` fixture so that it returns a function
``(tenant, publish) -> UnitOfWork`` over fresh, empty storage (yield it to clean up after):

```python
class TestMyAdapter(AdapterContract):
    @pytest.fixture
    def open_unit_of_work(self):
        store = MyStore.create_empty()
        yield store.unit_of_work
        store.drop()
```

Every adapter crmkit ships runs this same class, so a third-party adapter is held to
exactly the standard of the built-in ones.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from crmkit.app.clocks import FixedClock, SequentialIds
from crmkit.app.context import OpenUnitOfWork
from crmkit.domain import (
    Account,
    AccountId,
    AccountLink,
    Channel,
    ConsentRecord,
    Customer,
    CustomerId,
    CustomerRegistered,
    DomainEvent,
    EmailAddress,
    Interaction,
    InteractionId,
    InteractionKind,
    Money,
    TenantId,
)
from crmkit.errors import (
    ConcurrencyConflict,
    DuplicateAccount,
    DuplicateCustomer,
    IdempotencyConflict,
    NotFound,
    UsageError,
)
from crmkit.front import CRM
from crmkit.ports import UnitOfWork

__all__ = ["AdapterContract"]

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TENANT = TenantId("alpha")
OTHER = TenantId("beta")

#: Opens a unit of work on a tenant (``alpha`` by default).
OpenFor = Callable[..., UnitOfWork]


def _customer(n: int, **profile: object) -> Customer:
    return Customer.register(
        CustomerId(f"c{n:03d}"),
        at=T0,
        email=EmailAddress(f"person{n}@example.com"),
        **profile,  # type: ignore[arg-type]
    )


def _interaction(n: int, customer: str, minutes: int, **fields: object) -> Interaction:
    values: dict[str, object] = {
        "kind": InteractionKind.PURCHASE,
        "channel": Channel.WEB,
        "amount": Money(100 * n, "EUR"),
        **fields,
    }
    return Interaction(
        id=InteractionId(f"i{n:03d}"),
        customer_id=CustomerId(customer),
        occurred_at=T0 + timedelta(minutes=minutes),
        **values,  # type: ignore[arg-type]
    )


class AdapterContract:
    """The repository and unit-of-work contract. Subclass it and override
    ``open_unit_of_work``."""

    @pytest.fixture
    def open_unit_of_work(self) -> OpenUnitOfWork:
        """Override: return (or yield) ``(tenant, publish) -> UnitOfWork`` on empty storage."""
        pytest.fail("override the open_unit_of_work fixture to supply your adapter")

    @pytest.fixture
    def published(self) -> list[DomainEvent]:
        """The events published by units of work opened with ``uow``."""
        return []

    @pytest.fixture
    def uow(self, open_unit_of_work: OpenUnitOfWork, published: list[DomainEvent]) -> OpenFor:
        """Opens units of work (tenant ``alpha`` unless given) that record what they publish."""

        def open_for(tenant: TenantId = TENANT) -> UnitOfWork:
            return open_unit_of_work(tenant, published.extend)

        return open_for

    @pytest.fixture
    def crm(self, open_unit_of_work: OpenUnitOfWork) -> CRM:
        """A CRM on the adapter, with a fixed clock and sequential ids."""
        return CRM(open_unit_of_work, tenant=TENANT, clock=FixedClock(T0), ids=SequentialIds())

    # Customers

    def test_an_added_customer_reads_back_equal_at_version_1(self, uow: OpenFor) -> None:
        customer = _customer(1, given_name="Ada", tags={"vip"}, traits={"plan": "pro"})
        with uow() as tx:
            tx.customers.add(customer)
            tx.commit()
        with uow() as tx:
            stored = tx.customers.get(customer.id)
        assert stored == customer
        assert stored.version == 1

    def test_getting_an_unknown_customer_raises_not_found(self, uow: OpenFor) -> None:
        with uow() as tx, pytest.raises(NotFound):
            tx.customers.get(CustomerId("nobody"))

    def test_customers_are_found_by_email_and_external_id(self, uow: OpenFor) -> None:
        customer = _customer(1, external_ids={"shop": "42"})
        with uow() as tx:
            tx.customers.add(customer)
            tx.commit()
        with uow() as tx:
            by_email = tx.customers.find_by_email(EmailAddress("PERSON1@example.com"))
            by_ref = tx.customers.find_by_external_id("shop", "42")
            assert by_email is not None
            assert by_ref is not None
            assert by_email.id == by_ref.id == customer.id
            assert tx.customers.find_by_email(EmailAddress("else@example.com")) is None
            assert tx.customers.find_by_external_id("shop", "43") is None
            assert tx.customers.find_by_external_id("crm", "42") is None

    def test_a_second_customer_with_the_same_email_is_refused(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        twin = Customer.register(
            CustomerId("c999"), at=T0, email=EmailAddress("person1@example.com")
        )
        with uow() as tx, pytest.raises(DuplicateCustomer):
            tx.customers.add(twin)
            tx.commit()
        with uow() as tx:
            assert tx.customers.find(CustomerId("c999")) is None

    def test_a_second_customer_with_the_same_external_id_is_refused(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1, external_ids={"shop": "42"}))
            tx.commit()
        with uow() as tx, pytest.raises(DuplicateCustomer):
            tx.customers.add(_customer(2, external_ids={"shop": "42"}))
            tx.commit()

    def test_an_update_bumps_the_version_and_is_read_back(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        with uow() as tx:
            customer = tx.customers.get(CustomerId("c001"))
            customer.update_profile(at=T0, family_name="Lovelace", tags={"a", "b"})
            tx.customers.update(customer)
            tx.commit()
        with uow() as tx:
            stored = tx.customers.get(CustomerId("c001"))
        assert stored.version == 2
        assert stored.family_name == "Lovelace"
        assert stored.tags == {"a", "b"}

    def test_a_stale_update_raises_a_retryable_conflict_and_changes_nothing(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        with uow() as first, uow() as second:
            mine = first.customers.get(CustomerId("c001"))
            theirs = second.customers.get(CustomerId("c001"))
            mine.update_profile(at=T0, given_name="Mine")
            first.customers.update(mine)
            first.commit()
            theirs.update_profile(at=T0, given_name="Theirs")
            with pytest.raises(ConcurrencyConflict) as caught:
                second.customers.update(theirs)
                second.commit()
            assert caught.value.retryable
        with uow() as tx:
            stored = tx.customers.get(CustomerId("c001"))
        assert (stored.given_name, stored.version) == ("Mine", 2)

    def test_updating_an_email_frees_the_old_one(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        with uow() as tx:
            customer = tx.customers.get(CustomerId("c001"))
            customer.update_profile(at=T0, email=EmailAddress("new@example.com"))
            tx.customers.update(customer)
            tx.commit()
        with uow() as tx:
            assert tx.customers.find_by_email(EmailAddress("person1@example.com")) is None
            tx.customers.add(
                Customer.register(
                    CustomerId("c002"), at=T0, email=EmailAddress("person1@example.com")
                )
            )
            tx.commit()

    def test_listing_pages_through_every_customer_once(self, uow: OpenFor) -> None:
        with uow() as tx:
            for n in range(1, 8):
                tx.customers.add(_customer(n, tags={"even"} if n % 2 == 0 else set()))
            tx.commit()
        seen: list[str] = []
        cursor = None
        with uow() as tx:
            while True:
                page = tx.customers.list(limit=3, cursor=cursor)
                seen.extend(c.id for c in page.items)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            even = tx.customers.list(tag="even")
            assert tx.customers.count() == 7
        assert seen == [f"c{n:03d}" for n in range(1, 8)]
        assert [c.id for c in even.items] == ["c002", "c004", "c006"]

    def test_listing_by_account_finds_its_contacts(self, uow: OpenFor) -> None:
        link = AccountLink(AccountId("a1"), "billing")
        with uow() as tx:
            tx.customers.add(_customer(1, account=link))
            tx.customers.add(_customer(2))
            tx.commit()
        with uow() as tx:
            page = tx.customers.list(account_id=AccountId("a1"))
        assert [c.id for c in page.items] == ["c001"]
        assert page.items[0].account == link

    def test_streaming_yields_every_customer_in_id_order(self, uow: OpenFor) -> None:
        with uow() as tx:
            for n in (3, 1, 2):
                tx.customers.add(_customer(n))
            tx.commit()
        with uow() as tx:
            assert [c.id for c in tx.customers.stream(batch_size=2)] == ["c001", "c002", "c003"]

    def test_consent_history_round_trips(self, uow: OpenFor) -> None:
        grant = ConsentRecord("marketing", Channel.EMAIL, "granted", T0, "signup_form")
        withdraw = ConsentRecord(
            "marketing", None, "withdrawn", T0 + timedelta(days=1), "unsubscribe"
        )
        with uow() as tx:
            tx.customers.add(_customer(1, consents=[grant]))
            tx.commit()
        with uow() as tx:
            customer = tx.customers.get(CustomerId("c001"))
            customer.record_consent(withdraw, at=T0)
            tx.customers.update(customer)
            tx.commit()
        with uow() as tx:
            stored = tx.customers.get(CustomerId("c001"))
        assert stored.consents == (grant, withdraw)
        assert stored.may_contact(Channel.EMAIL, "marketing", T0)
        assert not stored.may_contact(Channel.EMAIL, "marketing", T0 + timedelta(days=2))

    # Units of work

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

    # Interactions

    def test_a_timeline_is_ordered_and_filtered(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.interactions.add(_interaction(3, "c001", 30, channel=Channel.EMAIL))
            tx.interactions.add(_interaction(1, "c001", 10))
            tx.interactions.add(_interaction(2, "c001", 20, kind=InteractionKind.NOTE, amount=None))
            tx.interactions.add(_interaction(4, "c002", 15))
            tx.commit()
        with uow() as tx:
            timeline = tx.interactions.timeline(CustomerId("c001"))
            assert [i.id for i in timeline] == ["i001", "i002", "i003"]
            newest = tx.interactions.timeline(CustomerId("c001"), newest_first=True, limit=2)
            assert [i.id for i in newest] == ["i003", "i002"]
            web = tx.interactions.timeline(CustomerId("c001"), channels={Channel.WEB})
            assert [i.id for i in web] == ["i001", "i002"]
            notes = tx.interactions.timeline(CustomerId("c001"), kinds={"note"})
            assert [i.id for i in notes] == ["i002"]
            window = tx.interactions.timeline(
                CustomerId("c001"),
                since=T0 + timedelta(minutes=10),
                until=T0 + timedelta(minutes=30),
            )
            assert [i.id for i in window] == ["i001", "i002"]  # since inclusive, until exclusive

    def test_an_interaction_reads_back_equal(self, uow: OpenFor) -> None:
        original = _interaction(
            1,
            "c001",
            5,
            metadata={"sku": "A-1", "qty": 2, "gift": True},
            external_ref="order-1",
            owner="alice",
            team="sales",
            campaign="spring",
            amount=Money(-123456789, "JPY"),
        )
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.interactions.add(original)
            tx.commit()
        with uow() as tx:
            assert tx.interactions.get(original.id) == original
            assert tx.interactions.find_by_external_ref("order-1") == original
            assert tx.interactions.find_by_external_ref("order-2") is None
            with pytest.raises(NotFound):
                tx.interactions.get(InteractionId("missing"))

    def test_a_second_interaction_with_the_same_external_ref_is_refused(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.interactions.add(_interaction(1, "c001", 0, external_ref="order-1"))
            tx.commit()
        with uow() as tx, pytest.raises(IdempotencyConflict):
            tx.interactions.add(_interaction(2, "c001", 0, external_ref="order-1"))
            tx.commit()
        with uow() as tx:
            assert tx.interactions.count() == 1

    def test_streaming_interactions_yields_all_in_time_order(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            for n, minute in ((1, 30), (2, 10), (3, 20)):
                tx.interactions.add(_interaction(n, "c001", minute))
            tx.commit()
        with uow() as tx:
            assert [i.id for i in tx.interactions.stream(batch_size=2)] == ["i002", "i003", "i001"]

    # Accounts

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
        with uow() as first, uow() as second:
            mine = first.accounts.get(AccountId("a1"))
            theirs = second.accounts.get(AccountId("a1"))
            mine.update(at=T0, name="Acme GmbH")
            first.accounts.update(mine)
            first.commit()
            theirs.update(at=T0, name="Acme Inc")
            with pytest.raises(ConcurrencyConflict):
                second.accounts.update(theirs)
                second.commit()
        with uow() as tx:
            assert tx.accounts.get(AccountId("a1")).name == "Acme GmbH"

    # Tenancy

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

    # Through the front door

    def test_the_front_door_works_end_to_end(self, crm: CRM) -> None:
        ada = crm.register_customer(email="ada@example.com", given_name="Ada")
        crm.record_interaction(
            ada.id, kind="purchase", channel="web", amount=Money(500, "EUR"), external_ref="o-1"
        )
        crm.record_interaction(
            ada.id, kind="purchase", channel="web", amount=Money(500, "EUR"), external_ref="o-1"
        )
        assert len(crm.timeline(ada.id)) == 1
        assert crm.find_customer_by_email("ADA@example.com") == crm.get_customer(ada.id)
        assert crm.for_tenant("beta").find_customer_by_email("ada@example.com") is None
