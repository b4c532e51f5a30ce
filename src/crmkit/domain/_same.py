"""One notion of equality for stored values: by type as well as by value.

Python holds ``True == 1 == 1.0 == Decimal(1)``, but a store keeps them apart: a JSON
``true`` is not the number ``1``, a boolean trait is not an integer trait, and a segment
rule ``metadata flag = true`` does not match an interaction whose ``flag`` is ``1``. So
whenever crmkit asks whether two stored values are the same (an idempotent replay, a trait
set to the value it had, a rule's metadata) it asks `same_value`, and every adapter agrees.

Values of one kind still compare by value: ``Decimal("1.0")`` is ``Decimal("1")``, a
`StrEnum` member is its text (it is stored as text), and a tuple is the list it was read back
as.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["differing_fields", "same_value", "value_kind"]

# Checked in order: bool before int (a bool is an int), datetime before date.
_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "float"),
    (Decimal, "decimal"),
    (str, "text"),
    (datetime, "datetime"),
    (date, "date"),
    (Mapping, "mapping"),
    (list, "sequence"),
    (tuple, "sequence"),
    (Set, "set"),
)


def value_kind(value: object) -> object:
    """The kind of ``value`` that equality respects: ``"boolean"``, ``"integer"``,
    ``"decimal"``, ``"text"`` …, or the type itself for anything else."""
    for python_type, kind in _KINDS:
        if isinstance(value, python_type):
            return kind
    return type(value)


def same_value(a: object, b: object) -> bool:
    """True when ``a`` and ``b`` are the same stored value: of the same kind (`value_kind`)
    and equal, item by item for mappings, lists and sets.

    Args:
        a: a value as stored or as given.
        b: the value to compare it with.

    Returns:
        ``same_value(True, 1)`` and ``same_value(Decimal(1), 1)`` are false;
        ``same_value({"n": 1}, {"n": 1})`` and ``same_value(("a",), ["a"])`` are true.
    """
    kind = value_kind(a)
    if kind != value_kind(b):
        return False
    if kind == "mapping":
        return _same_mapping(a, b)  # type: ignore[arg-type]
    if kind == "sequence":
        return _same_sequence(a, b)  # type: ignore[arg-type]
    if kind == "set":
        return _same_set(a, b)  # type: ignore[arg-type]
    return a == b


def differing_fields(a: object, b: object, names: Iterable[str]) -> tuple[str, ...]:
    """The names among ``names`` whose values differ between ``a`` and ``b`` (`same_value`),
    in the order given: what an idempotent replay reports instead of the values themselves,
    which may be personal data."""
    return tuple(n for n in names if not same_value(getattr(a, n), getattr(b, n)))


def _same_mapping(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> bool:
    return len(a) == len(b) and all(k in b and same_value(v, b[k]) for k, v in a.items())


def _same_sequence(a: list[Any] | tuple[Any, ...], b: list[Any] | tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))


def _same_set(a: Set[Any], b: Set[Any]) -> bool:
    # Members are hashable: pairing each with its kind keeps {1} apart from {True}.
    return a == b and {(value_kind(x), x) for x in a} == {(value_kind(y), y) for y in b}
