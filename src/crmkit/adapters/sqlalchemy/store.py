"""`SqlStore`: a crmkit database behind a SQLAlchemy engine (see `SqlUnitOfWork` for the
transaction a unit of work is)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine

from crmkit.adapters.sqlalchemy.engine import configure_sqlite, masked, open_engine, sqlite_url
from crmkit.adapters.sqlalchemy.failures import storage_errors
from crmkit.adapters.sqlalchemy.loyalty.ledger_cache import LedgerCache
from crmkit.adapters.sqlalchemy.outbox import SqlOutbox
from crmkit.adapters.sqlalchemy.pipelines import configure_psycopg
from crmkit.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork
from crmkit.domain import TenantId
from crmkit.errors import ConfigurationError
from crmkit.ports import Publisher

__all__ = ["SqlStore"]


class SqlStore:
    """A crmkit database behind a SQLAlchemy engine.

    Open one with `SqlStore.sqlite`, `SqlStore.open` (any supported URL) or wrap a host's
    engine with ``SqlStore(engine)``. With ``migrate=True`` the schema is brought to the
    latest migration when the store opens.
    """

    def __init__(self, engine: Engine, *, migrate: bool = False) -> None:
        #: The SQLAlchemy engine of the database.
        self.engine = engine
        #: Committed points-ledger entries, shared by this store's units of work: a ledger
        #: read again at an unchanged version is not read from the database. Call its
        #: ``clear()`` if crmkit's tables are ever changed by hand.
        self.ledger_cache = LedgerCache()
        configure_sqlite(engine)
        configure_psycopg(engine)
        if migrate:
            self.upgrade()

    @classmethod
    def open(cls, url: str | URL, *, migrate: bool = True, **engine_options: Any) -> SqlStore:
        """Open the database at ``url`` (SQLite, PostgreSQL or MariaDB/MySQL)."""
        engine = open_engine(url, **engine_options)
        try:
            return cls(engine, migrate=migrate)
        except BaseException:  # e.g. a database at a newer crmkit's migration
            engine.dispose()  # its connections are crmkit's: none is left open
            raise

    @classmethod
    def sqlite(cls, path: str | Path, *, migrate: bool = True) -> SqlStore:
        """Open (creating if needed) the SQLite file at ``path``; ``":memory:"`` for a
        private in-memory database."""
        return cls.open(sqlite_url(path), migrate=migrate)

    def upgrade(self) -> None:
        """Bring the schema to the latest migration (safe to call at every start)."""
        from crmkit.adapters.sqlalchemy.migrate import upgrade

        upgrade(self.engine)
        self.ledger_cache.clear()

    def require_schema(self) -> None:
        """Raise `ConfigurationError` unless crmkit's schema is installed in the database, at
        a migration this crmkit knows (not one written by a newer crmkit)."""
        from crmkit.adapters.sqlalchemy.migrate import require_known_revision

        with storage_errors("reading the schema version"):
            revision = require_known_revision(self.engine)
        if revision is None:
            raise ConfigurationError(
                f"{masked(self.engine.url)!r} has no crmkit schema: run "
                "'crmkit db upgrade --url …' or open it with migrate=True"
            )

    def unit_of_work(
        self, tenant: TenantId, publish: Publisher | None = None, *, read_only: bool = False
    ) -> SqlUnitOfWork:
        """A unit of work on ``tenant``'s data: one database transaction.

        On SQLite a unit of work takes the database's write lock when it begins, waiting for
        it up to the busy timeout, unless it is ``read_only`` (a promise that it will only
        read: it then reads its snapshot without the lock, and a write in it would not wait).
        PostgreSQL and MariaDB lock rows as they are written, and ignore ``read_only``.
        """
        return SqlUnitOfWork(
            self.engine, tenant, publish, ledger_cache=self.ledger_cache, read_only=read_only
        )

    def outbox(self, *, tenant: str | None = None) -> SqlOutbox:
        """The outbox reader, for every tenant or just ``tenant``."""
        return SqlOutbox(self.engine, tenant=tenant)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
