"""The SQL repositories: every statement filters on the unit of work's tenant."""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Table,
    and_,
    delete,
    exc,
    func,
    insert,
    select,
    union_all,
    update,
)

from crmkit.adapters._arguments import check_batch, check_page, check_rule, check_window
from crmkit.adapters._bulk import batches, is_replayed_customer, is_replayed_interaction
from crmkit.adapters.sqlalchemy import mapping as m
from crmkit.adapters.sqlalchemy import segments as sg
from crmkit.adapters.sqlalchemy import tables as t
from crmkit.adapters.sqlalchemy.lists import key_in
from crmkit.domain import (
    Account,
    AccountId,
    Channel,
    Condition,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    InteractionId,
)
from crmkit.domain._arguments import instance_of
from crmkit.errors import (
    ConcurrencyConflict,
    DuplicateAccount,
    DuplicateCustomer,
    IdempotencyConflict,
    NotFound,
    ValidationError,
)
from crmkit.ports import EventSource, ImportResult, OnExisting, Page, check_on_existing

__all__ = ["SqlAccounts", "SqlCustomers", "SqlInteractions"]


#: The customer columns in the order `mapping.customer_from_values` reads them.
_CUSTOMER_COLUMNS = tuple(t.customers.c[name] for name in m.CUSTOMER_COLUMNS)
_INSERT_CUSTOMER_SQLITE = (
    f"INSERT INTO {t.customers.name} ({', '.join(m.CUSTOMER_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(m.CUSTOMER_COLUMNS))})"
)


class _Session(Protocol):
    @property
    def tenant(self) -> str: ...

    @property
    def connection(self) -> Connection: ...

    def _track(self, aggregate: EventSource) -> None: ...


def _survives_refusals(connection: Connection) -> bool:
    # After a refused statement PostgreSQL aborts the whole transaction; the others go on.
    return connection.dialect.name != "postgresql"


def _offender(error: exc.IntegrityError) -> str:
    # The database's own words name the key (and, on PostgreSQL and MariaDB, the value).
    return str(error.orig).strip().splitlines()[0][:200]


def _is_about(error: exc.IntegrityError, *markers: str) -> bool:
    text = str(error.orig).lower()
    return any(marker in text for marker in markers)


def _duplicate_external_id(customer: Customer, reason: str) -> DuplicateCustomer:
    # Name the one external id the database refused, not every id the customer has.
    items = sorted(customer.external_ids.items())
    named = items if len(items) == 1 else [(s, ref) for s, ref in items if ref in reason]
    if len(named) == 1:
        source, ref = named[0]
        return DuplicateCustomer(f"external_ids.{source}", ref, "another customer")
    sources = ", ".join(source for source, _ in items)
    return DuplicateCustomer("external_ids", f"one of {sources}", "another customer")


