"""The segment leaves whose ``value``'s type follows from another field: `FieldCondition`,
`TraitCondition` and `AggregateCondition`, read and written by hand.

A leaf's ``value`` is plain JSON whose type follows from the leaf: a field's from
`SEGMENT_FIELDS`, a trait's from its type, an aggregate's from its measure. So a date stays
a date and a decimal a decimal, without tagging every value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import cattrs

from crmkit.domain import (
    SEGMENT_FIELDS,
    AggregateCondition,
    Channel,
    Condition,
    Direction,
    FieldCondition,
    FieldType,
    Measure,
    Money,
    Op,
    TraitCondition,
    TraitType,
    Window,
)
from crmkit.domain.rules.leaves import MAX_LIST_VALUES, NULLS
from crmkit.errors import FieldError, ValidationError
from crmkit.serialization._collections import strict_set
from crmkit.serialization._problems import Bad, field_errors
from crmkit.serialization._scalars import (
    same,
    structure_date,
    structure_datetime,
    structure_decimal,
    structure_exact,
    structure_money,
    unstructure_datetime,
    unstructure_money,
)

__all__ = ["leaf_hooks"]

#: A leaf class's structuring and unstructuring functions.
LeafHooks = tuple[Callable[[Any, Any], Any], Callable[[Any], dict[str, Any]]]

_MISSING = object()


def _exact(kind: type) -> Callable[[Any], Any]:
    hook = structure_exact(kind)
    return lambda value: hook(value, kind)


_SCALARS: dict[FieldType | TraitType, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    FieldType.TEXT: (_exact(str), same),
    FieldType.DATETIME: (lambda v: structure_datetime(v, datetime), unstructure_datetime),
    TraitType.STRING: (_exact(str), same),
    TraitType.INTEGER: (_exact(int), same),
    TraitType.DECIMAL: (lambda v: structure_decimal(v, Decimal), str),
    TraitType.BOOLEAN: (_exact(bool), same),
    TraitType.DATE: (lambda v: structure_date(v, date), date.isoformat),
    TraitType.DATETIME: (lambda v: structure_datetime(v, datetime), unstructure_datetime),
    TraitType.STRING_LIST: (_exact(str), same),  # the element looked for
}

_MEASURES: dict[Measure, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    Measure.COUNT: (_exact(int), same),
    Measure.DISTINCT_DAYS: (_exact(int), same),
    Measure.SUM: (lambda v: structure_money(v, Money), unstructure_money),
    Measure.NET_SPEND: (lambda v: structure_money(v, Money), unstructure_money),
    Measure.AVG: (lambda v: structure_money(v, Money), unstructure_money),
    Measure.MIN_AT: _SCALARS[FieldType.DATETIME],
    Measure.MAX_AT: _SCALARS[FieldType.DATETIME],
}


def _load_value(op: Op, raw: Any, load: Callable[[Any], Any]) -> Any:
    """Read a leaf's operand: nothing for is (not) null, a list for in / not in / between."""
    if op in NULLS:
        return raw  # the leaf refuses anything but null
    if op not in (Op.IN, Op.NOT_IN, Op.BETWEEN):
        return _load_at("value", raw, load)
    if not isinstance(raw, list | tuple):
        raise ValidationError.single("value", raw, "must be a list of values")
    if not 0 < len(raw) <= MAX_LIST_VALUES:  # before reading a hostile million items
        raise ValidationError.single("value", len(raw), f"must hold 1-{MAX_LIST_VALUES} values")
    problems: list[FieldError] = []
    items = []
    for index, item in enumerate(raw):
        try:
            items.append(_load_at(f"value[{index}]", item, load))
        except ValidationError as error:
            problems.extend(error.errors)
    if problems:
        raise ValidationError(problems)
    return items


def _load_at(path: str, raw: Any, load: Callable[[Any], Any]) -> Any:
    try:
        return load(raw)
    except Bad as exc:
        raise ValidationError.single(path, raw, str(exc)) from None
    except ValidationError as error:
        raise error.prefixed(path) from None


def _dump_value(value: Any, dump: Callable[[Any], Any]) -> Any:
    if value is None:
        return None
    if isinstance(value, tuple):
        return [dump(item) for item in value]
    return dump(value)


