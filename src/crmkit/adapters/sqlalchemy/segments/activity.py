"""Segment leaves over a customer's interactions: counts, days, first and last, sums,
averages, metadata. Each distinct aggregate of a rule is one grouped derived table."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Numeric,
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
    type_coerce,
)
from sqlalchemy.dialects import postgresql

from crmkit.adapters.sqlalchemy.interactions.tables import interactions
from crmkit.adapters.sqlalchemy.rows import to_us
from crmkit.adapters.sqlalchemy.segments.comparisons import Comparisons, map_operand, minor, us
from crmkit.domain.interactions.channels import InteractionKind
from crmkit.domain.rules.aggregates import NET_SPEND_SIGNS, AggregateCondition, Measure
from crmkit.domain.rules.evaluate_aggregates import selection_key
from crmkit.domain.rules.leaves import NULLS, Op
from crmkit.errors import ValidationError

__all__ = ["aggregate"]

_DAY_US: Final = 86_400_000_000
_TWO_32: Final = 2**32
_LOW_32: Final = _TWO_32 - 1
# Metadata keys an interaction may hold (see the domain's Interaction): any other matches none.
_META_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,63}")


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
    clauses: list[Any] = window(sql, node)
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
    """The leaf as a never-NULL test of its columns in the rule's grouped pass
    (`crmkit.adapters.sqlalchemy.segments.grouping`): a customer with none of the
    interactions it selects reads NULL there, so a count or a sum is 0 (``COALESCE``) and a
    first/last time or an average is missing."""
    i = interactions.c
    op, where = node.op, filters(sql, node)
    selection = selection_key(node)
    column = sql.grouping.column
    match node.measure:
        case Measure.COUNT:
            n = column("count", None, selection, where)
            return sql.compare(op, func.coalesce(n, 0), node.value, False)
        case Measure.DISTINCT_DAYS:
            n = column("count_distinct", day(sql, i.occurred_at_us), selection, where)
            return sql.compare(op, func.coalesce(n, 0), node.value, False)
        case Measure.MIN_AT | Measure.MAX_AT:
            agg = "min" if node.measure is Measure.MIN_AT else "max"
            at = column(agg, i.occurred_at_us, selection, where)
            operand = None if op in NULLS else map_operand(node.value, us)
            return sql.present(op, at, operand, False)
    where = [*where, i.currency == node.currency, i.amount_minor.is_not(None)]
    amount: Any = i.amount_minor
    money: Hashable = (selection, node.currency, node.measure is Measure.NET_SPEND)
    if node.measure is Measure.NET_SPEND:
        where.append(sql.keys(i.kind, NET_SPEND_SIGNS))
        amount = signed(sql, amount)
    if node.measure is Measure.AVG:
        return average(sql, node, money, where)
    operand = map_operand(node.value, minor)
    if sql.dialect != "sqlite":
        total = column("sum", amount, money, where)
        return sql.compare(op, func.coalesce(total, 0), operand, False)
    high, low = (
        func.coalesce(column("sum", half, money, where, part=name), 0)
        for name, half in halves(amount).items()
    )
    return compare_halves(op, *carried(high, low), operand, constant_halves)


def average(sql: Comparisons, node: AggregateCondition, money: Hashable, where: list[Any]) -> Any:
    """``avg op v`` exactly, as ``sum op v * n`` in integers; false (``n`` is 0 or NULL)
    for a customer without an amount in the currency, unless the test is ``is_null``."""
    op, i, column = node.op, interactions.c, sql.grouping.column
    n = func.coalesce(column("count", None, money, where), 0)
    if op is Op.IS_NULL:
        return n == 0
    if op is Op.IS_NOT_NULL:
        return n > 0
    operand = map_operand(node.value, minor)
    if sql.dialect == "sqlite":
        high_sum, low_sum = (
            column("sum", half, money, where, part=name)
            for name, half in halves(i.amount_minor).items()
        )
        high, rest = carried(high_sum, low_sum)
        test = compare_halves(op, high, rest, operand, lambda k: product_halves(k, n))
    else:
        # NUMERIC/DECIMAL: the product of a BIGINT operand and a count never overflows.
        def times_n(k: int) -> Any:
            return cast(bindparam(None, k, type_=BigInteger()), Numeric(40, 0)) * n

        test = sql.compare_with(op, column("sum", i.amount_minor, money, where), operand, times_n)
    return and_(n > 0, test)


def signed(sql: Comparisons, amount: Any) -> Any:
    """Net spend's terms: a purchase's amount, a refund's negated (never out of range:
    amounts lie within ±(2**63 - 1))."""
    refund = interactions.c.kind == InteractionKind.REFUND.value
    return type_coerce(case((refund, -amount), else_=amount), BigInteger())


def halves(amount: Any) -> dict[str, Any]:
    """SQLite, whose ``sum()`` fails on a 64-bit overflow: an amount's high and low 32 bits,
    summed apart (each sum fits 64 bits below 2**31 interactions per customer)."""
    low = amount.op("&")(_LOW_32)
    return {"high": (amount - low) // _TWO_32, "low": low}


def carried(high_sum: Any, low_sum: Any) -> tuple[Any, Any]:
    """``(high, rest)`` with ``sum = high * 2**32 + rest`` and ``0 <= rest < 2**32``."""
    # The low sum is >= 0: its quotient is a floor.
    return high_sum + low_sum // _TWO_32, low_sum.op("%")(_TWO_32)


def constant_halves(k: int) -> tuple[Any, Any]:
    return literal(k // _TWO_32, BigInteger()), literal(k % _TWO_32, BigInteger())


def product_halves(k: int, n: Any) -> tuple[Any, Any]:
    """``k * n`` as ``(high, rest)`` like `carried`, in 64-bit steps: ``k``'s low half times
    ``n`` stays below 2**63 for ``n`` below 2**31."""
    low_product = literal(k % _TWO_32, BigInteger()) * n
    high = literal(k // _TWO_32, BigInteger()) * n + low_product // _TWO_32
    return high, low_product.op("%")(_TWO_32)


def compare_halves(
    op: Op, high: Any, rest: Any, operand: Any, halves: Callable[[int], tuple[Any, Any]]
) -> Any:
    """SQLite: ``high * 2**32 + rest`` compared with an operand given as its own halves."""

    def less(k: int, strict: bool) -> Any:
        kh, kl = halves(k)
        return or_(high < kh, and_(high == kh, rest < kl if strict else rest <= kl))

    def equal(k: int) -> Any:
        kh, kl = halves(k)
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
    raise ValidationError.single("op", op.value, "does not apply to sums")  # pragma: no cover


def day(sql: Comparisons, micros: Any) -> Any:
    """The UTC day number of an instant: ``floor(micros / one day)``, negatives included."""
    return case(
        (micros >= 0, micros // _DAY_US),
        else_=-1 - ((-1 - micros) // _DAY_US),
    )