class SqlCustomers:
    """Customers in ``crmkit_customers`` and its child tables."""

    def __init__(self, session: _Session) -> None:
        self._s = session

    @property
    def _tenant(self) -> str:
        return self._s.tenant

    def add(self, customer: Customer) -> None:
        instance_of(customer, Customer, "customer")
        if customer.version != 0:
            raise ValidationError.single(
                "version", customer.version, "a new customer has version 0"
            )
        self._refuse_duplicates(customer)
        customer.version = 1
        try:
            self._insert_many([customer])
        except exc.IntegrityError as error:
            customer.version = 0
            raise self._duplicate(customer, error) from None
        self._s._track(customer)

    def add_many(
        self,
        customers: Iterable[Customer],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        """Insert new customers in batches with executemany; no events are recorded. With
        ``on_existing="skip"``, one query per batch finds the customers already stored."""
        check_batch(batch_size)
        skip = check_on_existing(on_existing) == "skip"
        result = ImportResult(0)
        for batch in batches(customers, batch_size):
            result += self._insert_batch(batch, skip)
        return result

    def _insert_batch(self, batch: list[Customer], skip: bool) -> ImportResult:
        for customer in batch:
            if customer.version != 0:
                raise ValidationError.single(
                    "version", customer.version, f"customer {customer.id} is not new"
                )
        skipped: list[int] = []
        if skip:
            batch, skipped = self._without_stored(batch)
        if batch:
            try:
                self._insert_many(batch, version=1)
            except exc.IntegrityError as error:
                field = "id, email or external_ids"
                raise DuplicateCustomer(field, _offender(error), None) from error
        for customer in batch:
            customer.version = 1
        return ImportResult(len(batch), tuple(skipped))

    def _without_stored(self, batch: list[Customer]) -> tuple[list[Customer], list[int]]:
        """The customers of ``batch`` to insert, and the positions of those to skip: stored
        already (or earlier in the batch) with the same content. One query finds them."""
        dialect = self._s.connection.dialect.name
        ids = [customer.id for customer in batch]
        held = and_(t.customers.c.tenant_id == self._tenant, key_in(dialect, t.customers.c.id, ids))
        # Keyed by the exact text: a collation that ignores trailing spaces finds more.
        stored = {customer.id: customer for customer in self._load(held)}
        fresh: list[Customer] = []
        skipped: list[int] = []
        for position, customer in enumerate(batch):
            if is_replayed_customer(customer, stored.get(customer.id), skip=True):
                skipped.append(position)
            else:
                stored[customer.id] = customer
                fresh.append(customer)
        return fresh, skipped

    def _insert_many(self, batch: Sequence[Customer], version: int | None = None) -> None:
        tenant, conn = self._tenant, self._s.connection
        if conn.dialect.name == "sqlite":
            # Tuples straight to the driver's executemany: no dict per row, and none of
            # SQLAlchemy's per-row parameter processing (these columns have no bind
            # processors on SQLite, so the driver receives exactly the same values).
            conn.exec_driver_sql(
                _INSERT_CUSTOMER_SQLITE,
                [
                    m.customer_values(tenant, c, c.version if version is None else version)
                    for c in batch
                ],
            )
        else:
            rows = [m.customer_row(tenant, c) for c in batch]
            if version is not None:
                for row in rows:
                    row["version"] = version
            conn.execute(insert(t.customers), rows)
        self._insert_children(batch)

    def _insert_children(self, batch: Sequence[Customer]) -> None:
        tenant, conn = self._tenant, self._s.connection
        batch = [c for c in batch if c.tags or c.traits or c.external_ids or c.consents]
        if not batch:
            return
        for table, rows in (
            (t.tags, [r for c in batch for r in m.tag_rows(tenant, c)]),
            (t.traits, [r for c in batch for r in m.trait_rows(tenant, c)]),
            (t.external_ids, [r for c in batch for r in m.external_id_rows(tenant, c)]),
            (t.consents, [r for c in batch for r in m.consent_rows(tenant, c.id, c.consents)]),
        ):
            if rows:
                conn.execute(insert(table), rows)

    def update(self, customer: Customer) -> None:
        instance_of(customer, Customer, "customer")
        # The versioned UPDATE goes first, so a stale copy is reported as stale whatever else
        # is wrong with it (as in memory; under snapshot isolation only a write can tell).
        # No savepoint: a deadlock inside one would roll back the whole transaction on MariaDB
        # and surface as "savepoint does not exist" instead of a retryable conflict.
        conn, tenant = self._s.connection, self._tenant
        row = m.customer_row(tenant, customer)
        row["version"] = customer.version + 1
        try:
            result = conn.execute(
                update(t.customers)
                .where(
                    t.customers.c.tenant_id == tenant,
                    t.customers.c.id == customer.id,
                    t.customers.c.version == customer.version,
                )
                .values(row)
            )
            if result.rowcount == 1:
                self._replace_children(customer)
        except exc.IntegrityError as error:
            if _survives_refusals(conn):
                self._refuse_duplicates(customer)  # names the customer holding the key
            raise self._duplicate(customer, error) from None
        if result.rowcount != 1:
            if self.find(customer.id) is None:
                raise NotFound("customer", customer.id)
            raise ConcurrencyConflict("customer", customer.id, customer.version)
        customer.version += 1
        self._s._track(customer)

    def _replace_children(self, customer: Customer) -> None:
        conn, tenant = self._s.connection, self._tenant
        for table in (t.tags, t.traits, t.external_ids):
            conn.execute(
                delete(table).where(table.c.tenant_id == tenant, table.c.customer_id == customer.id)
            )
        stored = conn.execute(
            select(func.count())
            .select_from(t.consents)
            .where(t.consents.c.tenant_id == tenant, t.consents.c.customer_id == customer.id)
        ).scalar_one()
        new_consents = m.consent_rows(tenant, customer.id, customer.consents[stored:], stored)
        for table, rows in (
            (t.tags, m.tag_rows(tenant, customer)),
            (t.traits, m.trait_rows(tenant, customer)),
            (t.external_ids, m.external_id_rows(tenant, customer)),
            (t.consents, new_consents),
        ):
            if rows:
                conn.execute(insert(table), rows)

    def _refuse_duplicates(self, customer: Customer) -> None:
        if customer.email is not None:
            owner = self._owner(t.customers.c.email == customer.email.value)
            if owner is not None and owner != customer.id:
                raise DuplicateCustomer("email", customer.email.value, owner)
        for source, ref in customer.external_ids.items():
            found = self._s.connection.execute(
                select(t.external_ids.c.customer_id).where(
                    t.external_ids.c.tenant_id == self._tenant,
                    t.external_ids.c.source == source,
                    t.external_ids.c.external_id == ref,
                )
            ).scalar()
            if found is not None and found != customer.id:
                raise DuplicateCustomer(f"external_ids.{source}", ref, found)

    def _owner(self, condition: Any) -> str | None:
        return self._s.connection.execute(
            select(t.customers.c.id).where(t.customers.c.tenant_id == self._tenant, condition)
        ).scalar()

    def _duplicate(self, customer: Customer, error: exc.IntegrityError) -> DuplicateCustomer:
        if _is_about(error, "email"):
            return DuplicateCustomer("email", str(customer.email), "another customer")
        if _is_about(error, "external_id"):
            return _duplicate_external_id(customer, str(error.orig))
        return DuplicateCustomer("id", customer.id, customer.id)

    def get(self, customer_id: CustomerId) -> Customer:
        found = self.find(customer_id)
        if found is None:
            raise NotFound("customer", customer_id)
        return found

    def find(self, customer_id: CustomerId) -> Customer | None:
        return self._one(t.customers.c.id == customer_id)

    def find_by_email(self, email: EmailAddress) -> Customer | None:
        return self._one(t.customers.c.email == email.value)

    def find_by_external_id(self, source: str, external_id: str) -> Customer | None:
        owner = self._s.connection.execute(
            select(t.external_ids.c.customer_id).where(
                t.external_ids.c.tenant_id == self._tenant,
                t.external_ids.c.source == source,
                t.external_ids.c.external_id == external_id,
            )
        ).scalar()
        return None if owner is None else self.find(CustomerId(owner))

    def _one(self, condition: Any) -> Customer | None:
        found = self._load(and_(t.customers.c.tenant_id == self._tenant, condition), limit=1)
        return found[0] if found else None

    def _load(
        self, condition: Any, *, limit: int | None = None, contiguous: bool = False
    ) -> list[Customer]:
        """Customers matching ``condition`` in id order. ``contiguous``: no customer of the
        tenant lies between the first and last found (a keyset page of all customers)."""
        return list(self._assemble(self._rows(condition, limit), contiguous))

    def _rows(self, condition: Any, limit: int | None) -> Sequence[Sequence[Any]]:
        """The `mapping.CUSTOMER_COLUMNS` of the customers matching ``condition``, by id."""
        query = select(*_CUSTOMER_COLUMNS).where(condition).order_by(t.customers.c.id)
        if limit is not None:
            query = query.limit(limit)
        return self._s.connection.execute(query).all()  # plain rows: positional, no mappings

    def _assemble(self, rows: Sequence[Sequence[Any]], contiguous: bool) -> Iterator[Customer]:
        """Customers from their rows, built one at a time as they are consumed: a streamed
        customer the caller has dropped is freed before the next one is built."""
        if not rows:
            return
        ids = [r[1] for r in rows]
        tags, traits, external_ids, consents = (
            self._children(table, ids, order, contiguous)
            for table, order in (
                (t.tags, t.tags.c.tag),
                (t.traits, t.traits.c.name),
                (t.external_ids, t.external_ids.c.source),
                (t.consents, t.consents.c.seq),
            )
        )
        if not (tags or traits or external_ids or consents):
            for row in rows:
                yield m.customer_from_values(row)
            return
        for row in rows:
            yield m.customer_from_values(
                row,
                tags=[c["tag"] for c in tags.get(row[1], ())],
                traits=traits.get(row[1]),
                external_ids=external_ids.get(row[1]),
                consents=consents.get(row[1]),
            )

    def _children(
        self, table: Table, ids: list[str], order: Any, contiguous: bool
    ) -> dict[str, list[Mapping[Any, Any]]]:
        found: dict[str, list[Mapping[Any, Any]]] = defaultdict(list)
        owner = table.c.customer_id
        # A contiguous batch is one range seek on the (tenant_id, customer_id, …) key however
        # large it is; a scattered one (a tag, an account) asks for exactly its ids.
        selected = (
            and_(owner >= ids[0], owner <= ids[-1])
            if contiguous
            else key_in(self._s.connection.dialect.name, owner, ids)
        )
        query = (
            select(table).where(table.c.tenant_id == self._tenant, selected).order_by(owner, order)
        )
        for row in self._s.connection.execute(query).mappings():
            found[row["customer_id"]].append(row)
        return found

    def list(
        self,
        *,
        tag: str | None = None,
        account_id: AccountId | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Customer]:
        check_page(limit, cursor)
        c = t.customers.c
        condition = and_(c.tenant_id == self._tenant)
        if cursor is not None:
            condition = and_(condition, c.id > cursor)
        if account_id is not None:
            condition = and_(condition, c.account_id == account_id)
        if tag is not None:
            tagged = select(t.tags.c.customer_id).where(
                t.tags.c.tenant_id == self._tenant, t.tags.c.tag == tag
            )
            condition = and_(condition, c.id.in_(tagged))
        scattered = tag is not None or account_id is not None
        found = self._load(condition, limit=limit + 1, contiguous=not scattered)
        more = len(found) > limit
        return Page(tuple(found[:limit]), found[limit - 1].id if more else None)

    def stream(self, *, batch_size: int = 1000) -> Iterator[Customer]:
        check_batch(batch_size)
        c = t.customers.c
        last: str | None = None
        while True:
            condition = c.tenant_id == self._tenant
            if last is not None:
                condition = and_(condition, c.id > last)
            rows = self._rows(condition, batch_size)
            yield from self._assemble(rows, contiguous=True)
            if len(rows) < batch_size:
                return
            last = rows[-1][1]

    def count(self) -> int:
        return int(
            self._s.connection.execute(
                select(func.count())
                .select_from(t.customers)
                .where(t.customers.c.tenant_id == self._tenant)
            ).scalar_one()
        )

    # Segments: the rule is compiled into one query and evaluated in the database.

    def count_matching(self, condition: Condition, *, as_of: datetime) -> int:
        moment = check_rule(condition, as_of)
        conn = self._s.connection
        query = sg.count_query(
            condition, dialect=conn.dialect.name, tenant=self._tenant, as_of=moment
        )
        return int(conn.execute(query).scalar_one())

    def _matching_ids(
        self, condition: Condition, as_of: datetime, after: str | None, limit: int
    ) -> builtins.list[str]:
        conn = self._s.connection
        query = sg.compile_segment(
            condition,
            dialect=conn.dialect.name,
            tenant=self._tenant,
            as_of=as_of,
            after=after,
            limit=limit,
        )
        return list(conn.execute(query).scalars())

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
        c = t.customers.c
        last = after
        while True:
            ids = self._matching_ids(condition, moment, last, batch_size)
            if ids:
                dialect = self._s.connection.dialect.name
                rows = self._rows(
                    and_(c.tenant_id == self._tenant, key_in(dialect, c.id, ids)), None
                )
                yield from self._assemble(rows, contiguous=False)
            if len(ids) < batch_size:
                return
            last = ids[-1]


class SqlAccounts:
    """Accounts in ``crmkit_accounts``."""

    def __init__(self, session: _Session) -> None:
        self._s = session

    def add(self, account: Account) -> None:
        instance_of(account, Account, "account")
        if account.version != 0:
            raise ValidationError.single("version", account.version, "a new account has version 0")
        self._refuse_duplicate(account)
        row = m.account_row(self._s.tenant, account)
        row["version"] = 1
        try:
            self._s.connection.execute(insert(t.accounts), [row])
        except exc.IntegrityError as error:
            field = "domain" if _is_about(error, "domain") else "id"
            raise DuplicateAccount(field, getattr(account, field), "another account") from None
        account.version = 1
        self._s._track(account)

    def update(self, account: Account) -> None:
        instance_of(account, Account, "account")
        row = m.account_row(self._s.tenant, account)
        row["version"] = account.version + 1
        a = t.accounts.c
        connection = self._s.connection
        try:  # versioned first, as for customers
            result = connection.execute(
                update(t.accounts)
                .where(
                    a.tenant_id == self._s.tenant,
                    a.id == account.id,
                    a.version == account.version,
                )
                .values(row)
            )
        except exc.IntegrityError:
            if _survives_refusals(connection):
                self._refuse_duplicate(account)
            raise DuplicateAccount("domain", account.domain, None) from None
        if result.rowcount != 1:
            if self.find(account.id) is None:
                raise NotFound("account", account.id)
            raise ConcurrencyConflict("account", account.id, account.version)
        account.version += 1
        self._s._track(account)

    def _refuse_duplicate(self, account: Account) -> None:
        if account.domain is None:
            return
        owner = self.find_by_domain(account.domain)
        if owner is not None and owner.id != account.id:
            raise DuplicateAccount("domain", account.domain, owner.id)

    def get(self, account_id: AccountId) -> Account:
        found = self.find(account_id)
        if found is None:
            raise NotFound("account", account_id)
        return found

    def find(self, account_id: AccountId) -> Account | None:
        return self._one(t.accounts.c.id == account_id)

    def find_by_domain(self, domain: str) -> Account | None:
        return self._one(t.accounts.c.domain == domain)

    def _one(self, condition: Any) -> Account | None:
        row = (
            self._s.connection.execute(
                select(t.accounts).where(t.accounts.c.tenant_id == self._s.tenant, condition)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return m.account_from_row(row)

    def list(self, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        check_page(limit, cursor)
        found = self._page(cursor, limit + 1)
        more = len(found) > limit
        return Page(tuple(found[:limit]), found[limit - 1].id if more else None)

    def _page(self, after: str | None, limit: int) -> builtins.list[Account]:
        a = t.accounts.c
        query = select(t.accounts).where(a.tenant_id == self._s.tenant)
        if after is not None:
            query = query.where(a.id > after)
        rows = self._s.connection.execute(query.order_by(a.id).limit(limit)).mappings()
        return [m.account_from_row(r) for r in rows]

    def stream(self, *, batch_size: int = 1000) -> Iterator[Account]:
        check_batch(batch_size)
        last: str | None = None
        while True:
            batch = self._page(last, batch_size)
            yield from batch
            if len(batch) < batch_size:
                return
            last = batch[-1].id


class SqlInteractions:
    """The interaction log in ``crmkit_interactions``."""

    def __init__(self, session: _Session) -> None:
        self._s = session

    def add(self, interaction: Interaction) -> None:
        instance_of(interaction, Interaction, "interaction")
        if interaction.external_ref is not None:
            existing = self.find_by_external_ref(interaction.external_ref)
            if existing is not None:
                raise IdempotencyConflict(
                    "external_ref",
                    interaction.external_ref,
                    existing.id,
                    differing=existing.differing_fields(interaction),
                )
        self._insert([m.interaction_row(self._s.tenant, interaction)])
        self._s._track(interaction)

    def add_many(
        self,
        interactions: Iterable[Interaction],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        """Append interactions in batches with executemany; no events are recorded. With
        ``on_existing="skip"``, one query per batch finds the interactions already stored."""
        check_batch(batch_size)
        if check_on_existing(on_existing) == "skip":
            return self._add_new(interactions, batch_size)
        # The default path checks nothing first: a taken key fails the insert itself.
        count = 0
        batch: builtins.list[dict[str, Any]] = []
        for interaction in interactions:
            batch.append(m.interaction_row(self._s.tenant, interaction))
            if len(batch) >= batch_size:
                count += self._insert(batch)
                batch = []
        if batch:
            count += self._insert(batch)
        return ImportResult(count)

    def _add_new(self, interactions: Iterable[Interaction], batch_size: int) -> ImportResult:
        result, tenant = ImportResult(0), self._s.tenant
        for batch in batches(interactions, batch_size):
            fresh, skipped = self._without_stored(batch)
            rows = [m.interaction_row(tenant, interaction) for interaction in fresh]
            result += ImportResult(self._insert(rows) if rows else 0, tuple(skipped))
        return result

    def _without_stored(
        self, batch: builtins.list[Interaction]
    ) -> tuple[builtins.list[Interaction], builtins.list[int]]:
        """The interactions of ``batch`` to insert, and the positions of those to skip:
        stored already (or earlier in the batch) with the same content. One query finds them
        (by id, and by external_ref)."""
        i, dialect = t.interactions.c, self._s.connection.dialect.name
        for interaction in batch:
            if not isinstance(interaction, Interaction):
                raise ValidationError.single("interaction", interaction, "must be an Interaction")
        refs = [x.external_ref for x in batch if x.external_ref is not None]
        # Two halves, each answered by its unique index (an OR of both scans the tenant).
        query: Any = select(t.interactions).where(
            i.tenant_id == self._s.tenant, key_in(dialect, i.id, [x.id for x in batch])
        )
        if refs:
            query = union_all(
                query,
                select(t.interactions).where(
                    i.tenant_id == self._s.tenant, key_in(dialect, i.external_ref, refs)
                ),
            )
        found = [m.interaction_from_row(r) for r in self._s.connection.execute(query).mappings()]
        # Keyed by the exact text: a collation that ignores trailing spaces finds more.
        by_id = {x.id: x for x in found}
        by_ref = {x.external_ref: x for x in found if x.external_ref is not None}
        fresh: builtins.list[Interaction] = []
        skipped: builtins.list[int] = []
        for position, x in enumerate(batch):
            ref = x.external_ref
            stored = by_ref.get(ref) if ref is not None else None
            if is_replayed_interaction(x, by_id.get(x.id), stored, skip=True):
                skipped.append(position)
                continue
            by_id[x.id] = x
            if ref is not None:
                by_ref[ref] = x
            fresh.append(x)
        return fresh, skipped

    def _insert(self, rows: builtins.list[dict[str, Any]]) -> int:
        try:
            self._s.connection.execute(insert(t.interactions), rows)
        except exc.IntegrityError as error:
            field = "external_ref" if _is_about(error, "external_ref") else "id"
            value = rows[0][field] if len(rows) == 1 else _offender(error)
            raise IdempotencyConflict(field, value, None) from None
        return len(rows)

    def get(self, interaction_id: InteractionId) -> Interaction:
        found = self._one(t.interactions.c.id == interaction_id)
        if found is None:
            raise NotFound("interaction", interaction_id)
        return found

    def find_by_external_ref(self, external_ref: str) -> Interaction | None:
        return self._one(t.interactions.c.external_ref == external_ref)

    def _one(self, condition: Any) -> Interaction | None:
        row = (
            self._s.connection.execute(
                select(t.interactions).where(
                    t.interactions.c.tenant_id == self._s.tenant, condition
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else m.interaction_from_row(row)

    def timeline(
        self,
        customer_id: CustomerId,
        *,
        channels: Collection[Channel] | None = None,
        kinds: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Interaction]:
        since, until = check_window(since, until, limit)
        i = t.interactions.c
        query = select(t.interactions).where(
            i.tenant_id == self._s.tenant, i.customer_id == customer_id
        )
        dialect = self._s.connection.dialect.name
        if channels is not None:
            query = query.where(key_in(dialect, i.channel, [str(c) for c in channels]))
        if kinds is not None:
            query = query.where(key_in(dialect, i.kind, [str(k) for k in kinds]))
        if since is not None:
            query = query.where(i.occurred_at_us >= m.to_us(since))
        if until is not None:
            query = query.where(i.occurred_at_us < m.to_us(until))
        order = (i.occurred_at_us.desc(), i.id.desc()) if newest_first else (i.occurred_at_us, i.id)
        query = query.order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        return [m.interaction_from_row(r) for r in self._s.connection.execute(query).mappings()]

    def stream(self, *, batch_size: int = 1000) -> Iterator[Interaction]:
        check_batch(batch_size)
        i = t.interactions.c
        last: tuple[int, str] | None = None
        while True:
            query = select(t.interactions).where(i.tenant_id == self._s.tenant)
            if last is not None:
                query = query.where(
                    (i.occurred_at_us > last[0])
                    | ((i.occurred_at_us == last[0]) & (i.id > last[1]))
                )
            rows = (
                self._s.connection.execute(query.order_by(i.occurred_at_us, i.id).limit(batch_size))
                .mappings()
                .all()
            )
            yield from (m.interaction_from_row(r) for r in rows)
            if len(rows) < batch_size:
                return
            last = (rows[-1]["occurred_at_us"], rows[-1]["id"])

    def count(self) -> int:
        return int(
            self._s.connection.execute(
                select(func.count())
                .select_from(t.interactions)
                .where(t.interactions.c.tenant_id == self._s.tenant)
            ).scalar_one()
        )
