"""The adapter contract on text keys: a key is its exact text, spaces and all.

A database may compare text by a collation that ignores trailing spaces (MySQL's and
MariaDB's PAD SPACE ``utf8mb4_bin``), case or accents; crmkit's domain compares exactly, as
Python does. These tests store values that differ only by leading or trailing spaces beside
each other, and check that every lookup, unique key and segment query tells them apart.
`AdapterContract` includes them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from crmkit.domain import (
    Account,
    AccountId,
    Channel,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    InteractionId,
    InteractionKind,
    LifecycleModel,
    MembershipChange,
    Money,
    PointsLedger,
    Programme,
    Referral,
    SegmentSnapshot,
    SpendRule,
    StageHistory,
)
from crmkit.domain.rules.leaves import TraitCondition
from crmkit.errors import NotFound
from crmkit.ports import UnitOfWork
from crmkit.segments import Condition, field, purchases, trait
from crmkit.testing.contract._base import ContractBase

__all__ = ["ExactTextContract", "spaced"]

_T0 = datetime(2024, 1, 1, tzinfo=UTC)
_AS_OF = _T0 + timedelta(days=1)
_MODEL = LifecycleModel("funnel", stages=["lead", "won"], transitions=[("lead", "won")])
_SHOP = Programme("shop", [SpendRule("base", 1, Money.of("1.00", "EUR"))])

#: Opens a unit of work on a tenant (``alpha`` by default).
_OpenFor = Callable[..., UnitOfWork]


def spaced(text: str) -> list[str]:
    """``text`` and the variants a padding or trimming collation would confuse with it."""
    return [text, f"{text} ", f"{text}   ", f" {text}", f"{text}\t", f"{text}\n"]


#: Text stored beside its spaced variants: ASCII, non-ASCII, and one that sorts below " ".
_BASES = ("X1", "order-7", "Zoë", "a\x01", "é")


def _customer(n: int, **profile: object) -> Customer:
    return Customer.register(
        CustomerId(f"c{n:03d}"),
        at=_T0,
        email=EmailAddress(f"person{n}@example.com"),
        **profile,  # type: ignore[arg-type]
    )


def _interaction(n: int, **fields: object) -> Interaction:
    return Interaction(
        id=InteractionId(f"i{n:03d}"),
        customer_id=CustomerId("c001"),
        occurred_at=_T0 + timedelta(minutes=n),
        kind=InteractionKind.PURCHASE,
        channel=Channel.WEB,
        **fields,  # type: ignore[arg-type]
    )


def _count(tx: UnitOfWork, rule: Condition) -> int:
    return tx.customers.count_matching(rule, as_of=_AS_OF)


class ExactTextContract(ContractBase):
    """Lookups, unique keys and segment queries compare text exactly."""

    def test_an_external_id_is_found_only_by_its_exact_text(self, uow: _OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1, external_ids={"shop": "X1"}))
            tx.commit()
        with uow() as tx:
            found = tx.customers.find_by_external_id("shop", "X1")
            assert found is not None
            assert found.id == "c001"
            for other in spaced("X1")[1:]:
                assert tx.customers.find_by_external_id("shop", other) is None, repr(other)

    def test_external_ids_differing_only_by_spaces_belong_to_different_customers(
        self, uow: _OpenFor
    ) -> None:
        refs = [ref for base in _BASES for ref in spaced(base)]
        with uow() as tx:
            for n, ref in enumerate(refs, 1):
                tx.customers.add(_customer(n, external_ids={"shop": ref}))
            tx.commit()
        with uow() as tx:
            for n, ref in enumerate(refs, 1):
                found = tx.customers.find_by_external_id("shop", ref)
                assert found is not None, repr(ref)
                assert found.id == f"c{n:03d}", repr(ref)

    def test_external_refs_differing_only_by_spaces_are_different_interactions(
        self, uow: _OpenFor
    ) -> None:
        refs = spaced("order-7")
        with uow() as tx:
            tx.customers.add(_customer(1))
            for n, ref in enumerate(refs, 1):
                tx.interactions.add(_interaction(n, external_ref=ref))
            tx.commit()
        with uow() as tx:
            assert tx.interactions.count() == len(refs)
            for n, ref in enumerate(refs, 1):
                found = tx.interactions.find_by_external_ref(ref)
                assert found is not None, repr(ref)
                assert found.id == f"i{n:03d}", repr(ref)
            assert tx.interactions.find_by_external_ref("order-7  ") is None

    def test_ids_and_names_with_added_spaces_find_nothing(self, uow: _OpenFor) -> None:
        history = StageHistory.enter(_MODEL, "c001", at=_T0)
        ledger = PointsLedger(CustomerId("c001"), _SHOP)
        referral = Referral.record("r1", "shop", CustomerId("c001"), CustomerId("c002"), _T0)
        snapshot = SegmentSnapshot.empty("vips", _T0)
        snapshot.refresh(MembershipChange("vips", _T0, ["c001"], members=1))
        with uow() as tx:
            tx.customers.add(_customer(1, tags={"abc"}))
            tx.customers.add(_customer(2))
            tx.accounts.add(Account.register(AccountId("a1"), name="Acme", at=_T0))
            tx.interactions.add(_interaction(1))
            tx.stage_histories.add(history)
            tx.points_ledgers.add(ledger)
            tx.referrals.add(referral)
            tx.segment_memberships.add(snapshot)
            tx.commit()
        with uow() as tx:
            assert [c.id for c in tx.customers.list(tag="abc").items] == ["c001"]
            assert tx.segment_memberships.contains("vips", CustomerId("c001"))
            for pad in (" ", "   ", "\t"):
                assert tx.customers.find(CustomerId("c001" + pad)) is None
                assert tx.accounts.find(AccountId("a1" + pad)) is None
                with pytest.raises(NotFound):
                    tx.interactions.get(InteractionId("i001" + pad))
                assert not tx.customers.list(tag="abc" + pad).items
                assert not tx.customers.list(tag=pad + "abc").items
                assert tx.stage_histories.find("funnel" + pad, "c001") is None
                assert tx.stage_histories.find("funnel", "c001" + pad) is None
                assert tx.points_ledgers.balance("shop" + pad, CustomerId("c001")) is None
                assert tx.points_ledgers.balance("shop", CustomerId("c001" + pad)) is None
                assert tx.referrals.for_referee("shop", CustomerId("c002" + pad)) is None
                with pytest.raises(NotFound):
                    tx.referrals.get("r1" + pad)
                assert tx.segment_memberships.find("vips" + pad) is None
                assert not tx.segment_memberships.contains("vips", CustomerId("c001" + pad))
                assert list(tx.segment_memberships.members("vips" + pad)) == []

    def test_segment_queries_tell_text_apart_by_its_spaces(self, uow: _OpenFor) -> None:
        plans = spaced("pro")
        with uow() as tx:
            for n, plan in enumerate(plans, 1):
                customer = _customer(n, traits={"plan": plan, "langs": (plan,)})
                tx.customers.add(customer)
                tx.interactions.add(
                    Interaction(
                        id=InteractionId(f"i{n:03d}"),
                        customer_id=customer.id,
                        occurred_at=_T0,
                        kind=InteractionKind.PURCHASE,
                        channel=Channel.WEB,
                        campaign=plan,
                        metadata={"src": plan},
                    )
                )
            tx.commit()
        with uow() as tx:
            for plan in plans:
                assert _count(tx, trait("plan") == plan) == 1, repr(plan)
                assert _count(tx, trait("plan") != plan) == len(plans) - 1, repr(plan)
                assert _count(tx, trait("plan").is_in([plan])) == 1, repr(plan)
                assert _count(tx, trait("plan").not_in([plan])) == len(plans) - 1, repr(plan)
                contains = TraitCondition("langs", "string_list", "contains", plan)
                assert _count(tx, contains) == 1, repr(plan)
                assert _count(tx, purchases(campaigns=[plan]).count() >= 1) == 1, repr(plan)
                assert _count(tx, purchases(metadata={"src": plan}).count() >= 1) == 1
            assert _count(tx, trait("plan") == "pro  ") == 0
            # A field stored as given compares as written, trailing spaces included; an email
            # is stored normalised, and so is the operand compared with it.
            assert _count(tx, field("id") == "c001 ") == 0
            assert _count(tx, field("email") == " Person1@Example.com ") == 1

    def test_listing_orders_ids_by_code_point_across_pages(self, uow: _OpenFor) -> None:
        ids = ["a", "A", "a-", "a.", "a0", "a_", "a:", "b", "0", "Z", "a-b", "a--"]
        with uow() as tx:
            for n, cid in enumerate(ids):
                tx.customers.add(
                    Customer.register(
                        CustomerId(cid), at=_T0, email=EmailAddress(f"p{n}@example.com")
                    )
                )
            tx.commit()
        seen: list[str] = []
        cursor = None
        with uow() as tx:
            while True:
                page = tx.customers.list(limit=3, cursor=cursor)
                seen.extend(c.id for c in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
        assert seen == sorted(ids)
