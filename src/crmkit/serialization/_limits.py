"""The limits on untrusted documents, checked before any field is converted.

Reading a document costs time in proportion to what it holds, so a hostile one must be
refused by its size before its contents are looked at. Two checks do that:

- `check_document` walks the raw data once, stopping at the first excess: nesting deeper
  than `MAX_DEPTH`, more than `MAX_NODES` values in all, a list or object of more than
  `MAX_ITEMS`, a text longer than `MAX_STRING`, an integer beyond a signed 64-bit one or a
  number that is not finite.
- `check_fields` refuses, before structuring an object, each list or mapping field longer
  than its limit in `FIELD_LIMITS` (the domain's own limit where the domain has one, so
  that a document is refused for the same reasons as an object built in Python). `dict_fn`
  and `limited` build class hooks that run it first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Set
from types import MappingProxyType
from typing import Any, TypeVar

import cattrs
from cattrs.gen import make_dict_structure_fn

from crmkit.app.settings import MAX_LIFECYCLES, MAX_TRACKED_SEGMENTS, Settings
from crmkit.domain import (
    AggregateCondition,
    AllOf,
    AnyOf,
    Customer,
    Interaction,
    LifecycleModel,
    Members,
    PointsJobReport,
    PostalAddress,
    ProgressionReport,
    ProgressionRule,
    StageCondition,
    StageHistory,
    TraitSchema,
)
from crmkit.domain._checks import MAX_BIGINT
from crmkit.domain.analytics.stages import Funnel, StageFlow
from crmkit.domain.customers.customer import (
    MAX_CONSENTS,
    MAX_EXTERNAL_IDS,
    MAX_OTHER_CONTACTS,
    MAX_TAGS,
)
from crmkit.domain.customers.traits import MAX_TRAITS
from crmkit.domain.events import AccountChanged, CustomerProfileChanged
from crmkit.domain.interactions.interaction import MAX_METADATA
from crmkit.domain.lifecycle.model import MAX_PROGRESSION_RULES, MAX_STAGES, MAX_TRANSITIONS
from crmkit.domain.loyalty.entries import LedgerEntry, LedgerState
from crmkit.domain.loyalty.ledger import PointsLedger
from crmkit.domain.loyalty.programme import MAX_PROGRAMME_PARTS, Programme
from crmkit.domain.loyalty.rules import Multiplier, SpendRule
from crmkit.domain.rules.conditions import MAX_CONDITIONS
from crmkit.domain.rules.leaves import MAX_LIST_VALUES, MAX_MEMBERS
from crmkit.domain.segments.membership import MembershipChange
from crmkit.domain.values.contact import MAX_ADDRESS_LINES
from crmkit.errors import FieldError, ValidationError
from crmkit.ports import ImportResult

__all__ = [
    "FIELD_LIMITS",
    "MAX_DEPTH",
    "MAX_HISTORY",
    "MAX_ITEMS",
    "MAX_NODES",
    "MAX_STRING",
    "check_document",
    "check_fields",
    "dict_fn",
    "limited",
]

T = TypeVar("T")

#: How deeply a document may nest. A lifecycle model whose guard nests conditions as deeply as
#: the domain allows (16 levels) reaches about 35, so valid documents stay well within it.
MAX_DEPTH = 48

#: The most values (objects, lists, texts, numbers …) one document may hold in all.
MAX_NODES = 250_000

#: The most items of any one list or object (the largest field limit, `MAX_MEMBERS`).
MAX_ITEMS = MAX_MEMBERS

#: The longest text anywhere in a document; each field has its own, lower, limit.
MAX_STRING = 10_000

#: The most items of a list that grows without a bound in the domain (a stage history's
#: changes, a ledger's entries, the lots of a state, the ids of a report). Storage keeps such
#: lists row by row; a document holding one is refused beyond this many.
MAX_HISTORY = 5_000

_PROGRAMME_PARTS = ("rules", "multipliers", "tiers", "period_caps", "rewards", "custom_kinds")
_SMALL = 100  # lists bounded by nature (the fields of an event, the steps of a funnel)

#: The most items each list, set or mapping field of each serialisable type may hold.
FIELD_LIMITS: Mapping[type, Mapping[str, int]] = MappingProxyType(
    {
        Customer: {
            "other_contacts": MAX_OTHER_CONTACTS,
            "tags": MAX_TAGS,
            "traits": MAX_TRAITS,
            "consents": MAX_CONSENTS,
            "external_ids": MAX_EXTERNAL_IDS,
        },
        PostalAddress: {"lines": MAX_ADDRESS_LINES},
        TraitSchema: {"traits": MAX_TRAITS},
        Interaction: {"metadata": MAX_METADATA},
        CustomerProfileChanged: {"fields": _SMALL},
        AccountChanged: {"fields": _SMALL},
        AllOf: {"conditions": MAX_CONDITIONS},
        AnyOf: {"conditions": MAX_CONDITIONS},
        StageCondition: {"stages": MAX_LIST_VALUES},
        Members: {"ids": MAX_MEMBERS},
        AggregateCondition: {
            "kinds": MAX_LIST_VALUES,
            "channels": _SMALL,
            "directions": _SMALL,
            "campaigns": MAX_LIST_VALUES,
            "metadata": MAX_METADATA,
        },
        LifecycleModel: {
            "stages": MAX_STAGES,
            "transitions": MAX_TRANSITIONS,
            "rules": MAX_PROGRESSION_RULES,
        },
        ProgressionRule: {"sources": MAX_STAGES},
        StageHistory: {"changes": MAX_HISTORY},
        Funnel: {"steps": MAX_STAGES},
        StageFlow: {"moved_to": MAX_STAGES},
        MembershipChange: {"entered": MAX_HISTORY, "left": MAX_HISTORY},
        Programme: dict.fromkeys(_PROGRAMME_PARTS, MAX_PROGRAMME_PARTS),
        Multiplier: {"channels": _SMALL, "categories": MAX_LIST_VALUES},
        SpendRule: {"kinds": MAX_LIST_VALUES},
        LedgerEntry: {"takes": MAX_HISTORY},
        LedgerState: {"lots": MAX_HISTORY},
        PointsLedger: {"entries": MAX_HISTORY},
        PointsJobReport: {"skipped": MAX_HISTORY},
        ProgressionReport: {"changes": MAX_HISTORY, "skipped": MAX_HISTORY},
        ImportResult: {"skipped": MAX_ITEMS},
        Settings: {"lifecycles": MAX_LIFECYCLES, "segments": MAX_TRACKED_SEGMENTS},
    }
)


def check_fields(cls: type, value: Any) -> None:
    """Refuse each field of the object ``value`` (to become a ``cls``) that holds too much."""
    limits = FIELD_LIMITS.get(cls)
    if not limits or not isinstance(value, Mapping):
        return
    problems = [
        FieldError(name, len(item), f"must hold at most {limit} items")
        for name, limit in limits.items()
        if isinstance(item := value.get(name), list | tuple | Set | Mapping) and len(item) > limit
    ]
    if problems:
        raise ValidationError(problems)


def limited(cls: type, hook: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    """``hook``, refusing first (before reading any item) each field of ``cls`` over its
    limit in `FIELD_LIMITS`."""
    if cls not in FIELD_LIMITS:
        return hook

    def structure(value: Any, kind: Any) -> T:
        check_fields(cls, value)
        return hook(value, kind)

    return structure


def dict_fn(conv: cattrs.Converter, cls: type, **overrides: Any) -> Callable[[Any, Any], Any]:
    """cattrs' structuring function for the attrs class ``cls`` (unknown keys refused), with
    its field limits checked first."""
    made: Callable[[Any, Any], Any] = make_dict_structure_fn(
        cls, conv, _cattrs_forbid_extra_keys=True, **overrides
    )
    return limited(cls, made)


def _segment(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _refuse(path: tuple[str | int, ...], shown: Any, message: str) -> ValidationError:
    return ValidationError.single(_segment(path), shown, message)


_CONTAINERS = (Mapping, list, tuple, Set)


def _scalar(value: Any, path: tuple[str | int, ...], key: str | int | None) -> None:
    """Refuse a text, integer or number too large to read; the path is only built then."""
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise _refuse(
                _at(path, key), f"{len(value)} characters", f"is longer than {MAX_STRING}"
            )
    elif isinstance(value, int):
        # Compared by size, never converted: errors show a huge integer by its digit count.
        if value.bit_length() > 63 and not -MAX_BIGINT - 1 <= value <= MAX_BIGINT:
            raise _refuse(
                _at(path, key),
                value,
                "is beyond a signed 64-bit integer: give larger numbers as decimal text",
            )
    elif isinstance(value, float) and not math.isfinite(value):
        raise _refuse(_at(path, key), str(value), "must be a finite number")


def _at(path: tuple[str | int, ...], key: str | int | None) -> tuple[str | int, ...]:
    return path if key is None else (*path, key)


def _key(key: Any) -> str:
    return key[:40] if isinstance(key, str) else type(key).__name__


def check_document(data: Any) -> None:
    """Refuse ``data`` at its first excess, having looked at no more than `MAX_NODES` values.

    Raises:
        ValidationError: naming the path of the excess (and its size, never a huge value).
    """
    if not isinstance(data, _CONTAINERS):
        _scalar(data, (), None)
        return
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(data, 0, ())]
    seen = 0
    while stack:
        value, depth, path = stack.pop()
        if depth >= MAX_DEPTH:
            raise _refuse((), "...", f"is nested deeper than {MAX_DEPTH} levels")
        seen += len(value) + 1
        if len(value) > MAX_ITEMS:
            raise _refuse(path, len(value), f"must hold at most {MAX_ITEMS} items")
        if seen > MAX_NODES:
            raise _refuse(path, f"over {MAX_NODES}", f"the document holds over {MAX_NODES} values")
        pairs = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in pairs:
            if isinstance(value, Mapping):
                _scalar(key, path, None)
                key = _key(key)
            if isinstance(item, _CONTAINERS):
                stack.append((item, depth + 1, (*path, key)))
            else:
                _scalar(item, path, key)
