"""Customers written to ``crmkit_customers`` and its child tables (executemany)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from crmkit.adapters.sqlalchemy.customers import rows as mapped
from crmkit.adapters.sqlalchemy.customers.tables import (
    consents,
    customers,
    external_ids,
    tags,
    traits,
)
from crmkit.domain import Customer

__all__ = ["insert_customers", "replace_children"]

_INSERT_SQLITE = (
    f"INSERT INTO {customers.name} ({', '.join(mapped.STORED_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(mapped.STORED_COLUMNS))})"
)


def insert_customers(
    conn: Connection, tenant: str, batch: Sequence[Customer], version: int | None = None
) -> None:
    """INSERT the customers of ``batch`` and their children, each at its own version (or at
    ``version``); raises SQLAlchemy's ``IntegrityError`` if a key is taken."""
    if conn.dialect.name == "sqlite":
        # Tuples straight to the driver's executemany: no dict per row, and none of
        # SQLAlchemy's per-row parameter processing (these columns have no bind
        # processors on SQLite, so the driver receives exactly the same values).
        conn.exec_driver_sql(
            _INSERT_SQLITE,
            [
                mapped.customer_values(tenant, c, c.version if version is None else version)
                for c in batch
            ],
        )
    else:
        rows = [mapped.customer_row(tenant, c) for c in batch]
        if version is not None:
            for row in rows:
                row["version"] = version
        conn.execute(insert(customers), rows)
    _insert_children(conn, tenant, batch)


def _insert_children(conn: Connection, tenant: str, batch: Sequence[Customer]) -> None:
    batch = [c for c in batch if c.tags or c.traits or c.external_ids or c.consents]
    if not batch:
        return
    for table, rows in (
        (tags, [r for c in batch for r in mapped.tag_rows(tenant, c)]),
        (traits, [r for c in batch for r in mapped.trait_rows(tenant, c)]),
        (external_ids, [r for c in batch for r in mapped.external_id_rows(tenant, c)]),
        (consents, [r for c in batch for r in mapped.consent_rows(tenant, c.id, c.consents)]),
    ):
        if rows:
            conn.execute(insert(table), rows)


def replace_children(conn: Connection, tenant: str, customer: Customer) -> None:
    """Rewrite the customer's tags, traits and external ids; append its new consents."""
    for table in (tags, traits, external_ids):
        conn.execute(
            delete(table).where(table.c.tenant_id == tenant, table.c.customer_id == customer.id)
        )
    stored = conn.execute(
        select(func.count())
        .select_from(consents)
        .where(consents.c.tenant_id == tenant, consents.c.customer_id == customer.id)
    ).scalar_one()
    new_consents = mapped.consent_rows(tenant, customer.id, customer.consents[stored:], stored)
    children: tuple[tuple[Any, list[dict[str, Any]]], ...] = (
        (tags, mapped.tag_rows(tenant, customer)),
        (traits, mapped.trait_rows(tenant, customer)),
        (external_ids, mapped.external_id_rows(tenant, customer)),
        (consents, new_consents),
    )
    for table, rows in children:
        if rows:
            conn.execute(insert(table), rows)
