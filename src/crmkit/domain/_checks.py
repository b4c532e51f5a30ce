"""Small attrs validators and field makers shared by the domain classes.

Each raises `crmkit.errors.ValidationError` naming the field and the offending value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import attrs

from crmkit.domain.values.texts import ensure_text
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import ValidationError

SLUG = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_TEXT = 500
#: The largest count or amount storage holds (a signed 64-bit BIGINT column).
MAX_BIGINT = 2**63 - 1
#: The largest version or sequence number storage holds (a signed 32-bit INTEGER column).
MAX_VERSION = 2**31 - 1


def check_slug(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A lower-case identifier: a letter, then letters, digits or ``_`` (64 at most)."""
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValidationError.single(
            attribute.name, value, "must be a lower-case slug like 'marketing_email'"
        )


def text(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Non-blank text of bounded length."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise ValidationError.single(
            attribute.name, value, f"must be non-blank text of at most {MAX_TEXT} characters"
        )
    ensure_text(value, attribute.name)


def storable(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Text of any length (the field's own rules bound it) that every backend can store."""
    ensure_text(value, attribute.name)


def optional_storable(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Like `storable`, or ``None``."""
    if value is not None:
        ensure_text(value, attribute.name)


def optional_text(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Like `text`, or ``None``."""
    if value is not None:
        text(instance, attribute, value)


def boolean(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """``True`` or ``False``, nothing else."""
    if not isinstance(value, bool):
        raise ValidationError.single(attribute.name, value, "must be True or False")


def non_negative_int(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An ``int`` (not a bool) of at least zero that a BIGINT column holds."""
    if type(value) is not int or not 0 <= value <= MAX_BIGINT:
        raise ValidationError.single(
            attribute.name, value, f"must be an integer >= 0 (at most {MAX_BIGINT})"
        )


def version_number(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A version or sequence number: an ``int`` that an INTEGER column holds, at least zero."""
    if type(value) is not int or not 0 <= value <= MAX_VERSION:
        raise ValidationError.single(
            attribute.name, value, f"must be an integer >= 0 (at most {MAX_VERSION})"
        )


def to_utc(value: Any) -> Any:
    """Converter: an aware datetime becomes UTC; anything else (a naive datetime, one that
    falls outside the years 1-9999 in UTC) is left for `utc` to refuse by name."""
    if isinstance(value, datetime) and value.tzinfo is not UTC:
        try:
            return ensure_utc(value)
        except ValidationError:
            return value
    return value


def utc(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A timezone-aware datetime (after `to_utc`); naive ones are refused by name."""
    ensure_utc(value, attribute.name)
