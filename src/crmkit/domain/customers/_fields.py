"""The checks and conversions of `Customer`'s fields, and the limits they enforce.

Each converter takes what a caller gave and returns the stored form; each validator raises
`ValidationError` naming the field. `Customer` runs them through attrs (on construction and on
assignment) and its registration fast path runs the same functions directly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from crmkit._reprs import key_text
from crmkit.domain._frozen import FrozenMap
from crmkit.domain.customers.consent import ConsentRecord
from crmkit.domain.customers.traits import TraitValue, validate_traits
from crmkit.domain.values.contact import ContactPoint, normalize_locale
from crmkit.domain.values.texts import ensure_text
from crmkit.errors import ValidationError

__all__ = [
    "MAX_CONSENTS",
    "MAX_EXTERNAL_IDS",
    "MAX_OTHER_CONTACTS",
    "MAX_TAGS",
    "check_consents",
    "check_contacts",
    "check_name",
    "clean_name",
    "convert_consents",
    "convert_contacts",
    "convert_external_ids",
    "convert_locale",
    "convert_traits",
    "normalize_tag",
    "normalize_tags",
    "typed",
]

_EXTERNAL = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_TAGS = 100
#: The most further contact points (``other_contacts``) a customer may have.
MAX_OTHER_CONTACTS = 20
#: The most consent records a customer's history may hold.
MAX_CONSENTS = 1000
#: The most host systems (``external_ids``) a customer may be known to.
MAX_EXTERNAL_IDS = 20


def normalize_tag(value: Any, path: str = "tag") -> str:
    """One tag in its stored form: trimmed, whitespace-collapsed, NFC, lower-case text of
    1-100 characters (``" VIP  Gold"`` is ``"vip gold"``); anything else raises
    `ValidationError`. Rules and lookups by tag put theirs in this form too."""
    if not isinstance(value, str):
        raise ValidationError.single(path, value, "a tag must be text")
    tag = unicodedata.normalize("NFC", " ".join(ensure_text(value, path).split()).lower())
    if not 0 < len(tag) <= 100:
        raise ValidationError.single(path, value, "a tag must be 1-100 characters")
    return tag


def normalize_tags(value: Any, path: str = "tags") -> frozenset[str]:
    """Tags are trimmed, whitespace-collapsed, NFC, lower-case text of 1-100 characters."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single(path, value, "must be a collection of text tags")
    tags = {normalize_tag(item, path) for item in value}
    if len(tags) > MAX_TAGS:
        raise ValidationError.single(path, len(tags), f"at most {MAX_TAGS} tags")
    return frozenset(tags)


def clean_name(value: Any) -> Any:
    if isinstance(value, str):
        value = " ".join(value.split())
        return value or None
    return value


def check_name(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or len(value) > 200):
        raise ValidationError.single(attribute.name, value, "must be text (200 chars max) or None")
    if value is not None:
        ensure_text(value, attribute.name)


def typed(kind: type | tuple[type, ...], label: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not isinstance(value, kind):
            raise ValidationError.single(attribute.name, value, f"must be {label} or None")

    return check


def convert_locale(value: Any) -> str | None:
    return None if value is None else normalize_locale(value)


def convert_contacts(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def check_contacts(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, tuple):
        raise ValidationError.single("other_contacts", value, "must be a sequence")
    if len(value) > MAX_OTHER_CONTACTS:
        raise ValidationError.single(
            "other_contacts", len(value), f"at most {MAX_OTHER_CONTACTS} contact points"
        )
    for i, item in enumerate(value):
        if not isinstance(item, ContactPoint):
            raise ValidationError.single(f"other_contacts[{i}]", item, "must be a ContactPoint")


def convert_external_ids(value: Any) -> FrozenMap[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationError.single("external_ids", value, "must map a source to an id")
    if len(value) > MAX_EXTERNAL_IDS:
        raise ValidationError.single(
            "external_ids", len(value), f"at most {MAX_EXTERNAL_IDS} external ids"
        )
    for source, ref in value.items():
        if not isinstance(source, str) or not _EXTERNAL.fullmatch(source):
            raise ValidationError.single(
                f"external_ids.{key_text(source)}", source, "a source must be a lower-case slug"
            )
        if not isinstance(ref, str) or not 0 < len(ref) <= 200:
            raise ValidationError.single(f"external_ids.{source}", ref, "must be 1-200 characters")
        ensure_text(ref, f"external_ids.{source}")
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


def convert_traits(value: Any) -> FrozenMap[str, TraitValue]:
    if isinstance(value, FrozenMap):
        return value
    return FrozenMap(validate_traits(value, None))


def convert_consents(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def check_consents(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, tuple):
        raise ValidationError.single("consents", value, "must be a sequence")
    if len(value) > MAX_CONSENTS:
        raise ValidationError.single("consents", len(value), f"at most {MAX_CONSENTS} records")
    for i, item in enumerate(value):
        if not isinstance(item, ConsentRecord):
            raise ValidationError.single(f"consents[{i}]", item, "must be a ConsentRecord")
