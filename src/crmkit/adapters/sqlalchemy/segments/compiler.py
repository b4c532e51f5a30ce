"""Segment rules compiled to one SQL query: which customers of a tenant match, as of an instant.

`compile_segment` turns a `Condition` tree into a SQLAlchemy Core ``SELECT`` of customer ids
that agrees exactly with ``condition.holds(Facts.of_customer(...))`` on SQLite, PostgreSQL and
MariaDB. The rules that make it exact:

- every leaf compiles to an expression that is never SQL ``NULL`` (``x IS NOT NULL AND …``,
  ``EXISTS``, or a count), so SQL's ``NOT`` is the domain's plain negation;
- the aggregates over interactions (counts, sums, net spend, averages, first or last times,
  distinct days, each of its own selection) are the columns of one derived table ``SELECT
  customer_id, <aggregates> … GROUP BY customer_id`` LEFT OUTER JOINed to the customers
  (`crmkit.adapters.sqlalchemy.segments.grouping`): the database answers them in one
  grouped pass over the interactions, never a subquery per customer. When the rule is
  ``a & b & aggregate …``, the pass groups only the interactions of the customers passing
  the conjuncts that read no interactions (``customer_id IN (SELECT id … WHERE a AND b)``),
  as a hand-written query filters before it aggregates. A customer without a row, or
  without a selected interaction, reads NULL: ``COALESCE`` makes a count or a sum 0, and a
  first/last time or an average stays missing (the leaf tests it);
- names (fields, traits, tags, metadata keys) only select columns through fixed catalogues or
  travel as bound parameters; every value is a bound parameter, never SQL text;
- text compares by code point and case-sensitively: the tables' "C" / binary NO PAD
  collations, plus ``CAST(… AS BINARY)`` on MariaDB for values that carry no column's
  collation (JSON elements, bound text), and ``instr``/``strpos``/``LOCATE`` rather than
  ``LIKE`` (SQLite's ``LIKE`` ignores ASCII case);
- lists compile to one ``IN`` (one bound parameter on SQLite and PostgreSQL) and
  ``AllOf``/``AnyOf`` to balanced trees (`crmkit.adapters.sqlalchemy.lists`): SQLite refuses
  expression trees deeper than 1000, and caps a statement's parameters;
- instants are epoch microseconds; a UTC day is ``floor(us / 86_400_000_000)``;
- sums are exact: PostgreSQL and MariaDB sum BIGINTs into NUMERIC/DECIMAL; SQLite, whose
  ``sum()`` fails on a 64-bit overflow, sums the high and low 32 bits apart. Net spend sums
  the same way, each refund's amount negated. An average is never divided: ``avg op v`` is
  ``sum op v * n``, the product in NUMERIC/DECIMAL, or on SQLite in 32-bit halves too.

Decimal traits compare by equality only, as text: a decimal is stored in its one canonical form
(`crmkit.domain.customers.traits.canonical_decimal`: ``1.000``, ``1E+0`` and ``1`` are all
``"1"``), and the operand is put in the same form, so equal decimals have equal text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import FromClause, Select, and_, exists, func, not_, select

from crmkit.adapters.sqlalchemy.customers.tables import customers, tags
from crmkit.adapters.sqlalchemy.interactions.tables import interactions
from crmkit.adapters.sqlalchemy.lifecycle.tables import stage_histories
from crmkit.adapters.sqlalchemy.lists import all_of, any_of
from crmkit.adapters.sqlalchemy.segments.activity import aggregate
from crmkit.adapters.sqlalchemy.segments.comparisons import Comparisons
from crmkit.adapters.sqlalchemy.segments.profile import consent, field, trait
from crmkit.domain.interactions.channels import SubjectKind
from crmkit.domain.rules.aggregates import AggregateCondition
from crmkit.domain.rules.conditions import (
    AllOf,
    AnyOf,
    Condition,
    Facts,
    Not,
    TimeInStage,
)
from crmkit.domain.rules.leaves import (
    ConsentCondition,
    FieldCondition,
    TagCondition,
    TraitCondition,
)
from crmkit.domain.rules.stage_leaves import Members, StageCondition
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import ValidationError

__all__ = ["compile_segment", "count_query", "has_aggregates", "predicate", "segment_where"]

_c = customers.c
_DAY_US = 86_400_000_000


def predicate(sql: Comparisons, node: Condition) -> Any:
    """The never-NULL SQL expression of ``node`` over ``crmkit_customers``."""
    if isinstance(node, AllOf):
        return all_of(predicate(sql, c) for c in node.conditions)
    if isinstance(node, AnyOf):
        return any_of(predicate(sql, c) for c in node.conditions)
    if isinstance(node, Not):
        return not_(predicate(sql, node.condition))
    if isinstance(node, FieldCondition):
        return field(sql, node)
    if isinstance(node, TraitCondition):
        return trait(sql, node)
    if isinstance(node, TagCondition):
        tg = tags.c
        return exists().where(
            tg.tenant_id == sql.tenant, tg.customer_id == _c.id, tg.tag == node.tag
        )
    if isinstance(node, ConsentCondition):
        return consent(sql, node)
    if isinstance(node, StageCondition):
        return _stage(sql, node)
    if isinstance(node, Members):
        return sql.keys(_c.id, node.ids)
    if isinstance(node, AggregateCondition):
        return aggregate(sql, node)
    if isinstance(node, TimeInStage):
        raise ValidationError.single(
            "kind",
            node.kind,
            "time_in_stage only has a meaning in a lifecycle model; a segment says "
            "stage(model).is_in(stages, at_least_days=N)",
        )
    raise ValidationError.single("kind", type(node).__name__, "is not a segment condition")


def _stage(sql: Comparisons, node: StageCondition) -> Any:
    h = stage_histories.c
    held = []
    if node.at_least_days is not None:
        # as_of - entered_at >= N days, exactly, in the column's microseconds.
        held.append(h.entered_at_us <= sql.integer(sql.as_of_us - node.at_least_days * _DAY_US))
    return exists().where(
        h.tenant_id == sql.tenant,
        h.model == node.model,
        h.subject_kind == SubjectKind.CUSTOMER.value,
        h.subject_id == _c.id,
        sql.keys(h.stage, node.stages),
        *held,
    )


def segment_where(
    condition: Condition,
    *,
    dialect: str,
    tenant: str,
    as_of: datetime,
    after: str | None = None,
    through: str | None = None,
) -> tuple[FromClause, Any, Any]:
    """What a segment query selects from, its never-NULL ``WHERE`` and the member id column:
    ``crmkit_customers`` of ``tenant`` (ids in ``(after, through]``, either end open) joined
    to the one grouped pass over the interactions that the aggregates of ``condition`` read.
    A rule ``a & b & aggregates`` (``a``, ``b`` reading no interactions, an aggregate false
    for a customer without any) is asked of the grouped pass alone: it groups only the
    customers passing ``a & b``, and holds only for those it has a row of."""
    if not isinstance(condition, Condition):
        raise ValidationError.single("rule", condition, "must be a Condition")
    moment = ensure_utc(as_of, "as_of")
    sql = Comparisons(dialect, tenant, moment, after=after, through=through)
    bounds = [_c.tenant_id == tenant]
    if after is not None:
        bounds.append(_c.id > after)
    if through is not None:
        bounds.append(_c.id <= through)
    parts = condition.conditions if isinstance(condition, AllOf) else (condition,)
    own = [c for c in parts if not has_aggregates(c)]
    rest = [c for c in parts if has_aggregates(c)]
    if own and rest:
        # (a & b) & count(...) >= 2: group only the interactions of the customers that pass
        # a & b, as a hand-written query filters before it aggregates.
        alone = Comparisons(dialect, tenant, moment)
        sql.candidates = (
            select(_c.id).where(*bounds, *(predicate(alone, c) for c in own)).correlate(None)
        )
    needs_a_row = _needs_a_row(parts, moment)
    alone_in_pass = sql.candidates is not None and needs_a_row and all(_pure(c) for c in rest)
    if alone_in_pass:
        where = all_of(predicate(sql, c) for c in rest)
    else:
        where = and_(*bounds, predicate(sql, condition))
    i = interactions.c
    base = [i.tenant_id == tenant]
    if after is not None:
        base.append(i.customer_id > after)
    if through is not None:
        base.append(i.customer_id <= through)
    if sql.candidates is not None:
        base.append(i.customer_id.in_(sql.candidates))
    table = sql.grouping.table(base)
    if table is None:
        return customers, where, _c.id
    if alone_in_pass:
        return table, where, table.c.customer_id
    on = table.c.customer_id == _c.id
    # No row, no match: an inner join, so the planner may start from the grouped pass.
    source = customers.join(table, on) if needs_a_row else customers.outerjoin(table, on)
    return source, where, _c.id


def _pure(condition: Condition) -> bool:
    """True when every leaf of ``condition`` is an aggregate over interactions."""
    return all(type(leaf) is AggregateCondition for leaf in condition.leaves())


def _needs_a_row(parts: tuple[Condition, ...] | list[Condition], as_of: datetime) -> bool:
    """True when the conjunction of ``parts`` is false for every customer without any
    interaction its aggregates select: one of them is an aggregate false on none
    (``count >= 2``, ``avg >= v``, ``first_at > t``)."""
    none = Facts(as_of=as_of)
    return any(type(c) is AggregateCondition and not c.holds(none) for c in parts)


def has_aggregates(condition: Condition) -> bool:
    """True when ``condition`` reads the interactions (its query groups them)."""
    return any(isinstance(leaf, AggregateCondition) for leaf in condition.leaves())


def compile_segment(
    condition: Condition,
    *,
    dialect: str,
    tenant: str,
    as_of: datetime,
    after: str | None = None,
    through: str | None = None,
    limit: int | None = None,
) -> Select[str]:
    """One ``SELECT id FROM crmkit_customers`` of ``tenant``'s customers matching
    ``condition`` at ``as_of``, in id order; ``after``/``limit`` give a keyset page, and
    ``through`` bounds the ids asked about (so a page groups only their interactions)."""
    source, where, member = segment_where(
        condition, dialect=dialect, tenant=tenant, as_of=as_of, after=after, through=through
    )
    query = select(member).select_from(source).where(where).order_by(member)
    if limit is not None:
        query = query.limit(limit)
    return query


def count_query(condition: Condition, *, dialect: str, tenant: str, as_of: datetime) -> Select[int]:
    """``SELECT count(*)`` of the customers matching ``condition``."""
    source, where, _ = segment_where(condition, dialect=dialect, tenant=tenant, as_of=as_of)
    return select(func.count()).select_from(source).where(where)
