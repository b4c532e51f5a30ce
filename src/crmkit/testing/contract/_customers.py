"""The contract of the `CustomerRepository` (``uow.customers``): add, read back, find, refuse
duplicates, update with optimistic concurrency, list, stream, stream a page."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crmkit.domain import (
    AccountId,
    AccountLink,
    Channel,
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerId,
    EmailAddress,
    PhoneNumber,
)
from crmkit.errors import ConcurrencyConflict, DuplicateCustomer, NotFound
from crmkit.testing.contract._base import ContractBase
from crmkit.testing.contract._samples import T0, OpenFor, _customer

__all__ = ["CustomerContract"]


class CustomerContract(ContractBase):
    """The `CustomerRepository` contract (``uow.customers``)."""

    def test_an_added_customer_reads_back_equal_at_version_1(self, uow: OpenFor) -> None:
        customer = _customer(1, given_name="Ada", tags={"vip"}, traits={"plan": "pro"})
        with uow() as tx:
            tx.customers.add(customer)
            tx.commit()
        with uow() as tx:
            stored = tx.customers.get(customer.id)
        assert stored == customer
        assert stored.version == 1

    def test_phone_extensions_read_back(self, uow: OpenFor) -> None:
        desk = PhoneNumber("+493012345678", "5")
        customer = _customer(1, phone=desk, other_contacts=[ContactPoint(desk, "work")])
        with uow() as tx:
            tx.customers.add(customer)
            tx.commit()
        with uow() as tx:
            stored = tx.customers.get(customer.id)
        assert stored.phone == desk
        assert stored.other_contacts[0].value == desk

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
        # Their copy is read before our commit (a storage may let only one unit of work
        # write at a time: theirs reads, then saves in a later unit).
        with uow(read_only=True) as reader, uow() as first:
            theirs = reader.customers.get(CustomerId("c001"))
            mine = first.customers.get(CustomerId("c001"))
            mine.update_profile(at=T0, given_name="Mine")
            first.customers.update(mine)
            first.commit()
        with uow() as second:
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

    def test_a_streamed_page_is_the_listed_page_built_after_the_unit_of_work(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            for n in (5, 1, 4, 2, 3):
                tx.customers.add(
                    _customer(n, tags={"vip"} if n % 2 else set(), external_ids={"shop": str(n)})
                )
            tx.customers.add(_customer(6))
            tx.commit()
        listed, streamed = [], []
        cursor: str | None = None
        while True:
            with uow() as tx:
                page = tx.customers.list(limit=4, cursor=cursor)
                customers, next_cursor = tx.customers.stream_page(limit=4, cursor=cursor)
            listed.append(page.items)
            streamed.append(tuple(customers))  # consumed once the unit of work has ended
            assert next_cursor == page.next_cursor
            if next_cursor is None:
                break
            cursor = next_cursor
        assert streamed == listed
        assert [[c.id for c in items] for items in streamed] == [
            ["c001", "c002", "c003", "c004"],
            ["c005", "c006"],
        ]

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
