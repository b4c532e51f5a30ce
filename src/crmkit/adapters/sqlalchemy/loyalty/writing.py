"""Writing ledger entries and balance rows in bulk: one executemany per table.

On SQLite the rows go to the driver as tuples (no dict per row, none of SQLAlchemy's
per-row parameter processing: these columns have no bind processors there, so the driver
receives the same values); other backends take SQLAlchemy's ``insert``/``update``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert

from crmkit.adapters.sqlalchemy.loyalty import rows as m
from crmkit.adapters.sqlalchemy.loyalty.stored import BALANCE_FIGURES
from crmkit.adapters.sqlalchemy.loyalty.tables import points_balances, points_entries
from crmkit.domain import PointsLedger

__all__ = ["insert_entries", "update_balances"]


_INSERT_ENTRIES_SQLITE = (
    f"INSERT INTO {points_entries.name} ({', '.join(m.ENTRY_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(m.ENTRY_COLUMNS))})"
)

_UPDATE_BALANCE_SQLITE = (
    f"UPDATE {points_balances.name} SET "
    + ", ".join(f"{name} = ?" for name in BALANCE_FIGURES)
    + ", version = version + 1 "
    "WHERE tenant_id = ? AND programme = ? AND customer_id = ? AND version = ?"
)


def insert_entries(
    connection: Connection, tenant: str, appended: Sequence[tuple[PointsLedger, int]]
) -> bool:
    """INSERT the entries of each ledger from its position ``first_seq`` on (pairs of
    ``(ledger, first_seq)``); False when there were none. Raises SQLAlchemy's
    ``IntegrityError`` if a key is taken."""
    if connection.dialect.name == "sqlite":
        values = [
            v for ledger, first in appended for v in m.points_entry_values(tenant, ledger, first)
        ]
        if values:
            connection.exec_driver_sql(_INSERT_ENTRIES_SQLITE, values)
        return bool(values)
    rows = [r for ledger, first in appended for r in m.points_entry_rows(tenant, ledger, first)]
    if rows:
        connection.execute(insert(points_entries), rows)
    return bool(rows)


def update_balances(
    connection: Connection, parameters: list[dict[str, Any]], statement: Any
) -> int:
    """Run the versioned balance UPDATE once per parameter set (``statement`` with the
    ``b_`` parameters of `crmkit.adapters.sqlalchemy.loyalty.stored.balance_parameters`);
    the number of rows changed."""
    if connection.dialect.name == "sqlite":
        values = [
            (
                *(p[f"b_{name}"] for name in BALANCE_FIGURES),
                p["b_tenant"],
                p["b_programme"],
                p["b_customer"],
                p["b_version"],
            )
            for p in parameters
        ]
        result = connection.exec_driver_sql(_UPDATE_BALANCE_SQLITE, values)
    else:
        result = connection.execute(statement, parameters)
    return int(result.rowcount)
