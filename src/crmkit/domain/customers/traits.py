"""Custom traits: typed facts a host attaches to customers (``plan="pro"``, ``seats=12``).

Traits are typed (text, integer, decimal, boolean, date, datetime, list of text) so segments
can compare them correctly. A host may declare a `TraitSchema`; traits are then checked
against it, and undeclared ones are refused unless the schema allows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeAlias

import attrs

from crmkit._reprs import key_text
from crmkit.domain._checks import SLUG, boolean, optional_text
from crmkit.domain.interactions.channels import enum_of
from crmkit.domain.values.money import MAX_MINOR
from crmkit.domain.values.texts import ensure_text
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import FieldError, ValidationError

__all__ = [
    "MAX_DECIMAL_EXPONENT",
    "MAX_LIST_ITEMS",
    "MAX_TRAITS",
    "MAX_TRAIT_TEXT",
    "TraitDefinition",
    "TraitSchema",
    "TraitType",
    "TraitValue",
    "canonical_decimal",
    "trait_type_of",
    "validate_traits",
]

TraitValue: TypeAlias = str | int | Decimal | bool | date | datetime | tuple[str, ...]

MAX_TRAIT_TEXT = 2000
MAX_LIST_ITEMS = 100
#: A decimal trait's magnitude: zero, or ``10**-MAX_DECIMAL_EXPONENT <= abs(d) < 10**(that+1)``.
MAX_DECIMAL_EXPONENT = 30
#: The most traits one customer (or one trait schema) may have.
MAX_TRAITS = 100


class TraitType(StrEnum):
    """The type of a trait's value."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    STRING_LIST = "string_list"


def trait_type_of(value: object) -> TraitType | None:
    """Return the trait type a Python value has, or ``None`` if it cannot be a trait."""
    # Order matters: bool is an int, datetime is a date.
    if isinstance(value, bool):
        return TraitType.BOOLEAN
    if isinstance(value, int):
        return TraitType.INTEGER
    if isinstance(value, Decimal):
        return TraitType.DECIMAL
    if isinstance(value, str):
        return TraitType.STRING
    if isinstance(value, datetime):
        return TraitType.DATETIME
    if isinstance(value, date):
        return TraitType.DATE
    if isinstance(value, list | tuple):
        return TraitType.STRING_LIST
    return None


def canonical_decimal(value: Decimal) -> Decimal:
    """The one form of a finite decimal that every equal decimal shares.

    Equal decimals may differ in form (``1``, ``1.000``, ``1E+0``, ``-0``, ``0E-50``), and a
    database can only compare stored text, so traits keep this form: no trailing zero after
    the point, no positive exponent (``Decimal("1E+2")`` becomes ``Decimal("100")``), and an
    unsigned zero. ``str()`` of the result is unique to its value. The digits are moved
    exactly, never rounded to a context's precision (``Decimal.normalize`` would round).

    Args:
        value: a finite decimal; a positive exponent must be small enough to write out (a
            trait's is at most `MAX_DECIMAL_EXPONENT`).

    Returns:
        The canonical decimal equal to ``value``.
    """
    if not value:
        return Decimal(0)
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    if exponent > 0:
        return Decimal((sign, (*digits, *(0,) * exponent), 0))
    zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    drop = min(zeros, -exponent)
    return Decimal((sign, digits[: len(digits) - drop], exponent + drop))


def _normalise(path: str, value: Any, kind: TraitType) -> TraitValue:
    """Check ``value`` is a valid ``kind`` and return its stored form."""
    if kind is TraitType.STRING:
        if len(value) > MAX_TRAIT_TEXT:
            raise ValidationError.single(path, value, f"is longer than {MAX_TRAIT_TEXT} chars")
        return ensure_text(str(value), path)
    if kind is TraitType.INTEGER:
        if not -MAX_MINOR <= value <= MAX_MINOR:
            raise ValidationError.single(path, value, "is outside the signed 64-bit range")
        return int(value)
    if kind is TraitType.DECIMAL:
        if not value.is_finite() or (value and abs(value.adjusted()) > MAX_DECIMAL_EXPONENT):
            raise ValidationError.single(path, value, "must be a finite decimal within 1e±30")
        return canonical_decimal(value)
    if kind is TraitType.DATETIME:
        return ensure_utc(value, path)
    if kind is TraitType.STRING_LIST:
        if len(value) > MAX_LIST_ITEMS:
            raise ValidationError.single(path, value, f"has more than {MAX_LIST_ITEMS} items")
        for i, item in enumerate(value):
            if not isinstance(item, str) or len(item) > MAX_TRAIT_TEXT:
                raise ValidationError.single(f"{path}[{i}]", item, "must be text")
            ensure_text(item, f"{path}[{i}]")
        return tuple(value)
    result: TraitValue = value  # bool and date need no normal form
    return result


