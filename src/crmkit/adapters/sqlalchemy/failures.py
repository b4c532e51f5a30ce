"""Turning driver exceptions into crmkit errors, so no database traceback reaches a host.

Every crmkit error that leaves the SQL adapter has its exception chain scrubbed first: a
SQLAlchemy error quotes the statement's parameters (a whole import batch of emails, phones
and names) unless its engine was made with ``hide_parameters=True``, and a driver's message
may quote a whole row (PostgreSQL's "Failing row contains (…)"). A host's
``logger.exception(...)`` prints that chain, so crmkit takes both out, on crmkit's engines and
on the engines hosts pass in alike. What stays is the first line of each message and the one
key a unique violation is about (PostgreSQL's "DETAIL:  Key (email)=(…) already exists").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import exc

from crmkit.errors import ConcurrencyConflict, CrmError, LockTimeout, StorageError

__all__ = ["is_contention", "is_lock_timeout", "scrub", "storage_errors"]

# SQLite: another writer holds the lock. PostgreSQL: serialization failure, deadlock, lock
# not available. MariaDB/MySQL: deadlock, lock wait timeout.
_SQLITE_BUSY = ("database is locked", "database table is locked", "sqlite_busy")
_PG_CODES = {"40001", "40P01", "55P03"}
_MYSQL_CODES = {1205, 1213}
# The servers' "waited for a lock as long as configured": PostgreSQL's lock_timeout,
# MariaDB/MySQL's innodb_lock_wait_timeout.
_PG_LOCK_TIMEOUT = "55P03"
_MYSQL_LOCK_TIMEOUT = 1205
# The one detail line worth keeping: the key a unique or foreign-key violation is about.
_KEY_DETAIL = "DETAIL:  Key ("


def is_contention(error: exc.DBAPIError) -> bool:
    """True when ``error`` means another transaction got in the way (retrying may succeed)."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) in _PG_CODES or getattr(orig, "pgcode", None) in _PG_CODES:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_CODES:
        return True
    return _sqlite_busy(error)


def _sqlite_busy(error: exc.DBAPIError) -> bool:
    return any(marker in str(error.orig).lower() for marker in _SQLITE_BUSY)


def is_lock_timeout(error: exc.DBAPIError, *, waits: bool = False) -> bool:
    """True when the database waited for a lock as long as it is configured to, and gave
    up: a server's lock wait timeout, or SQLite's "database is locked" from a statement that
    ``waits`` for the lock under the busy timeout (``BEGIN IMMEDIATE``)."""
    if waits and _sqlite_busy(error):
        return True
    orig = error.orig
    codes = {getattr(orig, "sqlstate", None), getattr(orig, "pgcode", None)}
    if _PG_LOCK_TIMEOUT in codes:
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] == _MYSQL_LOCK_TIMEOUT


@contextmanager
def storage_errors(
    what: str, subject: tuple[str, Any, int] | None = None, *, waits: bool = False
) -> Iterator[None]:
    """Re-raise database failures during ``what`` as `ConcurrencyConflict` (contention,
    naming ``subject``: the aggregate being written, if any), `LockTimeout` (a lock wait
    that ran out) or `StorageError`; crmkit's own errors pass through, their exception
    chains scrubbed (see `scrub`).

    ``waits`` says that the statements inside wait for the lock they need (SQLite's
    ``BEGIN IMMEDIATE`` under the busy timeout), so SQLite's contention there means the wait
    ran out (see `is_lock_timeout`).
    """
    try:
        yield
    except CrmError as error:
        scrub(error)
        raise
    except exc.DBAPIError as error:
        contention, reason = is_contention(error), _first_line(error)
        timed_out = contention and is_lock_timeout(error, waits=waits)
        scrub(error)
        if timed_out:
            raise LockTimeout.contention(what, _waited(error, reason), subject) from error
        if contention:
            raise ConcurrencyConflict.contention(what, reason, subject) from error
        raise StorageError(
            f"the database failed during {what}: {reason}",
            retryable=bool(error.connection_invalidated),
        ) from error
    except exc.SQLAlchemyError as error:
        scrub(error)
        raise StorageError(f"the database failed during {what}: {_first_line(error)}") from error


def _waited(error: exc.DBAPIError, reason: str) -> str:
    if _sqlite_busy(error):
        return f"{reason} (another writer held it for longer than the busy timeout)"
    return reason


def scrub(error: BaseException) -> None:
    """Take SQL parameters and quoted rows out of ``error`` and every exception it chains.

    Each SQLAlchemy statement error in the chain (``__cause__``, ``__context__``) loses its
    parameters, and its message and its driver exception's keep only their first line and
    a unique key's detail. Other exceptions (crmkit's, a host's) are left as they are.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, exc.StatementError):
            current.hide_parameters = True
            current.params = None
            current.args = _plain(current.args)
            if current.orig is not None:
                current.orig.args = _plain(current.orig.args)
                pending.append(current.orig)
        pending += [current.__cause__, current.__context__]


def _plain(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_plain_text(arg) if isinstance(arg, str) else arg for arg in args)


def _plain_text(text: str) -> str:
    first, *rest = text.splitlines() or [""]
    return "\n".join([first, *(line for line in rest if line.startswith(_KEY_DETAIL))])


def _first_line(error: exc.SQLAlchemyError) -> str:
    orig = getattr(error, "orig", None)
    text = (str(orig) if orig is not None else str(error)).strip()
    if text:
        return text.splitlines()[0]
    return type(orig if orig is not None else error).__name__
