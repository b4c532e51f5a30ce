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
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Final

import attrs

from crmkit.domain._checks import SLUG
from crmkit.domain._frozen import FrozenMap
from crmkit.domain._lists import listed
from crmkit.domain._same import same_value
from crmkit.domain.customers.consent import may_contact
from crmkit.domain.customers.customer import normalize_tag
from crmkit.domain.customers.traits import TraitSchema, TraitType, trait_type_of
from crmkit.domain.interactions.channels import (
    Channel,
    Direction,
    InteractionKind,
    channel_of,
    enum_of,
)
from crmkit.domain.interactions.interaction import Interaction
from crmkit.domain.rules.conditions import MAX_WINDOW_DAYS, Condition, Facts
from crmkit.domain.rules.operands import field_operand
from crmkit.domain.values.contact import PhoneNumber
from crmkit.domain.values.ids import check_id
from crmkit.domain.values.money import Money
from crmkit.domain.values.texts import ensure_text
from crmkit.domain.values.timestamps import earlier, ensure_utc
from crmkit.errors import ValidationError

__all__ = [
    "MAX_LIST_VALUES",
    "SEGMENT_FIELDS",
    "AggregateCondition",
    "ConsentCondition",
    "FieldCondition",
    "FieldType",
    "Measure",
    "Members",
    "Op",
    "StageCondition",
    "TagCondition",
    "TraitCondition",
    "Window",
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


def _stage_names(value: Any) -> frozenset[str]:
    names = listed("stages", value, "stage names")
    for name in names:
        if not isinstance(name, str) or not SLUG.fullmatch(name):
            raise ValidationError.single("stages", name, "must be a stage name (a slug)")
    if not 0 < len(names) <= MAX_LIST_VALUES:
        raise ValidationError.single("stages", len(names), "must name 1-1000 stages")
    return frozenset(names)


def _model_name(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValidationError.single("model", value, "must be a lifecycle model name (a slug)")


@attrs.frozen
class StageCondition(Condition):
    """The customer's current stage in lifecycle model ``model`` is one of ``stages``
    (a customer who never entered the model is in none)."""

    kind: ClassVar[str] = "stage"
    model: str = attrs.field(validator=_model_name)
    stages: frozenset[str] = attrs.field(converter=_stage_names)

    def holds(self, facts: Facts) -> bool:
        return facts.stages.get(self.model) in self.stages

    def describe(self) -> str:
        return f"{self.model} stage in {sorted(self.stages)}"


def _member_ids(value: Any) -> frozenset[str]:
    members = listed("ids", value, "customer ids")
    for member in members:
        check_id("ids", member)
    ids = frozenset(members)
    if len(ids) > MAX_MEMBERS:
        raise ValidationError.single("ids", len(ids), f"at most {MAX_MEMBERS} members")
    return ids


@attrs.frozen
class Members(Condition):
    """A static segment: the customer is one of ``ids``."""

    kind: ClassVar[str] = "members"
    ids: frozenset[str] = attrs.field(converter=_member_ids)

    def holds(self, facts: Facts) -> bool:
        return getattr(facts.subject, "id", None) in self.ids

    def describe(self) -> str:
        return f"one of {len(self.ids)} listed customers"


class Measure(StrEnum):
    """What an `AggregateCondition` computes over the matching interactions."""

    COUNT = "count"  # how many (0 when none)
    SUM = "sum"  # the total amount in one currency (0 when none)
    NET_SPEND = "net_spend"  # purchases minus refunds in one currency (0 when none)
    MIN_AT = "min_at"  # the first occurred_at (missing when none)
    MAX_AT = "max_at"  # the last occurred_at (missing when none)
    DISTINCT_DAYS = "distinct_days"  # on how many UTC dates (0 when none)


#: The measures that total amounts of money, compared with `Money` in their ``currency``.
MONEY_MEASURES: Final = frozenset({Measure.SUM, Measure.NET_SPEND})
#: What net spend adds (purchases) and takes away (refunds); other kinds add nothing.
NET_SPEND_SIGNS: Final[Mapping[str, int]] = {
    InteractionKind.PURCHASE.value: 1,
    InteractionKind.REFUND.value: -1,
}


def _since(value: Any) -> datetime | None:
    return None if value is None else ensure_utc(value, "since")


def _until(value: Any) -> datetime | None:
    return None if value is None else ensure_utc(value, "until")


@attrs.frozen
class Window:
    """Which interactions an aggregate looks at, relative to ``as_of``.

    ``last_days=N``: ``(as_of - N days, as_of]``. ``since``/``until``: ``since <= t < until``
    (either may be open). Neither: every interaction. Never anything after ``as_of``.
    """

    last_days: int | None = attrs.field(default=None, kw_only=True)
    since: datetime | None = attrs.field(default=None, converter=_since)
    until: datetime | None = attrs.field(default=None, converter=_until)

    def __attrs_post_init__(self) -> None:
        days = self.last_days
        if days is not None:
            if type(days) is not int or not 1 <= days <= MAX_WINDOW_DAYS:
                raise ValidationError.single(
                    "last_days", days, f"must be an integer from 1 to {MAX_WINDOW_DAYS}"
                )
            if self.since is not None or self.until is not None:
                raise ValidationError.single("last_days", days, "give last_days or since/until")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValidationError.single("until", self.until, "must be after since")

    def bounds(self, as_of: datetime) -> tuple[datetime | None, bool, datetime, bool]:
        """``(start, start_inclusive, end, end_inclusive)`` of the window at ``as_of``."""
        if self.last_days is not None:
            # Reaching back before the year 1, the window has no start (`earlier` gives None).
            return earlier(as_of, timedelta(days=self.last_days)), False, as_of, True
        if self.until is not None and self.until <= as_of:
            return self.since, True, self.until, False
        return self.since, True, as_of, True

    def contains(self, at: datetime, as_of: datetime) -> bool:
        """True when an interaction at ``at`` falls in the window at ``as_of``."""
        start, start_in, end, end_in = self.bounds(as_of)
        if at > end or (at == end and not end_in):
            return False
        return start is None or at > start or (at == start and start_in)


def _text_set(path: str, value: Any, what: str) -> frozenset[str]:
    items = listed(path, value, what)
    for item in items:
        if not isinstance(item, str) or not item or len(item) > 500:
            raise ValidationError.single(path, item, "must be text of 1-500 characters")
        ensure_text(item, path)
    if len(items) > MAX_LIST_VALUES:
        raise ValidationError.single(path, len(items), f"at most {MAX_LIST_VALUES} values")
    return frozenset(items)


def _campaigns(value: Any) -> frozenset[str]:
    return _text_set("campaigns", value, "campaigns")


def _kinds(value: Any) -> frozenset[str]:
    items = _text_set("kinds", value, "interaction kinds")
    for item in items:
        if not SLUG.fullmatch(item):
            raise ValidationError.single("kinds", item, "must be an interaction kind (a slug)")
    return items


def _channels(value: Any) -> frozenset[Channel]:
    return frozenset(channel_of(c, "channels") for c in listed("channels", value, "channels"))


def _directions(value: Any) -> frozenset[Direction]:
    items = listed("directions", value, "directions")
    return frozenset(enum_of(Direction, d, "directions") for d in items)


def _metadata(value: Any) -> Mapping[str, str | int | bool]:
    if not isinstance(value, Mapping):
        raise ValidationError.single("metadata", value, "must map keys to values")
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 64:
            raise ValidationError.single("metadata", key, "a key must be 1-64 characters")
        ensure_text(key, "metadata")
        if isinstance(item, str):
            ensure_text(item, f"metadata.{key}")
        elif isinstance(item, bool):
            continue
        elif not isinstance(item, int) or not _INT64[0] <= item <= _INT64[1]:
            raise ValidationError.single(
                f"metadata.{key}", item, "must be text, a 64-bit int or a bool"
            )
    return FrozenMap(value)


def same_metadata(actual: object, wanted: object) -> bool:
    # True is not 1 here: metadata keeps its JSON type, and so does the SQL comparison.
    return same_value(actual, wanted)


def _window(value: Any) -> Window:
    if not isinstance(value, Window):
        raise ValidationError.single("window", value, "must be a Window")
    return value


def _measure(value: Any) -> Measure:
    return enum_of(Measure, value, "measure")


_MEASURE_OPS = EQUALITY - {Op.IN, Op.NOT_IN} | ORDERED


@attrs.frozen
class AggregateCondition(Condition):
    """A measure of the customer's matching interactions in a window, compared with a value:
    "3+ purchases in the last 90 days", "spent over 500 EUR this year".

    Filters (empty: any): ``kinds``, ``channels``, ``directions``, ``campaigns``, and
    ``metadata`` (every key equal). ``SUM`` needs ``currency`` and a `Money` value in it;
    interactions with no amount or another currency add nothing. ``NET_SPEND`` is what a
    shop means by spend: the purchases' amounts minus the refunds' (both recorded positive),
    in ``currency`` like ``SUM``; it picks the purchases and refunds itself, so it takes no
    ``kinds``.
    """

    kind: ClassVar[str] = "aggregate"
    measure: Measure = attrs.field(converter=_measure)
    op: Op = attrs.field(converter=_op)
    value: Any = attrs.field(default=None)
    window: Window = attrs.field(factory=Window, converter=_window, kw_only=True)
    kinds: frozenset[str] = attrs.field(default=frozenset(), converter=_kinds, kw_only=True)
    channels: frozenset[Channel] = attrs.field(
        default=frozenset(), converter=_channels, kw_only=True
    )
    directions: frozenset[Direction] = attrs.field(
        default=frozenset(), converter=_directions, kw_only=True
    )
    campaigns: frozenset[str] = attrs.field(default=frozenset(), converter=_campaigns, kw_only=True)
    metadata: Mapping[str, str | int | bool] = attrs.field(
        factory=dict, converter=_metadata, kw_only=True
    )
    currency: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        measure, op = self.measure, self.op
        timed = measure in (Measure.MIN_AT, Measure.MAX_AT)
        allowed = _MEASURE_OPS | NULLS if timed else _MEASURE_OPS
        if op not in allowed:
            raise ValidationError.single("op", op.value, f"does not apply to {measure.value}")
        if measure in MONEY_MEASURES:
            self._check_sum()
            return
        if self.currency is not None:
            raise ValidationError.single(
                "currency", self.currency, "only sum and net_spend take a currency"
            )
        if op in NULLS:
            check_operand(FieldType.DATETIME, op, self.value)
            return
        if timed:
            operand = check_operand(FieldType.DATETIME, op, self.value)
        else:
            operand = _counts(op, self.value)
        object.__setattr__(self, "value", operand)

    def _check_sum(self) -> None:
        if self.measure is Measure.NET_SPEND and self.kinds:
            raise ValidationError.single(
                "kinds",
                sorted(self.kinds),
                "net_spend measures purchases minus refunds itself: give no kinds",
            )
        currency = self.currency
        values = self.value if self.op is Op.BETWEEN else (self.value,)
        if not isinstance(values, tuple | list) or not values:
            raise ValidationError.single("value", self.value, "between takes [low, high]")
        for item in values:
            if not isinstance(item, Money):
                raise ValidationError.single("value", item, "a sum compares with Money")
            if currency is None or item.currency != currency:
                raise ValidationError.single(
                    "currency", currency, f"must be given and match the value's ({item.currency})"
                )
        if self.op is Op.BETWEEN:
            if len(values) != 2 or values[1] < values[0]:
                raise ValidationError.single("value", self.value, "between takes [low, high]")
            object.__setattr__(self, "value", tuple(values))

    def matches(self, interaction: Interaction, as_of: datetime) -> bool:
        """True when ``interaction`` passes the filters and falls in the window."""
        return (
            self.window.contains(interaction.occurred_at, as_of)
            and (not self.kinds or interaction.kind in self.kinds)
            and (not self.channels or interaction.channel in self.channels)
            and (not self.directions or interaction.direction in self.directions)
            and (not self.campaigns or interaction.campaign in self.campaigns)
            and all(
                same_metadata(interaction.metadata.get(k, _ABSENT), v)
                for k, v in self.metadata.items()
            )
        )

    def measure_of(self, facts: Facts) -> Any:
        """The measure over the facts' matching interactions: a count, a sum in minor units of
        ``currency``, or an instant (``None``: no interaction to take it from)."""
        chosen = [i for i in facts.interactions if self.matches(i, facts.as_of)]
        match self.measure:
            case Measure.COUNT:
                return len(chosen)
            case Measure.DISTINCT_DAYS:
                return len({i.occurred_at.date() for i in chosen})
            case Measure.MIN_AT:
                return min((i.occurred_at for i in chosen), default=None)
            case Measure.MAX_AT:
                return max((i.occurred_at for i in chosen), default=None)
        signs = NET_SPEND_SIGNS if self.measure is Measure.NET_SPEND else None
        return sum(
            i.amount.minor * (1 if signs is None else signs.get(i.kind, 0))
            for i in chosen
            if i.amount is not None and i.amount.currency == self.currency
        )

    def holds(self, facts: Facts) -> bool:
        operand = self.value
        if self.measure in MONEY_MEASURES:  # compared in minor units: may exceed Money's range
            operand = (
                tuple(m.minor for m in operand) if isinstance(operand, tuple) else operand.minor
            )
        return compare(self.op, self.measure_of(facts), operand)

    def describe(self) -> str:
        what = " or ".join(sorted(self.kinds)) or "any"
        if self.measure is Measure.NET_SPEND:
            what = "purchase and refund"
        return f"{self.measure.value} of {what} interactions {self.op.value} {self.value!r}"


_ABSENT = object()


def _counts(op: Op, value: Any) -> Any:
    if op is Op.BETWEEN:
        items = _items(value, "value")
        if len(items) != 2 or not all(_is_count(i) for i in items) or items[1] < items[0]:
            raise ValidationError.single("value", value, "between takes [low, high] counts")
        return (items[0], items[1])
    if not _is_count(value):
        raise ValidationError.single("value", value, "must be a whole number >= 0")
    return value


def _is_count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= 2**62
