"""The hooks for crmkit's values: exact ``str``, ``int`` and ``bool``, enums, datetimes, dates,
decimals, money, email addresses, phone numbers, contact points, interaction metadata values,
durations and rates. `register_scalars` puts them on a converter."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import cattrs

from crmkit.domain import ContactPoint, EmailAddress, Money, PhoneNumber
from crmkit.domain.interactions.channels import enum_of
from crmkit.domain.values.texts import ensure_text
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import ValidationError
from crmkit.serialization._problems import Bad

__all__ = [
    "register_scalars",
    "same",
    "structure_date",
    "structure_datetime",
    "structure_decimal",
    "structure_exact",
    "structure_money",
    "text",
    "unstructure_datetime",
    "unstructure_money",
]


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


def structure_enum(value: Any, enum: type[StrEnum]) -> StrEnum:
    if not isinstance(value, str):
        raise Bad(f"must be one of {', '.join(m.value for m in enum)}")
    return enum_of(enum, value, "")


_MICRO = Decimal("0.000001")


def _unstructure_timedelta(value: timedelta) -> str:
    """A duration as exact seconds in text, to the microsecond: ``"3600.500000"``."""
    return str(Decimal(value // timedelta(microseconds=1)).scaleb(-6))


def _structure_timedelta(value: Any, _: Any) -> timedelta:
    if not isinstance(value, str):
        raise Bad("must be a duration in seconds as text, such as '3600.500000'")
    try:
        seconds = Decimal(value)
        micros = seconds.quantize(_MICRO) if seconds.is_finite() else None
    except InvalidOperation:
        micros = None
    if micros is None or micros != seconds:
        raise Bad("must be a finite number of seconds, to the microsecond at most")
    try:
        return timedelta(microseconds=int(micros.scaleb(6)))
    except OverflowError:
        raise Bad("is beyond the longest duration Python holds") from None


def _structure_float(value: Any, _: Any) -> float:
    # Rates are JSON numbers (read as exact decimals by `from_json`); refuse NaN and infinities
    # so that what is read compares equal to what was written.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise Bad("must be a number")
    try:
        result = float(value)
    except OverflowError:
        raise Bad("is beyond the range of a float") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise Bad("must be a finite number")
    return result


def same(value: Any) -> Any:
    return value


def register_scalars(conv: cattrs.Converter) -> None:
    """Every value type's hooks, exact: a ``str`` hook refuses a number, an enum its unknown
    values, a decimal a float."""
    conv.register_structure_hook(timedelta, _structure_timedelta)
    conv.register_unstructure_hook(timedelta, _unstructure_timedelta)
    conv.register_structure_hook(float, _structure_float)
    for kind in (str, int, bool):
        conv.register_structure_hook(kind, structure_exact(kind))
    # Enums are str subclasses: their own hook (more specific than str's) reads their values.
    conv.register_structure_hook(StrEnum, structure_enum)
    conv.register_unstructure_hook(StrEnum, lambda member: member.value)
    conv.register_unstructure_hook(str, lambda v: v if type(v) is str else str(v))
    conv.register_structure_hook(datetime, structure_datetime)
    conv.register_unstructure_hook(datetime, unstructure_datetime)
    conv.register_structure_hook(date, structure_date)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(Decimal, structure_decimal)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Money, structure_money)
    conv.register_unstructure_hook(Money, unstructure_money)
    conv.register_structure_hook(EmailAddress, lambda v, _: EmailAddress(text(v, "an email")))
    conv.register_unstructure_hook(EmailAddress, str)
    conv.register_structure_hook(PhoneNumber, lambda v, _: PhoneNumber.parse(text(v, "a phone")))
    conv.register_unstructure_hook(PhoneNumber, str)
    conv.register_structure_hook(ContactPoint, structure_contact)
    conv.register_unstructure_hook(ContactPoint, unstructure_contact)
    conv.register_structure_hook(str | int | bool, structure_metadata_value)
