"""The ids of a tenant's customers matching a segment rule, a keyset page at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from crmkit.adapters.sqlalchemy.customers.tables import customers
from crmkit.adapters.sqlalchemy.segments.compiler import compile_segment, has_aggregates
from crmkit.domain.rules.conditions import Condition

__all__ = ["matching_after"]

#: How many customers a page of a rule over interactions asks about at a time (at least
#: the page's size): each query groups only their interactions.
SEGMENT_CHUNK = 20_000


def matching_after(
    conn: Connection,
    tenant: str,
    condition: Condition,
    as_of: datetime,
    after: str | None,
    limit: int,
) -> list[str]:
    """Up to ``limit`` ids of ``tenant``'s customers after id ``after`` for whom
    ``condition`` holds at ``as_of``, in id order."""
    dialect = conn.dialect.name
    if not has_aggregates(condition):
        query = compile_segment(
            condition, dialect=dialect, tenant=tenant, as_of=as_of, after=after, limit=limit
        )
        return list(conn.execute(query).scalars())
    # The rule groups interactions: ask about a range of customers at a time, so a page
    # groups the interactions of the customers it covers, not of everyone after it.
    found: list[str] = []
    while len(found) < limit:
        through = _nth_id_after(conn, tenant, after, max(limit, SEGMENT_CHUNK))
        query = compile_segment(
            condition,
            dialect=dialect,
            tenant=tenant,
            as_of=as_of,
            after=after,
            through=through,
            limit=limit - len(found),
        )
        found.extend(conn.execute(query).scalars())
        if through is None:
            break
        after = through
    return found


def _nth_id_after(conn: Connection, tenant: str, after: str | None, n: int) -> str | None:
    """The id of the ``n``-th customer after ``after`` in id order (None: fewer left)."""
    c = customers.c
    query = select(c.id).where(c.tenant_id == tenant)
    if after is not None:
        query = query.where(c.id > after)
    query = query.order_by(c.id).offset(n - 1).limit(1)
    found: str | None = conn.execute(query).scalar()
    return found
