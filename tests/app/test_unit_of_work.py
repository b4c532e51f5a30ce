"""The unit of work: all of it commits or nothing does; events are published after commit."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import (
    CRM,
    Account,
    AccountId,
    Channel,
    ConsentRecord,
    Customer,
    CustomerId,
    EmailAddress,
    FixedClock,
    Interaction,
    InteractionId,
    Money,
    SequentialIds,
    Settings,
)
from crmkit.errors import ConcurrencyConflict, CrmError, UsageError
from crmkit.events import AccountRegistered, CustomerRegistered, DomainEvent
from crmkit.serialization import unstructure
from tests.strategies import T0

EMAILS = [f"{name}@example.com" for name in ("ada", "bob", "cy")]
SHOP_IDS = ["1", "2"]
DOMAINS = ["acme.com", "globex.com"]
REFS = ["order-1", "order-2", "order-3"]


class Boom(Exception):
    """The failure raised inside a unit of work."""


def snapshot(crm: CRM) -> dict[str, Any]:
    """Everything a reader of the tenant can observe, as plain data."""
    with crm.unit_of_work() as uow:
        return {
            "customers": [unstructure(c) for c in uow.customers.stream()],
            "accounts": [unstructure(a) for a in uow.accounts.stream()],
            "interactions": [unstructure(i) for i in uow.interactions.stream()],
            "counts": (uow.customers.count(), uow.interactions.count()),
            "by_email": {e: _id(uow.customers.find_by_email(EmailAddress(e))) for e in EMAILS},
            "by_shop_id": {r: _id(uow.customers.find_by_external_id("shop", r)) for r in SHOP_IDS},
            "by_domain": {d: _id(uow.accounts.find_by_domain(d)) for d in DOMAINS},
            "by_ref": {r: _id(uow.interactions.find_by_external_ref(r)) for r in REFS},
        }


def _id(found: Customer | Account | Interaction | None) -> str | None:
    return None if found is None else found.id


def maybe(value: Any) -> st.SearchStrategy[Any]:
    return st.none() | st.just(value)


setup_steps = st.lists(
    st.one_of(
        st.tuples(st.just("customer"), st.sampled_from(EMAILS), st.sampled_from(SHOP_IDS)),
        st.tuples(st.just("account"), st.sampled_from(DOMAINS)),
        st.tuples(st.just("interaction"), st.integers(0, 5), st.none() | st.sampled_from(REFS)),
    ),
    max_size=6,
)

changes = st.lists(
    st.one_of(
        st.tuples(st.just("add_customer"), st.sampled_from(EMAILS), st.sampled_from(SHOP_IDS)),
        st.tuples(st.just("profile"), st.integers(0, 5), st.sampled_from(EMAILS)),
        st.tuples(st.just("traits"), st.integers(0, 5), st.sampled_from(["free", "pro"])),
        st.tuples(st.just("consent"), st.integers(0, 5), st.sampled_from(["granted", "withdrawn"])),
        st.tuples(st.just("add_account"), st.sampled_from(DOMAINS)),
        st.tuples(st.just("update_account"), st.integers(0, 5), st.sampled_from(DOMAINS)),
        st.tuples(st.just("interaction"), st.integers(0, 5), st.none() | st.sampled_from(REFS)),
    ),
    min_size=1,
    max_size=8,
)


def set_up(crm: CRM, steps: list[tuple[Any, ...]]) -> None:
    """Store an existing state through the front door (refused steps are skipped)."""
    for step in steps:
        customers = [c.id for c in crm.customers.stream()]
        try:
            if step[0] == "customer":
                crm.customers.register(email=step[1], external_ids={"shop": step[2]})
            elif step[0] == "account":
                crm.accounts.register(name="Acme", domain=step[1])
            elif customers:
                crm.interactions.record(
                    customers[step[1] % len(customers)],
                    kind="purchase",
                    channel="web",
                    amount=Money(100, "EUR"),
                    external_ref=step[2],
                )
        except CrmError:
            pass


def change(crm: CRM, uow: Any, step: tuple[Any, ...], n: int) -> None:
    """Apply one change through the unit of work's repositories."""
    customers = [c.id for c in uow.customers.stream()]
    accounts = [a.id for a in uow.accounts.stream()]
    at = crm.settings.clock.now()
    kind = step[0]
    if kind == "add_customer":
        uow.customers.add(
            Customer.register(
                CustomerId(f"new-{n}"),
                at=at,
                email=EmailAddress(step[1]),
                external_ids={"shop": step[2]},
            )
        )
    elif kind == "add_account":
        uow.accounts.add(Account.register(AccountId(f"new-{n}"), name="New", at=at, domain=step[1]))
    elif kind == "update_account" and accounts:
        account = uow.accounts.get(accounts[step[1] % len(accounts)])
        account.update(at=at, name=f"Renamed {n}", domain=step[2])
        uow.accounts.update(account)
    elif kind == "interaction" and customers:
        uow.interactions.add(
            Interaction(
                id=InteractionId(f"new-{n}"),
                customer_id=customers[step[1] % len(customers)],
                occurred_at=at,
                kind="note",
                channel=Channel.PHONE,
                external_ref=step[2],
            )
        )
    elif customers:
        customer = uow.customers.get(customers[step[1] % len(customers)])
        if kind == "profile":
            customer.update_profile(at=at, given_name=f"Name {n}", email=EmailAddress(step[2]))
        elif kind == "traits":
            customer.set_traits({"plan": step[2]}, at=at)
        else:
            customer.record_consent(
                ConsentRecord("marketing", Channel.EMAIL, step[2], at, "test"), at=at
            )
        uow.customers.update(customer)


