"""The adapter contract on re-running a bulk import (``add_many(..., on_existing=...)``).

A host re-runs an import after a crash, or every night over a file that only grows. With
``on_existing="skip"`` a row already stored with the same content is skipped and reported by
its position; one stored with different content is refused, naming the fields that differ
and never their values; and whatever is refused, nothing of the unit of work is stored.
`AdapterContract` includes these tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit.domain import (
    Channel,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    InteractionId,
    InteractionKind,
    Money,
)
from crmkit.errors import DuplicateCustomer, IdempotencyConflict, ValidationError
from crmkit.front import CRM
from crmkit.ports import UnitOfWork
from crmkit.testing import strategies as crm_st
from crmkit.testing.contract._base import ContractBase

__all__ = ["BulkImportContract"]

_T0 = datetime(2024, 1, 1, tzinfo=UTC)

#: Opens a unit of work on a tenant (``alpha`` by default).
_OpenFor = Callable[..., UnitOfWork]

#: A tenant of its own for each generated example: the store is not emptied between them.
_tenants = (f"bulk-{n}" for n in itertools.count())


def _people(count: int = 3) -> list[Customer]:
    """``count`` customers as a source file holds them: new objects on every call."""
    return [
        Customer.register(
            CustomerId(f"c{n:03d}"),
            at=_T0,
            email=EmailAddress(f"person{n}@example.com"),
            tags={"imported"},
            traits={"visits": n},
            external_ids={"shop": f"S{n}"},
        )
        for n in range(1, count + 1)
    ]


def _orders(count: int = 3, **fields: Any) -> list[Interaction]:
    return [
        Interaction(
            id=InteractionId(f"i{n:03d}"),
            customer_id=CustomerId("c001"),
            occurred_at=_T0 + timedelta(hours=n),
            kind=InteractionKind.PURCHASE,
            channel=Channel.WEB,
            amount=Money(100 * n, "EUR"),
            metadata={"paid": True},
            external_ref=f"order-{n}",
        )
        for n in range(1, count + 1)
    ]


def _snapshot(uow: _OpenFor, tenant: str) -> tuple[list[Customer], list[Interaction]]:
    with uow(tenant) as tx:
        return list(tx.customers.stream()), list(tx.interactions.stream())


def _import(uow: _OpenFor, tenant: str, customers: list[Customer], rows: list[Interaction]) -> Any:
    with uow(tenant) as tx:
        done = (
            tx.customers.add_many(customers, batch_size=2, on_existing="skip"),
            tx.interactions.add_many(rows, batch_size=2, on_existing="skip"),
        )
        tx.commit()
    return done


def _unique(items: list[Any], *keys: Callable[[Any], list[Any]]) -> list[Any]:
    """The items whose keys no earlier item holds: a batch a first import accepts whole."""
    seen: set[Any] = set()
    kept = []
    for item in items:
        held = {(n, k) for n, key in enumerate(keys) for k in key(item)}
        if not held & seen:
            seen |= held
            kept.append(item)
    return kept


@st.composite
def _batches(draw: st.DrawFn) -> tuple[list[Customer], list[Interaction]]:
    """Customers and interactions a first import stores whole, then repeats of some of them
    (equal copies) at the end."""
    people = _unique(
        draw(st.lists(crm_st.customers(), max_size=5)),
        lambda c: [c.id],
        lambda c: [] if c.email is None else [c.email.value],
        lambda c: sorted(c.external_ids.items()),
    )
    owners = st.sampled_from([c.id for c in people]) if people else crm_st.customer_ids()
    rows = _unique(
        draw(st.lists(st.builds(_owned_by, crm_st.interactions(), owners), max_size=6)),
        lambda i: [i.id],
        lambda i: [] if i.external_ref is None else [i.external_ref],
    )
    repeats = st.lists(st.integers(0, max(len(people) - 1, 0)), max_size=2) if people else None
    again = draw(repeats) if repeats is not None else []
    people += [attrs.evolve(people[n]) for n in again]
    if rows:
        rows += [rows[n] for n in draw(st.lists(st.integers(0, len(rows) - 1), max_size=2))]
    return people, rows


def _owned_by(interaction: Interaction, owner: CustomerId) -> Interaction:
    return attrs.evolve(interaction, customer_id=owner)


class BulkImportContract(ContractBase):
    """``on_existing="skip"`` makes a re-run import idempotent; a changed row is refused."""

    def test_re_importing_the_same_customers_with_skip_stores_nothing_new(
        self, uow: _OpenFor
    ) -> None:
        with uow() as tx:
            first = tx.customers.add_many(_people(), batch_size=2, on_existing="skip")
            tx.commit()
        assert (first.imported, first.skipped) == (3, ())
        before = _snapshot(uow, "alpha")
        with uow() as tx:
            again = tx.customers.add_many(_people(), batch_size=2, on_existing="skip")
            tx.commit()
        assert (again.imported, again.skipped) == (0, (0, 1, 2))
        assert _snapshot(uow, "alpha") == before

    def test_re_importing_the_same_interactions_with_skip_stores_nothing_new(
        self, uow: _OpenFor
    ) -> None:
        plain = attrs.evolve(_orders(1)[0], id=InteractionId("i-plain"), external_ref=None)
        with uow() as tx:
            tx.interactions.add_many([*_orders(), plain], on_existing="skip")
            tx.commit()
        before = _snapshot(uow, "alpha")
        # Rows with an external_ref may come back with fresh ids; one without, by its id.
        renamed = [attrs.evolve(i, id=InteractionId(f"new-{i.id}")) for i in _orders()]
        with uow() as tx:
            again = tx.interactions.add_many([plain, *renamed], batch_size=3, on_existing="skip")
            tx.commit()
        assert (again.imported, again.skipped) == (0, (0, 1, 2, 3))
        assert _snapshot(uow, "alpha") == before

    def test_new_rows_among_stored_ones_are_imported_and_reported_apart(
        self, uow: _OpenFor
    ) -> None:
        with uow() as tx:
            tx.customers.add_many(_people(2))
            tx.interactions.add_many(_orders(2))
            tx.commit()
        with uow() as tx:
            people = tx.customers.add_many(_people(4)[::-1], batch_size=3, on_existing="skip")
            orders = tx.interactions.add_many(_orders(3)[::-1], batch_size=1, on_existing="skip")
            tx.commit()
        assert (people.imported, people.skipped) == (2, (2, 3))
        assert (orders.imported, orders.skipped) == (1, (1, 2))
        with uow() as tx:
            assert (tx.customers.count(), tx.interactions.count()) == (4, 3)

    def test_a_row_repeated_within_one_import_is_stored_once_with_skip(self, uow: _OpenFor) -> None:
        with uow() as tx:
            people = tx.customers.add_many([*_people(1), *_people(1)], on_existing="skip")
            orders = tx.interactions.add_many([*_orders(1), *_orders(1)], on_existing="skip")
            tx.commit()
        assert (people.imported, people.skipped, orders.imported, orders.skipped) == (
            1,
            (1,),
            1,
            (1,),
        )

    def test_a_changed_customer_is_refused_naming_the_fields_and_nothing_is_stored(
        self, uow: _OpenFor
    ) -> None:
        with uow() as tx:
            tx.customers.add_many(_people(1))
            tx.commit()
        changed = attrs.evolve(_people(1)[0], email=EmailAddress("secret.new@example.com"))
        with uow() as tx, pytest.raises(DuplicateCustomer) as refused:
            tx.customers.add_many([*_people(3)[1:], changed], batch_size=1, on_existing="skip")
        assert (refused.value.field, refused.value.differing) == ("id", ("email",))
        assert "email" in str(refused.value)
        assert "secret.new" not in str(refused.value)  # the name of a field, not its value
        with uow() as tx:
            assert tx.customers.count() == 1
            assert tx.customers.get(CustomerId("c001")).email == EmailAddress("person1@example.com")

    def test_a_changed_interaction_is_refused_naming_the_fields_and_nothing_is_stored(
        self, uow: _OpenFor
    ) -> None:
        with uow() as tx:
            tx.interactions.add_many(_orders(1))
            tx.commit()
        stored = _orders(1)[0]
        by_ref = attrs.evolve(stored, id=InteractionId("i-other"), metadata={"paid": 1})
        by_id = attrs.evolve(stored, external_ref="order-other", amount=Money(7, "EUR"))
        for changed, field, differing in (
            (by_ref, "external_ref", ("metadata",)),
            (by_id, "id", ("amount", "external_ref")),
        ):
            with uow() as tx, pytest.raises(IdempotencyConflict) as refused:
                tx.interactions.add_many([*_orders(3)[1:], changed], on_existing="skip")
            assert (refused.value.field, refused.value.differing) == (field, differing)
            assert refused.value.existing_id == "i001"
            for name in differing:
                assert name in str(refused.value)
        with uow() as tx:
            assert [i.id for i in tx.interactions.stream()] == ["i001"]

    def test_a_new_customer_whose_email_is_taken_is_refused_even_with_skip(
        self, uow: _OpenFor
    ) -> None:
        with uow() as tx:
            tx.customers.add_many(_people(1))
            tx.commit()
        twin = attrs.evolve(_people(1)[0], id=CustomerId("c999"))
        with uow() as tx, pytest.raises(DuplicateCustomer):
            tx.customers.add_many([twin], on_existing="skip")
        with uow() as tx:
            assert tx.customers.find(CustomerId("c999")) is None

    def test_an_identical_replay_refused_by_default_does_not_claim_different_content(
        self, uow: _OpenFor
    ) -> None:
        with uow() as tx:
            tx.interactions.add_many(_orders(1))
            tx.customers.add_many(_people(1))
            tx.commit()
        with uow() as tx, pytest.raises(IdempotencyConflict) as replayed:
            tx.interactions.add_many(_orders(1))
        # ``()``: compared, nothing differs; ``None``: the adapter left it to its unique index.
        assert replayed.value.differing in ((), None)
        assert "different" not in str(replayed.value)
        with uow() as tx, pytest.raises(DuplicateCustomer) as again:
            tx.customers.add_many(_people(1))
        assert again.value.differing in ((), None)
        assert "different" not in str(again.value)

    @pytest.mark.parametrize("value", ["Skip", "ignore", None, True, ""])
    def test_on_existing_must_be_error_or_skip(self, uow: _OpenFor, value: Any) -> None:
        with uow() as tx:
            with pytest.raises(ValidationError) as people:
                tx.customers.add_many(_people(1), on_existing=value)
            with pytest.raises(ValidationError) as orders:
                tx.interactions.add_many(_orders(1), on_existing=value)
            assert [e.value.errors[0].path for e in (people, orders)] == ["on_existing"] * 2
            assert (tx.customers.count(), tx.interactions.count()) == (0, 0)

    def test_a_re_run_import_through_the_front_door_skips_and_refuses_alike(self, crm: CRM) -> None:
        assert crm.customers.import_many(_people(), on_existing="skip").imported == 3
        assert crm.interactions.import_many(_orders(), on_existing="skip").imported == 3
        people = crm.customers.import_many(_people(4), on_existing="skip")
        orders = crm.interactions.import_many(_orders(4), on_existing="skip")
        assert (people.imported, people.skipped, orders.imported, orders.skipped) == (
            1,
            (0, 1, 2),
            1,
            (0, 1, 2),
        )
        changed = [*_orders(6)[4:], attrs.evolve(_orders(1)[0], channel=Channel.EMAIL)]
        with pytest.raises(IdempotencyConflict, match="channel"):
            crm.interactions.import_many(changed, batch_size=1, on_existing="skip")
        assert len(crm.interactions.timeline("c001")) == 4  # nothing of the refused call

    # Each adapter's subclass runs this one method (differing executors), on a fresh tenant
    # per example (the function-scoped store is shared by the examples).
    @settings(
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
        deadline=None,
    )
    @given(batch=_batches())
    def test_importing_any_batch_twice_with_skip_stores_what_importing_it_once_does(
        self, uow: _OpenFor, batch: tuple[list[Customer], list[Interaction]]
    ) -> None:
        people, rows = batch
        tenant = next(_tenants)
        copies = [attrs.evolve(c) for c in people]  # the import sets the originals' version
        first = _import(uow, tenant, people, rows)
        once = _snapshot(uow, tenant)
        second = _import(uow, tenant, copies, rows)
        assert _snapshot(uow, tenant) == once
        assert [result.imported for result in second] == [0, 0]
        assert [len(result.skipped) for result in second] == [len(people), len(rows)]
        assert [result.imported + len(result.skipped) for result in first] == [
            len(people),
            len(rows),
        ]
        assert (len(once[0]), len(once[1])) == tuple(result.imported for result in first)
