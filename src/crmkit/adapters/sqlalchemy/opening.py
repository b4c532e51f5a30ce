"""Opening a `SqlStore` for the front door from a URL or a host's engine."""

from __future__ import annotations

from sqlalchemy import URL, Engine

from crmkit.adapters.sqlalchemy.engine import check_engine
from crmkit.adapters.sqlalchemy.sqlite_files import require_sqlite_file
from crmkit.adapters.sqlalchemy.store import SqlStore

__all__ = ["open_store"]


def open_store(url: str | URL | Engine, *, migrate: bool) -> SqlStore:
    """The store at ``url`` (or in the host's ``Engine``), migrated when ``migrate``.

    With ``migrate=False`` the schema must already be there; a SQLite file that does not
    exist is refused before it is opened, so a read-only open leaves no empty file behind.

    Raises:
        ConfigurationError: the URL or engine cannot be used (secrets masked).
    """
    if not migrate and not isinstance(url, Engine):
        require_sqlite_file(url)
    store = (
        SqlStore(check_engine(url), migrate=migrate)
        if isinstance(url, Engine)
        else SqlStore.open(url, migrate=migrate)
    )
    if not migrate:
        try:
            store.require_schema()
        except BaseException:
            if not isinstance(url, Engine):  # the host's own engine stays the host's
                store.dispose()
            raise
    return store
