"""The SQL outbox: domain events stored in the same transaction as the change that raised them.

A host forwards them to its broker with `SqlOutbox.relay` (or ``fetch`` then ``acknowledge``):
delivery is at least once — an event is marked delivered only after the send returned — and
in commit order for each aggregate, because a unit of work locks the rows of the aggregates
whose events it writes until it commits. Run one relay per reader: ``fetch`` does not lock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)

from crmkit.adapters.sqlalchemy.engine import connect, writing
from crmkit.adapters.sqlalchemy.failures import storage_errors
from crmkit.adapters.sqlalchemy.lists import key_in
from crmkit.adapters.sqlalchemy.rows import from_us, to_us
from crmkit.adapters.sqlalchemy.schema import (
    ID,
    MYSQL_TABLE,
    PREFIX,
    long_text,
    metadata,
    string,
    tenant_id,
)
from crmkit.domain import DomainEvent, TenantId
from crmkit.domain.values.ids import check_tenant
from crmkit.errors import ValidationError
from crmkit.ports import MAX_FETCH, OutboxMessage, OutboxReader

__all__ = ["OutboxMessage", "SqlOutbox", "insert_outbox", "outbox", "outbox_rows"]

# Events written in the same transaction as the change; ``position`` is the delivery order.
outbox = Table(
    f"{PREFIX}outbox",
    metadata,
    Column(
        "position",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    tenant_id(),
    Column("aggregate_id", string(ID), nullable=False),
    Column("event_type", string(64), nullable=False),
    Column("payload", long_text(), nullable=False),  # JSON, see crmkit.serialization.event_to_dict
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("delivered", Boolean(create_constraint=False), nullable=False, default=False),
    Index(None, "tenant_id", "delivered", "position"),
    Index(None, "delivered", "position"),
    Index(None, "tenant_id", "position"),  # read(after=…) of one tenant
    sqlite_autoincrement=True,  # positions are never reused, even after a purge
    **MYSQL_TABLE,
)


_OUTBOX_COLUMNS = (
    "tenant_id",
    "aggregate_id",
    "event_type",
    "payload",
    "recorded_at_us",
    "delivered",
)
_INSERT_SQLITE = (
    f"INSERT INTO {outbox.name} ({', '.join(_OUTBOX_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_OUTBOX_COLUMNS))})"
)

#: The greatest position a BIGINT holds.
_MAX_POSITION = 2**63 - 1


def outbox_rows(tenant: str, events: list[DomainEvent]) -> list[dict[str, Any]]:
    """The ``crmkit_outbox`` rows of the events a unit of work commits, in their order."""
    from crmkit.serialization import event_to_dict

    return [
        {
            "tenant_id": tenant,
            "aggregate_id": event.aggregate_id,
            "event_type": type(event).__name__,
            "payload": json.dumps(event_to_dict(event), sort_keys=True),
            "recorded_at_us": to_us(event.at),
            "delivered": False,
        }
        for event in events
    ]


def insert_outbox(connection: Connection, tenant: str, events: list[DomainEvent]) -> None:
    """INSERT the ``crmkit_outbox`` rows of ``events``, in their order: on SQLite as tuples
    straight to the driver's executemany (the columns have no bind processors there but
    the boolean, stored as 0), elsewhere through SQLAlchemy's ``insert``."""
    if connection.dialect.name != "sqlite":
        connection.execute(insert(outbox), outbox_rows(tenant, events))
        return
    from crmkit.serialization import event_to_dict

    connection.exec_driver_sql(
        _INSERT_SQLITE,
        [
            (
                tenant,
                event.aggregate_id,
                type(event).__name__,
                json.dumps(event_to_dict(event), sort_keys=True),
                to_us(event.at),
                0,
            )
            for event in events
        ],
    )


def _message(row: Mapping[Any, Any]) -> OutboxMessage:
    from crmkit.serialization import event_from_dict

    return OutboxMessage(
        position=row["position"],
        tenant=TenantId(row["tenant_id"]),
        aggregate_id=row["aggregate_id"],
        event=event_from_dict(json.loads(row["payload"])),
        recorded_at=from_us(row["recorded_at_us"]),
    )


class SqlOutbox(OutboxReader):
    """Reads, acknowledges and purges ``crmkit_outbox``, for all tenants or one."""

    def __init__(self, engine: Engine, *, tenant: str | None = None) -> None:
        self._engine = engine
        self._tenant = None if tenant is None else check_tenant(tenant)

    def _mine(self, query: Any) -> Any:
        return query if self._tenant is None else query.where(outbox.c.tenant_id == self._tenant)

    def _fetch(self, limit: int) -> list[OutboxMessage]:
        return self._read(outbox.c.delivered.is_(False), limit)

    def read(self, *, after: int = 0, limit: int = 100) -> list[OutboxMessage]:
        """The messages after position ``after``, delivered or not, in position order.

        A cursor over the whole outbox: pass the last message's ``position`` as the next
        ``after`` to read on (an empty list: nothing more yet). Purged messages are gone.

        Args:
            after: the position to read after (0: from the start).
            limit: at most this many messages, 1 to 10,000.

        Returns:
            The messages, oldest first.

        Raises:
            ValidationError: ``after`` is not an int of 0 or more, or ``limit`` is out of range.
        """
        if type(after) is not int or not 0 <= after <= _MAX_POSITION:
            raise ValidationError.single("after", after, "must be a position (an int, 0 or more)")
        if type(limit) is not int or not 1 <= limit <= MAX_FETCH:
            raise ValidationError.single("limit", limit, f"must be an int from 1 to {MAX_FETCH}")
        return self._read(outbox.c.position > after, limit)

    def _read(self, condition: Any, limit: int) -> list[OutboxMessage]:
        o = outbox.c
        query = self._mine(select(outbox).where(condition)).order_by(o.position).limit(limit)
        with storage_errors("reading the outbox"), connect(self._engine) as connection:
            rows = connection.execute(query).mappings().all()
        return [_message(row) for row in rows]

    def _acknowledge(self, positions: list[int]) -> int:
        o = outbox.c
        statement = self._mine(
            update(outbox).where(
                key_in(self._engine.dialect.name, o.position, positions), o.delivered.is_(False)
            )
        ).values(delivered=True)
        with (
            storage_errors("acknowledging outbox messages", waits=True),
            connect(self._engine) as connection,
            writing(connection).begin(),
        ):
            return int(connection.execute(statement).rowcount)

    def pending(self) -> int:
        """How many messages wait for delivery."""
        o = outbox.c
        query = self._mine(select(func.count()).select_from(outbox).where(o.delivered.is_(False)))
        with storage_errors("counting the outbox"), connect(self._engine) as connection:
            return int(connection.execute(query).scalar_one())

    def purge(self) -> int:
        """Delete delivered messages (positions are never reused); returns how many."""
        statement = self._mine(delete(outbox).where(outbox.c.delivered.is_(True)))
        with (
            storage_errors("purging the outbox", waits=True),
            connect(self._engine) as connection,
            writing(connection).begin(),
        ):
            return int(connection.execute(statement).rowcount)
