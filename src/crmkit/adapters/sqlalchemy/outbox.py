"""The SQL outbox: domain events stored in the same transaction as the change that raised them.

A host forwards them to its broker with `SqlOutbox.relay` (or ``fetch`` then ``acknowledge``):
delivery is at least once — an event is marked delivered only after the send returned — and
in commit order for each aggregate, because a unit of work locks the rows of the aggregates
whose events it writes until it commits. Run one relay per reader: ``fetch`` does not lock.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from crmkit.adapters.sqlalchemy import tables as t
from crmkit.adapters.sqlalchemy.engine import connect, writing
from crmkit.adapters.sqlalchemy.failures import storage_errors
from crmkit.adapters.sqlalchemy.lists import key_in
from crmkit.adapters.sqlalchemy.mapping import from_us
from crmkit.domain import TenantId
from crmkit.domain.values.ids import check_tenant
from crmkit.ports import OutboxMessage, OutboxReader

__all__ = ["OutboxMessage", "SqlOutbox"]


class SqlOutbox(OutboxReader):
    """Reads, acknowledges and purges ``crmkit_outbox``, for all tenants or one."""

    def __init__(self, engine: Engine, *, tenant: str | None = None) -> None:
        self._engine = engine
        self._tenant = None if tenant is None else check_tenant(tenant)

    def _mine(self, query: Any) -> Any:
        return query if self._tenant is None else query.where(t.outbox.c.tenant_id == self._tenant)

    def _fetch(self, limit: int) -> list[OutboxMessage]:
        from crmkit.serialization import event_from_dict

        o = t.outbox.c
        query = self._mine(select(t.outbox).where(o.delivered.is_(False)))
        with storage_errors("reading the outbox"), connect(self._engine) as connection:
            rows = connection.execute(query.order_by(o.position).limit(limit)).mappings().all()
        return [
            OutboxMessage(
                position=row["position"],
                tenant=TenantId(row["tenant_id"]),
                aggregate_id=row["aggregate_id"],
                event=event_from_dict(json.loads(row["payload"])),
                recorded_at=from_us(row["recorded_at_us"]),
            )
            for row in rows
        ]

    def _acknowledge(self, positions: list[int]) -> int:
        o = t.outbox.c
        statement = self._mine(
            update(t.outbox).where(
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
        o = t.outbox.c
        query = self._mine(select(func.count()).select_from(t.outbox).where(o.delivered.is_(False)))
        with storage_errors("counting the outbox"), connect(self._engine) as connection:
            return int(connection.execute(query).scalar_one())

    def purge(self) -> int:
        """Delete delivered messages (positions are never reused); returns how many."""
        statement = self._mine(delete(t.outbox).where(t.outbox.c.delivered.is_(True)))
        with (
            storage_errors("purging the outbox", waits=True),
            connect(self._engine) as connection,
            writing(connection).begin(),
        ):
            return int(connection.execute(statement).rowcount)
