"""The SQLAlchemy adapter: crmkit on SQLite (embedded, zero set-up), PostgreSQL or MariaDB.

Install with ``pip install 'crmkit[sql]'`` (plus ``[postgres]`` or ``[mysql]`` for a server).
Most hosts never import this module: ``CRM.sqlite(path)`` and ``CRM.from_url(url)`` use it.

One subpackage per capability holds its tables, its row mapping and its repositories
(``customers/``, ``accounts/``, ``interactions/``, ``lifecycle/``, ``segments/``,
``loyalty/``); the modules beside them are shared: the schema's MetaData (``schema``), the
engine and URLs, failures, the store and its unit of work, the outbox, migrations.
"""

from crmkit.adapters.sqlalchemy.engine import SUPPORTED_BACKENDS, masked, open_engine, sqlite_url
from crmkit.adapters.sqlalchemy.migrate import VERSION_TABLE, current_revision, upgrade
from crmkit.adapters.sqlalchemy.outbox import OutboxMessage, SqlOutbox
from crmkit.adapters.sqlalchemy.store import SqlStore
from crmkit.adapters.sqlalchemy.tables import PREFIX, metadata
from crmkit.adapters.sqlalchemy.unit_of_work import SqlUnitOfWork

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
