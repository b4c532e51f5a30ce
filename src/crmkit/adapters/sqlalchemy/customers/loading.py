"""Customers read from ``crmkit_customers`` and its child tables, a batch at a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, and_, bindparam, select

from crmkit.adapters.sqlalchemy.customers import rows as mapped
from crmkit.adapters.sqlalchemy.customers import tables as ct
from crmkit.adapters.sqlalchemy.lists import key_in
from crmkit.adapters.sqlalchemy.session import Session
from crmkit.domain import Customer

__all__ = ["COLUMNS", "Children", "CustomerLoader"]

#: The customer columns in the order `mapped.customer_from_values` reads them.
COLUMNS = tuple(ct.customers.c[name] for name in mapped.CUSTOMER_COLUMNS)

#: A keyset page of one tenant's customers, as SQLite is given it (`CustomerLoader.page`).
_PAGE = f"SELECT {', '.join(mapped.CUSTOMER_COLUMNS)} FROM {ct.customers.name} WHERE tenant_id = ?"
_FIRST_PAGE = f"{_PAGE} ORDER BY id LIMIT ?"
_NEXT_PAGE = f"{_PAGE} AND id > ? ORDER BY id LIMIT ?"

#: The child tables, each with the column that orders one customer's rows.
_CHILDREN = (
    (ct.tags, ct.tags.c.tag),
    (ct.traits, ct.traits.c.name),
    (ct.external_ids, ct.external_ids.c.source),
    (ct.consents, ct.consents.c.seq),
)
#: Whether each child table holds a row of a customer from ``first`` to ``last``.
_RANGE_PROBE = select(
    *(
        select(table.c.customer_id)
        .where(
            table.c.tenant_id == bindparam("tenant"),
            table.c.customer_id >= bindparam("first"),
            table.c.customer_id <= bindparam("last"),
        )
        .exists()
        for table, _ in _CHILDREN
    )
)

#: Child rows by customer id: tags, traits, external ids, consents.
Children = tuple[
    Mapping[str, list[Mapping[Any, Any]]],
    Mapping[str, list[Mapping[Any, Any]]],
    Mapping[str, list[Mapping[Any, Any]]],
    Mapping[str, list[Mapping[Any, Any]]],
]


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
        if rows:
            yield from self.build(rows, self.children(rows, contiguous))

    def page(self, after: str | None, limit: int) -> Sequence[Sequence[Any]]:
        """The `mapped.CUSTOMER_COLUMNS` of the tenant's first ``limit`` customers with an id
        above ``after`` (all with ``None``), by id. On SQLite the driver's own tuples,
        fetched from its cursor (no SQLAlchemy ``Row`` per row); elsewhere `rows`."""
        conn = self._s.connection
        if conn.dialect.name != "sqlite":
            condition = ct.customers.c.tenant_id == self._tenant
            if after is not None:
                condition = and_(condition, ct.customers.c.id > after)
            return self.rows(condition, limit)
        if after is None:
            result = conn.exec_driver_sql(_FIRST_PAGE, (self._tenant, limit))
        else:
            result = conn.exec_driver_sql(_NEXT_PAGE, (self._tenant, after, limit))
        try:
            return result.cursor.fetchall()
        finally:
            result.close()

    def children(self, rows: Sequence[Sequence[Any]], contiguous: bool) -> Children:
        """The child rows of the customers of ``rows`` (tags, traits, external ids, consents),
        each by customer id; empty mappings if none of them has any."""
        # A contiguous batch needs only its first and last id (one range per child table).
        ids = [rows[0][0], rows[-1][0]] if contiguous else [r[0] for r in rows]
        # One query says which child tables hold rows of the batch (often none does), so
        # only those are read; for a range it is one statement, built once (cached).
        if contiguous:
            held = self._s.connection.execute(
                _RANGE_PROBE, {"tenant": self._tenant, "first": ids[0], "last": ids[-1]}
            ).one()
        else:
            held = self._s.connection.execute(
                select(*(self._owned(table, ids, False).exists() for table, _ in _CHILDREN))
            ).one()
        return tuple(  # type: ignore[return-value]
            self._children(table, ids, order, contiguous) if has else {}
            for (table, order), has in zip(_CHILDREN, held, strict=True)
        )

    @staticmethod
    def build(rows: Sequence[Sequence[Any]], children: Children) -> Iterator[Customer]:
        """The customers of ``rows`` and their ``children``, built as they are consumed (no
        database work: the unit of work may have ended)."""
        tags, traits, external_ids, consents = children
        if not (tags or traits or external_ids or consents):
            return map(mapped.customer_from_row, rows)  # one step per row, in C
        return (
            mapped.customer_from_values(
                row,
                tags=[c["tag"] for c in tags.get(row[0], ())],
                traits=traits.get(row[0]),
                external_ids=external_ids.get(row[0]),
                consents=consents.get(row[0]),
            )
            for row in rows
        )

    def _owned(self, table: Table, ids: list[str], contiguous: bool) -> Any:
        """The rows of ``table`` owned by the customers ``ids`` (sorted)."""
        owner = table.c.customer_id
        # A contiguous batch is one range seek on the (tenant_id, customer_id, …) key however
        # large it is; a scattered one (a tag, an account) asks for exactly its ids.
        selected = (
            and_(owner >= ids[0], owner <= ids[-1])
            if contiguous
            else key_in(self._s.connection.dialect.name, owner, ids)
        )
        return select(table).where(table.c.tenant_id == self._tenant, selected)

    def _children(
        self, table: Table, ids: list[str], order: Any, contiguous: bool
    ) -> dict[str, list[Mapping[Any, Any]]]:
        found: dict[str, list[Mapping[Any, Any]]] = defaultdict(list)
        query = self._owned(table, ids, contiguous).order_by(table.c.customer_id, order)
        for row in self._s.connection.execute(query).mappings():
            found[row["customer_id"]].append(row)
        return found
