"""The SQLAlchemy adapter: crmkit on SQLite (embedded, zero set-up), PostgreSQL or MariaDB.

Install with ``pip install 'crmkit[sql]'`` (plus ``[postgres]`` or ``[mysql]`` for a server).
Most hosts never import this module: ``CRM.sqlite(path)`` and ``CRM.from_url(url)`` use it.
"""

from crmkit.adapters.sqlalchemy.engine import SUPPORTED_BACKENDS, masked, open_engine, sqlite_url
from crmkit.adapters.sqlalchemy.migrate import VERSION_TABLE, current_revision, upgrade
from crmkit.adapters.sqlalchemy.outbox import OutboxMessage, SqlOutbox
from crmkit.adapters.sqlalchemy.store import SqlStore, SqlUnitOfWork
from crmkit.adapters.sqlalchemy.tables import PREFIX, metadata

__all__ = [
    "PREFIX",
    "OutboxMessage",
    "SqlOutbox",
    "SUPPORTED_BACKENDS",
    "VERSION_TABLE",
    "SqlStore",
    "SqlUnitOfWork",
    "current_revision",
    "masked",
    "metadata",
    "open_engine",
    "sqlite_url",
    "upgrade",
]
