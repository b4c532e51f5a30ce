"""Customers read from ``crmkit_customers`` and its child tables, a batch at a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, and_, select

from crmkit.adapters.sqlalchemy.customers import rows as mapped
from crmkit.adapters.sqlalchemy.customers import tables as ct
from crmkit.adapters.sqlalchemy.lists import key_in
from crmkit.adapters.sqlalchemy.session import Session
from crmkit.domain import Customer

__all__ = ["COLUMNS", "CustomerLoader"]

#: The customer columns in the order `mapped.customer_from_values` reads them.
COLUMNS = tuple(ct.customers.c[name] for name in mapped.CUSTOMER_COLUMNS)


class CustomerLoader:
    """Reads whole customers (their rows and their children's) of the session's tenant."""

    def __init__(self, session: Session) -> None:
        self._s = session

    @property
    def _tenant(self) -> str:
        return self._s.tenant

    def load(
        self, condition: Any, *, limit: int | None = None, contiguous: bool = False
    ) -> list[Customer]:
        """Customers matching ``condition`` in id order. ``contiguous``: no customer of the
        tenant lies between the first and last found (a keyset page of all customers)."""
        return list(self.assemble(self.rows(condition, limit), contiguous))

    def rows(self, condition: Any, limit: int | None) -> Sequence[Sequence[Any]]:
        """The `mapped.CUSTOMER_COLUMNS` of the customers matching ``condition``, by id."""
        query = select(*COLUMNS).where(condition).order_by(ct.customers.c.id)
        if limit is not None:
            query = query.limit(limit)
        return self._s.connection.execute(query).all()  # plain rows: positional, no mappings

    def assemble(self, rows: Sequence[Sequence[Any]], contiguous: bool) -> Iterator[Customer]:
        """Customers from their rows, built one at a time as they are consumed: a streamed
        customer the caller has dropped is freed before the next one is built."""
        if not rows:
            return
        ids = [r[1] for r in rows]
        tags, traits, external_ids, consents = (
            self._children(table, ids, order, contiguous)
            for table, order in (
                (ct.tags, ct.tags.c.tag),
                (ct.traits, ct.traits.c.name),
                (ct.external_ids, ct.external_ids.c.source),
                (ct.consents, ct.consents.c.seq),
            )
        )
        if not (tags or traits or external_ids or consents):
            for row in rows:
                yield mapped.customer_from_values(row)
            return
        for row in rows:
            yield mapped.customer_from_values(
                row,
                tags=[c["tag"] for c in tags.get(row[1], ())],
                traits=traits.get(row[1]),
                external_ids=external_ids.get(row[1]),
                consents=consents.get(row[1]),
            )

    def _children(
        self, table: Table, ids: list[str], order: Any, contiguous: bool
    ) -> dict[str, list[Mapping[Any, Any]]]:
        found: dict[str, list[Mapping[Any, Any]]] = defaultdict(list)
        owner = table.c.customer_id
        # A contiguous batch is one range seek on the (tenant_id, customer_id, …) key however
        # large it is; a scattered one (a tag, an account) asks for exactly its ids.
        selected = (
            and_(owner >= ids[0], owner <= ids[-1])
            if contiguous
            else key_in(self._s.connection.dialect.name, owner, ids)
        )
        query = (
            select(table).where(table.c.tenant_id == self._tenant, selected).order_by(owner, order)
        )
        for row in self._s.connection.execute(query).mappings():
            found[row["customer_id"]].append(row)
        return found
