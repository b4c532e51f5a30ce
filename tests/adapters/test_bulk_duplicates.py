"""A bulk import that meets a taken key names the field, the value and the customer (or the
interaction) that has it, on every store (the SQL ones used to quote the database's constraint
message)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmkit import (
    CRM,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    InteractionId,
    InteractionKind,
    Settings,
)
from crmkit.errors import DuplicateCustomer, IdempotencyConflict

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def crm(any_store: object) -> CRM:
    crm = CRM(any_store, Settings())  # type: ignore[arg-type]
    crm.customers.register(email="ada@example.com", external_ids={"shop": "42"}, customer_id="c1")
    return crm


@pytest.mark.parametrize(
    ("taken", "field", "value"),
    [
        ({"email": EmailAddress("ada@example.com")}, "email", "ada@example.com"),
        ({"external_ids": {"shop": "42"}}, "external_ids.shop", "42"),
    ],
)
def test_a_taken_key_names_its_field_value_and_owner(
    crm: CRM, taken: dict[str, object], field: str, value: str
) -> None:
    """Nothing is stored, and the error says which key, which value, whose."""
    newcomer = Customer.register(CustomerId("c2"), at=T0, **taken)
    with pytest.raises(DuplicateCustomer) as refused:
        crm.customers.import_many([newcomer])
    message = str(refused.value)
    assert message.startswith(f"{field}: {value!r} already belongs to customer 'c1'")
    assert "constraint" not in message.lower()
    assert crm.customers.count() == 1


def test_a_taken_id_names_the_id_and_its_owner(crm: CRM) -> None:
    with pytest.raises(DuplicateCustomer) as refused:
        crm.customers.import_many([Customer.register(CustomerId("c1"), at=T0)])
    assert str(refused.value).startswith("id: 'c1' already belongs to customer 'c1'")
    assert crm.customers.count() == 1


def _note(interaction_id: str, ref: str | None, *, customer: str = "c1") -> Interaction:
    return Interaction(
        id=InteractionId(interaction_id),
        customer_id=CustomerId(customer),
        occurred_at=T0,
        kind=InteractionKind.NOTE,
        channel="web",
        external_ref=ref,
    )


def _stored_ids(crm: CRM) -> list[str]:
    return sorted(interaction.id for interaction in crm.interactions.stream())


class TestInteractionImport:
    """A bulk interaction import meeting a taken id or external_ref names the field, the
    value and the stored interaction holding it, on every store (the SQL ones used to say
    only the field and the database's words), and stores nothing of the batch."""

    @pytest.fixture
    def crm(self, crm: CRM) -> CRM:
        crm.interactions.import_many([_note("i1", "order-1")])
        return crm

    def test_a_taken_external_ref_names_the_interaction_holding_it(self, crm: CRM) -> None:
        batch = [_note("i2", "order-2"), _note("i3", "order-1"), _note("i4", None)]
        with pytest.raises(IdempotencyConflict) as refused:
            crm.interactions.import_many(batch)
        conflict = refused.value
        assert (conflict.field, conflict.value, conflict.existing_id) == (
            "external_ref",
            "order-1",
            "i1",
        )
        assert str(conflict).startswith("external_ref: 'order-1' was already recorded as 'i1'")
        assert "constraint" not in str(conflict).lower()
        assert _stored_ids(crm) == ["i1"]

    def test_a_taken_external_ref_is_named_in_any_batch(self, crm: CRM) -> None:
        """The batch that meets it need not be the first."""
        batch = [_note(f"n{n}", f"new-{n}") for n in range(5)] + [_note("i9", "order-1")]
        with pytest.raises(IdempotencyConflict) as refused:
            crm.interactions.import_many(batch, batch_size=2)
        assert refused.value.existing_id == "i1"
        assert _stored_ids(crm) == ["i1"]

    def test_an_external_ref_twice_in_the_batch_names_the_first(self, crm: CRM) -> None:
        batch = [_note("i2", "order-2"), _note("i3", "order-2")]
        with pytest.raises(IdempotencyConflict) as refused:
            crm.interactions.import_many(batch)
        conflict = refused.value
        assert (conflict.field, conflict.value, conflict.existing_id) == (
            "external_ref",
            "order-2",
            "i2",
        )
        assert _stored_ids(crm) == ["i1"]

    def test_a_taken_id_names_the_interaction(self, crm: CRM) -> None:
        with pytest.raises(IdempotencyConflict) as refused:
            crm.interactions.import_many([_note("i2", None), _note("i1", "order-3")])
        conflict = refused.value
        assert (conflict.field, conflict.value, conflict.existing_id) == ("id", "i1", "i1")
        assert _stored_ids(crm) == ["i1"]
