"""Schema migrations: an Alembic environment shipped inside crmkit.

crmkit keeps its own version table (``crmkit_alembic_version``) and only ever looks at tables
named ``crmkit_…``, so it lives beside a host's own tables and its own Alembic history
without touching either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from crmkit.adapters.sqlalchemy.engine import connect
from crmkit.adapters.sqlalchemy.failures import storage_errors
from crmkit.adapters.sqlalchemy.tables import PREFIX

__all__ = ["MIGRATIONS", "VERSION_TABLE", "alembic_config", "current_revision", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = f"{PREFIX}alembic_version"


def alembic_config(connection: Connection) -> Any:
    """An Alembic ``Config`` for crmkit's migrations, bound to ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine | Connection, revision: str = "head") -> None:
    """Apply crmkit's migrations up to ``revision`` (the latest by default).

    Safe to run at every start: an up-to-date schema is left as it is. Pass the host's
    ``Engine`` (or a ``Connection`` inside the host's own transaction).
    """
    from alembic import command

    with storage_errors("migrating the schema"):
        if isinstance(engine, Connection):
            command.upgrade(alembic_config(engine), revision)
            return
        with connect(engine) as connection, connection.begin():
            command.upgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or ``None`` if crmkit's schema is not installed.

    Raises `StorageError` when the database cannot be read, `ConfigurationError` when its
    driver refuses the engine's options."""
    from alembic.runtime.migration import MigrationContext

    with storage_errors("reading the schema version"), connect(engine) as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()
