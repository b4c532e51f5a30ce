"""`SqlCustomers`: the customer repository over ``crmkit_customers`` and its child tables.

Every statement filters on the unit of work's tenant.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exc, func, select, update

from crmkit.adapters._arguments import check_batch, check_page, check_rule
from crmkit.adapters._bulk import batches, is_replayed_customer
from crmkit.adapters.sqlalchemy.customers.duplicates import (
    duplicate_in_batch,
    duplicate_of,
    refuse_duplicates,
)
from crmkit.adapters.sqlalchemy.customers.loading import Children, CustomerLoader
from crmkit.adapters.sqlalchemy.customers.matching import matching_after
from crmkit.adapters.sqlalchemy.customers.rows import customer_row
from crmkit.adapters.sqlalchemy.customers.search import matching_text, phone_is, search_text
from crmkit.adapters.sqlalchemy.customers.tables import (
    consents,
    customers,
    external_ids,
    tags,
    traits,
)
from crmkit.adapters.sqlalchemy.customers.writing import insert_customers, replace_children
from crmkit.adapters.sqlalchemy.lists import key_in
from crmkit.adapters.sqlalchemy.rows import slot_setters
from crmkit.adapters.sqlalchemy.segments.compiler import (
    count_query,
)
from crmkit.adapters.sqlalchemy.session import Session, offender, survives_refusals
from crmkit.domain import (
    AccountId,
    Condition,
    Customer,
    CustomerId,
    EmailAddress,
    PhoneNumber,
)
from crmkit.domain._arguments import instance_of
from crmkit.errors import ConcurrencyConflict, DuplicateCustomer, NotFound, ValidationError
from crmkit.ports import ImportResult, OnExisting, Page, check_on_existing

__all__ = ["SqlCustomers"]

_NO_CHILDREN: Children = ({}, {}, {}, {})
_set_version = slot_setters(Customer)["version"]


# What a bulk import fills: the customers, and child tables that grow with them (or stay
# small, and are cheap to analyse).
_BULK_TABLES = tuple(t.name for t in (customers, tags, traits, external_ids, consents))


class SqlCustomers:
    """Customers in ``crmkit_customers`` and its child tables."""

    def __init__(self, session: Session) -> None:
        self._s = session
        self._loader = CustomerLoader(session)

    @property
    def _tenant(self) -> str:
        return self._s.tenant

    def add(self, customer: Customer) -> None:
        """Store a new customer (version 0); it becomes version 1.

        Raises:
            DuplicateCustomer: its id, email or an external id is taken.
        """
        instance_of(customer, Customer, "customer")
        if customer.version != 0:
            raise ValidationError.single(
                "version", customer.version, "a new customer has version 0"
            )
        conn, tenant = self._s.connection, self._tenant
        refuse_duplicates(conn, tenant, customer)
        customer.version = 1
        try:
            insert_customers(conn, tenant, [customer])
        except exc.IntegrityError as error:
            customer.version = 0
            raise duplicate_of(customer, error) from None
        self._s._track(customer)

    def add_many(
        self,
        customers: Iterable[Customer],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        """Insert new customers in batches with executemany; no events are recorded. With
        ``on_existing="skip"``, one query per batch finds the customers already stored.

        Raises:
            DuplicateCustomer: naming the first taken id, email or external id, its value
                and the customer holding it.
        """
        check_batch(batch_size)
        skip = check_on_existing(on_existing) == "skip"
        result = ImportResult(0)
        for batch in batches(customers, batch_size):
            result += self._insert_batch(batch, skip)
        for table in _BULK_TABLES:
            self._s.note_filled(table, result.imported)
        return result

    def _insert_batch(self, batch: builtins.list[Customer], skip: bool) -> ImportResult:
        for customer in batch:
            if customer.version != 0:
                raise ValidationError.single(
                    "version", customer.version, f"customer {customer.id} is not new"
                )
        skipped: builtins.list[int] = []
        if skip:
            batch, skipped = self._without_stored(batch)
        if batch:
            self._insert_or_explain(batch)
        for customer in batch:
            _set_version(customer, 1)  # a valid version: no need for attrs' setattr checks
        return ImportResult(len(batch), tuple(skipped))

    def _insert_or_explain(self, batch: builtins.list[Customer]) -> None:
        """Insert the batch; if a key is taken, raise the `DuplicateCustomer` naming it."""
        conn, tenant = self._s.connection, self._tenant
        # In a savepoint: rolled back to it, the tables hold none of the batch (SQLite keeps
        # the rows an executemany wrote before the refused one, and the customers' rows are
        # written before their external ids), and PostgreSQL's transaction, aborted by the
        # refusal, is usable again to ask which key was taken. Only an IntegrityError rolls
        # back to it: any other error (a deadlock) leaves it to the unit of work's rollback.
        savepoint = conn.begin_nested()
        try:
            insert_customers(conn, tenant, batch, version=1)
        except exc.IntegrityError as error:
            savepoint.rollback()
            raise self._explain(conn, batch, error) from None
        savepoint.commit()

    def _explain(
        self, conn: Connection, batch: builtins.list[Customer], error: exc.IntegrityError
    ) -> DuplicateCustomer:
        self._without_stored(batch, skip=False)  # raises for a taken id
        found = duplicate_in_batch(conn, self._tenant, batch)
        if found is not None:
            return found
        # Not found now: the key's holder was written by a transaction that committed later.
        return DuplicateCustomer("id, email or external_ids", offender(error), None)

    def _without_stored(
        self, batch: builtins.list[Customer], *, skip: bool = True
    ) -> tuple[builtins.list[Customer], builtins.list[int]]:
        """The customers of ``batch`` to insert, and the positions of those to skip: stored
        already (or earlier in the batch) with the same content. One query finds them.
        Without ``skip``, raises `DuplicateCustomer` for the first id taken."""
        dialect = self._s.connection.dialect.name
        ids = [customer.id for customer in batch]
        held = and_(customers.c.tenant_id == self._tenant, key_in(dialect, customers.c.id, ids))
        # Keyed by the exact text: a collation that ignores trailing spaces finds more.
        stored = {customer.id: customer for customer in self._loader.load(held)}
        fresh: builtins.list[Customer] = []
        skipped: builtins.list[int] = []
        for position, customer in enumerate(batch):
            if is_replayed_customer(customer, stored.get(customer.id), skip=skip):
                skipped.append(position)
            else:
                stored[customer.id] = customer
                fresh.append(customer)
        return fresh, skipped

    def update(self, customer: Customer) -> None:
        instance_of(customer, Customer, "customer")
        # The versioned UPDATE goes first, so a stale copy is reported as stale whatever else
        # is wrong with it (as in memory; under snapshot isolation only a write can tell).
        # No savepoint: a deadlock inside one would roll back the whole transaction on MariaDB
        # and surface as "savepoint does not exist" instead of a retryable conflict.
        conn, tenant = self._s.connection, self._tenant
        row = customer_row(tenant, customer)
        row["version"] = customer.version + 1
        try:
            result = conn.execute(
                update(customers)
                .where(
                    customers.c.tenant_id == tenant,
                    customers.c.id == customer.id,
                    customers.c.version == customer.version,
                )
                .values(row)
            )
            if result.rowcount == 1:
                replace_children(conn, tenant, customer)
        except exc.IntegrityError as error:
            if survives_refusals(conn):
                refuse_duplicates(conn, tenant, customer)  # names the customer holding the key
            raise duplicate_of(customer, error) from None
        if result.rowcount != 1:
            if self.find(customer.id) is None:
                raise NotFound("customer", customer.id)
            raise ConcurrencyConflict("customer", customer.id, customer.version)
        customer.version += 1
        self._s._track(customer)

    def get(self, customer_id: CustomerId) -> Customer:
        """The customer with this id; raises `NotFound` if there is none."""
        found = self.find(customer_id)
        if found is None:
            raise NotFound("customer", customer_id)
        return found

    def find(self, customer_id: CustomerId) -> Customer | None:
        """The customer with this id, or ``None``."""
        return self._one(customers.c.id == customer_id)

    def find_by_email(self, email: EmailAddress) -> Customer | None:
        """The customer with this email address, or ``None``."""
        return self._one(customers.c.email == email.value)

    def find_by_phone(self, phone: PhoneNumber) -> Customer | None:
        """The customer whose phone's E.164 part is ``phone``'s (extensions aside); of
        several, the one with the least id. ``None`` if there is none.

        Raises:
            ValidationError: ``phone`` is not a `PhoneNumber`.
        """
        instance_of(phone, PhoneNumber, "phone")
        return self._one(phone_is(phone.e164))

    def find_by_external_id(self, source: str, external_id: str) -> Customer | None:
        """The customer holding this external id, or ``None``."""
        owner = self._s.connection.execute(
            select(external_ids.c.customer_id).where(
                external_ids.c.tenant_id == self._tenant,
                external_ids.c.source == source,
                external_ids.c.external_id == external_id,
            )
        ).scalar()
        return None if owner is None else self.find(CustomerId(owner))

    def _one(self, condition: Any) -> Customer | None:
        found = self._loader.load(and_(customers.c.tenant_id == self._tenant, condition), limit=1)
        return found[0] if found else None

    def search(self, text: str, *, limit: int = 20, cursor: str | None = None) -> Page[Customer]:
        """The customers whose email, given name or family name starts with ``text``, in
        any case (Python's ``value.lower().startswith(text.lower())``), a page in id order.

        Args:
            text: the start searched for: 1 to `MAX_SEARCH` characters.
            limit: the page size.
            cursor: the ``next_cursor`` of the previous page.

        Returns:
            The page; each matching customer once.

        Raises:
            ValidationError: ``text`` is empty, too long or not text; a bad limit or cursor.
        """
        prefix = search_text(text)
        check_page(limit, cursor)
        c = customers.c
        condition = and_(c.tenant_id == self._tenant, c.id.in_(matching_text(self._tenant, prefix)))
        if cursor is not None:
            condition = and_(condition, c.id > cursor)
        found = self._loader.load(condition, limit=limit + 1)
        more = len(found) > limit
        return Page(tuple(found[:limit]), found[limit - 1].id if more else None)

    def list(
        self,
        *,
        tag: str | None = None,
        account_id: AccountId | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Customer]:
        check_page(limit, cursor)
        c = customers.c
        condition = and_(c.tenant_id == self._tenant)
        if cursor is not None:
            condition = and_(condition, c.id > cursor)
        if account_id is not None:
            condition = and_(condition, c.account_id == account_id)
        if tag is not None:
            tagged = select(tags.c.customer_id).where(
                tags.c.tenant_id == self._tenant, tags.c.tag == tag
            )
            condition = and_(condition, c.id.in_(tagged))
        scattered = tag is not None or account_id is not None
        found = self._loader.load(condition, limit=limit + 1, contiguous=not scattered)
        more = len(found) > limit
        return Page(tuple(found[:limit]), found[limit - 1].id if more else None)

    def stream_page(
        self, *, limit: int = 1000, cursor: str | None = None
    ) -> tuple[Iterator[Customer], str | None]:
        check_page(limit, cursor)
        rows = self._loader.page(cursor, limit + 1)
        more = len(rows) > limit
        if more:
            rows = rows[:limit]
        children = self._loader.children(rows, contiguous=True) if rows else _NO_CHILDREN
        return self._loader.build(rows, children), rows[-1][0] if more else None

    def stream(self, *, batch_size: int = 1000) -> Iterator[Customer]:
        check_batch(batch_size)
        last: str | None = None
        while True:
            rows = self._loader.page(last, batch_size)
            yield from self._loader.assemble(rows, contiguous=True)
            if len(rows) < batch_size:
                return
            last = rows[-1][0]

    def count(self) -> int:
        return int(
            self._s.connection.execute(
                select(func.count())
                .select_from(customers)
                .where(customers.c.tenant_id == self._tenant)
            ).scalar_one()
        )

    # Segments: the rule is compiled into one query and evaluated in the database.

    def count_matching(self, condition: Condition, *, as_of: datetime) -> int:
        moment = check_rule(condition, as_of)
        conn = self._s.connection
        query = count_query(condition, dialect=conn.dialect.name, tenant=self._tenant, as_of=moment)
        return int(conn.execute(query).scalar_one())

    def _matching_ids(
        self, condition: Condition, as_of: datetime, after: str | None, limit: int
    ) -> builtins.list[str]:
        return matching_after(self._s.connection, self._tenant, condition, as_of, after, limit)

    def matching_ids(
        self,
        condition: Condition,
        *,
        as_of: datetime,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[CustomerId]:
        check_page(limit, cursor)
        moment = check_rule(condition, as_of)
        found = self._matching_ids(condition, moment, cursor, limit + 1)
        more = len(found) > limit
        ids = tuple(CustomerId(i) for i in found[:limit])
        return Page(ids, ids[-1] if more else None)

    def stream_matching(
        self,
        condition: Condition,
        *,
        as_of: datetime,
        batch_size: int = 1000,
        after: str | None = None,
    ) -> Iterator[Customer]:
        check_batch(batch_size)
        check_page(1, after)
        moment = check_rule(condition, as_of)
        c = customers.c
        last = after
        while True:
            ids = self._matching_ids(condition, moment, last, batch_size)
            if ids:
                dialect = self._s.connection.dialect.name
                rows = self._loader.rows(
                    and_(c.tenant_id == self._tenant, key_in(dialect, c.id, ids)), None
                )
                yield from self._loader.assemble(rows, contiguous=False)
            if len(ids) < batch_size:
                return
            last = ids[-1]
