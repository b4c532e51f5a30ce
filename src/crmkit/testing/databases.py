"""Database helpers for test suites that run crmkit's SQL adapter against real servers.

Server tests are opt-in: set ``CRMKIT_TEST_POSTGRES_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) or ``CRMKIT_TEST_MYSQL_URL`` (e.g.
``mariadb+pymysql://root@127.0.0.1:3306/test``); without them those tests skip and say so.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from crmkit.adapters.sqlalchemy import SqlStore

__all__ = ["MYSQL_URL_ENV", "POSTGRES_URL_ENV", "drop_crmkit_tables", "scratch_store", "server_url"]

POSTGRES_URL_ENV = "CRMKIT_TEST_POSTGRES_URL"
MYSQL_URL_ENV = "CRMKIT_TEST_MYSQL_URL"


def server_url(env: str) -> str | None:
    """The database URL in environment variable ``env``, or ``None`` when unset or empty."""
    return os.environ.get(env) or None


def drop_crmkit_tables(engine: Engine) -> None:
    """Drop every ``crmkit_`` table and crmkit's migration version table, nothing else.

    For test databases only: it deletes all crmkit data in that database.
    """
    from sqlalchemy import inspect, text

    from crmkit.adapters.sqlalchemy import PREFIX, VERSION_TABLE, metadata

    with engine.begin() as connection:
        metadata.drop_all(connection)
        if inspect(connection).has_table(VERSION_TABLE):
            connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        leftover = [n for n in inspect(connection).get_table_names() if n.startswith(PREFIX)]
        for name in leftover:
            connection.execute(text(f"DROP TABLE {name}"))


def scratch_store(url: str) -> SqlStore:
    """A `SqlStore` on ``url`` with crmkit's tables dropped and migrated afresh: empty."""
    from crmkit.adapters.sqlalchemy import SqlStore

    store = SqlStore.open(url, migrate=False)
    if store.engine.url.get_backend_name() != "sqlite":
        drop_crmkit_tables(store.engine)
    store.upgrade()
    return store
