"""Planner statistics after a bulk import, so the first queries after it are planned on what
the tables now hold rather than on what they held before.

PostgreSQL plans from ``pg_statistic``, which autovacuum refreshes only some time after a
large change: a segment asked right after importing 70,000 interactions into an empty table
was planned as if the table were still empty (nested loops over a "tiny" table) and took
minutes instead of a fifth of a second. So after a unit of work that bulk-wrote at least
`ANALYZE_AFTER_ROWS` rows into a table commits, crmkit runs ``ANALYZE`` on that table.

MariaDB/MySQL need nothing: InnoDB recalculates a table's persistent statistics by itself once
a tenth of it has changed (``innodb_stats_auto_recalc``, on by default). SQLite has no
statistics unless ``ANALYZE`` is run, and crmkit's queries are written for its default
planner, which picks their indexes by their shape; a host that adds its own indexes may run
``PRAGMA optimize`` from time to time, as SQLite recommends.
"""

from __future__ import annotations

import logging
from collections import Counter

from sqlalchemy import Connection, exc, text

__all__ = ["ANALYZE_AFTER_ROWS", "refresh_statistics"]

#: How many rows one unit of work must bulk-write into a table for ``ANALYZE`` to follow.
ANALYZE_AFTER_ROWS = 5_000

_log = logging.getLogger("crmkit.adapters.sqlalchemy")


def refresh_statistics(connection: Connection, filled: Counter[str]) -> list[str]:
    """``ANALYZE`` each table of ``filled`` (rows written per table name) that got at least
    `ANALYZE_AFTER_ROWS` rows, on PostgreSQL; run after the commit, in its own transaction.

    The data is committed already, so a failure here is logged and swallowed: the statistics
    stay as they were until autovacuum refreshes them.

    Returns:
        The tables analysed (none on other databases).
    """
    if connection.dialect.name != "postgresql":
        return []
    tables = sorted(name for name, rows in filled.items() if rows >= ANALYZE_AFTER_ROWS)
    try:
        for name in tables:
            connection.execute(text(f'ANALYZE "{name}"'))  # crmkit's own table names
        connection.commit()
    except exc.SQLAlchemyError as error:
        connection.rollback()
        _log.warning("could not refresh the planner statistics: %s", type(error).__name__)
        return []
    return tables
