"""The hooks for crmkit's scalar values (datetimes, decimals, money, contact points, traits,
enums, exact ``str``/``int``/``bool``), the strict set and tuple hooks, and the generated
structuring function of an attrs class with its field limits checked first."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

import cattrs
from cattrs.gen import make_dict_structure_fn

from crmkit._serialization.limits import FIELD_LIMITS, check_fields
from crmkit._serialization.problems import Bad
from crmkit.domain import (
    Channel,
    CompanySize,
    ConsentStatus,
    ContactPoint,
    Direction,
    DoubleOptIn,
    EmailAddress,
    InteractionKind,
    Measure,
    Money,
    Op,
    Outcome,
    PhoneNumber,
    SubjectKind,
    TraitType,
    TraitValue,
)
from crmkit.domain.interactions.channels import enum_of
from crmkit.domain.loyalty.entries import EntryKind
from crmkit.domain.loyalty.referrals import ReferralStatus
from crmkit.domain.loyalty.rules import Period
from crmkit.domain.loyalty.tiers import TierBasis
from crmkit.domain.values.texts import ensure_text
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import FieldError, ValidationError

__all__ = [
    "ENUMS",
    "dict_fn",
    "limited",
    "same",
    "strict_set",
    "strict_tuple",
    "structure_contact",
    "structure_date",
    "structure_datetime",
    "structure_decimal",
    "structure_enum",
    "structure_exact",
    "structure_metadata_value",
    "structure_money",
    "structure_traits",
    "text",
    "unstructure_contact",
    "unstructure_datetime",
    "unstructure_money",
    "unstructure_traits",
]

T = TypeVar("T")


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


def text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise Bad(f"must be {what} as text")
    return value


def structure_datetime(value: Any, _: type) -> datetime:
    try:
        parsed = datetime.fromisoformat(text(value, "an ISO 8601 datetime"))
    except ValueError:
        raise Bad("must be an ISO 8601 datetime with a UTC offset") from None
    return ensure_utc(parsed, "")


def unstructure_datetime(value: datetime) -> str:
    return ensure_utc(value, "").isoformat()


def structure_date(value: Any, _: type) -> date:
    try:
        return date.fromisoformat(text(value, "an ISO 8601 date"))
    except ValueError:
        raise Bad("must be an ISO 8601 date such as '2024-05-01'") from None


def structure_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise Bad("must be a decimal number as text (never a float)")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise Bad("is not a decimal number") from None
    if not result.is_finite():
        raise Bad("must be finite")
    return result


def structure_money(value: Any, _: type) -> Money:
    if not isinstance(value, Mapping) or set(value) != {"amount", "currency"}:
        raise Bad("must be an object with exactly 'amount' (text) and 'currency'")
    amount = value["amount"]
    if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
        raise ValidationError.single(
            "amount", amount, "must be a decimal number as text (never a float)"
        )
    return Money.of(amount, value["currency"])


def unstructure_money(value: Money) -> dict[str, str]:
    return {"amount": str(value.amount), "currency": value.currency}


def structure_contact(value: Any, _: type) -> ContactPoint:
    if not isinstance(value, Mapping) or not set(value) <= {"email", "phone", "label"}:
        raise Bad("must be an object with 'email' or 'phone', and an optional 'label'")
    kinds = [k for k in ("email", "phone") if k in value]
    if len(kinds) != 1:
        raise Bad("must have exactly one of 'email' or 'phone'")
    raw = text(value[kinds[0]], kinds[0])
    point = EmailAddress(raw) if kinds[0] == "email" else PhoneNumber.parse(raw)
    return ContactPoint(point, value.get("label"))


def unstructure_contact(value: ContactPoint) -> dict[str, str | None]:
    kind = "email" if isinstance(value.value, EmailAddress) else "phone"
    return {kind: str(value.value), "label": value.label}


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
    from crmkit.domain import trait_type_of

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


def structure_metadata_value(value: Any, _: Any) -> str | int | bool:
    if type(value) in (str, int, bool):
        return value  # type: ignore[no-any-return]
    raise Bad("must be text, an integer or a boolean")


def structure_exact(kind: type) -> Any:
    def structure(value: Any, _: type) -> Any:
        if type(value) is not kind:
            raise Bad(f"must be {'a' if kind is not int else 'an'} {kind.__name__}")
        if kind is str:
            ensure_text(value, "")  # no text of a document is a lone surrogate or U+0000
        return value

    return structure


ENUMS = (
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


def structure_enum(value: Any, enum: type[StrEnum]) -> StrEnum:
    if not isinstance(value, str):
        raise Bad(f"must be one of {', '.join(m.value for m in enum)}")
    return enum_of(enum, value, "")


def strict_set(conv: cattrs.Converter, item: type, what: str) -> Any:
    """A hook reading a set of ``item`` from a list only: a string is not a set of letters."""
    as_tuple = tuple[item, ...]  # type: ignore[valid-type]
    handler = conv.get_structure_hook(as_tuple)

    def structure(value: Any, _: type) -> frozenset[Any]:
        if not isinstance(value, list | tuple | Set):
            raise Bad(f"must be a list of {what}")
        return frozenset(handler(list(value), as_tuple))

    return structure


def strict_tuple(conv: cattrs.Converter, item: Any, what: str) -> Any:
    """A hook reading a tuple of ``item`` from a list only (not from a string or an object)."""
    as_tuple: Any = tuple[item, ...]
    handler = conv.get_structure_hook(as_tuple)

    def structure(value: Any, _: type) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise Bad(f"must be a list of {what}")
        return handler(value, as_tuple)  # type: ignore[no-any-return]

    return structure


def same(value: Any) -> Any:
    return value
