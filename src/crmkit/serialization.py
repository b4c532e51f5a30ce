"""Lossless conversion between crmkit's types and JSON-compatible data, with cattrs.

`unstructure` turns any public domain object into dicts, lists, strings, ints and bools;
`structure` turns such data back into the object, equal to the original. Untrusted data
(a request body, a file) either structures cleanly or raises one
`crmkit.errors.ValidationError` listing the path of every bad field it found; never a raw
cattrs, ``KeyError`` or ``TypeError``. (Rules that span a whole object, such as a slug's
format, are checked once its fields have been read, so they are reported in a second pass.)

`from_json` reads JSON numbers exactly (as decimals, never as binary floats), so
``{"amount": 12.5, "currency": "EUR"}`` is accepted there; Python floats given to
`structure` are refused.

Exact types stay exact: money is ``{"amount": "12.50", "currency": "EUR"}`` (a string, never
a float), decimals are strings, datetimes ISO 8601 in UTC, and traits carry their type
(``{"type": "date", "value": "2024-05-01"}``) so that a date and a text stay distinct.
Sets (tags, interaction kinds, channels, rule sources) are sorted lists.

Conditions (lifecycle guards and progression triggers) are a tagged union: each is an object
whose ``"type"`` is the class's ``kind`` (``{"type": "has_field", "field": "email"}``), and
`structure` with ``Condition`` picks the class from that tag (see `CONDITION_TYPES`).

A loyalty `Programme` is plain data in the same way: its earning rules are a tagged union too
(``{"type": "spend", "name": "base", "points": 1, "per": {...}, ...}``, see `RULE_TYPES`),
a multiplier's ``segment`` is a condition, enums are their values and sets sorted lists.
Structuring builds the programme, so its checks run: a bad document is reported with paths
such as ``rules[0].points`` or ``tiers[1].threshold``. Its ``referrals`` is a
`ReferralPolicy` object (``{"referrer_kind": "referral", "referee_kind": null}``) or ``null``;
a kind it names needs an event rule, or the document is refused at
``referrals.referrer_kind`` (or ``referrals.referee_kind``). A `LedgerEntry` is written field
by field, its ``takes`` as ``[lot, points]`` pairs, so that a ledger can be stored or exported.

A `Referral` is its fields (status as its value, ``qualified_at`` and ``rewarded_at`` as
datetimes or ``null``, and its ``version``), never its pending events; a `PointsBalance` is
its fields too. Loyalty events (`PointsEarned`, `PointsRedeemed`, `PointsExpired`,
`TierChanged`, `ReferralChanged`) are tagged like every other event (see `EVENT_TYPES`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Set
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from crmkit.domain import (
    SEGMENT_FIELDS,
    AccountChanged,
    AccountRegistered,
    AggregateCondition,
    AllOf,
    AnyOf,
    Channel,
    CompanySize,
    Condition,
    ConsentChanged,
    ConsentCondition,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerProfileChanged,
    CustomerRegistered,
    Direction,
    DomainEvent,
    DoubleOptIn,
    EmailAddress,
    EnteredSegment,
    FieldCondition,
    FieldType,
    HasField,
    HasTag,
    HasTrait,
    InteractionCount,
    InteractionKind,
    InteractionRecorded,
    LeftSegment,
    Measure,
    Members,
    Money,
    Not,
    Op,
    Outcome,
    PhoneNumber,
    ProgressionRule,
    Segment,
    Stage,
    StageChanged,
    StageCondition,
    SubjectKind,
    TimeInStage,
    TraitCondition,
    TraitType,
    TraitValue,
    Window,
)
from crmkit.domain._checks import SLUG
from crmkit.domain.channels import enum_of
from crmkit.domain.ids import check_id
from crmkit.domain.loyalty.entries import EntryKind, LedgerEntry
from crmkit.domain.loyalty.events import PointsEarned, PointsExpired, PointsRedeemed, TierChanged
from crmkit.domain.loyalty.ledger import PointsBalance
from crmkit.domain.loyalty.programme import EarningRule, Programme, Reward
from crmkit.domain.loyalty.referrals import (
    Referral,
    ReferralChanged,
    ReferralPolicy,
    ReferralStatus,
)
from crmkit.domain.loyalty.rules import EventRule, Multiplier, Period, PeriodCap, SpendRule
from crmkit.domain.loyalty.tiers import Tier, TierBasis
from crmkit.domain.segments import MAX_LIST_VALUES, NULLS
from crmkit.domain.texts import ensure_text
from crmkit.domain.timestamps import ensure_utc
from crmkit.errors import CrmError, FieldError, ValidationError

__all__ = [
    "CONDITION_TYPES",
    "EVENT_TYPES",
    "RULE_TYPES",
    "SEGMENT_VERSION",
    "converter",
    "event_from_dict",
    "event_to_dict",
    "from_json",
    "structure",
    "to_json",
    "unstructure",
]

T = TypeVar("T")

#: Every domain event class by the name used in its ``"type"`` tag.
EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.__name__: cls
    for cls in (
        CustomerRegistered,
        CustomerProfileChanged,
        ConsentChanged,
        InteractionRecorded,
        AccountRegistered,
        AccountChanged,
        StageChanged,
        EnteredSegment,
        LeftSegment,
        PointsEarned,
        PointsRedeemed,
        PointsExpired,
        TierChanged,
        ReferralChanged,
    )
}

#: Every condition class by its ``kind``, the tag under ``"type"`` in its JSON form.
CONDITION_TYPES: Mapping[str, type[Condition]] = MappingProxyType(
    {
        cls.kind: cls
        for cls in (
            HasField,
            HasTrait,
            HasTag,
            InteractionCount,
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

#: Every loyalty earning rule class by the tag under ``"type"`` in its JSON form.
RULE_TYPES: Mapping[str, type[SpendRule | EventRule]] = MappingProxyType(
    {"spend": SpendRule, "event": EventRule}
)

#: The version of the JSON form of a `Segment` this crmkit writes and reads (its
#: ``"version"`` field); a document of another version is refused.
SEGMENT_VERSION = 1

#: How deeply a document may nest. A lifecycle model whose guard nests conditions as deeply as
#: the domain allows (16 levels) reaches about 35, so valid documents stay well within it.
MAX_DEPTH = 48


class _Bad(ValueError):
    """A structuring failure with a message meant for people."""


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"must be {what} as text")
    return value


def _structure_datetime(value: Any, _: type) -> datetime:
    try:
        parsed = datetime.fromisoformat(_text(value, "an ISO 8601 datetime"))
    except ValueError:
        raise _Bad("must be an ISO 8601 datetime with a UTC offset") from None
    return ensure_utc(parsed, "")


def _unstructure_datetime(value: datetime) -> str:
    return ensure_utc(value, "").isoformat()


def _structure_date(value: Any, _: type) -> date:
    try:
        return date.fromisoformat(_text(value, "an ISO 8601 date"))
    except ValueError:
        raise _Bad("must be an ISO 8601 date such as '2024-05-01'") from None


def _structure_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _Bad("must be a decimal number as text (never a float)")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise _Bad("is not a decimal number") from None
    if not result.is_finite():
        raise _Bad("must be finite")
    return result


def _structure_money(value: Any, _: type) -> Money:
    if not isinstance(value, Mapping) or set(value) != {"amount", "currency"}:
        raise _Bad("must be an object with exactly 'amount' (text) and 'currency'")
    amount = value["amount"]
    if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
        raise ValidationError.single(
            "amount", amount, "must be a decimal number as text (never a float)"
        )
    return Money.of(amount, value["currency"])


def _unstructure_money(value: Money) -> dict[str, str]:
    return {"amount": str(value.amount), "currency": value.currency}


def _structure_contact(value: Any, _: type) -> ContactPoint:
    if not isinstance(value, Mapping) or not set(value) <= {"email", "phone", "label"}:
        raise _Bad("must be an object with 'email' or 'phone', and an optional 'label'")
    kinds = [k for k in ("email", "phone") if k in value]
    if len(kinds) != 1:
        raise _Bad("must have exactly one of 'email' or 'phone'")
    raw = _text(value[kinds[0]], kinds[0])
    point = EmailAddress(raw) if kinds[0] == "email" else PhoneNumber.parse(raw)
    return ContactPoint(point, value.get("label"))


def _unstructure_contact(value: ContactPoint) -> dict[str, str | None]:
    kind = "email" if isinstance(value.value, EmailAddress) else "phone"
    return {kind: str(value.value), "label": value.label}


_TRAIT_LOADERS: dict[TraitType, Any] = {
    TraitType.STRING: lambda v: v if type(v) is str else _fail("must be text"),
    TraitType.INTEGER: lambda v: v if type(v) is int else _fail("must be an integer"),
    TraitType.DECIMAL: lambda v: _structure_decimal(v, Decimal),
    TraitType.BOOLEAN: lambda v: v if type(v) is bool else _fail("must be true or false"),
    TraitType.DATE: lambda v: _structure_date(v, date),
    TraitType.DATETIME: lambda v: _structure_datetime(v, datetime),
    TraitType.STRING_LIST: lambda v: (
        tuple(_text(i, "text") for i in v) if isinstance(v, list) else _fail("must be a list")
    ),
}


def _fail(message: str) -> Any:
    raise _Bad(message)


def _structure_traits(value: Any, _: type) -> dict[str, TraitValue]:
    if not isinstance(value, Mapping):
        raise _Bad("must be an object of name to {'type', 'value'}")
    result: dict[str, TraitValue] = {}
    problems: list[FieldError] = []
    for name, item in value.items():
        try:
            if not isinstance(item, Mapping) or set(item) != {"type", "value"}:
                raise _Bad("must be an object with exactly 'type' and 'value'")
            try:
                kind = TraitType(item["type"])
            except ValueError:
                raise _Bad(f"type must be one of {', '.join(t.value for t in TraitType)}") from None
            result[str(name)] = _TRAIT_LOADERS[kind](item["value"])
        except (_Bad, ValidationError) as exc:
            problems.append(FieldError(str(name), item, str(exc)))
    if problems:
        raise ValidationError(problems)
    return result


def _unstructure_traits(value: Mapping[str, TraitValue]) -> dict[str, dict[str, Any]]:
    result = {}
    for name, item in value.items():
        kind = _trait_kind(item)
        result[name] = {"type": kind.value, "value": _unstructure_trait(item, kind)}
    return result


def _trait_kind(item: TraitValue) -> TraitType:
    from crmkit.domain import trait_type_of

    kind = trait_type_of(item)
    if kind is None:
        raise ValidationError.single("traits", item, "is not a trait value")
    return kind


def _unstructure_trait(item: TraitValue, kind: TraitType) -> Any:
    if kind is TraitType.DECIMAL:
        return str(item)
    if kind is TraitType.DATETIME:
        return _unstructure_datetime(item)  # type: ignore[arg-type]
    if kind is TraitType.DATE:
        return item.isoformat()  # type: ignore[union-attr]
    if kind is TraitType.STRING_LIST:
        return list(item)  # type: ignore[arg-type]
    return item


def _structure_metadata_value(value: Any, _: Any) -> str | int | bool:
    if type(value) in (str, int, bool):
        return value  # type: ignore[no-any-return]
    raise _Bad("must be text, an integer or a boolean")


def _structure_exact(kind: type) -> Any:
    def structure(value: Any, _: type) -> Any:
        if type(value) is not kind:
            raise _Bad(f"must be {'a' if kind is not int else 'an'} {kind.__name__}")
        if kind is str:
            ensure_text(value, "")  # no text of a document is a lone surrogate or U+0000
        return value

    return structure


_ENUMS = (
    Channel,
    CompanySize,
    ConsentStatus,
    Direction,
    DoubleOptIn,
    EntryKind,
    InteractionKind,
    Measure,
    Op,
    Outcome,
    Period,
    ReferralStatus,
    SubjectKind,
    TierBasis,
    TraitType,
)


def _structure_enum(value: Any, enum: type[StrEnum]) -> StrEnum:
    if not isinstance(value, str):
        raise _Bad(f"must be one of {', '.join(m.value for m in enum)}")
    return enum_of(enum, value, "")


def _strict_set(conv: cattrs.Converter, item: type, what: str) -> Any:
    """A hook reading a set of ``item`` from a list only: a string is not a set of letters."""
    as_tuple = tuple[item, ...]  # type: ignore[valid-type]
    handler = conv.get_structure_hook(as_tuple)

    def structure(value: Any, _: type) -> frozenset[Any]:
        if not isinstance(value, list | tuple | Set):
            raise _Bad(f"must be a list of {what}")
        return frozenset(handler(list(value), as_tuple))

    return structure


def _strict_tuple(conv: cattrs.Converter, item: Any, what: str) -> Any:
    """A hook reading a tuple of ``item`` from a list only (not from a string or an object)."""
    as_tuple: Any = tuple[item, ...]
    handler = conv.get_structure_hook(as_tuple)

    def structure(value: Any, _: type) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise _Bad(f"must be a list of {what}")
        return handler(value, as_tuple)  # type: ignore[no-any-return]

    return structure


def _same(value: Any) -> Any:
    return value


def _is_condition(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, Condition)


def _register_conditions(conv: cattrs.Converter) -> None:
    """Conditions as a tagged union: ``{"type": <kind>, **fields}``."""
    structurers: dict[type[Condition], Callable[[Any, Any], Any]] = {}
    unstructurers: dict[type[Condition], Callable[[Any], dict[str, Any]]] = {}

    def structure_condition(value: Any, wanted: type[Condition]) -> Condition:
        allowed = sorted(k for k, cls in CONDITION_TYPES.items() if issubclass(cls, wanted))
        if not isinstance(value, Mapping):
            raise _Bad(f"must be an object whose 'type' is one of {', '.join(allowed)}")
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
    sets: dict[str, Any] = {
        "kinds": override(struct_hook=_strict_set(conv, str, "interaction kinds")),
        "channels": override(struct_hook=_strict_set(conv, Channel, "channels")),
    }
    extras: dict[type[Condition], dict[str, Any]] = {
        InteractionCount: sets,
        StageCondition: {"stages": override(struct_hook=_strict_set(conv, str, "stage names"))},
        Members: {"ids": override(struct_hook=_strict_set(conv, str, "customer ids"))},
    }
    for cls in CONDITION_TYPES.values():
        structurers[cls] = make_dict_structure_fn(
            cls, conv, _cattrs_forbid_extra_keys=True, **extras.get(cls, {})
        )
        unstructurers[cls] = make_dict_unstructure_fn(cls, conv)
    # Leaves whose value's type depends on another field are read and written by hand.
    for cls, (load, dump) in _segment_leaf_hooks(conv).items():
        structurers[cls], unstructurers[cls] = load, dump


# --- Segments -----------------------------------------------------------------------------
#
# A leaf's ``value`` is plain JSON whose type follows from the leaf: a field's from
# `SEGMENT_FIELDS`, a trait's from its type, an aggregate's from its measure. So a date stays
# a date and a decimal a decimal, without tagging every value.

_MISSING = object()


def _exact(kind: type) -> Callable[[Any], Any]:
    hook = _structure_exact(kind)
    return lambda value: hook(value, kind)


_SCALARS: dict[FieldType | TraitType, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    FieldType.TEXT: (_exact(str), _same),
    FieldType.DATETIME: (lambda v: _structure_datetime(v, datetime), _unstructure_datetime),
    TraitType.STRING: (_exact(str), _same),
    TraitType.INTEGER: (_exact(int), _same),
    TraitType.DECIMAL: (lambda v: _structure_decimal(v, Decimal), str),
    TraitType.BOOLEAN: (_exact(bool), _same),
    TraitType.DATE: (lambda v: _structure_date(v, date), date.isoformat),
    TraitType.DATETIME: (lambda v: _structure_datetime(v, datetime), _unstructure_datetime),
    TraitType.STRING_LIST: (_exact(str), _same),  # the element looked for
}

_MEASURES: dict[Measure, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    Measure.COUNT: (_exact(int), _same),
    Measure.DISTINCT_DAYS: (_exact(int), _same),
    Measure.SUM: (lambda v: _structure_money(v, Money), _unstructure_money),
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
    except _Bad as exc:
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
            raise _Bad("must be an object")
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
            self.problems.extend(_field_errors(exc, [name], self.data))
            return _MISSING

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def check(self) -> None:
        if self.problems:
            raise ValidationError(self.problems)


def _segment_leaf_hooks(
    conv: cattrs.Converter,
) -> dict[type[Condition], tuple[Callable[[Any, Any], Any], Callable[[Any], dict[str, Any]]]]:
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
        name, kind = reader.read("name", str), reader.read("trait_type", TraitType)
        op = reader.read("op", Op)
        reader.check()
        operand = _load_value(op, reader.raw("value"), _SCALARS[kind][0])
        return TraitCondition(name, kind, op, operand)

    def dump_trait(node: TraitCondition) -> dict[str, Any]:
        return {
            "name": node.name,
            "trait_type": node.type.value,
            "op": node.op.value,
            "value": _dump_value(node.value, _SCALARS[node.type][1]),
        }

    sets = {
        "kinds": _strict_set(conv, str, "interaction kinds"),
        "channels": _strict_set(conv, Channel, "channels"),
        "directions": _strict_set(conv, Direction, "directions"),
        "campaigns": _strict_set(conv, str, "campaigns"),
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
                    reader.problems.extend(_field_errors(exc, [name], reader.data))
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


def _register_segments(conv: cattrs.Converter) -> None:
    """A segment is ``{"version": 1, "name", "description", "rule"}``."""
    load = make_dict_structure_fn(Segment, conv, _cattrs_forbid_extra_keys=True)
    dump = make_dict_unstructure_fn(Segment, conv)

    def structure_segment(value: Any, _: type) -> Segment:
        if not isinstance(value, Mapping):
            raise _Bad("must be an object with 'version', 'name' and 'rule'")
        version = value.get("version", _MISSING)
        if version is _MISSING:
            raise ValidationError.single("version", None, f"is required ({SEGMENT_VERSION})")
        if type(version) is not int or version != SEGMENT_VERSION:
            raise ValidationError.single(
                "version", version, f"must be {SEGMENT_VERSION}: this crmkit reads no other"
            )
        made: Segment = load({k: v for k, v in value.items() if k != "version"}, Segment)
        return made

    def unstructure_segment(segment: Segment) -> dict[str, Any]:
        return {"version": SEGMENT_VERSION, **dump(segment)}

    conv.register_structure_hook(Segment, structure_segment)
    conv.register_unstructure_hook(Segment, unstructure_segment)


def _register_lifecycle(conv: cattrs.Converter) -> None:
    """Lifecycle models and stage histories are plain attrs classes, except that a stage's
    label may be ``None`` (kept as ``null``) and a rule's sources must be a list."""
    text = _structure_exact(str)

    def optional_text(value: Any, _: type) -> str | None:
        return None if value is None else text(value, str)

    conv.register_structure_hook(
        Stage,
        make_dict_structure_fn(
            Stage,
            conv,
            label=override(struct_hook=optional_text),
            _cattrs_forbid_extra_keys=True,
        ),
    )
    conv.register_unstructure_hook(
        Stage, make_dict_unstructure_fn(Stage, conv, label=override(unstruct_hook=_same))
    )
    conv.register_structure_hook(
        ProgressionRule,
        make_dict_structure_fn(
            ProgressionRule,
            conv,
            sources=override(struct_hook=_strict_set(conv, str, "stage names")),
            _cattrs_forbid_extra_keys=True,
        ),
    )


