"""Storing new customers: registering one (entering the lifecycle models) and bulk import."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crmkit.app.context import Context
from crmkit.app.customer_changes import check_keys_and_links, reusable
from crmkit.app.progression import enter_models
from crmkit.app.retries import retry_conflicts
from crmkit.domain import (
    AccountLink,
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerId,
    EmailAddress,
    PhoneNumber,
    PostalAddress,
    SubjectKind,
)
from crmkit.domain._arguments import each_of, items_of
from crmkit.ports import ImportResult, OnExisting, check_on_existing

__all__ = ["import_customers", "register_customer"]


def register_customer(
    ctx: Context,
    customer_id: str | None,
    *,
    email: EmailAddress | str | None,
    phone: PhoneNumber | str | None,
    given_name: str | None,
    family_name: str | None,
    address: PostalAddress | None,
    locale: str | None,
    tags: Iterable[str],
    traits: Mapping[str, Any] | None,
    external_ids: Mapping[str, str] | None,
    other_contacts: Iterable[ContactPoint],
    account: AccountLink | None,
    consents: Iterable[ConsentRecord],
) -> Customer:
    """Register a new customer, entering the customer lifecycle models: what
    `CustomerService.register` does (see there)."""
    # Built afresh at each attempt (a conflict retried discards the unstored copy and its
    # events); one-shot iterators are read once, here.
    new_id, at = CustomerId(customer_id or ctx.new_id()), ctx.now()
    profile = {
        "email": ctx.email(email),
        "phone": ctx.phone(phone, address=address),
        "given_name": given_name,
        "family_name": family_name,
        "address": address,
        "locale": locale,
        "tags": reusable(tags),
        "external_ids": external_ids or {},
        "other_contacts": reusable(other_contacts),
        "account": account,
    }
    consents = reusable(items_of(consents, "consents"))

    def register() -> Customer:
        customer = Customer.register(
            new_id,
            at=at,
            schema=ctx.settings.trait_schema,
            traits=traits,
            consents=consents,
            **profile,
        )
        with ctx.unit_of_work() as uow:
            check_keys_and_links(uow, customer)
            uow.customers.add(customer)
            models = ctx.models_for(SubjectKind.CUSTOMER)
            enter_models(uow, models, customer.id, at=customer.created_at, reason="registered")
            uow.commit()
        return customer

    # A racing registration of the same email or external id (SQLite: "database is
    # locked") is retried: the next attempt finds the other customer (DuplicateCustomer).
    return retry_conflicts(register)


def import_customers(
    ctx: Context, customers: Iterable[Customer], *, batch_size: int, on_existing: OnExisting
) -> ImportResult:
    """Store new customers in one transaction, without events: what
    `CustomerService.import_many` does (see there)."""
    check_on_existing(on_existing)
    checked = each_of(customers, Customer, "customers")  # a bad item is named by index
    with ctx.unit_of_work() as uow:
        result = uow.customers.add_many(checked, batch_size=batch_size, on_existing=on_existing)
        uow.commit()
    return result
