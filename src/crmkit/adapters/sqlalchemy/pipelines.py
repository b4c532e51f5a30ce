"""psycopg's ``executemany`` in a pipeline that crmkit ends itself.

psycopg 3 runs every ``executemany`` in pipeline mode. When the connection dies in the middle
(the server was restarted, an administrator ended the session), the pipeline cannot be ended
either, and psycopg reports that second failure through its logger ("error ignored
terminating Pipeline"), which Python prints on the host's stderr when no logging is set up.
The first failure is the one that matters, and crmkit raises it as a `StorageError`.

So on PostgreSQL crmkit opens the pipeline before ``executemany`` (which then rides it), lets
the block end normally even when ``executemany`` failed, and drops the failure to end the
pipeline in favour of the first one: nothing is logged, the host gets one typed error.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import Engine, event

__all__ = ["configure_psycopg"]

_CONFIGURED: weakref.WeakSet[Engine] = weakref.WeakSet()


def configure_psycopg(engine: Engine) -> None:
    """Run ``executemany`` of a ``postgresql+psycopg`` engine in crmkit's own pipeline
    (once per engine; other engines are left alone)."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return
    if engine in _CONFIGURED:
        return
    _CONFIGURED.add(engine)
    import psycopg

    if psycopg.Pipeline.is_supported():  # else (libpq < 14) psycopg uses no pipeline either
        event.listen(engine, "do_executemany", _executemany)


def _executemany(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    """The dialect's ``executemany`` inside a pipeline ended without an exception in flight;
    returns True (done: SQLAlchemy runs nothing more)."""
    connection = cursor.connection
    failure: BaseException | None = None
    try:
        with connection.pipeline():
            try:
                cursor.executemany(statement, parameters)
            except Exception as error:  # raised below, once the pipeline has ended
                failure = error
    except Exception:
        # Ending the pipeline failed too (the connection is gone): the first error says why.
        if failure is None:
            raise
    if failure is not None:
        raise failure
    return True