def _is_rule(kind: Any) -> bool:
    return kind == EarningRule or kind in (SpendRule, EventRule)


def _register_loyalty(conv: cattrs.Converter) -> None:
    """Programmes and their parts, earning rules as a tagged union, ledger entries, referrals
    and balances."""
    tags = {cls: tag for tag, cls in RULE_TYPES.items()}
    structurers: dict[type, Callable[[Any, Any], Any]] = {}
    unstructurers: dict[type, Callable[[Any], dict[str, Any]]] = {}

    def structure_rule(value: Any, wanted: Any) -> SpendRule | EventRule:
        allowed = sorted(t for t, c in RULE_TYPES.items() if wanted == EarningRule or c is wanted)
        if not isinstance(value, Mapping):
            raise _Bad(f"must be an object whose 'type' is one of {', '.join(allowed)}")
        tag = value.get("type")
        cls = RULE_TYPES.get(tag) if isinstance(tag, str) else None
        if cls is None or tag not in allowed:
            message = "is required: one of" if "type" not in value else "must be one of"
            raise ValidationError.single("type", tag, f"{message} {', '.join(allowed)}")
        made: SpendRule | EventRule = structurers[cls](
            {k: v for k, v in value.items() if k != "type"}, cls
        )
        return made

    def unstructure_rule(rule: SpendRule | EventRule) -> dict[str, Any]:
        cls = type(rule)
        if cls not in unstructurers:
            raise ValidationError.single("type", cls.__name__, "is not an earning rule class")
        return {"type": tags[cls], **unstructurers[cls](rule)}

    conv.register_structure_hook_func(_is_rule, structure_rule)
    conv.register_unstructure_hook_func(_is_rule, unstructure_rule)
    _register_referrals_and_balances(conv)  # before the programme, whose policy uses it
    kinds = override(struct_hook=_strict_set(conv, str, "interaction kinds"))
    structurers[SpendRule] = make_dict_structure_fn(
        SpendRule, conv, kinds=kinds, _cattrs_forbid_extra_keys=True
    )
    structurers[EventRule] = make_dict_structure_fn(EventRule, conv, _cattrs_forbid_extra_keys=True)
    for cls in (SpendRule, EventRule):
        unstructurers[cls] = make_dict_unstructure_fn(cls, conv)
    conv.register_structure_hook(
        Multiplier,
        make_dict_structure_fn(
            Multiplier,
            conv,
            channels=override(struct_hook=_strict_set(conv, Channel, "channels")),
            categories=override(struct_hook=_strict_set(conv, str, "product categories")),
            _cattrs_forbid_extra_keys=True,
        ),
    )
    lists: dict[str, Any] = {
        name: override(struct_hook=_strict_tuple(conv, item, what))
        for name, item, what in (
            ("rules", EarningRule, "earning rules"),
            ("multipliers", Multiplier, "multipliers"),
            ("tiers", Tier, "tiers"),
            ("period_caps", PeriodCap, "period caps"),
            ("rewards", Reward, "rewards"),
        )
    }
    conv.register_structure_hook(
        Programme,
        make_dict_structure_fn(
            Programme,
            conv,
            custom_kinds=override(struct_hook=_strict_set(conv, str, "interaction kinds")),
            _cattrs_forbid_extra_keys=True,
            **lists,
        ),
    )
    pair: Any = tuple[str, int]

    def structure_takes(value: Any, _: type) -> tuple[tuple[str, int], ...]:
        if not isinstance(value, list | tuple):
            raise _Bad("must be a list of [lot, points] pairs")
        problems: list[FieldError] = []
        taken: list[tuple[str, int]] = []
        for index, item in enumerate(value):
            try:
                if not isinstance(item, list | tuple) or len(item) != 2:
                    raise _Bad("must be a [lot, points] pair")
                taken.append(conv.structure(item, pair))
            except Exception as exc:
                problems.extend(_field_errors(exc, [index], value))
        if problems:
            raise ValidationError(problems)
        return tuple(taken)

    conv.register_structure_hook(
        LedgerEntry,
        make_dict_structure_fn(
            LedgerEntry,
            conv,
            takes=override(struct_hook=structure_takes),
            _cattrs_forbid_extra_keys=True,
        ),
    )
    conv.register_unstructure_hook(
        LedgerEntry,
        make_dict_unstructure_fn(
            LedgerEntry,
            conv,
            takes=override(unstruct_hook=lambda takes: [[lot, n] for lot, n in takes]),
        ),
    )