class TestAtomicity:
    """An exception inside a unit of work leaves every repository as it was."""

    @given(setup_steps, changes)
    def test_an_exception_inside_leaves_every_repository_as_before(
        self, existing: list[tuple[Any, ...]], steps: list[tuple[Any, ...]]
    ) -> None:
        """Whatever was staged (adds, updates, interactions, refused changes), raising
        inside the block stores nothing and publishes nothing."""
        clock = FixedClock(T0)
        crm = CRM.in_memory(Settings(clock=clock, ids=SequentialIds()))
        set_up(crm, existing)
        published: list[DomainEvent] = []
        crm.events.subscribe(DomainEvent, published.append)
        before = snapshot(crm)
        clock.advance(timedelta(days=1))

        with pytest.raises(Boom), crm.unit_of_work() as uow:
            for n, step in enumerate(steps):
                with contextlib.suppress(CrmError):  # refused; the others stay staged
                    change(crm, uow, step, n)
            raise Boom

        assert snapshot(crm) == before
        assert published == []

    def test_leaving_the_block_without_commit_stores_nothing(self, crm: CRM) -> None:
        """Forgetting to commit is a rollback, not a partial save."""
        with crm.unit_of_work() as uow:
            uow.customers.add(Customer.register(CustomerId("c1"), at=T0))
        assert crm.customers.list().items == ()

    def test_a_conflict_at_commit_stores_nothing_of_the_unit(self, crm: CRM) -> None:
        """When one change is stale, the whole unit fails: its other changes are dropped too."""
        ada = crm.customers.register(email="ada@example.com")
        with crm.unit_of_work() as mine:
            stale = mine.customers.get(ada.id)
            crm.customers.update(ada.id, given_name="Theirs")
            mine.customers.add(Customer.register(CustomerId("c2"), at=T0))
            stale.update_profile(at=T0, given_name="Mine")
            with pytest.raises(ConcurrencyConflict):
                mine.customers.update(stale)
                mine.commit()
        assert crm.customers.get(ada.id).given_name == "Theirs"
        assert [c.id for c in crm.customers.stream()] == [ada.id]

    def test_a_stale_unit_is_refused_at_commit_and_is_retryable(self, crm: CRM) -> None:
        """A version check at commit time catches a writer who saved after our read."""
        ada = crm.customers.register(email="ada@example.com")
        with crm.unit_of_work() as mine:
            customer = mine.customers.get(ada.id)
            customer.update_profile(at=T0, given_name="Mine")
            mine.customers.update(customer)
            crm.customers.update(ada.id, family_name="Theirs")
            with pytest.raises(ConcurrencyConflict) as caught:
                mine.commit()
        assert caught.value.retryable
        stored = crm.customers.get(ada.id)
        assert (stored.given_name, stored.family_name) == (None, "Theirs")

    def test_objects_handed_out_are_copies(self, crm: CRM) -> None:
        """Changing a loaded customer without saving it changes nothing stored."""
        ada = crm.customers.register(email="ada@example.com")
        loaded = crm.customers.get(ada.id)
        loaded.update_profile(at=T0, given_name="Changed")
        assert crm.customers.get(ada.id).given_name is None


