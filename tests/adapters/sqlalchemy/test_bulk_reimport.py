"""Re-running a bulk import: ``on_existing="skip"`` at the front door, earning included.

The repository side (what is skipped, what is refused, on every adapter) is in the adapter
contract (`crmkit.testing.contract.BulkImportContract`); these tests hold the use cases to it: the
loyalty ledger never awards twice, a refusal names what differs, and a wrong
``on_existing`` is refused before anything is read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from crmkit import (
    CRM,
    Customer,
    CustomerId,
    EmailAddress,
    ImportResult,
    Interaction,
    InteractionId,
    InteractionKind,
    Money,
    Settings,
)
from crmkit.adapters.memory import InMemoryStore
from crmkit.errors import DuplicateCustomer, IdempotencyConflict, ValidationError
from crmkit.events import PointsEarned
from crmkit.loyalty import Programme, SpendRule
from tests.conftest import MakeCrm, crm_maker

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SHOP = Programme("shop", [SpendRule("spend", 1, Money.of("1.00", "EUR"))], pending_days=14)


@pytest.fixture
def make(any_store: object) -> MakeCrm:
    return crm_maker(any_store, START, loyalty=SHOP)


def _members() -> list[Customer]:
    return [
        Customer.register(CustomerId(name), at=START, email=EmailAddress(f"{name}@example.com"))
        for name in ("ada", "bob")
    ]


def _purchases(*, fresh_ids: bool = False) -> list[Interaction]:
    """The shop's order file; ``fresh_ids``: ids made anew on this run, as a host's id
    source would (the external_ref is what identifies an order)."""
    return [
        Interaction(
            id=InteractionId(f"{'run2-' if fresh_ids else ''}o{n}"),
            customer_id=CustomerId(who),
            occurred_at=START - timedelta(days=n),
            kind=InteractionKind.PURCHASE,
            channel="web",
            amount=Money.of(euros, "EUR"),
            external_ref=f"order-{n}",
        )
        for n, (who, euros) in enumerate((("ada", "12.50"), ("bob", "230.00"), ("ada", "9.99")))
    ]


def _ledgers(crm: CRM) -> list[list[tuple[object, ...]]]:
    return [
        [(e.kind, e.points, e.rule, e.interaction_id) for e in crm.loyalty.ledger(who).entries]
        for who in ("ada", "bob")
    ]


class TestEarningOnReImport:
    def test_re_running_an_earning_import_with_skip_awards_nothing_twice(
        self, make: MakeCrm
    ) -> None:
        crm = make()
        earned: list[PointsEarned] = []
        crm.events.subscribe(PointsEarned, earned.append)
        crm.customers.import_many(_members())
        first = crm.interactions.import_many(_purchases(), earn_points=True, on_existing="skip")
        assert (first.imported, len(earned)) == (3, 3)
        before = (_ledgers(crm), [crm.loyalty.balance(who) for who in ("ada", "bob")])
        again = crm.interactions.import_many(
            _purchases(fresh_ids=True), batch_size=2, earn_points=True, on_existing="skip"
        )
        assert (again.imported, again.skipped) == (0, (0, 1, 2))
        assert (_ledgers(crm), [crm.loyalty.balance(who) for who in ("ada", "bob")]) == before
        assert len(earned) == 3

    def test_a_purchase_repeated_within_an_earning_import_earns_once(self, make: MakeCrm) -> None:
        crm = make()
        crm.customers.import_many(_members())
        orders = _purchases()
        done = crm.interactions.import_many(
            [orders[0], *orders, orders[1]], batch_size=2, earn_points=True, on_existing="skip"
        )
        assert (done.imported, done.skipped) == (3, (1, 4))
        assert _ledgers(crm) == [
            [("earn", 12, "spend", "o0"), ("earn", 9, "spend", "o2")],
            [("earn", 230, "spend", "o1")],
        ]

    def test_new_purchases_of_a_re_run_earn_and_stored_ones_do_not(self, make: MakeCrm) -> None:
        crm = make()
        crm.customers.import_many(_members())
        orders = _purchases()
        crm.interactions.import_many(orders[:2], earn_points=True)
        done = crm.interactions.import_many(orders, earn_points=True, on_existing="skip")
        assert (done.imported, done.skipped) == (1, (0, 1))
        assert [len(entries) for entries in _ledgers(crm)] == [2, 1]

    def test_a_changed_purchase_refuses_the_whole_earning_import(self, make: MakeCrm) -> None:
        crm = make()
        crm.customers.import_many(_members())
        orders = _purchases()
        crm.interactions.import_many(orders[:1], earn_points=True)
        changed = attrs.evolve(orders[0], amount=Money.of("13.50", "EUR"))
        with pytest.raises(IdempotencyConflict) as refused:
            crm.interactions.import_many(
                [*orders[1:], changed], batch_size=1, earn_points=True, on_existing="skip"
            )
        assert (refused.value.field, refused.value.differing) == ("id", ("amount",))
        assert _ledgers(crm) == [[("earn", 12, "spend", "o0")], []]
        assert len(crm.interactions.timeline("bob")) == 0


class TestMessages:
    """What a refusal says: the fields that differ, or that none does — never the values."""

    def test_an_identical_replay_in_memory_says_the_content_is_the_same(self) -> None:
        crm = CRM.in_memory()
        crm.customers.import_many(_members())
        crm.interactions.import_many(_purchases())
        with pytest.raises(IdempotencyConflict) as replayed:
            crm.interactions.import_many(_purchases()[:1])
        assert replayed.value.differing == ()
        assert "with the same content" in str(replayed.value)
        assert "different" not in str(replayed.value)

    def test_a_replay_with_other_content_names_the_fields_that_differ(self) -> None:
        crm = CRM.in_memory()
        crm.customers.import_many(_members())
        crm.interactions.import_many(_purchases())
        changed = attrs.evolve(_purchases()[0], id=InteractionId("x"), team="support")
        with pytest.raises(IdempotencyConflict, match=r"with different team$") as replayed:
            crm.interactions.import_many([changed])
        assert replayed.value.existing_id == "o0"

    def test_a_replayed_reference_through_record_interaction_names_the_fields(self) -> None:
        crm = CRM.in_memory()
        ada = crm.customers.register(email="ada@example.com").id
        crm.interactions.record(ada, kind="note", channel="email", external_ref="n1")
        with pytest.raises(IdempotencyConflict) as replayed:
            crm.interactions.record(ada, kind="note", channel="phone", external_ref="n1")
        assert replayed.value.differing == ("channel",)

    def test_a_stored_customer_imported_again_by_default_says_whether_it_differs(self) -> None:
        crm = CRM.in_memory()
        crm.customers.import_many(_members())
        with pytest.raises(DuplicateCustomer, match="with the same content"):
            crm.customers.import_many(_members()[:1])
        changed = attrs.evolve(_members()[0], given_name="Ada")
        with pytest.raises(DuplicateCustomer, match=r"with different given_name$"):
            crm.customers.import_many([changed])


class TestArguments:
    @pytest.mark.parametrize("value", ["SKIP", "replace", None, 0])
    def test_a_wrong_on_existing_is_refused_even_for_nothing_to_import(self, value: object) -> None:
        crm = CRM.in_memory(Settings(loyalty=SHOP))
        for call in (
            lambda: crm.customers.import_many([], on_existing=value),  # type: ignore[arg-type]
            lambda: crm.interactions.import_many([], on_existing=value),  # type: ignore[arg-type]
            lambda: crm.interactions.import_many(
                [],
                earn_points=True,
                on_existing=value,  # type: ignore[arg-type]
            ),
        ):
            with pytest.raises(ValidationError, match="on_existing"):
                call()

    def test_import_results_add_up_with_positions_counted_across_batches(self) -> None:
        first, later = ImportResult(2, (1,)), ImportResult(1, (0, 2))
        assert first + later == ImportResult(3, (1, 3, 5))

    def test_the_in_memory_store_skips_as_the_sql_one_does(self) -> None:
        """The memory adapter reports positions over the whole input, not per batch."""
        store = InMemoryStore()
        with store.unit_of_work("alpha") as uow:
            uow.customers.add_many(_members()[:1])
            uow.commit()
        with store.unit_of_work("alpha") as uow:
            done = uow.customers.add_many(_members()[::-1], batch_size=1, on_existing="skip")
        assert done == ImportResult(1, (1,))
