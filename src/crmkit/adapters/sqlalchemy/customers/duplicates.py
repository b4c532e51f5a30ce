"""Which key of which customer a refused write collided with, named as the domain names it.

The database's own words about a unique key name a constraint (and, on some backends, a
value), never the customer holding it. These ask the tables instead, so a refusal carries the
field, the value and the owner, as the in-memory adapter's do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, exc, select

from crmkit.adapters.sqlalchemy.customers.tables import customers, external_ids
from crmkit.adapters.sqlalchemy.lists import key_in
from crmkit.adapters.sqlalchemy.session import is_about
from crmkit.domain import Customer
from crmkit.errors import DuplicateCustomer

__all__ = ["duplicate_in_batch", "duplicate_of", "refuse_duplicates"]


def refuse_duplicates(conn: Connection, tenant: str, customer: Customer) -> None:
    """Raise `DuplicateCustomer` if another stored customer holds the customer's email or
    one of its external ids."""
    if customer.email is not None:
        owner = conn.execute(
            select(customers.c.id).where(
                customers.c.tenant_id == tenant, customers.c.email == customer.email.value
            )
        ).scalar()
        if owner is not None and owner != customer.id:
            raise DuplicateCustomer("email", customer.email.value, owner)
    for source, ref in customer.external_ids.items():
        found = conn.execute(
            select(external_ids.c.customer_id).where(
                external_ids.c.tenant_id == tenant,
                external_ids.c.source == source,
                external_ids.c.external_id == ref,
            )
        ).scalar()
        if found is not None and found != customer.id:
            raise DuplicateCustomer(f"external_ids.{source}", ref, found)


def duplicate_of(customer: Customer, error: exc.IntegrityError) -> DuplicateCustomer:
    """The refusal of one customer's write, from the database's words alone (when the
    tables can no longer be asked: a writer that committed meanwhile)."""
    if is_about(error, "email"):
        return DuplicateCustomer("email", str(customer.email), "another customer")
    if is_about(error, "external_id"):
        return _duplicate_external_id(customer, str(error.orig))
    return DuplicateCustomer("id", customer.id, customer.id)


def _duplicate_external_id(customer: Customer, reason: str) -> DuplicateCustomer:
    # Name the one external id the database refused, not every id the customer has.
    items = sorted(customer.external_ids.items())
    named = items if len(items) == 1 else [(s, ref) for s, ref in items if ref in reason]
    if len(named) == 1:
        source, ref = named[0]
        return DuplicateCustomer(f"external_ids.{source}", ref, "another customer")
    sources = ", ".join(source for source, _ in items)
    return DuplicateCustomer("external_ids", f"one of {sources}", "another customer")


def duplicate_in_batch(
    conn: Connection, tenant: str, batch: Sequence[Customer]
) -> DuplicateCustomer | None:
    """The first collision of a bulk insert's email or external ids, in batch order: with a
    stored customer or with one earlier in the batch (ids are checked before, by the caller).
    Three queries, each answered by its unique index; ``None`` if none is found."""
    dialect = conn.dialect.name
    emails = [c.email.value for c in batch if c.email is not None]
    email_owner: dict[Any, str] = {}
    if emails:
        email_owner = {
            row.email: row.id
            for row in conn.execute(
                select(customers.c.email, customers.c.id).where(
                    customers.c.tenant_id == tenant, key_in(dialect, customers.c.email, emails)
                )
            )
        }
    refs = sorted({ref for c in batch for ref in c.external_ids.values()})
    ref_owner: dict[Any, str] = {}
    if refs:
        x = external_ids.c
        ref_owner = {
            (row.source, row.external_id): row.customer_id
            for row in conn.execute(
                select(x.source, x.external_id, x.customer_id).where(
                    x.tenant_id == tenant, key_in(dialect, x.external_id, refs)
                )
            )
        }
    return _first_collision(batch, email_owner, ref_owner)


def _first_collision(
    batch: Sequence[Customer], email_owner: dict[Any, str], ref_owner: dict[Any, str]
) -> DuplicateCustomer | None:
    # Keyed by the exact text: a collation that ignores trailing spaces would find more.
    for customer in batch:
        if customer.email is not None:
            owner = email_owner.get(customer.email.value)
            if owner is not None and owner != customer.id:
                return DuplicateCustomer("email", customer.email.value, owner)
            email_owner[customer.email.value] = customer.id
        for key in sorted(customer.external_ids.items()):
            owner = ref_owner.get(key)
            if owner is not None and owner != customer.id:
                return DuplicateCustomer(f"external_ids.{key[0]}", key[1], owner)
            ref_owner[key] = customer.id
    return None
