"""The SQL adapter's fast paths store and read exactly what its ordinary paths do.

- Writing: on SQLite a batch of customers goes to the driver's ``executemany`` as tuples
  (`insert_customers`); elsewhere SQLAlchemy Core inserts dicts. For any generated customers
  both leave the same rows in ``crmkit_customers``.
- Reading: ``stream_page`` reads SQLite's rows from the driver's cursor and builds each
  customer as it is consumed; ``list`` and ``get`` go through SQLAlchemy. For any generated
  customers both give customers equal to those written, field by field and type by type.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import insert, select

from crmkit.adapters.sqlalchemy import SqlStore
from crmkit.adapters.sqlalchemy.customers import rows as mapped
from crmkit.adapters.sqlalchemy.customers.tables import customers as customers_table
from crmkit.adapters.sqlalchemy.customers.writing import insert_customers
from crmkit.domain import Customer, TenantId
from crmkit.testing.strategies import customers

_TENANTS = (TenantId(f"t{n}") for n in itertools.count())

generated = st.lists(
    customers(),
    min_size=1,
    max_size=4,
    unique_by=(lambda c: c.id, lambda c: c.email or c.id),
)


def _distinct_external_ids(batch: list[Customer]) -> bool:
    refs = [item for c in batch for item in c.external_ids.items()]
    return len(refs) == len(set(refs))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    """One SQLite file for the module; each example writes under a tenant of its own."""
    opened = SqlStore.sqlite(Path(tmp_path_factory.mktemp("fast")) / "crm.db")
    yield opened
    opened.dispose()


def _stored_rows(store: SqlStore, tenant: str) -> list[tuple[object, ...]]:
    c = customers_table.c
    query = select(customers_table).where(c.tenant_id == tenant).order_by(c.id)
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


class TestFastWrite:
    """`insert_customers` on SQLite stores the rows Core's ordinary insert stores."""

    @given(batch=generated)
    def test_the_tuples_path_stores_the_rows_core_stores(
        self, store: SqlStore, batch: list[Customer]
    ) -> None:
        assume(_distinct_external_ids(batch))
        fast, ordinary = next(_TENANTS), next(_TENANTS)
        with store.engine.begin() as conn:
            insert_customers(conn, fast, batch, version=1)
            rows = [mapped.customer_row(ordinary, c) | {"version": 1} for c in batch]
            conn.execute(insert(customers_table), rows)
        written = [row[1:] for row in _stored_rows(store, fast)]
        assert written == [row[1:] for row in _stored_rows(store, ordinary)]
        assert len(written) == len(batch)


class TestFastRead:
    """``stream_page`` builds the customers ``list`` and ``get`` build."""

    @given(batch=generated, limit=st.integers(1, 5))
    def test_streamed_pages_equal_listed_pages_and_what_was_written(
        self, store: SqlStore, batch: list[Customer], limit: int
    ) -> None:
        assume(_distinct_external_ids(batch))
        tenant = next(_TENANTS)
        with store.unit_of_work(tenant) as uow:
            uow.customers.add_many(batch)
            uow.commit()
        streamed: list[Customer] = []
        cursor: str | None = None
        while True:
            with store.unit_of_work(tenant, read_only=True) as uow:
                page = uow.customers.list(limit=limit, cursor=cursor)
                found, cursor = uow.customers.stream_page(limit=limit, cursor=cursor)
                got = {c.id: uow.customers.get(c.id) for c in page.items}
            items = list(found)
            assert items == list(page.items)
            assert all(c.same_content(got[c.id]) for c in items)
            streamed.extend(items)
            if cursor is None:
                break
        written = sorted(batch, key=lambda c: c.id)
        assert [c.id for c in streamed] == [c.id for c in written]
        for read, wrote in zip(streamed, written, strict=True):
            assert read.same_content(wrote), read.differing_fields(wrote)
            assert type(read) is Customer
            assert read.version == 1
            assert not read.peek_events()
