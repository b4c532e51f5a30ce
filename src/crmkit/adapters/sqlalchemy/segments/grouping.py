"""The one grouped pass a rule's aggregates read: ``SELECT customer_id, <aggregates> FROM
crmkit_interactions WHERE <any leaf's selection> GROUP BY customer_id``.

Each aggregate leaf registers the columns it needs (`Grouping.column`); equal columns are
registered once. When every column selects the same interactions, the selection is the
query's ``WHERE`` and the aggregates are plain; otherwise the ``WHERE`` is the union of the
selections and each aggregate reads only its own (``count(CASE WHEN … THEN 1 END)``,
``sum(CASE WHEN … THEN amount END)`` …). The compiler LEFT OUTER JOINs the result to the
customers; a leaf reads its columns through `Grouping.column`'s expression.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Final

import attrs
from sqlalchemy import BigInteger, case, func, literal, literal_column, select

from crmkit.adapters.sqlalchemy.interactions.tables import interactions
from crmkit.adapters.sqlalchemy.lists import all_of, any_of

__all__ = ["ALIAS", "Grouping"]

#: The name the grouped aggregates are joined under.
ALIAS: Final = "crmkit_aggregates"
_AGGREGATES: Final[dict[str, Callable[[Any], Any]]] = {
    "count": func.count,
    "sum": func.sum,
    "min": func.min,
    "max": func.max,
}


@attrs.define
class _Column:
    label: str
    aggregate: str  # a key of _AGGREGATES, or "count_distinct"
    argument: Any  # an expression over crmkit_interactions; None: count the rows
    selection: Hashable  # equal selections pick the same interactions
    where: Sequence[Any]  # the selection as clauses over crmkit_interactions


@attrs.define
class Grouping:
    """The aggregate columns of one compilation, by what they compute."""

    columns: dict[Hashable, _Column] = attrs.field(factory=dict)

    def column(
        self,
        aggregate: str,
        argument: Any,
        selection: Hashable,
        where: Sequence[Any],
        *,
        part: str = "",
    ) -> Any:
        """The joined column of ``aggregate(argument)`` over the interactions ``where``
        selects (NULL for a customer without any interaction the rule groups)."""
        key = (aggregate, part, selection)
        found = self.columns.get(key)
        if found is None:
            label = f"a{len(self.columns)}"
            found = self.columns[key] = _Column(label, aggregate, argument, selection, where)
        return literal_column(f"{ALIAS}.{found.label}", BigInteger())

    def table(self, base: Sequence[Any]) -> Any:
        """The grouped derived table (``base``: the tenant and the customers asked about),
        or None when no leaf reads the interactions."""
        if not self.columns:
            return None
        i = interactions.c
        selections = {c.selection: c.where for c in self.columns.values()}
        single = len(selections) == 1
        aggregates = []
        for c in self.columns.values():
            argument = c.argument
            if not single:
                value = literal(1, BigInteger()) if argument is None else argument
                argument = case((all_of(c.where), value))
            if c.aggregate == "count_distinct":
                expr = func.count(argument.distinct())
            elif argument is None:
                expr = func.count()
            else:
                expr = _AGGREGATES[c.aggregate](argument)
            aggregates.append(expr.label(c.label))
        chosen = (
            next(iter(selections.values()))
            if single
            else [any_of(all_of(where) for where in selections.values())]
        )
        query = (
            select(i.customer_id.label("customer_id"), *aggregates)
            .where(all_of([*base, *chosen]))
            .group_by(i.customer_id)
        )
        return query.subquery(ALIAS)