def _register_referrals_and_balances(conv: cattrs.Converter) -> None:
    """Referral policies, referrals and points balances: their fields, strictly.

    A referral's pending events are not data (``_events`` is not an ``__init__`` argument,
    so cattrs neither writes nor reads it). A balance has no checks of its own; the counts,
    the member's id and the programme's slug of a document are checked here, so that a bad
    stored row is refused rather than shown.
    """
    for cls in (ReferralPolicy, Referral):
        conv.register_structure_hook(
            cls, make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True)
        )
        conv.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, conv))
    load_balance = make_dict_structure_fn(PointsBalance, conv, _cattrs_forbid_extra_keys=True)

    def structure_balance(value: Any, _: type) -> PointsBalance:
        balance: PointsBalance = load_balance(value, PointsBalance)
        problems = [
            FieldError(name, count, "must be an integer >= 0")
            for name in ("available", "pending", "entries", "version")
            if (count := getattr(balance, name)) < 0
        ]
        if not SLUG.fullmatch(balance.programme):
            problems.append(FieldError("programme", balance.programme, "must be a lower-case slug"))
        try:
            check_id("customer_id", balance.customer_id)
        except ValidationError as error:
            problems.extend(error.errors)
        if problems:
            raise ValidationError(problems)
        return balance

    conv.register_structure_hook(PointsBalance, structure_balance)
    conv.register_unstructure_hook(PointsBalance, make_dict_unstructure_fn(PointsBalance, conv))


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(
        detailed_validation=True,
        forbid_extra_keys=True,
        unstruct_collection_overrides={Set: sorted},
    )
    for kind in (str, int, bool):
        conv.register_structure_hook(kind, _structure_exact(kind))
    # Enums are str subclasses: give each its own hook so the strict str hook is not used.
    for enum in _ENUMS:
        conv.register_structure_hook(enum, _structure_enum)
    conv.register_unstructure_hook(StrEnum, lambda member: member.value)
    conv.register_unstructure_hook(str, lambda v: v if type(v) is str else str(v))
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    conv.register_structure_hook(date, _structure_date)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Money, _structure_money)
    conv.register_unstructure_hook(Money, _unstructure_money)
    conv.register_structure_hook(EmailAddress, lambda v, _: EmailAddress(_text(v, "an email")))
    conv.register_unstructure_hook(EmailAddress, str)
    conv.register_structure_hook(PhoneNumber, lambda v, _: PhoneNumber.parse(_text(v, "a phone")))
    conv.register_unstructure_hook(PhoneNumber, str)
    conv.register_structure_hook(ContactPoint, _structure_contact)
    conv.register_unstructure_hook(ContactPoint, _unstructure_contact)
    conv.register_structure_hook(str | int | bool, _structure_metadata_value)
    conv.register_structure_hook(
        Customer,
        make_dict_structure_fn(
            Customer,
            conv,
            traits=override(struct_hook=_structure_traits),
            _cattrs_forbid_extra_keys=True,
        ),
    )
    conv.register_unstructure_hook(
        Customer,
        make_dict_unstructure_fn(
            Customer, conv, traits=override(unstruct_hook=_unstructure_traits)
        ),
    )
    _register_conditions(conv)
    _register_lifecycle(conv)
    _register_segments(conv)
    _register_loyalty(conv)
    return conv


