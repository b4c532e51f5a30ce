"""A bulk import that meets a taken key names the field, the value and the customer that has
it, on every store (the SQL ones used to quote the database's constraint message)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmkit import CRM, Customer, CustomerId, EmailAddress, Settings
from crmkit.errors import DuplicateCustomer

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
