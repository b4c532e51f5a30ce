"""The outbox: domain events stored in the same transaction as the change that raised them.

A host forwards them to its broker with `Outbox.relay` (or `fetch` then `acknowledge`):
delivery is at least once — an event is marked delivered only after the send returned — and
in commit order for each aggregate, because a unit of work locks the rows of the aggregates
whose events it writes until it commits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import Engine, func, select, update

from crmkit.adapters.sqlalchemy import tables as t
from crmkit.adapters.sqlalchemy.failures import storage_errors
from crmkit.adapters.sqlalchemy.mapping import from_us
from crmkit.domain import DomainEvent, TenantId
from crmkit.domain.ids import check_tenant
from crmkit.errors import ValidationError

__all__ = ["Outbox", "OutboxMessage"]


@attrs.frozen
class OutboxMessage:
    """One stored event awaiting delivery.

    Attributes:
        position: its place in the outbox; messages are handed out in this order.
        tenant: the tenant whose change raised it.
        aggregate_id: the customer or account it is about.
        event: the domain event itself.
        recorded_at: the instant of the change.
    """

    position: int
    tenant: TenantId
    aggregate_id: str
    event: DomainEvent
    recorded_at: datetime


class Outbox:
    """Reads and acknowledges the events in ``crmkit_outbox``, for all tenants or one."""

    def __init__(self, engine: Engine, *, tenant: str | None = None) -> None:
        self._engine = engine
        self._tenant = None if tenant is None else check_tenant(tenant)

    def fetch(self, limit: int = 100) -> list[OutboxMessage]:
        """The oldest undelivered messages, at most ``limit``, in outbox order."""
        if type(limit) is not int or not 1 <= limit <= 10_000:
            raise ValidationError.single("limit", limit, "must be an int from 1 to 10000")
        from crmkit.serialization import event_from_dict

        o = t.outbox.c
        query = select(t.outbox).where(o.delivered.is_(False))
        if self._tenant is not None:
            query = query.where(o.tenant_id == self._tenant)
        with storage_errors("reading the outbox"), self._engine.connect() as connection:
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

    def acknowledge(self, messages: Iterable[OutboxMessage | int]) -> int:
        """Mark messages (or positions) as delivered; returns how many were newly marked."""
        positions = [m.position if isinstance(m, OutboxMessage) else m for m in messages]
        if not positions:
            return 0
        o = t.outbox.c
        with storage_errors("acknowledging outbox messages"), self._engine.begin() as connection:
            result = connection.execute(
                update(t.outbox)
                .where(o.position.in_(positions), o.delivered.is_(False))
                .values(delivered=True)
            )
        return int(result.rowcount)

    def relay(self, send: Callable[[OutboxMessage], Any], *, limit: int = 100) -> int:
        """Send each pending message (oldest first) and acknowledge it once ``send`` returned.

        If ``send`` raises, that message and the ones after it stay pending for the next
        call: delivery is at least once. Returns how many were sent.
        """
        sent = 0
        for message in self.fetch(limit):
            send(message)
            self.acknowledge([message])
            sent += 1
        return sent

    def pending(self) -> int:
        """How many messages wait for delivery."""
        o = t.outbox.c
        query = select(func.count()).select_from(t.outbox).where(o.delivered.is_(False))
        if self._tenant is not None:
            query = query.where(o.tenant_id == self._tenant)
        with storage_errors("counting the outbox"), self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())
