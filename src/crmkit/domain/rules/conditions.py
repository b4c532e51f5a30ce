"""Conditions: small, serialisable predicates over a customer (or account) and its interactions.

Lifecycle models use them as transition guards ("has an email") and as the triggers of
automatic progression ("3+ purchases in the last 90 days"). A condition looks only at the
`Facts` it is given, which carry an explicit ``as_of``: the same facts always give the same
answer, whatever the wall clock says.

Interaction windows are half-open and end at ``as_of``: ``within_days=90`` counts what
happened in ``(as_of - 90 days, as_of]``, so an interaction recorded "now" counts and
consecutive windows never overlap. Interactions after ``as_of`` never count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs

from crmkit.domain._checks import SLUG, to_utc, utc
from crmkit.domain._lists import listed
from crmkit.domain.accounts.account import Account
from crmkit.domain.customers.customer import PROFILE_FIELDS, Customer, normalize_tag
from crmkit.domain.customers.traits import TraitValue
from crmkit.domain.interactions.channels import Channel, channel_of
from crmkit.domain.interactions.interaction import Interaction
from crmkit.domain.values.timestamps import earlier
from crmkit.errors import UsageError, ValidationError

__all__ = [
    "ACCOUNT_FIELDS",
    "CUSTOMER_FIELDS",
    "MAX_CONDITIONS",
    "MAX_CONDITION_DEPTH",
    "AllOf",
    "AnyOf",
    "Condition",
    "Facts",
    "HasField",
    "HasTag",
    "HasTrait",
    "InteractionCount",
    "Not",
    "TimeInStage",
]

#: The customer fields `HasField` may name: the profile fields, less tags and external ids
#: (`HasTag` looks at tags; external ids belong to the host's systems, not to rules).
CUSTOMER_FIELDS = tuple(f for f in PROFILE_FIELDS if f not in ("tags", "external_ids"))
#: The account fields `HasField` may name.
ACCOUNT_FIELDS = ("name", "domain", "industry", "size")
#: How deeply `AllOf`, `AnyOf` and `Not` may nest: deeper trees are refused when built.
MAX_CONDITION_DEPTH = 16
MAX_WINDOW_DAYS = 36_600
#: The most conditions one `AllOf` or `AnyOf` may combine.
MAX_CONDITIONS = 100
#: What `bool()` of a condition or a rule builder says: neither is true or false by itself.
NO_TRUTH_VALUE = (
    "{what} has no truth value: combine conditions with & (and), | (or) and ~ (not), "
    "never with Python's and, or, not; write a range as x.between(low, high), not as a "
    "chained comparison, and evaluate a condition with .holds(facts)"
)


def _tags(value: Iterable[str]) -> frozenset[str]:
    return value if isinstance(value, frozenset) else frozenset(listed("tags", value, "tags"))


def _tuple(value: Iterable[Interaction]) -> tuple[Interaction, ...]:
    return value if isinstance(value, tuple) else tuple(value)


@attrs.frozen
class Facts:
    """What a condition may look at: one subject, its interactions, and the instant ``as_of``.

    Build them with `Facts.of_customer` or `Facts.of_account`. ``fields`` holds the subject's
    profile fields by name (see `CUSTOMER_FIELDS` and `ACCOUNT_FIELDS`). ``stage_entered_at``
    is when the subject entered its current stage of the model being evaluated: a history
    fills it in when it checks a guard or a rule (``None`` elsewhere).
    """

    as_of: datetime = attrs.field(converter=to_utc, validator=utc)
    fields: Mapping[str, object] = attrs.field(factory=dict)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tags)
    traits: Mapping[str, TraitValue] = attrs.field(factory=dict)
    interactions: tuple[Interaction, ...] = attrs.field(default=(), converter=_tuple)
    stage_entered_at: datetime | None = attrs.field(default=None)
    subject: Customer | Account | None = attrs.field(default=None, kw_only=True)
    account: Account | None = attrs.field(default=None, kw_only=True)
    stages: Mapping[str, str] = attrs.field(factory=dict, kw_only=True)

    def in_stage_since(self, entered_at: datetime) -> Facts:
        """The same facts, for a subject that entered its current stage at ``entered_at``."""
        if entered_at == self.stage_entered_at:
            return self
        return attrs.evolve(self, stage_entered_at=entered_at)

    @classmethod
    def of_customer(
        cls,
        customer: Customer,
        interactions: Iterable[Interaction],
        as_of: datetime,
        *,
        account: Account | None = None,
        stages: Mapping[str, str] | None = None,
    ) -> Facts:
        """The facts of a customer and (some of) their interactions, as of ``as_of``; with
        the account they are linked to and their current stage per lifecycle model, for the
        conditions that look at those."""
        return cls(
            as_of=as_of,
            fields={name: getattr(customer, name) for name in CUSTOMER_FIELDS},
            tags=customer.tags,
            traits=customer.traits,
            interactions=tuple(interactions),
            subject=customer,
            account=account,
            stages=stages or {},
        )

    @classmethod
    def of_account(
        cls, account: Account, interactions: Iterable[Interaction], as_of: datetime
    ) -> Facts:
        """The facts of an account and the interactions of its contacts, as of ``as_of``."""
        return cls(
            as_of=as_of,
            fields={name: getattr(account, name) for name in ACCOUNT_FIELDS},
            interactions=tuple(interactions),
            subject=account,
            account=account,
        )


class Condition(ABC):
    """The base of every condition. Subclasses are frozen attrs classes tagged by ``kind``."""

    #: The tag that names the condition's type in its JSON form.
    kind: ClassVar[str] = ""

    @abstractmethod
    def holds(self, facts: Facts) -> bool:
        """True when the condition is met by ``facts``."""

    @abstractmethod
    def describe(self) -> str:
        """The condition in words, for error messages and documentation."""

    @property
    def depth(self) -> int:
        """How deeply the condition nests (1 for a leaf)."""
        return 1

    def leaves(self) -> Iterator[Condition]:
        """Every condition in the tree that has no sub-conditions, depth first."""
        yield self

    def __and__(self, other: Condition) -> AllOf:
        # a & b & c is one AllOf of three, not nested pairs: flat trees read (and nest) better.
        return AllOf((*_parts(self, AllOf), *_parts(other, AllOf)))

    def __or__(self, other: Condition) -> AnyOf:
        return AnyOf((*_parts(self, AnyOf), *_parts(other, AnyOf)))

    def __invert__(self) -> Not:
        return Not(self)

    def __bool__(self) -> bool:
        # A condition is a rule, not an answer: Python's `and`, `or`, `not` and chained
        # comparisons would ask for its truth and quietly drop half of the rule.
        raise UsageError(NO_TRUTH_VALUE.format(what=f"a condition ({self.kind or 'custom'})"))


def _parts(condition: object, kind: type[_Combination]) -> tuple[object, ...]:
    if isinstance(condition, kind) and type(condition) is kind:
        return condition.conditions
    return (condition,)


def _field_name(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in CUSTOMER_FIELDS and value not in ACCOUNT_FIELDS:
        known = ", ".join((*CUSTOMER_FIELDS, *ACCOUNT_FIELDS))
        raise ValidationError.single("field", value, f"must be one of {known}")


def _slug(path: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str) or not SLUG.fullmatch(value):
            raise ValidationError.single(path, value, "must be a lower-case slug like 'plan'")

    return check


def _tag(value: Any) -> str:
    # The tag as customers' tags are stored ("VIP" is "vip"), so a rule never misses by case.
    return normalize_tag(value, "tag")


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str | tuple | frozenset | Mapping) and not value)


@attrs.frozen
class HasField(Condition):
    """The subject has a non-empty value for a profile field (e.g. ``"email"``)."""

    kind: ClassVar[str] = "has_field"
    field: str = attrs.field(validator=_field_name)

    def holds(self, facts: Facts) -> bool:
        return not _empty(facts.fields.get(self.field))

    def describe(self) -> str:
        return f"has field {self.field!r}"


@attrs.frozen
class HasTrait(Condition):
    """The subject has the custom trait ``name`` (of any value)."""

    kind: ClassVar[str] = "has_trait"
    name: str = attrs.field(validator=_slug("name"))

    def holds(self, facts: Facts) -> bool:
        return self.name in facts.traits

    def describe(self) -> str:
        return f"has trait {self.name!r}"


@attrs.frozen
class HasTag(Condition):
    """The subject carries ``tag`` (put in the stored form of tags: ``"VIP"`` is ``"vip"``)."""

    kind: ClassVar[str] = "has_tag"
    tag: str = attrs.field(converter=_tag)

    def holds(self, facts: Facts) -> bool:
        return self.tag in facts.tags

    def describe(self) -> str:
        return f"has tag {self.tag!r}"


def _kinds(value: Any) -> frozenset[str]:
    kinds = listed("kinds", value, "interaction kinds")
    for kind in kinds:
        if not isinstance(kind, str) or not SLUG.fullmatch(kind):
            raise ValidationError.single("kinds", kind, "must be an interaction kind (a slug)")
    return frozenset(str(kind) for kind in kinds)


def _channels(value: Any) -> frozenset[Channel]:
    return frozenset(channel_of(c, "channels") for c in listed("channels", value, "channels"))


def _bound(path: str, low: int, high: int) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and (type(value) is not int or not low <= value <= high):
            raise ValidationError.single(path, value, f"must be an integer from {low} to {high}")

    return check


@attrs.frozen
class InteractionCount(Condition):
    """The number of the subject's interactions of some kinds and channels, in a window
    ending at ``as_of``, is within ``[at_least, at_most]``.

    Empty ``kinds`` or ``channels`` mean any. ``within_days=None`` looks at every
    interaction up to ``as_of``. ``InteractionCount({"purchase"}, at_least=1)`` is "has
    purchased"; ``InteractionCount({"purchase"}, within_days=180, at_most=0)`` is "no
    purchase in the last 180 days".
    """

    kind: ClassVar[str] = "interaction_count"
    kinds: frozenset[str] = attrs.field(default=frozenset(), converter=_kinds)
    channels: frozenset[Channel] = attrs.field(default=frozenset(), converter=_channels)
    within_days: int | None = attrs.field(
        default=None, kw_only=True, validator=_bound("within_days", 1, MAX_WINDOW_DAYS)
    )
    at_least: int | None = attrs.field(
        default=None, kw_only=True, validator=_bound("at_least", 0, 1_000_000)
    )
    at_most: int | None = attrs.field(
        default=None, kw_only=True, validator=_bound("at_most", 0, 1_000_000)
    )

    def __attrs_post_init__(self) -> None:
        if self.at_least is None and self.at_most is None:
            raise ValidationError.single("at_least", None, "give at_least, at_most or both")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValidationError.single("at_most", self.at_most, "must not be below at_least")

    def count(self, facts: Facts) -> int:
        """How many of the facts' interactions fall in the window and match."""
        end = facts.as_of
        # A window reaching back before the year 1 has no start (`earlier` gives None).
        start = None if self.within_days is None else earlier(end, timedelta(days=self.within_days))
        kinds, channels = self.kinds, self.channels
        return sum(
            1
            for i in facts.interactions
            if i.occurred_at <= end
            and (start is None or i.occurred_at > start)
            and (not kinds or i.kind in kinds)
            and (not channels or i.channel in channels)
        )

    def holds(self, facts: Facts) -> bool:
        n = self.count(facts)
        return (self.at_least is None or n >= self.at_least) and (
            self.at_most is None or n <= self.at_most
        )

    def describe(self) -> str:
        what = " or ".join(sorted(self.kinds)) or "any"
        where = f" on {' or '.join(sorted(self.channels))}" if self.channels else ""
        when = f" in the last {self.within_days} days" if self.within_days else ""
        if self.at_most == 0:
            noun = f"{what} interaction" if self.kinds else "interaction"
            return f"no {noun}{where}{when}"
        bounds = []
        if self.at_least is not None:
            bounds.append(f"at least {self.at_least}")
        if self.at_most is not None:
            bounds.append(f"at most {self.at_most}")
        return f"{' and '.join(bounds)} {what} interaction(s){where}{when}"