#: The configured cattrs converter. Prefer `structure` and `unstructure`, which add
#: crmkit's error handling; use this to register hooks for a host's own types.
converter = _make_converter()


def unstructure(obj: Any) -> Any:
    """Turn a crmkit object into JSON-compatible data (dicts, lists, str, int, bool, None)."""
    if isinstance(obj, DomainEvent):
        return event_to_dict(obj)
    return converter.unstructure(obj)


def structure(data: Any, cls: type[T]) -> T:
    """Build a ``cls`` from JSON-compatible ``data``, validating every field.

    Raises `ValidationError` listing the bad fields found, each with its path
    (``address.country``, ``consents[0].at``) and offending value.
    """
    if isinstance(cls, type) and issubclass(cls, DomainEvent):
        event = event_from_dict(data)  # events carry their class in a "type" tag
        if not isinstance(event, cls):
            raise ValidationError.single("type", type(event).__name__, f"is not a {cls.__name__}")
        return event
    return _structure_plain(data, cls)


def _structure_plain(data: Any, cls: type[T]) -> T:
    if _depth(data) > MAX_DEPTH:
        raise ValidationError.single("", "...", f"is nested deeper than {MAX_DEPTH} levels")
    try:
        return converter.structure(data, cls)
    except Exception as exc:  # every failure becomes one typed, path-carrying error
        raise ValidationError(_field_errors(exc, [], data)) from None