class TestEvents:
    """Events go to subscribers after a successful commit, and never otherwise."""

    def test_events_are_published_after_commit_only(self, crm: CRM) -> None:
        """A rolled-back registration publishes nothing; a committed one publishes its event."""
        published: list[DomainEvent] = []
        crm.events.subscribe(DomainEvent, published.append)
        with crm.unit_of_work() as uow:
            uow.customers.add(Customer.register(CustomerId("c1"), at=T0))
        assert published == []
        with crm.unit_of_work() as uow:
            uow.customers.add(Customer.register(CustomerId("c2"), at=T0))
            assert published == []
            events = uow.commit()
        assert published == events == [CustomerRegistered(T0, customer_id=CustomerId("c2"))]

    def test_a_change_that_is_never_saved_is_never_announced(self, crm: CRM) -> None:
        """Only stored changes produce events: a loaded customer changed in memory but not
        passed to ``update`` publishes nothing when the unit commits something else."""
        ada = crm.customers.register(email="ada@example.com")
        published: list[DomainEvent] = []
        crm.events.subscribe(DomainEvent, published.append)
        with crm.unit_of_work() as uow:
            loaded = uow.customers.get(ada.id)
            loaded.update_profile(at=T0, given_name="Never saved")
            uow.accounts.add(Account.register(AccountId("a1"), name="Acme", at=T0))
            uow.commit()
        assert crm.customers.get(ada.id).given_name is None
        assert [type(e) for e in published] == [AccountRegistered]

    def test_each_commit_in_a_block_is_durable_on_its_own(self, crm: CRM) -> None:
        """A second commit starts afresh: a later failure keeps what was committed."""
        with pytest.raises(Boom), crm.unit_of_work() as uow:
            uow.customers.add(Customer.register(CustomerId("c1"), at=T0))
            uow.commit()
            uow.customers.add(Customer.register(CustomerId("c2"), at=T0))
            raise Boom
        assert [c.id for c in crm.customers.stream()] == ["c1"]

    def test_a_commit_returns_the_events_of_every_changed_aggregate(self, crm: CRM) -> None:
        """Events of customers and accounts seen by the unit are all collected."""
        with crm.unit_of_work() as uow:
            uow.customers.add(Customer.register(CustomerId("c1"), at=T0))
            uow.accounts.add(Account.register(AccountId("a1"), name="Acme", at=T0))
            events = uow.commit()
        assert {e.aggregate_id for e in events} == {"c1", "a1"}


class TestUsage:
    """A unit of work is used once, inside its ``with`` block."""

    def test_work_outside_the_block_is_refused(self, crm: CRM) -> None:
        """Commit and repository reads need an open unit of work."""
        uow = crm.unit_of_work()
        with pytest.raises(UsageError):
            uow.commit()
        with pytest.raises(UsageError):
            uow.customers.find(CustomerId("c1"))

    def test_entering_an_open_unit_again_is_refused(self, crm: CRM) -> None:
        """Nesting the same unit of work is a mistake, not a savepoint."""
        with crm.unit_of_work() as uow, pytest.raises(UsageError), uow:
            pass

    def test_every_unit_is_bound_to_the_crm_tenant(self, crm: CRM) -> None:
        """The unit of work knows its tenant."""
        assert crm.unit_of_work().tenant == crm.tenant == "default"
        assert crm.for_tenant("shop_7").unit_of_work().tenant == "shop_7"
