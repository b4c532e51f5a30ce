"""Opening databases: URLs, drivers, SQLite settings, and clear errors when it can't work.

``sqlite:///crm.db`` needs nothing installed; ``postgresql+psycopg://…`` needs
``crmkit[postgres]``; ``mysql+pymysql://…`` or ``mariadb+pymysql://…`` need ``crmkit[mysql]``.
Every failure to open names the URL with its password masked.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from crmkit.errors import ConfigurationError

__all__ = ["SUPPORTED_BACKENDS", "configure_sqlite", "masked", "open_engine", "sqlite_url"]

#: Backend name -> the extra that installs its driver.
SUPPORTED_BACKENDS = {
    "sqlite": None,
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
}
_DEFAULT_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}

#: How long a SQLite writer waits for another's lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 5000
#: The page cache of each SQLite connection, in KiB (SQLite's default is 2 MB).
SQLITE_CACHE_KIB = 32_768


def masked(url: str | URL) -> str:
    """The URL as text with any password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a malformed URL: hide whatever looks like user:password@
        text = str(url)
        if "@" in text and "://" in text:
            scheme, rest = text.split("://", 1)
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return text


def sqlite_url(path: str | Path) -> URL:
    """The URL of a SQLite file (``":memory:"`` for a private in-memory database)."""
    return URL.create("sqlite+pysqlite", database=str(path))


def open_engine(url: str | URL, **engine_options: Any) -> Engine:
    """Create an engine for ``url`` with crmkit's settings, and check it can connect.

    Raises `ConfigurationError` for a malformed or unsupported URL, a missing driver (naming
    the extra to install) or an unreachable server.
    """
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigurationError(
            f"malformed database URL {masked(url)!r}: expected e.g. 'sqlite:///crm.db' or "
            "'postgresql+psycopg://user@host/db'"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ConfigurationError(
            f"unsupported database {backend!r} in {masked(parsed)!r}: crmkit supports "
            "sqlite, postgresql, mysql and mariadb"
        )
    if parsed.drivername == backend and backend in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=f"{backend}+{_DEFAULT_DRIVERS[backend]}")
    try:
        engine = _create(parsed, engine_options)
    except ImportError as error:
        extra = SUPPORTED_BACKENDS[backend]
        driver = _DEFAULT_DRIVERS.get(backend, "pysqlite")
        raise ConfigurationError(
            f"the driver for {masked(parsed)!r} is not installed ({error.name or error}): "
            f"install crmkit's with pip install 'crmkit[{extra}]' and use a "
            f"'{backend}+{driver}://' URL"
        ) from None
    except exc.ArgumentError as error:
        raise ConfigurationError(f"cannot use {masked(parsed)!r}: {error}") from None
    _check_connection(engine)
    return engine


def _create(url: URL, options: dict[str, Any]) -> Engine:
    if url.get_backend_name() != "sqlite":
        options.setdefault("pool_pre_ping", True)
        return create_engine(url, **options)
    scratch = None
    if url.database in (None, "", ":memory:"):
        # A throw-away database in a private temporary file: SQLite's own ":memory:" gives each
        # connection its own database (or, shared, table locks that make concurrent units of
        # work fail), while a file in WAL mode behaves exactly like the durable case.
        scratch = tempfile.mkdtemp(prefix="crmkit-")
        url = url.set(database=str(Path(scratch) / "scratch.db"))
    options.setdefault("connect_args", {"check_same_thread": False})
    engine = create_engine(url, **options)
    if scratch is not None:
        weakref.finalize(engine, shutil.rmtree, scratch, True)
    configure_sqlite(engine)
    return engine


_CONFIGURED: weakref.WeakSet[Engine] = weakref.WeakSet()


def configure_sqlite(engine: Engine) -> None:
    """Give a SQLite engine crmkit's settings (once): WAL, a busy timeout, durable commits,
    and transactions that really begin at ``BEGIN``, so a unit of work reads one snapshot.

    Engines that crmkit opens get them already; a host's own engine gets them when a
    `SqlStore` is built on it. Connections already pooled are dropped so every one has them.
    """
    if engine.dialect.name != "sqlite" or engine in _CONFIGURED:
        return
    _CONFIGURED.add(engine)
    engine.dispose()
    _listen(engine)


def _listen(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")  # a commit survives power loss
        # A larger page cache than the 2 MB default: indexes with random keys (ids) stay in
        # memory longer as the file grows (bulk imports and earning slow down without it).
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # A real BEGIN, so reads and writes of a unit of work share one snapshot.
        connection.exec_driver_sql("BEGIN")


def _check_connection(engine: Engine) -> None:
    try:
        with engine.connect():
            pass
    except exc.DBAPIError as error:
        engine.dispose()
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise ConfigurationError(f"cannot connect to {masked(engine.url)!r}: {reason}") from None
