"""What the two halves of a compiled condition tree share: the node type, and each operator
as a function (`crmkit.domain.rules.evaluate` compiles the tree and its field and trait
leaves, `crmkit.domain.rules.evaluate_aggregates` its aggregate leaves)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeAlias

from crmkit.domain.rules.conditions import Facts
from crmkit.domain.rules.leaves import NULLS, Op

__all__ = ["OPERATORS", "Groups", "Node", "Test", "comparison"]

# Inside a compiled tree every node also receives the evaluation's scratch space: the
# interactions selected for aggregates that share a selection, by selection key.
Node: TypeAlias = Callable[[Facts, dict[Any, Any]], bool]
# How many aggregates of the tree make each selection.
Groups: TypeAlias = Mapping[Hashable, int]
Test: TypeAlias = Callable[[Any], bool]


def comparison(op: Op, operand: Any) -> Test:
    """The comparison ``op operand`` as a one-argument function; ``None`` (a missing value)
    satisfies only IS_NULL, as in `crmkit.domain.rules.leaves.compare`."""
    if op in NULLS:
        return (lambda v: v is None) if op is Op.IS_NULL else (lambda v: v is not None)
    if op is Op.IN or op is Op.NOT_IN:
        values = frozenset(operand)
        if op is Op.IN:
            return lambda v: v is not None and v in values
        return lambda v: v is not None and v not in values
    if op is Op.BETWEEN:
        low, high = operand
        return lambda v: v is not None and low <= v <= high
    return _SCALAR_TESTS[op](operand)


# The plain comparisons, as C functions of (value, operand).
OPERATORS: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}

_SCALAR_TESTS: dict[Op, Callable[[Any], Test]] = {
    Op.EQ: lambda x: lambda v: v is not None and v == x,
    Op.NE: lambda x: lambda v: v is not None and v != x,
    Op.LT: lambda x: lambda v: v is not None and v < x,
    Op.LE: lambda x: lambda v: v is not None and v <= x,
    Op.GT: lambda x: lambda v: v is not None and v > x,
    Op.GE: lambda x: lambda v: v is not None and v >= x,
    Op.CONTAINS: lambda x: lambda v: v is not None and x in v,
    Op.STARTS_WITH: lambda x: lambda v: v is not None and v.startswith(x),
}