def to_json(obj: Any) -> str:
    """Serialise a crmkit object to a JSON string."""
    return json.dumps(unstructure(obj), ensure_ascii=False, sort_keys=True)


def from_json(text: str | bytes, cls: type[T]) -> T:
    """Parse a JSON string into a ``cls``; raises `ValidationError` on any bad input."""
    try:
        data = json.loads(text, parse_float=_refuse_float)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ValidationError.single("", _preview(text), f"is not valid JSON: {exc}") from None
    return structure(data, cls)


def event_to_dict(event: DomainEvent) -> dict[str, Any]:
    """An event as data, tagged with its class name under ``"type"``."""
    data: dict[str, Any] = converter.unstructure(event, type(event))
    return {"type": type(event).__name__, **data}


def event_from_dict(data: Any) -> DomainEvent:
    """The event that `event_to_dict` produced; raises `ValidationError` on bad data."""
    kind = data.get("type") if isinstance(data, Mapping) else data
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise ValidationError.single(
            "type", kind, f"must be one of {', '.join(sorted(EVENT_TYPES))}"
        )
    fields = {k: v for k, v in data.items() if k != "type"}
    return _structure_plain(fields, EVENT_TYPES[kind])


def _refuse_float(text: str) -> Decimal:
    # JSON numbers with a fraction are read exactly; the hooks decide whether they are allowed.
    return Decimal(text)


