"""Segments: who is in a group, as a rule tree over customers and their interactions.

A rule (a segment's, or a lifecycle model's guard or progression rule) is a `Condition` tree
of the leaves here (fields, traits, tags, consent, stages, interaction aggregates, explicit
members), combined with `AllOf`, `AnyOf` and `Not` (or ``&``, ``|``, ``~``). Every leaf is
two-valued: a comparison with a missing value (no address, an absent trait, no interactions
for ``min_at``) is false, whatever the operator, except `Op.IS_NULL`; `Not` is plain
negation.
Text compares by code point and case-sensitively, as the SQL adapter's collations do, so the
in-memory answer and the database's are the same.

Field and trait names are checked against fixed catalogues when a node is built, and reach a
database only through those catalogues, never as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Final

import attrs

from crmkit.domain._checks import SLUG
from crmkit.domain._lists import listed
from crmkit.domain.customers.consent import may_contact
from crmkit.domain.customers.customer import normalize_tag
from crmkit.domain.customers.traits import TraitSchema, TraitType, trait_type_of
from crmkit.domain.interactions.channels import (
    Channel,
    channel_of,
    enum_of,
)
from crmkit.domain.rules.conditions import Condition, Facts
from crmkit.domain.rules.operands import field_operand
from crmkit.domain.values.contact import PhoneNumber
from crmkit.domain.values.texts import ensure_text
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import ValidationError

__all__ = [
    "MAX_LIST_VALUES",
    "SEGMENT_FIELDS",
    "ConsentCondition",
    "FieldCondition",
    "FieldType",
    "Op",
    "TagCondition",
    "TraitCondition",
]

#: The most values an ``in`` list, or explicit members, may hold.
MAX_LIST_VALUES: Final = 1000
MAX_MEMBERS: Final = 10_000
_INT64: Final = (-(2**63), 2**63 - 1)


class Op(StrEnum):
    """Comparison operators. Each leaf's negation is ``Not(leaf)``: true exactly where the
    leaf is false, a missing value included."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"
    NOT_IN = "not_in"
    BETWEEN = "between"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    IS_NULL = "is_null"
    IS_NOT_NULL = "is_not_null"


class FieldType(StrEnum):
    """The type of a value a segment compares."""

    TEXT = "text"
    DATETIME = "datetime"


ORDERED = frozenset({Op.LT, Op.LE, Op.GT, Op.GE, Op.BETWEEN})
EQUALITY = frozenset({Op.EQ, Op.NE, Op.IN, Op.NOT_IN})
NULLS = frozenset({Op.IS_NULL, Op.IS_NOT_NULL})
TEXTUAL = frozenset({Op.CONTAINS, Op.STARTS_WITH})

#: Every customer field a `FieldCondition` may name, with its type. ``account.*`` fields are
#: those of the account the customer is linked to.
SEGMENT_FIELDS: Final[Mapping[str, FieldType]] = {
    "id": FieldType.TEXT,
    "given_name": FieldType.TEXT,
    "family_name": FieldType.TEXT,
    "email": FieldType.TEXT,
    "phone": FieldType.TEXT,
    "locale": FieldType.TEXT,
    "created_at": FieldType.DATETIME,
    "updated_at": FieldType.DATETIME,
    "country": FieldType.TEXT,
    "region": FieldType.TEXT,
    "city": FieldType.TEXT,
    "postal_code": FieldType.TEXT,
    "account_id": FieldType.TEXT,
    "account_role": FieldType.TEXT,
    "account.name": FieldType.TEXT,
    "account.domain": FieldType.TEXT,
    "account.industry": FieldType.TEXT,
    "account.size": FieldType.TEXT,
}

# Which operators each kind of value supports.
_OPS_BY_TYPE: Mapping[TraitType | FieldType, frozenset[Op]] = {
    FieldType.TEXT: EQUALITY | ORDERED | TEXTUAL | NULLS,
    FieldType.DATETIME: EQUALITY | ORDERED | NULLS,
    TraitType.STRING: EQUALITY | ORDERED | TEXTUAL | NULLS,
    TraitType.INTEGER: EQUALITY | ORDERED | NULLS,
    TraitType.DECIMAL: EQUALITY | NULLS,  # exact ordering of decimals is not portable to SQL
    TraitType.BOOLEAN: frozenset({Op.EQ, Op.NE}) | NULLS,
    TraitType.DATE: EQUALITY | ORDERED | NULLS,
    TraitType.DATETIME: EQUALITY | ORDERED | NULLS,
    TraitType.STRING_LIST: frozenset({Op.CONTAINS}) | NULLS,
}


def _op(value: Any) -> Op:
    return enum_of(Op, value, "op")


