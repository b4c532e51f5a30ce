"""Segment leaves over a customer's interactions: counts, days, first and last, sums, metadata."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql

from crmkit.adapters.sqlalchemy.customers.tables import customers
from crmkit.adapters.sqlalchemy.interactions.tables import interactions
from crmkit.adapters.sqlalchemy.lists import all_of
from crmkit.adapters.sqlalchemy.rows import to_us
from crmkit.adapters.sqlalchemy.segments.comparisons import Comparisons, map_operand, minor, us
from crmkit.domain.interactions.channels import InteractionKind
from crmkit.domain.rules.aggregates import NET_SPEND_SIGNS, AggregateCondition, Measure
from crmkit.domain.rules.leaves import Op
from crmkit.errors import ValidationError

__all__ = ["aggregate"]

_DAY_US: Final = 86_400_000_000
_TWO_32: Final = 2**32
_LOW_32: Final = _TWO_32 - 1
# Metadata keys an interaction may hold (see the domain's Interaction): any other matches none.
_META_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,63}")
_c = customers.c


def window(sql: Comparisons, node: AggregateCondition) -> list[Any]:
    i = interactions.c
    start, start_in, end, end_in = node.window.bounds(sql.as_of)
    clauses = [i.occurred_at_us <= to_us(end) if end_in else i.occurred_at_us < to_us(end)]
    if start is not None:
        clauses.append(
            i.occurred_at_us >= to_us(start) if start_in else i.occurred_at_us > to_us(start)
        )
    return clauses


def filters(sql: Comparisons, node: AggregateCondition) -> list[Any]:
    i = interactions.c
    clauses: list[Any] = [i.tenant_id == sql.tenant, i.customer_id == _c.id]
    clauses += window(sql, node)
    if node.kinds:
        clauses.append(sql.keys(i.kind, node.kinds))
    if node.channels:
        clauses.append(sql.keys(i.channel, (c.value for c in node.channels)))
    if node.directions:
        clauses.append(sql.keys(i.direction, (d.value for d in node.directions)))
    if node.campaigns:
        clauses.append(sql.one_of(i.campaign, node.campaigns, True))
    for key, value in sorted(node.metadata.items()):
        clauses.append(metadata(sql, key, value))
    return clauses


def metadata(sql: Comparisons, key: str, value: str | int | bool) -> Any:
    if not _META_KEY.fullmatch(key):
        return false()  # no interaction can hold such a key
    column = interactions.c.metadata
    path = f'$."{key}"'
    if isinstance(value, str):
        if sql.dialect == "postgresql":
            doc = cast(column, postgresql.JSON)
            return and_(
                func.json_typeof(doc.op("->")(key)) == "string",
                doc.op("->>")(key) == bindparam(None, value, type_=String()),
            )
        if sql.mysql:
            found = func.json_extract(column, path)
            return and_(
                func.json_type(found) == "STRING",
                sql.text(func.json_unquote(found)) == sql.value(value),
            )
        return and_(
            func.json_type(column, path) == "text",
            func.json_extract(column, path) == bindparam(None, value, type_=String()),
        )
    # An int or a bool keeps its JSON type: True is not 1 (see same_metadata).
    if isinstance(value, bool):
        word = "true" if value else "false"
        if sql.dialect == "sqlite":
            return func.json_type(column, path) == word
        if sql.dialect == "postgresql":
            doc = cast(column, postgresql.JSON)
            return and_(
                func.json_typeof(doc.op("->")(key)) == "boolean",
                doc.op("->>")(key) == bindparam(None, word, type_=String()),
            )
        found = func.json_extract(column, path)
        return and_(func.json_type(found) == "BOOLEAN", sql.text(found) == sql.value(word))
    if sql.dialect == "sqlite":
        return and_(
            func.json_type(column, path) == "integer",
            func.json_extract(column, path) == sql.integer(value),
        )
    if sql.dialect == "postgresql":
        doc = cast(column, postgresql.JSON)
        return and_(
            func.json_typeof(doc.op("->")(key)) == "number",
            doc.op("->>")(key) == bindparam(None, str(value), type_=String()),
        )
    found = func.json_extract(column, path)
    return and_(
        func.json_type(found).in_(["INTEGER", "UNSIGNED INTEGER"]),
        sql.text(found) == sql.value(str(value)),
    )


def aggregate(sql: Comparisons, node: AggregateCondition) -> Any:
    i = interactions.c
    where = filters(sql, node)
    op = node.op
    match node.measure:
        case Measure.COUNT:
            measured = _scalar(func.count(), where)
            return sql.compare(op, measured, node.value, False)
        case Measure.DISTINCT_DAYS:
            measured = _scalar(func.count(day(sql, i.occurred_at_us).distinct()), where)
            return sql.compare(op, measured, node.value, False)
        case Measure.MIN_AT | Measure.MAX_AT:
            agg = func.min if node.measure is Measure.MIN_AT else func.max
            measured = _scalar(agg(i.occurred_at_us), where)
            operand = None if op in (Op.IS_NULL, Op.IS_NOT_NULL) else map_operand(node.value, us)
            return sql.present(op, measured, operand, False)
    operand = map_operand(node.value, minor)
    where = [*where, i.currency == node.currency, i.amount_minor.is_not(None)]
    amount: Any = i.amount_minor
    if node.measure is Measure.NET_SPEND:
        where.append(sql.keys(i.kind, NET_SPEND_SIGNS))
        amount = signed(sql, amount)
    if sql.dialect != "sqlite":
        total = func.coalesce(_scalar(func.sum(amount), where), 0)
        return sql.compare(op, total, operand, False)
    return split_sum(sql, op, where, operand, amount)


def signed(sql: Comparisons, amount: Any) -> Any:
    """Net spend's terms: a purchase's amount, a refund's negated (never out of range:
    amounts lie within ±(2**63 - 1))."""
    refund = interactions.c.kind == InteractionKind.REFUND.value
    return type_coerce(case((refund, -amount), else_=amount), BigInteger())


def split_sum(sql: Comparisons, op: Op, where: list[Any], operand: Any, amount: Any) -> Any:
    """SQLite: compare a sum that may overflow 64 bits, summing the halves apart."""
    low = amount.op("&")(_LOW_32)
    high_sum = func.coalesce(_scalar(func.sum((amount - low) // _TWO_32), where), 0)
    low_sum = func.coalesce(_scalar(func.sum(low), where), 0)
    high = high_sum + low_sum // _TWO_32  # the low sum is >= 0: its quotient is a floor
    rest = low_sum.op("%")(_TWO_32)

    def split(k: int) -> tuple[Any, Any]:
        return literal(k // _TWO_32, BigInteger()), literal(k % _TWO_32, BigInteger())

    def less(k: int, strict: bool) -> Any:
        kh, kl = split(k)
        return or_(high < kh, and_(high == kh, rest < kl if strict else rest <= kl))

    def equal(k: int) -> Any:
        kh, kl = split(k)
        return and_(high == kh, rest == kl)

    match op:
        case Op.EQ:
            return equal(operand)
        case Op.NE:
            return not_(equal(operand))
        case Op.LT:
            return less(operand, True)
        case Op.LE:
            return less(operand, False)
        case Op.GT:
            return not_(less(operand, False))
        case Op.GE:
            return not_(less(operand, True))
        case Op.BETWEEN:
            return and_(not_(less(operand[0], True)), less(operand[1], False))
    raise ValidationError.single("op", op.value, "does not apply to sum")  # pragma: no cover


def day(sql: Comparisons, micros: Any) -> Any:
    """The UTC day number of an instant: ``floor(micros / one day)``, negatives included."""
    return case(
        (micros >= 0, micros // _DAY_US),
        else_=-1 - ((-1 - micros) // _DAY_US),
    )


def _scalar(aggregate: Any, where: Sequence[Any]) -> Any:
    # One filter per metadata key: joined as a balanced tree, however many keys there are.
    return select(aggregate).select_from(interactions).where(all_of(where)).scalar_subquery()