def _preview(text: str | bytes) -> str:
    shown = text if isinstance(text, str) else repr(text)
    return shown[:60]


def _depth(data: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(data, Mapping):
        return max((_depth(v, level + 1) for v in data.values()), default=level + 1)
    if isinstance(data, list | tuple):
        return max((_depth(v, level + 1) for v in data), default=level + 1)
    return level


def _path(segments: list[str | int]) -> str:
    text = ""
    for segment in segments:
        text += f"[{segment}]" if isinstance(segment, int) else f".{segment}" if text else segment
    return text


def _value_at(data: Any, segments: list[str | int]) -> Any:
    for segment in segments:
        try:
            data = data[segment]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _field_errors(exc: BaseException, segments: list[str | int], data: Any) -> list[FieldError]:
    if isinstance(exc, ClassValidationError | IterableValidationError):
        found: list[FieldError] = []
        for sub in exc.exceptions:
            note = next(
                (
                    n
                    for n in getattr(sub, "__notes__", ())
                    if isinstance(n, AttributeValidationNote | IterableValidationNote)
                ),
                None,
            )
            if isinstance(note, AttributeValidationNote):
                found.extend(_field_errors(sub, [*segments, note.name], data))
            elif isinstance(note, IterableValidationNote):
                found.extend(_field_errors(sub, [*segments, note.index], data))
            else:
                found.extend(_field_errors(sub, segments, data))
        return found
    where = _path(segments)
    if isinstance(exc, ValidationError):
        nested = [e.prefixed(where) for e in exc.errors]
        if segments:  # the inner path repeats the field name for one-field values
            nested = [_dedupe(e, segments) for e in nested]
        return nested
    value = _value_at(data, segments)
    if isinstance(exc, KeyError):
        return [FieldError(where, None, "is required but missing")]
    if isinstance(exc, ForbiddenExtraKeysError):
        extra = ", ".join(sorted(map(str, exc.extra_fields)))
        return [FieldError(where, value, f"has unknown fields: {extra}")]
    if isinstance(exc, _Bad):
        return [FieldError(where, value, str(exc))]
    if isinstance(exc, CrmError):
        return [FieldError(where, value, str(exc))]
    if isinstance(exc, AttributeError | TypeError):
        return [FieldError(where, value, "has the wrong shape (expected an object or list)")]
    return [FieldError(where, value, f"is invalid ({type(exc).__name__})")]


def _dedupe(error: FieldError, segments: list[str | int]) -> FieldError:
    last = segments[-1]
    if isinstance(last, str) and error.path.endswith(f"{last}.{last}"):
        return FieldError(error.path[: -len(last) - 1], error.value, error.message)
    return error