class _Reader:
    """Reads the fields of one JSON object, collecting every problem with its path."""

    def __init__(self, conv: cattrs.Converter, value: Any, required: str, optional: str) -> None:
        if not isinstance(value, Mapping):
            raise Bad("must be an object")
        known = {*required.split(), *optional.split()}
        self.problems = [
            FieldError(name, None, "is required but missing")
            for name in required.split()
            if name not in value
        ]
        extra = sorted(str(k) for k in value if k not in known)
        if extra:
            self.problems.append(FieldError("", None, f"has unknown fields: {', '.join(extra)}"))
        self.conv, self.data = conv, value

    def read(self, name: str, kind: Any) -> Any:
        """The field ``name`` structured as ``kind``, or `_MISSING` (absent or bad)."""
        if name not in self.data:
            return _MISSING
        try:
            return self.conv.structure(self.data[name], kind)
        except Exception as exc:
            self.problems.extend(field_errors(exc, [name], self.data))
            return _MISSING

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def check(self) -> None:
        if self.problems:
            raise ValidationError(self.problems)


def leaf_hooks(conv: cattrs.Converter) -> dict[type[Condition], LeafHooks]:
    """The hooks of each leaf whose value's type another field decides."""

    def load_field(value: Any, _: type) -> FieldCondition:
        reader = _Reader(conv, value, "field op", "value")
        name, op = reader.read("field", str), reader.read("op", Op)
        reader.check()
        kind = SEGMENT_FIELDS.get(name)
        if kind is None:
            return FieldCondition(name, op, reader.raw("value"))  # refused: names the fields
        return FieldCondition(name, op, _load_value(op, reader.raw("value"), _SCALARS[kind][0]))

    def dump_field(node: FieldCondition) -> dict[str, Any]:
        dump = _SCALARS[SEGMENT_FIELDS[node.field]][1]
        return {"field": node.field, "op": node.op.value, "value": _dump_value(node.value, dump)}

    def load_trait(value: Any, _: type) -> TraitCondition:
        reader = _Reader(conv, value, "name trait_type op", "value")
        name, kind = reader.read("name", str), reader.read("trait_type", TraitType | None)
        op = reader.read("op", Op)
        reader.check()
        if kind is None:  # a trait of any type: only (not) null, which takes no value
            return TraitCondition(name, None, op, reader.raw("value"))
        operand = _load_value(op, reader.raw("value"), _SCALARS[kind][0])
        return TraitCondition(name, kind, op, operand)

    def dump_trait(node: TraitCondition) -> dict[str, Any]:
        kind = node.type
        return {
            "name": node.name,
            "trait_type": None if kind is None else kind.value,
            "op": node.op.value,
            "value": None if kind is None else _dump_value(node.value, _SCALARS[kind][1]),
        }

    sets = {
        "kinds": strict_set(conv, str, "interaction kinds"),
        "channels": strict_set(conv, Channel, "channels"),
        "directions": strict_set(conv, Direction, "directions"),
        "campaigns": strict_set(conv, str, "campaigns"),
    }

    def load_aggregate(value: Any, _: type) -> AggregateCondition:
        reader = _Reader(
            conv,
            value,
            "measure op",
            "value window kinds channels directions campaigns metadata currency",
        )
        measure, op = reader.read("measure", Measure), reader.read("op", Op)
        parts: dict[str, Any] = {
            "window": reader.read("window", Window),
            "metadata": reader.read("metadata", dict[str, str | int | bool]),
            "currency": reader.read("currency", str | None),
        }
        for name, hook in sets.items():
            if name in reader.data:
                try:
                    parts[name] = hook(reader.data[name], frozenset)
                except Exception as exc:
                    reader.problems.extend(field_errors(exc, [name], reader.data))
        reader.check()
        operand = _load_value(op, reader.raw("value"), _MEASURES[measure][0])
        given = {k: v for k, v in parts.items() if v is not _MISSING}
        return AggregateCondition(measure, op, operand, **given)

    def dump_aggregate(node: AggregateCondition) -> dict[str, Any]:
        return {
            "measure": node.measure.value,
            "op": node.op.value,
            "value": _dump_value(node.value, _MEASURES[node.measure][1]),
            "window": conv.unstructure(node.window, Window),
            "kinds": sorted(node.kinds),
            "channels": sorted(c.value for c in node.channels),
            "directions": sorted(d.value for d in node.directions),
            "campaigns": sorted(node.campaigns),
            "metadata": dict(node.metadata),
            "currency": node.currency,
        }

    return {
        FieldCondition: (load_field, dump_field),
        TraitCondition: (load_trait, dump_trait),
        AggregateCondition: (load_aggregate, dump_aggregate),
    }
