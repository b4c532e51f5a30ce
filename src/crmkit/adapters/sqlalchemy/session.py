"""What a repository needs of its unit of work: the tenant, the connection, event tracking."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection, exc

from crmkit.ports import EventSource

__all__ = ["Session", "is_about", "offender", "survives_refusals"]


class Session(Protocol):
    """The unit of work as its repositories see it."""

    @property
    def tenant(self) -> str:
        """The tenant every statement filters on."""
        ...

    @property
    def connection(self) -> Connection:
        """The connection of the unit of work's transaction."""
        ...

    def _track(self, aggregate: EventSource) -> None: ...

    def note_filled(self, table: str, rows: int) -> None:
        """Note that a bulk path wrote ``rows`` rows into ``table`` (statistics follow)."""
        ...


def survives_refusals(connection: Connection) -> bool:
    """Whether the transaction goes on after a refused statement: PostgreSQL aborts it."""
    return connection.dialect.name != "postgresql"


def offender(error: exc.IntegrityError) -> str:
    """The first line of the database's own words about a refused statement."""
    return str(error.orig).strip().splitlines()[0][:200]


def is_about(error: exc.IntegrityError, *markers: str) -> bool:
    """Whether the database's words about ``error`` name one of ``markers``."""
    text = str(error.orig).lower()
    return any(marker in text for marker in markers)