def _python_type(kind: TraitType | FieldType) -> tuple[type, ...]:
    return {
        FieldType.TEXT: (str,),
        FieldType.DATETIME: (datetime,),
        TraitType.STRING: (str,),
        TraitType.INTEGER: (int,),
        TraitType.DECIMAL: (Decimal,),
        TraitType.BOOLEAN: (bool,),
        TraitType.DATE: (date,),
        TraitType.DATETIME: (datetime,),
        TraitType.STRING_LIST: (str,),  # the element looked for
    }[kind]


def check_operand(kind: TraitType | FieldType, op: Op, value: Any, path: str = "value") -> Any:
    """Return ``value`` normalised for comparing a ``kind`` with ``op`` (a tuple for ``in``,
    ``not_in`` and ``between``), or raise `ValidationError` at ``path``."""
    if op not in _OPS_BY_TYPE[kind]:
        allowed = ", ".join(sorted(_OPS_BY_TYPE[kind]))
        raise ValidationError.single("op", op.value, f"does not apply to {kind}: use {allowed}")
    if op in NULLS:
        if value is not None:
            raise ValidationError.single(path, value, f"{op} takes no value")
        return None
    if op in (Op.IN, Op.NOT_IN):
        items = _items(value, path)
        return tuple(_scalar(kind, item, f"{path}[{i}]") for i, item in enumerate(items))
    if op is Op.BETWEEN:
        items = _items(value, path)
        if len(items) != 2:
            raise ValidationError.single(path, value, "between takes [low, high]")
        low, high = (_scalar(kind, item, f"{path}[{i}]") for i, item in enumerate(items))
        if high < low:
            raise ValidationError.single(f"{path}[1]", high, "must not be below the low bound")
        return (low, high)
    return _scalar(kind, value, path)


def _items(value: Any, path: str) -> tuple[Any, ...]:
    items = listed(path, value, "values")
    if not 0 < len(items) <= MAX_LIST_VALUES:
        raise ValidationError.single(path, len(items), f"must hold 1-{MAX_LIST_VALUES} values")
    return items


def _scalar(kind: TraitType | FieldType, value: Any, path: str) -> Any:
    wanted = _python_type(kind)
    if isinstance(value, bool) and bool not in wanted:
        raise ValidationError.single(path, value, f"must be a {kind} value")
    if kind in (TraitType.DATE,) and isinstance(value, datetime):
        raise ValidationError.single(path, value, "must be a date, not a datetime")
    if not isinstance(value, wanted):
        raise ValidationError.single(path, value, f"must be a {kind} value")
    if isinstance(value, datetime):
        return ensure_utc(value, path)
    if isinstance(value, str):
        return ensure_text(value, path)
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValidationError.single(path, value, "must be finite")
    if type(value) is int and not _INT64[0] <= value <= _INT64[1]:
        raise ValidationError.single(path, value, "must fit in a signed 64-bit integer")
    return value


def compare(op: Op, actual: Any, operand: Any) -> bool:
    """Apply ``op`` to a present value; a missing value (``None``) only satisfies IS_NULL."""
    if op is Op.IS_NULL:
        return actual is None
    if op is Op.IS_NOT_NULL or actual is None:
        return op is Op.IS_NOT_NULL and actual is not None
    if isinstance(actual, tuple):  # a list of text: CONTAINS looks for an element
        return op is Op.CONTAINS and operand in actual
    result: bool
    match op:
        case Op.EQ:
            result = actual == operand
        case Op.NE:
            result = actual != operand
        case Op.LT:
            result = actual < operand
        case Op.LE:
            result = actual <= operand
        case Op.GT:
            result = actual > operand
        case Op.GE:
            result = actual >= operand
        case Op.IN:
            result = actual in operand
        case Op.NOT_IN:
            result = actual not in operand
        case Op.BETWEEN:
            result = operand[0] <= actual <= operand[1]
        case Op.CONTAINS:
            result = operand in actual
        case Op.STARTS_WITH:
            result = actual.startswith(operand)
    return result


