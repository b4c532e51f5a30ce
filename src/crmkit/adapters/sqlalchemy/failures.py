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

from crmkit.errors import ConcurrencyConflict, CrmError, StorageError

__all__ = ["is_contention", "scrub", "storage_errors"]

# SQLite: another writer holds the lock. PostgreSQL: serialization failure, deadlock, lock
# not available. MariaDB/MySQL: deadlock, lock wait timeout.
_SQLITE_BUSY = ("database is locked", "database table is locked", "sqlite_busy")
_PG_CODES = {"40001", "40P01", "55P03"}
_MYSQL_CODES = {1205, 1213}
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
    return any(marker in str(orig).lower() for marker in _SQLITE_BUSY)


@contextmanager
def storage_errors(what: str, subject: tuple[str, Any, int] | None = None) -> Iterator[None]:
    """Re-raise database failures during ``what`` as `ConcurrencyConflict` (contention,
    naming ``subject``: the aggregate being written, if any) or `StorageError`; crmkit's own
    errors pass through, their exception chains scrubbed (see `scrub`)."""
    try:
        yield
    except CrmError as error:
        scrub(error)
        raise
    except exc.DBAPIError as error:
        contention, reason = is_contention(error), _first_line(error)
        scrub(error)
        if contention:
            raise ConcurrencyConflict.contention(what, reason, subject) from error
        raise StorageError(
            f"the database failed during {what}: {reason}",
            retryable=bool(error.connection_invalidated),
        ) from error
    except exc.SQLAlchemyError as error:
        scrub(error)
        raise StorageError(f"the database failed during {what}: {_first_line(error)}") from error


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
