"""Conditions: small, serialisable predicates over a customer (or account) and its interactions.

This module holds what every rule shares: the `Condition` base, the `Facts` a condition
looks at, and the combinations `AllOf`, `AnyOf` and `Not`. The leaves are those of
`crmkit.domain.rules.leaves` (written with the builder of `crmkit.segments`); segments and
lifecycle models (transition guards such as "has an email", progression rules such as "3+
purchases in the last 90 days") use the same ones. A condition looks only at the `Facts` it
is given, which carry an explicit ``as_of``: the same facts always give the same answer,
whatever the wall clock says.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs

from crmkit.domain._checks import to_utc, utc
from crmkit.domain._lists import listed
from crmkit.domain.accounts.account import Account
from crmkit.domain.customers.customer import PROFILE_FIELDS, Customer
from crmkit.domain.customers.traits import TraitValue
from crmkit.domain.interactions.interaction import Interaction
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
    "Not",
    "TimeInStage",
]

#: The customer fields `Facts.fields` holds: the profile fields, less tags and external ids
#: (`Facts.tags` holds the tags; external ids belong to the host's systems, not to rules).
CUSTOMER_FIELDS = tuple(f for f in PROFILE_FIELDS if f not in ("tags", "external_ids"))
#: The account fields `Facts.fields` holds.
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
    profile fields by name (see `CUSTOMER_FIELDS` and `ACCOUNT_FIELDS`). ``stages`` holds the
    subject's current stage per lifecycle model and ``stages_entered_at`` when it entered each.
    ``stage_entered_at`` is when the subject entered its current stage of the model being
    evaluated: a history fills it in when it checks a guard or a rule (``None`` elsewhere).
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
    stages_entered_at: Mapping[str, datetime] = attrs.field(factory=dict, kw_only=True)

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
        stages_entered_at: Mapping[str, datetime] | None = None,
    ) -> Facts:
        """The facts of a customer and (some of) their interactions, as of ``as_of``; with
        the account they are linked to, their current stage per lifecycle model and when they
        entered it, for the conditions that look at those."""
        return cls(
            as_of=as_of,
            fields={name: getattr(customer, name) for name in CUSTOMER_FIELDS},
            tags=customer.tags,
            traits=customer.traits,
            interactions=tuple(interactions),
            subject=customer,
            account=account,
            stages=stages or {},
            stages_entered_at=stages_entered_at or {},
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


def check_days(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
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
    at_least_days: int = attrs.field(validator=check_days)

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