def _days(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or not 0 <= value <= MAX_WINDOW_DAYS:
        raise ValidationError.single(
            "at_least_days", value, f"must be an integer from 0 to {MAX_WINDOW_DAYS}"
        )


@attrs.frozen
class TimeInStage(Condition):
    """The subject has been in its current stage for at least ``at_least_days`` days.

    Time alone then moves a subject on ("a trial ends 14 days after it starts"), and a rule
    such as "no purchase in 30 days" can wait until the subject has been in the stage that
    long, instead of firing the moment it arrives. It holds only where a stage is known: in
    the guards and progression rules of a lifecycle model.
    """

    kind: ClassVar[str] = "time_in_stage"
    at_least_days: int = attrs.field(validator=_days)

    def holds(self, facts: Facts) -> bool:
        entered = facts.stage_entered_at
        return entered is not None and facts.as_of - entered >= timedelta(days=self.at_least_days)

    def describe(self) -> str:
        return f"in the current stage for at least {self.at_least_days} days"


def _conditions(value: Any) -> tuple[Condition, ...]:
    if isinstance(value, Condition) or not isinstance(value, Iterable):
        raise ValidationError.single("conditions", value, "must be a sequence of conditions")
    items = tuple(value)
    if not items:
        raise ValidationError.single("conditions", value, "must hold at least one condition")
    if len(items) > MAX_CONDITIONS:
        raise ValidationError.single(
            "conditions", len(items), f"must hold at most {MAX_CONDITIONS} conditions"
        )
    for index, item in enumerate(items):
        if not isinstance(item, Condition):
            raise ValidationError.single(f"conditions[{index}]", item, "must be a Condition")
    return items


def _check_depth(depth: int, path: str = "conditions") -> None:
    if depth > MAX_CONDITION_DEPTH:
        raise ValidationError.single(path, depth, f"nest at most {MAX_CONDITION_DEPTH} levels deep")


@attrs.frozen
class _Combination(Condition):
    """The shared half of `AllOf` and `AnyOf`: a non-empty, depth-limited list."""

    conditions: tuple[Condition, ...] = attrs.field(converter=_conditions)

    def __attrs_post_init__(self) -> None:
        _check_depth(self.depth)

    @property
    def depth(self) -> int:
        return 1 + max(c.depth for c in self.conditions)

    def leaves(self) -> Iterator[Condition]:
        for condition in self.conditions:
            yield from condition.leaves()

    def _joined(self, word: str) -> str:
        return f" {word} ".join(f"({c.describe()})" for c in self.conditions)


@attrs.frozen
class AllOf(_Combination):
    """Every one of ``conditions`` holds."""

    kind: ClassVar[str] = "all_of"

    def holds(self, facts: Facts) -> bool:
        return all(c.holds(facts) for c in self.conditions)

    def describe(self) -> str:
        return self._joined("and")


@attrs.frozen
class AnyOf(_Combination):
    """At least one of ``conditions`` holds."""

    kind: ClassVar[str] = "any_of"

    def holds(self, facts: Facts) -> bool:
        return any(c.holds(facts) for c in self.conditions)

    def describe(self) -> str:
        return self._joined("or")


def _condition(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Condition):
        raise ValidationError.single("condition", value, "must be a Condition")


@attrs.frozen
class Not(Condition):
    """``condition`` does not hold."""

    kind: ClassVar[str] = "not"
    condition: Condition = attrs.field(validator=_condition)

    def __attrs_post_init__(self) -> None:
        _check_depth(self.depth, "condition")

    @property
    def depth(self) -> int:
        return 1 + self.condition.depth

    def leaves(self) -> Iterator[Condition]:
        return self.condition.leaves()

    def holds(self, facts: Facts) -> bool:
        return not self.condition.holds(facts)

    def describe(self) -> str:
        return f"not ({self.condition.describe()})"