def _field(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in SEGMENT_FIELDS:
        raise ValidationError.single("field", value, f"must be one of {', '.join(SEGMENT_FIELDS)}")


def field_value(name: str, facts: Facts) -> Any:
    """The value of catalogue field ``name`` in ``facts`` (``None`` when missing)."""
    customer = facts.subject
    if name.startswith("account."):
        account = facts.account
        value = None if account is None else getattr(account, name.partition(".")[2])
        return None if value is None else str(value)
    if customer is None:
        return None
    if name in ("country", "region", "city", "postal_code"):
        address = getattr(customer, "address", None)
        return None if address is None else getattr(address, name)
    if name in ("account_id", "account_role"):
        link = getattr(customer, "account", None)
        if link is None:
            return None
        return link.account_id if name == "account_id" else link.role
    value = getattr(customer, name, None)
    if value is None or isinstance(value, str | datetime):
        return value
    return text_of(value)


def text_of(value: object) -> str:
    """The text a rule compares a value field with: an email address in its normal form, a
    phone number's E.164 part (the stored lookup key; its extension is kept beside it)."""
    return value.e164 if isinstance(value, PhoneNumber) else str(value)


@attrs.frozen
class FieldCondition(Condition):
    """A customer field (see `SEGMENT_FIELDS`) compared with a value: ``country eq "DE"``.

    The value is put in the form the field is stored in (``"de"`` becomes ``"DE"``, an email
    is lower-cased; see `crmkit.domain.rules.operands`), and a whole value the field could
    never hold is refused, so a rule never silently finds nobody for a spelling's sake.
    """

    kind: ClassVar[str] = "field"
    field: str = attrs.field(validator=_field)
    op: Op = attrs.field(converter=_op)
    value: Any = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        operand = check_operand(SEGMENT_FIELDS[self.field], self.op, self.value)
        object.__setattr__(self, "value", field_operand(self.field, self.op.value, operand))

    def holds(self, facts: Facts) -> bool:
        return compare(self.op, field_value(self.field, facts), self.value)

    def describe(self) -> str:
        if self.op in NULLS:  # as a guard's requirement reads: "has field 'email'"
            return f"has {'no ' if self.op is Op.IS_NULL else ''}field {self.field!r}"
        return f"{self.field} {self.op.value} {self.value!r}"


def _trait_name(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValidationError.single("name", value, "must be a trait name (a lower-case slug)")


def _trait_type(value: Any) -> TraitType | None:
    return None if value is None else enum_of(TraitType, value, "type")


@attrs.frozen
class TraitCondition(Condition):
    """A custom trait compared with a value of its declared ``type``: ``plan eq "pro"``.

    A trait of another type than ``type`` on a customer counts as missing, so a text "5"
    never equals an integer 5 (as in SQL, where each type has its own column). ``type=None``
    means a trait of any type, and takes only `Op.IS_NULL` and `Op.IS_NOT_NULL`: "has the
    trait ``plan``, whatever its value".
    """

    kind: ClassVar[str] = "trait"
    name: str = attrs.field(validator=_trait_name)
    type: TraitType | None = attrs.field(converter=_trait_type)
    op: Op = attrs.field(converter=_op)
    value: Any = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.type is None:
            if self.op not in NULLS:
                raise ValidationError.single(
                    "type",
                    None,
                    f"a trait of any type takes only is_null or is_not_null, not {self.op}",
                )
            check_operand(TraitType.STRING, self.op, self.value)  # refuses a value
            return
        object.__setattr__(self, "value", check_operand(self.type, self.op, self.value))

    def check_schema(self, schema: TraitSchema) -> None:
        """Refuse a trait the schema does not declare (unless it allows others) or
        declares with another type."""
        definition = schema.traits.get(self.name)
        if definition is None:
            if not schema.allow_undeclared:
                raise ValidationError.single("name", self.name, "is not in the trait schema")
            return
        if self.type is not None and definition.type is not self.type:
            raise ValidationError.single(
                "type", self.type.value, f"the schema declares {self.name} as {definition.type}"
            )

    def holds(self, facts: Facts) -> bool:
        actual = facts.traits.get(self.name)
        if actual is not None and self.type is not None and trait_type_of(actual) is not self.type:
            actual = None
        return compare(self.op, actual, self.value)

    def describe(self) -> str:
        if self.op in NULLS:  # "has trait 'plan'"; "(integer)" when of one type only
            kind = "" if self.type is None else f" ({self.type.value})"
            return f"has {'no ' if self.op is Op.IS_NULL else ''}trait {self.name!r}{kind}"
        return f"trait {self.name} {self.op.value} {self.value!r}"


def _tag(value: Any) -> str:
    # The tag as customers' tags are stored ("VIP" is "vip"), so a rule never misses by case.
    return normalize_tag(value, "tag")


@attrs.frozen
class TagCondition(Condition):
    """The subject carries ``tag`` (put in the stored form of tags: ``"VIP"`` is ``"vip"``)."""

    kind: ClassVar[str] = "tag"
    tag: str = attrs.field(converter=_tag)

    def holds(self, facts: Facts) -> bool:
        return self.tag in facts.tags

    def describe(self) -> str:
        return f"has tag {self.tag!r}"


def _purpose(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValidationError.single("purpose", value, "must be a purpose (a lower-case slug)")


@attrs.frozen
class ConsentCondition(Condition):
    """The consent history allows contact on ``channel`` for ``purpose`` at ``as_of``."""

    kind: ClassVar[str] = "consent"
    channel: Channel = attrs.field(converter=channel_of)
    purpose: str = attrs.field(validator=_purpose)

    def holds(self, facts: Facts) -> bool:
        consents = getattr(facts.subject, "consents", ())
        return may_contact(consents, self.channel, self.purpose, facts.as_of)

    def describe(self) -> str:
        return f"may contact on {self.channel.value} for {self.purpose}"
