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

Conditions (segment rules, lifecycle guards and progression triggers) are a tagged union: each
is an object whose ``"type"`` is the class's ``kind`` (``{"type": "tag", "tag": "vip"}``), and
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
A duration (in `DurationStats`) is its exact seconds as text, ``"3600.500000"``.

Reading an untrusted document is bounded work: before any field is converted, the document
is refused if it nests deeper than `MAX_DEPTH`, holds more than 250,000 values, a list or
object of more than 10,000 items, a text longer than 10,000 characters, an integer beyond a
signed 64-bit one or a number that is not finite; and each list, set or mapping field longer
than its limit in `FIELD_LIMITS` is refused before its items are read (the domain's own
limits, such as `MAX_TAGS` or `MAX_CONSENTS`, and 5,000 items for lists the domain lets
grow, such as a stage history's changes or a ledger's entries). A text, an object or a
number where a list belongs is one problem, never one per character. So any document of up
to 10 MB is answered, with the value or a `ValidationError`, within about a second.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from crmkit.domain import (
    AccountChanged,
    AccountRegistered,
    ConsentChanged,
    CustomerProfileChanged,
    CustomerRegistered,
    DomainEvent,
    EnteredSegment,
    InteractionRecorded,
    LeftSegment,
    StageChanged,
)
from crmkit.domain.loyalty.events import PointsEarned, PointsExpired, PointsRedeemed, TierChanged
from crmkit.domain.loyalty.referrals import ReferralChanged
from crmkit.errors import ValidationError
from crmkit.serialization._converter import make_converter
from crmkit.serialization._limits import FIELD_LIMITS, MAX_DEPTH, check_document
from crmkit.serialization._loyalty import RULE_TYPES
from crmkit.serialization._problems import field_errors
from crmkit.serialization._rules import CONDITION_TYPES
from crmkit.serialization._segments import SEGMENT_VERSION

__all__ = [
    "CONDITION_TYPES",
    "EVENT_TYPES",
    "FIELD_LIMITS",
    "MAX_DEPTH",
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

#: The configured cattrs converter. Prefer `structure` and `unstructure`, which add
#: crmkit's error handling; use this to register hooks for a host's own types.
converter = make_converter()


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
    check_document(data)  # bounded: refuses an oversized document before reading it
    try:
        return converter.structure(data, cls)
    except Exception as exc:  # every failure becomes one typed, path-carrying error
        raise ValidationError(field_errors(exc, [], data)) from None


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
    """The event that `event_to_dict` produced; raises `ValidationError` on bad data.

    Anything but an object (a bare string such as ``"CustomerRegistered"``, a number, a list,
    ``null``) is refused at ``type``, like an object without a known ``"type"``.
    """
    if not isinstance(data, Mapping):
        raise ValidationError.single(
            "type", _preview_value(data), f"must be an object whose 'type' is one of {_EVENTS}"
        )
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise ValidationError.single("type", _preview_value(kind), f"must be one of {_EVENTS}")
    fields = {k: v for k, v in data.items() if k != "type"}
    return _structure_plain(fields, EVENT_TYPES[kind])


_EVENTS = ", ".join(sorted(EVENT_TYPES))


def _preview_value(value: Any) -> Any:
    """``value`` to show in an error: a long text or a huge list is cut, a huge integer (which
    cannot even be printed) is described."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, str) and len(value) > 60:
        return value[:60]
    if isinstance(value, list | dict):
        return f"a {type(value).__name__} of {len(value)} items"
    return value


def _refuse_float(text: str) -> Decimal:
    # JSON numbers with a fraction are read exactly; the hooks decide whether they are allowed.
    return Decimal(text)


def _preview(text: str | bytes) -> str:
    shown = text if isinstance(text, str) else repr(text)
    return shown[:60]
