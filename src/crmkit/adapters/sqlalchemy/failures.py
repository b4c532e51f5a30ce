"""Turning driver exceptions into crmkit errors, so no database traceback reaches a host."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import exc

from crmkit.errors import ConcurrencyConflict, CrmError, StorageError

__all__ = ["is_contention", "storage_errors"]

# SQLite: another writer holds the lock. PostgreSQL: serialization failure, deadlock, lock
# not available. MariaDB/MySQL: deadlock, lock wait timeout.
_SQLITE_BUSY = ("database is locked", "database table is locked", "sqlite_busy")
_PG_CODES = {"40001", "40P01", "55P03"}
_MYSQL_CODES = {1205, 1213}


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
    errors pass through untouched."""
    try:
        yield
    except CrmError:
        raise
    except exc.DBAPIError as error:
        if is_contention(error):
            raise ConcurrencyConflict.contention(what, _first_line(error), subject) from error
        raise StorageError(
            f"the database failed during {what}: {_first_line(error)}",
            retryable=bool(error.connection_invalidated),
        ) from error
    except exc.SQLAlchemyError as error:
        raise StorageError(f"the database failed during {what}: {error}") from error


def _first_line(error: exc.DBAPIError) -> str:
    text = str(error.orig) if error.orig is not None else str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error.orig).__name__
