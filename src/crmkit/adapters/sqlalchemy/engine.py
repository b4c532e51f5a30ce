"""Opening databases: URLs, drivers, SQLite settings, and clear errors when it can't work.

``sqlite:///crm.db`` needs nothing installed; ``postgresql+psycopg://…`` needs
``crmkit[postgres]``; ``mysql+pymysql://…`` or ``mariadb+pymysql://…`` need ``crmkit[mysql]``.
Every failure to open is a `ConfigurationError` that names the URL with its secrets masked
and chains no driver error (a driver's error may quote a password). Engines crmkit creates
hide SQL parameters from their errors and logs, so no row's data rides along.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from crmkit.adapters.sqlalchemy.sqlite_files import check_sqlite_path
from crmkit.adapters.sqlalchemy.urls import masked, redact
from crmkit.errors import ConfigurationError

__all__ = [
    "SUPPORTED_BACKENDS",
    "check_engine",
    "configure_sqlite",
    "connect",
    "masked",
    "open_engine",
    "sqlite_url",
    "writing",
]

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
#: The execution option that makes a SQLite transaction begin with ``BEGIN IMMEDIATE``.
_WRITES = "crmkit_writes"


def sqlite_url(path: str | Path) -> URL:
    """The URL of a SQLite file (``":memory:"`` for a private in-memory database).

    Raises:
        ValidationError: ``path`` is no str or path (``None``, a number), is empty or holds a
            NUL character (see `check_sqlite_path`).
    """
    return URL.create("sqlite+pysqlite", database=check_sqlite_path(path))


def open_engine(url: str | URL, **engine_options: Any) -> Engine:
    """Create an engine for ``url`` with crmkit's settings, and check it can connect.

    The engine hides SQL parameters (``hide_parameters=True``) unless ``engine_options`` say
    otherwise, so a failed statement's error carries no row's values.

    Args:
        url: a SQLAlchemy URL (``sqlite:///crm.db``, ``postgresql+psycopg://…``,
            ``mariadb+pymysql://…``); a bare backend name gets crmkit's driver.
        **engine_options: passed on to SQLAlchemy's ``create_engine``.

    Returns:
        An engine that has connected once.

    Raises:
        ConfigurationError: for a malformed or unsupported URL, a missing driver (naming the
            extra to install), options the driver refuses or a server it cannot reach. The
            message shows the URL masked (see `masked`) and no driver error is chained.
    """
    try:
        parsed = make_url(url)
    except Exception:
        problem: str | None = (
            f"malformed database URL {masked(url)!r}: expected e.g. 'sqlite:///crm.db' or "
            "'postgresql+psycopg://user@host/db'"
        )
    else:
        problem = _unsupported(parsed) or _empty_sqlite_path(parsed)
        if problem is None:
            return _open(_with_driver(parsed), engine_options)
    raise ConfigurationError(problem)


def _unsupported(url: URL) -> str | None:
    backend = url.get_backend_name()
    if backend in SUPPORTED_BACKENDS:
        return None
    return (
        f"unsupported database {backend!r} in {masked(url)!r}: crmkit supports "
        "sqlite, postgresql, mysql and mariadb"
    )


def _empty_sqlite_path(url: URL) -> str | None:
    # "sqlite:///" + an unset variable: a throw-away database that loses every write.
    # "sqlite://" (no path at all) and "sqlite:///:memory:" ask for one explicitly.
    if url.get_backend_name() != "sqlite" or url.database != "":
        return None
    return (
        f"{masked(url)!r} names no SQLite file: give its path ('sqlite:///crm.db'), or "
        "'sqlite:///:memory:' for a throw-away database"
    )


def _with_driver(url: URL) -> URL:
    backend = url.get_backend_name()
    if url.drivername == backend and backend in _DEFAULT_DRIVERS:
        return url.set(drivername=f"{backend}+{_DEFAULT_DRIVERS[backend]}")
    return url


def _open(url: URL, options: dict[str, Any]) -> Engine:
    options.setdefault("hide_parameters", True)
    try:
        engine = _create(url, options)
    except Exception as error:  # e.g. a driver option SQLAlchemy converts (timeout=abc)
        problem = _why(error, url)
    else:
        return check_engine(engine)
    raise ConfigurationError(problem)


def check_engine(engine: Engine) -> Engine:
    """Connect to ``engine`` once, so a URL that cannot work fails now with a clear error.

    Args:
        engine: a SQLAlchemy engine, crmkit's or the host's.

    Returns:
        The same engine.

    Raises:
        ConfigurationError: anything failed while connecting (an option the driver refuses
            raises its own ``ValueError``, ``AttributeError`` ...; a server that cannot be
            reached). It names the URL masked and chains no driver error: raised outside the
            handler, it has no context that could quote a secret.
    """
    try:
        with engine.connect():
            pass
    except Exception as error:  # a DBAPI error or the driver's own (see `connect`)
        engine.dispose()
        problem = _why(error, engine.url)
    else:
        return engine
    raise ConfigurationError(problem)


def connect(engine: Engine) -> Connection:
    """A connection of ``engine``, for crmkit's own use of a host's engine.

    Raises:
        ConfigurationError: the driver refused the URL's options with an error of its own
            (``ValueError``, ``AttributeError`` ...); named with the URL masked, unchained.
        sqlalchemy.exc.SQLAlchemyError: the database failed (crmkit's callers turn it into
            `StorageError`).
    """
    try:
        return engine.connect()
    except exc.SQLAlchemyError:
        raise
    except Exception as error:
        problem = _why(error, engine.url)
    raise ConfigurationError(problem)


def _why(error: Exception, url: URL) -> str:
    shown = masked(url)
    backend = url.get_backend_name()
    if isinstance(error, ImportError) and backend in SUPPORTED_BACKENDS:
        driver = _DEFAULT_DRIVERS.get(backend, "pysqlite")
        return (
            f"the driver for {shown!r} is not installed ({error.name or error}): install "
            f"crmkit's with pip install 'crmkit[{SUPPORTED_BACKENDS[backend]}]' and use a "
            f"'{backend}+{driver}://' URL"
        )
    if isinstance(error, exc.DBAPIError):
        return f"cannot connect to {shown!r}: {_first_line(error.orig or error, url)}"
    if isinstance(error, exc.ArgumentError):
        return f"cannot use {shown!r}: {_first_line(error, url)}"
    return (
        f"cannot use {shown!r}: the driver refused its options "
        f"({type(error).__name__}: {_first_line(error, url)})"
    )


def _first_line(error: BaseException, url: URL) -> str:
    text = str(error).strip()
    return redact(text.splitlines()[0], url) if text else type(error).__name__


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


def writing(connection: Connection) -> Connection:
    """``connection``, marked so that its transactions will write: on SQLite each begins
    with ``BEGIN IMMEDIATE`` (see `configure_sqlite`); other databases ignore the mark.

    Returns:
        The same connection (SQLAlchemy sets execution options on it in place).
    """
    return connection.execution_options(**{_WRITES: True})


def configure_sqlite(engine: Engine) -> None:
    """Give a SQLite engine crmkit's settings (once): WAL, a busy timeout, durable commits,
    and transactions that really begin at ``BEGIN``, so a unit of work reads one snapshot.

    A transaction of a connection marked with `writing` begins with ``BEGIN IMMEDIATE``: it
    takes the write lock before it reads anything, waiting for it up to the busy timeout.
    A plain ``BEGIN`` that has read cannot wait for the lock when it first writes: its
    snapshot may be older than the commit it waited for, so SQLite refuses it at once
    ("database is locked", whatever the busy timeout). In WAL mode the write lock does not
    block readers, so read-only units of work keep the plain ``BEGIN``.

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
    def on_begin(connection: Connection) -> None:
        # A real BEGIN, so reads and writes of a unit of work share one snapshot; IMMEDIATE
        # for one that will write, so it waits for the write lock (see `configure_sqlite`).
        writes = connection.get_execution_options().get(_WRITES, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
