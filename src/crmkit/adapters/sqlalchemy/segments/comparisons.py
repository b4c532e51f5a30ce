"""The comparisons every segment leaf compiles to: text by code point, exact integers, lists.

`Comparisons` holds what a compilation is about (the dialect, the tenant, the instant) and
builds the two-valued comparisons the leaves of `crmkit.adapters.sqlalchemy.segments.compiler`
are made of.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import BigInteger, Numeric, String, and_, bindparam, cast, func, not_
from sqlalchemy.dialects import mysql

from crmkit.adapters.sqlalchemy.lists import key_in, one_of
from crmkit.adapters.sqlalchemy.rows import to_us
from crmkit.adapters.sqlalchemy.segments.grouping import Grouping
from crmkit.domain.customers.traits import MAX_DECIMAL_EXPONENT, canonical_decimal
from crmkit.domain.rules.leaves import Op
from crmkit.domain.values.money import Money
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import ValidationError

__all__ = ["Comparisons", "decimal_text", "first", "map_operand", "minor", "us"]

_INT64: Final = 2**63 - 1


class Comparisons:
    """The comparisons of one compilation: ``dialect``'s SQL for ``tenant`` at ``as_of``."""

    def __init__(
        self,
        dialect: str,
        tenant: str,
        as_of: datetime,
        *,
        after: str | None = None,
        through: str | None = None,
    ) -> None:
        self.dialect = dialect
        self.mysql = dialect in ("mysql", "mariadb")
        self.tenant = tenant
        self.as_of = as_of
        self.as_of_us = to_us(as_of)
        # The customers asked about: ids in (after, through], either end open.
        self.after = after
        self.through = through
        # The aggregates the leaves read, in one grouped pass over the interactions that the
        # compiler LEFT OUTER JOINs to the customers.
        self.grouping = Grouping()
        # The ids of the only customers the rule can hold for (those passing its conditions
        # on their own data), when it has such conditions: the aggregates group only their
        # interactions.
        self.candidates: Any = None

    # Text, the same way on every backend.

    def text(self, expr: Any) -> Any:
        """``expr`` as something that compares by code point, trailing spaces included."""
        if self.mysql:
            return cast(expr, mysql.BINARY())
        return expr

    def value(self, value: str) -> Any:
        return self.text(bindparam(None, value, type_=String()))

    def integer(self, value: int) -> Any:
        """``value`` bound for comparing with a stored BIGINT. Stored integers lie within
        ``±(2**63 - 1)``, so an operand beyond that compares exactly like ``±2**63``
        (bound as an exact float on SQLite, whose driver refuses larger ints)."""
        if -_INT64 <= value <= _INT64:
            return bindparam(None, value, type_=BigInteger())
        edge = _INT64 + 1 if value > 0 else -(_INT64 + 1)
        if self.dialect == "sqlite":
            return bindparam(None, float(edge))  # 2**63 is exact as a float
        return bindparam(None, Decimal(edge), type_=Numeric(20, 0))

    def position(self, haystack: Any, needle: str) -> Any:
        """1-based position of ``needle`` in ``haystack`` (0: absent), case-sensitively."""
        if self.mysql:
            return func.locate(self.value(needle), self.text(haystack))
        if self.dialect == "postgresql":
            return func.strpos(haystack, bindparam(None, needle, type_=String()))
        return func.instr(haystack, bindparam(None, needle, type_=String()))

    # Comparisons of a present value (the caller adds ``IS NOT NULL``).

    def compare(self, op: Op, expr: Any, operand: Any, textual: bool) -> Any:
        if op in (Op.IN, Op.NOT_IN):
            found = self.one_of(expr, operand, textual)
            return found if op is Op.IN else not_(found)
        if textual:
            if op is Op.CONTAINS:
                return self.position(expr, operand) > 0
            if op is Op.STARTS_WITH:
                return self.position(expr, operand) == 1
            expr = self.text(expr)
            wrap: Any = self.value
        else:
            wrap = self.integer
        return self.compare_with(op, expr, operand, wrap)

    def compare_with(self, op: Op, expr: Any, operand: Any, wrap: Any) -> Any:
        """``expr op operand``, each operand bound through ``wrap`` (a scalar or a range)."""
        match op:
            case Op.EQ:
                return expr == wrap(operand)
            case Op.NE:
                return expr != wrap(operand)
            case Op.LT:
                return expr < wrap(operand)
            case Op.LE:
                return expr <= wrap(operand)
            case Op.GT:
                return expr > wrap(operand)
            case Op.GE:
                return expr >= wrap(operand)
            case Op.BETWEEN:
                return and_(expr >= wrap(operand[0]), expr <= wrap(operand[1]))
        raise ValidationError.single("op", op.value, "is not supported here")  # pragma: no cover

    def one_of(self, expr: Any, values: Iterable[Any], textual: bool) -> Any:
        """``expr IN values`` as one flat ``IN`` (see `crmkit.adapters.sqlalchemy.lists`)."""
        return one_of(self.dialect, expr, list(values), textual=textual)

    def keys(self, expr: Any, values: Iterable[str]) -> Any:
        """``expr IN values`` for ids, slugs and enum values: text without spaces, which
        the column's own collation compares exactly (and its index serves) everywhere."""
        keys = sorted(set(values))
        if len(keys) == 1:  # the usual ``kind = 'purchase'``: a plain equality
            return expr == bindparam(None, keys[0], type_=String())
        return key_in(self.dialect, expr, keys)

    def present(self, op: Op, expr: Any, operand: Any, textual: bool) -> Any:
        """The two-valued comparison of a nullable ``expr``."""
        if op is Op.IS_NULL:
            return expr.is_(None)
        if op is Op.IS_NOT_NULL:
            return expr.is_not(None)
        return and_(expr.is_not(None), self.compare(op, expr, operand, textual))


def first(value: Any) -> Any:
    return value[0] if isinstance(value, tuple) and value else value


def map_operand(operand: Any, convert: Any) -> Any:
    if isinstance(operand, tuple):
        return tuple(convert(v) for v in operand)
    return convert(operand)


def us(moment: datetime) -> int:
    return to_us(ensure_utc(moment, "value"))


def minor(money: Money) -> int:
    return money.minor


def decimal_text(value: Decimal) -> str | None:
    """The stored text of a decimal trait equal to ``value``; ``None`` if no trait can be (its
    magnitude is beyond what a trait may hold, and writing it out could be huge)."""
    if value and abs(value.adjusted()) > MAX_DECIMAL_EXPONENT:
        return None
    return str(canonical_decimal(value))
