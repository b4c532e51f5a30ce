"""Customers: their traits, each written with its type (``{"type": "date", "value":
"2024-05-01"}``) so that a date and a text stay distinct.

Accounts, interactions and consents need no hooks of their own: they are attrs classes of
values whose hooks `register_scalars` supplies (and, for their list fields, `FIELD_LIMITS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from crmkit.domain import Customer, TraitType, TraitValue, trait_type_of
from crmkit.errors import FieldError, ValidationError
from crmkit.serialization._limits import dict_fn
from crmkit.serialization._problems import Bad
from crmkit.serialization._scalars import (
    structure_date,
    structure_datetime,
    structure_decimal,
    text,
    unstructure_datetime,
)

__all__ = ["register_customers"]

_TRAIT_LOADERS: dict[TraitType, Any] = {
    TraitType.STRING: lambda v: v if type(v) is str else _fail("must be text"),
    TraitType.INTEGER: lambda v: v if type(v) is int else _fail("must be an integer"),
    TraitType.DECIMAL: lambda v: structure_decimal(v, Decimal),
    TraitType.BOOLEAN: lambda v: v if type(v) is bool else _fail("must be true or false"),
    TraitType.DATE: lambda v: structure_date(v, date),
    TraitType.DATETIME: lambda v: structure_datetime(v, datetime),
    TraitType.STRING_LIST: lambda v: (
        tuple(text(i, "text") for i in v) if isinstance(v, list) else _fail("must be a list")
    ),
}


def _fail(message: str) -> Any:
    raise Bad(message)


def structure_traits(value: Any, _: type) -> dict[str, TraitValue]:
    if not isinstance(value, Mapping):
        raise Bad("must be an object of name to {'type', 'value'}")
    result: dict[str, TraitValue] = {}
    problems: list[FieldError] = []
    for name, item in value.items():
        try:
            if not isinstance(item, Mapping) or set(item) != {"type", "value"}:
                raise Bad("must be an object with exactly 'type' and 'value'")
            try:
                kind = TraitType(item["type"])
            except ValueError:
                raise Bad(f"type must be one of {', '.join(t.value for t in TraitType)}") from None
            result[str(name)] = _TRAIT_LOADERS[kind](item["value"])
        except (Bad, ValidationError) as exc:
            problems.append(FieldError(str(name), item, str(exc)))
    if problems:
        raise ValidationError(problems)
    return result


def unstructure_traits(value: Mapping[str, TraitValue]) -> dict[str, dict[str, Any]]:
    result = {}
    for name, item in value.items():
        kind = _trait_kind(item)
        result[name] = {"type": kind.value, "value": _unstructure_trait(item, kind)}
    return result


def _trait_kind(item: TraitValue) -> TraitType:
    kind = trait_type_of(item)
    if kind is None:
        raise ValidationError.single("traits", item, "is not a trait value")
    return kind


def _unstructure_trait(item: TraitValue, kind: TraitType) -> Any:
    if kind is TraitType.DECIMAL:
        return str(item)
    if kind is TraitType.DATETIME:
        return unstructure_datetime(item)  # type: ignore[arg-type]
    if kind is TraitType.DATE:
        return item.isoformat()  # type: ignore[union-attr]
    if kind is TraitType.STRING_LIST:
        return list(item)  # type: ignore[arg-type]
    return item


def register_customers(conv: cattrs.Converter) -> None:
    """A customer is its fields, its traits typed."""
    conv.register_structure_hook(
        Customer,
        dict_fn(
            conv,
            Customer,
            traits=override(struct_hook=structure_traits),
        ),
    )
    conv.register_unstructure_hook(
        Customer,
        make_dict_unstructure_fn(Customer, conv, traits=override(unstruct_hook=unstructure_traits)),
    )
