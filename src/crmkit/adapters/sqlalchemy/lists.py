"""Long lists in one SQL statement: no deep expression tree, and no bound parameter per value.

SQLite parses ``a OR b OR c …`` into a chain as deep as the list is long and refuses a tree
deeper than 1000 (``SQLITE_MAX_EXPR_DEPTH``); a statement's bound parameters are capped too
(``SQLITE_MAX_VARIABLE_NUMBER``: 999 before SQLite 3.32, 32766 since; 65535 for psycopg).
Segment rules may hold many lists of up to ``MAX_LIST_VALUES`` values (and members lists of
``MAX_MEMBERS`` ids), so they are compiled with these helpers, never as chains of ``=``:

- `all_of` / `any_of` join clauses as a balanced tree of parenthesised halves, whose depth
  grows with the logarithm of their number;
- `one_of` is one ``IN``: on SQLite the list is a single JSON-array parameter read by
  ``json_each``, on PostgreSQL a single array parameter compared with ``= ANY``; on MariaDB,
  whose driver (PyMySQL) binds on the client and so has no parameter limit, an ``IN`` list of
  values, tested against the column cast to ``BINARY`` (its ``_bin`` collations ignore
  trailing spaces; a binary operand makes the comparison byte by byte). MariaDB refuses a
  statement larger than ``max_allowed_packet`` (16 MiB by default): about 500,000 list
  values of 30 characters.

`key_in` is `one_of` for lists of row keys (a page of ids whose tags to load), up to
``MAX_PAGE`` of them.

A list never holds ``NULL``, so for a value that is not ``NULL`` membership is true or false,
never ``NULL``: ``NOT one_of(…)`` is the domain's two-valued ``not_in``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    any_,
    bindparam,
    cast,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.sql.expression import Grouping

__all__ = ["all_of", "any_of", "key_in", "one_of"]

# Up to this many clauses are joined flat (readable SQL); longer lists are split in halves.
_FLAT: Final = 8
_INT64: Final = (-(2**63), 2**63 - 1)


def all_of(clauses: Iterable[Any]) -> Any:
    """``c1 AND c2 AND …`` as a balanced tree (``true`` for no clause)."""
    items = list(clauses)
    return _balanced(and_, items) if items else true()


def any_of(clauses: Iterable[Any]) -> Any:
    """``c1 OR c2 OR …`` as a balanced tree (``false`` for no clause)."""
    items = list(clauses)
    return _balanced(or_, items) if items else false()


def _balanced(join: Any, clauses: list[Any]) -> Any:
    if len(clauses) <= _FLAT:
        return join(*clauses)
    middle = len(clauses) // 2
    halves = (_balanced(join, clauses[:middle]), _balanced(join, clauses[middle:]))
    return join(*(_Parenthesised(half) for half in halves))


class _Parenthesised(Grouping[bool]):
    """A clause kept in parentheses inside an ``AND`` (``OR``) of the same operator.

    ``and_`` merges a plain `Grouping` of an ``and_`` into one flat chain (it reads the
    operator through the grouping), which SQLite would parse as deep as ever.
    """

    inherit_cache = True
    operator = None  # what and_/or_ look at to decide to merge: nothing to merge with


def one_of(dialect: str, expr: Any, values: Sequence[str] | Sequence[int], *, textual: bool) -> Any:
    """``expr IN values``: text compared by code point, or integers compared with a BIGINT.

    Args:
        dialect: the SQLAlchemy dialect name (``sqlite``, ``postgresql``, ``mysql``,
            ``mariadb``).
        expr: the column or expression tested.
        values: the list, all text (``textual``) or all integers; an integer beyond 64 bits
            equals no stored value and is left out.
        textual: whether the values are text.

    Returns:
        A boolean expression, ``false`` for an empty list.
    """
    if dialect in ("mysql", "mariadb") and textual:
        # One BINARY operand makes MariaDB compare bytes, with every value of the list.
        expr = cast(expr, mysql.BINARY())
    return _in(dialect, expr, values, textual)


def key_in(dialect: str, column: Any, keys: Sequence[str] | Sequence[int]) -> Any:
    """``column IN keys`` for the keys of stored rows (the ids of a page of customers,
    outbox positions): as `one_of`, except that on MariaDB the column is not cast to
    ``BINARY``, so its index serves the lookup and the keys compare as its unique key does."""
    return _in(dialect, column, keys, not keys or isinstance(keys[0], str))


def _in(dialect: str, expr: Any, values: Sequence[Any], textual: bool) -> Any:
    items: list[Any] = sorted({v for v in values if textual or _fits(v)})
    if not items:
        return false()
    if dialect == "sqlite":
        each = func.json_each(_json(items)).table_valued("value")
        return expr.in_(select(each.c.value))
    if dialect == "postgresql":
        kind = postgresql.ARRAY(String() if textual else BigInteger())
        return expr == any_(cast(bindparam(None, items, type_=kind), kind))
    return expr.in_(bindparam(None, items, expanding=True, type_=_type(textual)))


def _fits(value: object) -> bool:
    return isinstance(value, int) and _INT64[0] <= value <= _INT64[1]


def _json(items: list[Any]) -> Any:
    # Non-ASCII text travels as itself, not as \u escapes for the database to decode.
    return bindparam(None, json.dumps(items, ensure_ascii=False), type_=String())


def _type(textual: bool) -> Any:
    return String() if textual else BigInteger()
