"""Tenancy: no read or write of one tenant ever sees or touches another's data."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import CRM, FixedClock, Money, SequentialIds, Settings
from crmkit.adapters.memory import InMemoryStore
from crmkit.errors import CrmError, NotFound, ValidationError
from crmkit.events import DomainEvent
from crmkit.serialization import unstructure
from tests.strategies import T0

EMAILS = ["ada@example.com", "bob@example.com"]
SHOP_IDS = ["1", "2"]
DOMAINS = ["acme.com", "globex.com"]
REFS = ["order-1", "order-2"]
SHARED_IDS = ["shared-1", "shared-2"]

index = st.integers(0, 9)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("register"),
            st.none() | st.sampled_from(SHARED_IDS),
            st.none() | st.sampled_from(EMAILS),
            st.none() | st.sampled_from(SHOP_IDS),
        ),
        st.tuples(st.just("update_profile"), index, st.sampled_from(EMAILS)),
        st.tuples(st.just("set_traits"), index, st.sampled_from(["free", "pro"])),
        st.tuples(st.just("record_consent"), index, st.sampled_from(["granted", "withdrawn"])),
        st.tuples(st.just("record_interaction"), index, st.none() | st.sampled_from(REFS)),
        st.tuples(
            st.just("register_account"),
            st.none() | st.sampled_from(SHARED_IDS),
            st.none() | st.sampled_from(DOMAINS),
        ),
        st.tuples(st.just("update_account"), index, st.sampled_from(DOMAINS)),
        st.tuples(st.just("link_to_account"), index, index),
    ),
    max_size=10,
)


def pick(items: list[str], n: int) -> str | None:
    return items[n % len(items)] if items else None


def perform(crm: CRM, step: tuple[Any, ...], made: dict[str, list[str]]) -> None:
    """Run one front-door operation, remembering the ids it created."""
    kind, *args = step
    customer = pick(made["customers"], args[0]) if type(args[0]) is int else None
    account = pick(made["accounts"], args[-1]) if type(args[-1]) is int else None
    if kind == "register":
        shop = {"shop": args[2]} if args[2] else {}
        made["customers"].append(
            crm.customers.register(customer_id=args[0], email=args[1], external_ids=shop).id
        )
    elif kind == "register_account":
        made["accounts"].append(
            crm.accounts.register(name="Acme", account_id=args[0], domain=args[1]).id
        )
    elif kind == "update_account":
        account = pick(made["accounts"], args[0])
        if account:
            crm.accounts.update(account, domain=args[1])
    elif customer is None:
        return
    elif kind == "update_profile":
        crm.customers.update(customer, email=args[1])
    elif kind == "set_traits":
        crm.customers.set_traits(customer, {"plan": args[1]})
    elif kind == "record_consent":
        crm.consent.record(
            customer, purpose="marketing", channel="email", status=args[1], source="test"
        )
    elif kind == "record_interaction":
        made["interactions"].append(
            crm.interactions.record(
                customer,
                kind="purchase",
                channel="web",
                amount=Money(1, "EUR"),
                external_ref=args[1],
            ).id
        )
    elif kind == "link_to_account" and account:
        crm.accounts.link(customer, account)


def run(crm: CRM, steps: list[tuple[Any, ...]]) -> dict[str, list[str]]:
    made: dict[str, list[str]] = {"customers": [], "accounts": [], "interactions": []}
    for step in steps:
        with contextlib.suppress(CrmError):  # refused in its own tenant (a duplicate): fine
            perform(crm, step, made)
    return made


def answer(read: Callable[[], Any]) -> Any:
    """What a read returns, as plain data (NotFound is an answer too)."""
    try:
        result = read()
    except NotFound:
        return "NotFound"
    if isinstance(result, list | tuple):
        return [unstructure(item) for item in result]
    return None if result is None else unstructure(result)


def everything(crm: CRM, ids: list[str]) -> dict[str, Any]:
    """Every read of the front door, for every key either tenant used."""
    reads: dict[str, Callable[[], Any]] = {
        "list": lambda: crm.customers.list().items,
        "stream": lambda: list(crm.customers.stream()),
        "interactions": lambda: list(crm.interactions.stream()),
    }
    for email in EMAILS:
        reads[f"email {email}"] = lambda e=email: crm.customers.find_by_email(e)
    for ref in SHOP_IDS:
        reads[f"shop {ref}"] = lambda r=ref: crm.customers.find_by_external_id("shop", r)
    for key in ids:
        reads[f"customer {key}"] = lambda k=key: crm.customers.get(k)
        reads[f"timeline {key}"] = lambda k=key: crm.interactions.timeline(k)
        reads[f"account {key}"] = lambda k=key: crm.accounts.get(k)
        reads[f"contacts {key}"] = lambda k=key: crm.accounts.contacts(k)
        reads[f"interaction {key}"] = lambda k=key: crm.interactions.get(k)
        reads[f"tagged {key}"] = lambda k=key: crm.customers.list(account_id=k).items
    return {name: answer(read) for name, read in reads.items()}


class TestTenantIsolation:
    """Two tenants sharing one store never see each other."""

    @given(operations, operations)
    def test_work_in_one_tenant_is_invisible_to_another(
        self, theirs: list[tuple[Any, ...]], ours: list[tuple[Any, ...]]
    ) -> None:
        """Whatever tenant A does (with B's emails, ids, domains and references), every
        read of B answers as before: B never sees A's data, and A never changes B's."""
        store = InMemoryStore()
        b = CRM(store, Settings(tenant="b", clock=FixedClock(T0), ids=SequentialIds("b")))
        a = CRM(store, Settings(tenant="a", clock=FixedClock(T0), ids=SequentialIds("a")))
        made_in_b = run(b, theirs)
        heard_in_b: list[DomainEvent] = []
        b.events.subscribe(DomainEvent, heard_in_b.append)
        keys = [*SHARED_IDS, *(f"a-{n:06d}" for n in range(1, 21))]
        before = everything(b, keys)

        made_in_a = run(a, ours)

        assert everything(b, keys) == before
        assert heard_in_b == []
        for key in {*made_in_a["customers"], *made_in_a["accounts"]} - set(SHARED_IDS):
            for read in (
                b.customers.get,
                b.accounts.get,
                b.interactions.timeline,
                b.accounts.contacts,
            ):
                with pytest.raises(NotFound):
                    read(key)
        for key in made_in_a["interactions"]:
            with pytest.raises(NotFound):
                b.interactions.get(key)
        if not any(made_in_b.values()):
            assert before["stream"] == before["interactions"] == []

    def test_the_same_email_may_belong_to_a_customer_in_each_tenant(self) -> None:
        """Uniqueness is per tenant: emails, external ids and domains do not collide."""
        store = InMemoryStore()
        a, b = (CRM(store, Settings(tenant=t)) for t in ("a", "b"))
        for crm in (a, b):
            crm.customers.register(
                customer_id="c1", email="ada@example.com", external_ids={"shop": "1"}
            )
            crm.accounts.register(name="Acme", account_id="a1", domain="acme.com")
            crm.interactions.record("c1", kind="purchase", channel="web", external_ref="order-1")
        a.customers.update("c1", given_name="Ada A")
        assert b.customers.get("c1").given_name is None
        assert a.customers.find_by_email("ada@example.com").given_name == "Ada A"  # type: ignore[union-attr]

    def test_a_new_tenant_sees_an_empty_crm(self) -> None:
        """`for_tenant` opens the same storage for another tenant, with nothing in it."""
        a = CRM.in_memory(Settings(tenant="a"))
        ada = a.customers.register(email="ada@example.com")
        b = a.for_tenant("b")
        assert b.tenant == "b"
        assert b.customers.list().items == ()
        assert b.customers.find_by_email("ada@example.com") is None
        with pytest.raises(NotFound):
            b.customers.get(ada.id)

    def test_a_customer_cannot_be_linked_to_another_tenants_account(self) -> None:
        """An account id of another tenant is unknown here."""
        store = InMemoryStore()
        a, b = (CRM(store, Settings(tenant=t)) for t in ("a", "b"))
        acme = b.accounts.register(name="Acme")
        ada = a.customers.register(email="ada@example.com")
        with pytest.raises(NotFound):
            a.accounts.link(ada.id, acme.id)

    def test_events_reach_only_the_subscribers_of_the_tenant(self) -> None:
        """Each tenant's CRM has its own subscribers."""
        a = CRM.in_memory(Settings(tenant="a"))
        b = a.for_tenant("b")
        heard_a: list[DomainEvent] = []
        heard_b: list[DomainEvent] = []
        a.events.subscribe(DomainEvent, heard_a.append)
        b.events.subscribe(DomainEvent, heard_b.append)
        a.customers.register(email="ada@example.com")
        assert len(heard_a) == 1
        assert heard_b == []

    @pytest.mark.parametrize("tenant", ["", "Shop", "has space", "-x", "x" * 64])
    def test_a_malformed_tenant_is_refused(self, tenant: str) -> None:
        """Tenants are lower-case slugs."""
        with pytest.raises(ValidationError) as caught:
            CRM.in_memory(Settings(tenant=tenant))
        assert caught.value.paths == ("tenant",)