def _check_definitions(
    instance: object, attribute: attrs.Attribute[Any], value: Mapping[str, TraitDefinition]
) -> None:
    for name, definition in value.items():
        if not isinstance(name, str) or not SLUG.fullmatch(name):
            raise ValidationError.single(
                f"traits.{key_text(name)}", name, "a trait name must be a lower-case slug"
            )
        if not isinstance(definition, TraitDefinition):
            raise ValidationError.single(
                f"traits.{key_text(name)}", definition, "must be a TraitDefinition"
            )


def _definitions(value: Any) -> dict[str, TraitDefinition]:
    if not isinstance(value, Mapping):
        raise ValidationError.single("traits", value, "must map trait names to TraitDefinitions")
    if len(value) > MAX_TRAITS:
        raise ValidationError.single("traits", len(value), f"at most {MAX_TRAITS} traits")
    return dict(value)


def _trait_type(value: Any) -> TraitType:
    return enum_of(TraitType, value, "type")


@attrs.frozen
class TraitDefinition:
    """What a host declares about one trait: its type, whether it is required, what it means."""

    type: TraitType = attrs.field(converter=_trait_type)
    required: bool = attrs.field(default=False, validator=boolean)
    description: str | None = attrs.field(default=None, validator=optional_text)


@attrs.frozen
class TraitSchema:
    """The traits a host declares. With ``allow_undeclared=False`` (the default) any other
    trait is refused, which catches typos such as ``"pLan"`` before they reach storage."""

    traits: Mapping[str, TraitDefinition] = attrs.field(
        factory=dict, converter=_definitions, validator=_check_definitions
    )
    allow_undeclared: bool = attrs.field(default=False, validator=boolean)

    def type_of(self, name: str) -> TraitType | None:
        """The declared type of trait ``name``, or ``None`` if undeclared."""
        definition = self.traits.get(name)
        return None if definition is None else definition.type


def validate_traits(
    traits: Mapping[str, Any],
    schema: TraitSchema | None = None,
    *,
    check_required: bool = True,
    path: str = "traits",
) -> dict[str, TraitValue]:
    """Check every trait (names, types, schema) and return them in stored form.

    All problems are reported together in one `ValidationError`, each with its path
    (``traits.<name>``).
    """
    if not isinstance(traits, Mapping):
        raise ValidationError.single(path, traits, "must be a mapping of name to value")
    if len(traits) > MAX_TRAITS:
        raise ValidationError.single(path, len(traits), f"at most {MAX_TRAITS} traits")
    problems: list[FieldError] = []
    result: dict[str, TraitValue] = {}
    for name, value in traits.items():
        where = f"{path}.{key_text(name)}"
        if not isinstance(name, str) or not SLUG.fullmatch(name):
            problems.append(FieldError(where, name, "a trait name must be a lower-case slug"))
            continue
        actual = trait_type_of(value)
        if actual is None:
            problems.append(FieldError(where, value, "is not a supported trait value type"))
            continue
        declared = schema.type_of(name) if schema is not None else None
        if schema is not None and declared is None and not schema.allow_undeclared:
            problems.append(FieldError(where, value, "is not declared in the trait schema"))
            continue
        if declared is not None and declared is not actual:
            problems.append(
                FieldError(where, value, f"must be of type {declared.value}, not {actual.value}")
            )
            continue
        try:
            result[name] = _normalise(where, value, actual)
        except ValidationError as exc:
            problems.extend(exc.errors)
    if schema is not None and check_required:
        for name, definition in schema.traits.items():
            if definition.required and name not in traits:
                problems.append(FieldError(f"{path}.{name}", None, "is required by the schema"))
    if problems:
        raise ValidationError(problems)
    return result
