"""Conditions, the rule language of lifecycle guards, progression triggers and segments: a
tagged union whose ``"type"`` is each class's ``kind`` (``{"type": "has_field", "field":
"email"}``); structuring with ``Condition`` (or a base of some conditions) picks the class
from that tag."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from crmkit.domain import (
    AggregateCondition,
    AllOf,
    AnyOf,
    Condition,
    ConsentCondition,
    FieldCondition,
    Members,
    Not,
    StageCondition,
    TagCondition,
    TimeInStage,
    TraitCondition,
)
from crmkit.errors import ValidationError
from crmkit.serialization._collections import strict_set
from crmkit.serialization._leaves import leaf_hooks
from crmkit.serialization._limits import dict_fn, limited
from crmkit.serialization._problems import Bad

__all__ = ["CONDITION_TYPES", "register_rules"]

#: Every condition class by its ``kind``, the tag under ``"type"`` in its JSON form.
CONDITION_TYPES: Mapping[str, type[Condition]] = MappingProxyType(
    {
        cls.kind: cls
        for cls in (
            TagCondition,
            TimeInStage,
            AllOf,
            AnyOf,
            Not,
            FieldCondition,
            TraitCondition,
            ConsentCondition,
            StageCondition,
            Members,
            AggregateCondition,
        )
    }
)


def _is_condition(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, Condition)


def register_rules(conv: cattrs.Converter) -> None:
    """Conditions as a tagged union: ``{"type": <kind>, **fields}``."""
    structurers: dict[type[Condition], Callable[[Any, Any], Any]] = {}
    unstructurers: dict[type[Condition], Callable[[Any], dict[str, Any]]] = {}

    def structure_condition(value: Any, wanted: type[Condition]) -> Condition:
        allowed = sorted(k for k, cls in CONDITION_TYPES.items() if issubclass(cls, wanted))
        if not isinstance(value, Mapping):
            raise Bad(f"must be an object whose 'type' is one of {', '.join(allowed)}")
        tag = value.get("type")
        cls = CONDITION_TYPES.get(tag) if isinstance(tag, str) else None
        if cls is None or not issubclass(cls, wanted):
            message = "is required: one of" if "type" not in value else "must be one of"
            raise ValidationError.single("type", tag, f"{message} {', '.join(allowed)}")
        fields = {k: v for k, v in value.items() if k != "type"}
        made: Condition = structurers[cls](fields, cls)
        return made

    def unstructure_condition(value: Condition) -> dict[str, Any]:
        cls = type(value)
        if cls not in unstructurers:
            raise ValidationError.single(
                "type", cls.kind, "is not a condition type crmkit can serialise"
            )
        return {"type": cls.kind, **unstructurers[cls](value)}

    # Register the union first: the classes' own functions look it up for nested conditions.
    conv.register_structure_hook_func(_is_condition, structure_condition)
    conv.register_unstructure_hook_func(_is_condition, unstructure_condition)
    extras: dict[type[Condition], dict[str, Any]] = {
        StageCondition: {"stages": override(struct_hook=strict_set(conv, str, "stage names"))},
        Members: {"ids": override(struct_hook=strict_set(conv, str, "customer ids"))},
    }
    # An optional refinement added later is left out when unset, so older documents and
    # newer ones without it read and write the same.
    omitted: dict[type[Condition], dict[str, Any]] = {
        StageCondition: {"at_least_days": override(omit_if_default=True)},
    }
    for cls in CONDITION_TYPES.values():
        structurers[cls] = dict_fn(conv, cls, **extras.get(cls, {}))
        unstructurers[cls] = make_dict_unstructure_fn(cls, conv, **omitted.get(cls, {}))
    # Leaves whose value's type depends on another field are read and written by hand.
    for cls, (load, dump) in leaf_hooks(conv).items():
        structurers[cls], unstructurers[cls] = limited(cls, load), dump
