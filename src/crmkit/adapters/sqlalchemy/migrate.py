"""Schema migrations: an Alembic environment shipped inside crmkit.

crmkit keeps its own version table (``crmkit_alembic_version``) and only ever looks at tables
named ``crmkit_…``, so it lives beside a host's own tables and its own Alembic history
without touching either.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from crmkit._reprs import show
from crmkit.adapters.sqlalchemy.engine import connect
from crmkit.adapters.sqlalchemy.failures import storage_errors
from crmkit.adapters.sqlalchemy.schema import PREFIX
from crmkit.errors import ConfigurationError

__all__ = [
    "MIGRATIONS",
    "VERSION_TABLE",
    "alembic_config",
    "current_revision",
    "require_known_revision",
    "revisions",
    "upgrade",
]

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

    Raises:
        ConfigurationError: ``revision`` is none of crmkit's migrations, or the database is
            at a migration this crmkit does not know (it was written by a newer crmkit).
        StorageError: the database failed.
    """
    if not isinstance(revision, str) or not revision.strip():
        raise ConfigurationError(f"unknown migration {show(revision)}: {_known()}")
    with storage_errors("migrating the schema"):
        if isinstance(engine, Connection):
            _upgrade(engine, revision)
            return
        with connect(engine) as connection, connection.begin():
            _upgrade(connection, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command
    from alembic.util import CommandError

    _require_known(connection)
    try:
        command.upgrade(alembic_config(connection), revision)
    except CommandError as error:  # e.g. "Can't locate revision identified by '9999'"
        problem = f"cannot migrate to {show(revision)}: {_first_line(error)}; {_known()}"
    else:
        return
    raise ConfigurationError(problem)  # outside the handler: no Alembic traceback chained


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or ``None`` if crmkit's schema is not installed.

    Raises `StorageError` when the database cannot be read, `ConfigurationError` when its
    driver refuses the engine's options."""
    with storage_errors("reading the schema version"), connect(engine) as connection:
        return _revision_of(connection)


def require_known_revision(engine: Engine) -> str | None:
    """Like `current_revision`, but raise `ConfigurationError` when the database is at a
    migration this crmkit does not know (a newer crmkit wrote it)."""
    with storage_errors("reading the schema version"), connect(engine) as connection:
        return _require_known(connection)


@functools.cache
def revisions() -> tuple[str, ...]:
    """crmkit's migrations, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    return tuple(reversed([r.revision for r in script.walk_revisions()]))


def _revision_of(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _require_known(connection: Connection) -> str | None:
    revision = _revision_of(connection)
    if revision is not None and revision not in revisions():
        raise ConfigurationError(
            f"the database is at crmkit migration {show(revision)}, which this crmkit does not "
            f"know: it was written by a newer crmkit (upgrade crmkit; {_known()})"
        )
    return revision


def _known() -> str:
    known = revisions()
    return f"this crmkit's migrations are {known[0]} to {known[-1]} ('head': the latest)"


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
