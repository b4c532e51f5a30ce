"""Changing a stored customer: the one read-change-write every service uses (profile,
traits, consent, account links), and the checks a customer's keys and links must pass."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from crmkit.app.context import Context
from crmkit.app.retries import retry_conflicts
from crmkit.domain import Customer, CustomerId
from crmkit.domain._arguments import expected_version_of
from crmkit.domain.values.ids import check_id
from crmkit.errors import ConcurrencyConflict, DuplicateCustomer, NotFound
from crmkit.ports import UnitOfWork

__all__ = ["change_customer", "check_keys_and_links", "reusable"]


def change_customer(
    context: Context,
    customer_id: str,
    expected_version: int | None,
    change: Callable[[Customer], tuple[str, ...]],
) -> Customer:
    """Load the customer, apply ``change`` (returning the fields it changed) and store it:
    the one way every service changes a customer (profile, traits, consent, account links).

    Raises:
        NotFound: no such customer.
        ConcurrencyConflict: ``expected_version`` is given and not the stored version.
    """
    expected_version = expected_version_of(expected_version)
    wanted = CustomerId(check_id("customer_id", customer_id))

    def attempt() -> Customer:
        with context.unit_of_work() as uow:
            customer = uow.customers.get(wanted)
            if expected_version is not None and customer.version != expected_version:
                raise ConcurrencyConflict("customer", wanted, expected_version)
            if change(customer):
                check_keys_and_links(uow, customer)
                uow.customers.update(customer)
                uow.commit()
            return customer

    if expected_version is not None:
        return attempt()  # the caller asked to hear of any other writer
    # Without one, another writer saving the customer meanwhile is no reason to refuse:
    # the change is applied again to what they stored.
    return retry_conflicts(attempt)


def reusable(value: Any) -> Any:
    """``value``, or its items as a tuple if it is a one-shot iterator (a generator)."""
    return tuple(value) if isinstance(value, Iterator) else value


def check_keys_and_links(uow: UnitOfWork, customer: Customer) -> None:
    """Refuse a customer whose email or external id another customer has, or whose account
    link names an account the tenant does not hold."""
    if customer.email is not None:
        owner = uow.customers.find_by_email(customer.email)
        if owner is not None and owner.id != customer.id:
            raise DuplicateCustomer("email", str(customer.email), owner.id)
    for source, ref in customer.external_ids.items():
        owner = uow.customers.find_by_external_id(source, ref)
        if owner is not None and owner.id != customer.id:
            raise DuplicateCustomer(f"external_ids.{source}", ref, owner.id)
    if customer.account is not None and uow.accounts.find(customer.account.account_id) is None:
        raise NotFound("account", customer.account.account_id)
