"""A small builder that writes segment rules as Python expressions.

```
(field("country") == "DE") & (purchases(last=days(90)).count() >= 3)
```

Each expression returns the plain condition classes of `crmkit.domain.rules.leaves`, so what
the builder makes is what the JSON form and the SQL compiler read. Compare with the Python
operators (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``) or the named methods (`is_in`,
`not_in`, `between`, `contains`, `starts_with`, `is_null`, `is_not_null`, `exists`); combine with
``&``, ``|`` and ``~``. Python's ``and``, ``or``, ``not`` and chained comparisons
(``1 <= x <= 3``) ask a condition for its truth, which it does not have: they raise
`UsageError` (write ``x.between(1, 3)``). A parameter that takes a list refuses a single text.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

from crmkit._reprs import show
from crmkit.domain._lists import listed
from crmkit.domain.customers.traits import TraitType
from crmkit.domain.interactions.channels import Channel
from crmkit.domain.rules.conditions import NO_TRUTH_VALUE, Condition, Not
from crmkit.domain.rules.leaves import (
    ConsentCondition,
    FieldCondition,
    Op,
    TagCondition,
    TraitCondition,
)
from crmkit.domain.rules.stage_leaves import Members, StageCondition
from crmkit.errors import UsageError, ValidationError

C = TypeVar("C", bound=Condition)

__all__ = [
    "Field",
    "StageRef",
    "Trait",
    "consent",
    "days",
    "field",
    "members",
    "stage",
    "tagged",
    "trait",
]


class _Comparable(Generic[C]):
    """The comparison operators and methods, each making a condition through `_make`."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # == builds a condition, so no hashing

    def _make(self, op: Op, value: Any = None) -> C:
        raise NotImplementedError

    def __bool__(self) -> bool:
        raise _no_truth_value(repr(self))

    def __eq__(self, value: object) -> C:  # type: ignore[override]
        return self._make(Op.EQ, value)

    def __ne__(self, value: object) -> C:  # type: ignore[override]
        return self._make(Op.NE, value)

    def __lt__(self, value: Any) -> C:
        return self._make(Op.LT, value)

    def __le__(self, value: Any) -> C:
        return self._make(Op.LE, value)

    def __gt__(self, value: Any) -> C:
        return self._make(Op.GT, value)

    def __ge__(self, value: Any) -> C:
        return self._make(Op.GE, value)

    def is_in(self, values: Iterable[Any]) -> C:
        """The value is one of ``values``."""
        return self._make(Op.IN, _listed(values))

    def not_in(self, values: Iterable[Any]) -> C:
        """The value is present and none of ``values``."""
        return self._make(Op.NOT_IN, _listed(values))

    def between(self, low: Any, high: Any) -> C:
        """``low <= value <= high`` (both ends included)."""
        return self._make(Op.BETWEEN, (low, high))

    def is_null(self) -> C:
        """The value is missing."""
        return self._make(Op.IS_NULL)

    def is_not_null(self) -> C:
        """The value is present."""
        return self._make(Op.IS_NOT_NULL)

    def exists(self) -> C:
        """The value is present (the same as `is_not_null`): ``field("email").exists()``."""
        return self._make(Op.IS_NOT_NULL)


def _no_truth_value(builder: str, hint: str = "compare it to make a condition") -> UsageError:
    # `field("vip") and tagged("x")`, `if field("email"):`: a builder is not yet a condition,
    # and a condition is not yet an answer; refuse instead of being silently truthy.
    return UsageError(NO_TRUTH_VALUE.format(what=f"{builder} ({hint})"))


def _listed(values: Iterable[Any], path: str = "values", what: str = "values") -> tuple[Any, ...]:
    return listed(path, values, what)


class Field(_Comparable[FieldCondition]):
    """A customer field of `SEGMENT_FIELDS`, to compare: ``field("country") == "DE"``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def _make(self, op: Op, value: Any = None) -> FieldCondition:
        return FieldCondition(self.name, op, value)

    def contains(self, text: str) -> FieldCondition:
        """The text field contains ``text`` (case-sensitive, in the field's stored case:
        an email fragment is lower-cased, a country's upper-cased)."""
        return self._make(Op.CONTAINS, text)

    def starts_with(self, text: str) -> FieldCondition:
        """The text field starts with ``text`` (case-sensitive, in the field's stored case)."""
        return self._make(Op.STARTS_WITH, text)

    def __repr__(self) -> str:
        return f"field({show(self.name)})"


def field(name: str) -> Field:
    """A customer field (see `SEGMENT_FIELDS`): ``field("city").is_in(["Berlin", "Köln"])``."""
    return Field(name)


def _inferred_type(value: Any) -> TraitType | None:
    sample = value[0] if isinstance(value, tuple) and value else value
    # Order matters: a bool is an int, a datetime is a date.
    for kind, python in (
        (TraitType.BOOLEAN, bool),
        (TraitType.INTEGER, int),
        (TraitType.DECIMAL, Decimal),
        (TraitType.STRING, str),
        (TraitType.DATETIME, datetime),
        (TraitType.DATE, date),
    ):
        if isinstance(sample, python):
            return kind
    return None


class Trait(_Comparable[TraitCondition]):
    """A custom trait, to compare: ``trait("plan") == "pro"``, ``trait("seats") >= 10``."""

    __slots__ = ("name", "type")

    def __init__(self, name: str, type: TraitType | str | None = None) -> None:
        self.name = name
        self.type = type

    def _make(self, op: Op, value: Any = None) -> TraitCondition:
        kind = self.type if self.type is not None else _inferred_type(value)
        if kind is None:
            raise ValidationError.single(
                "type", None, f"give the type of trait {show(self.name)}: trait(name, 'string')"
            )
        return TraitCondition(self.name, kind, op, value)

    def exists(self) -> TraitCondition:
        """The customer has the trait: of the given type, or of any type when none is given
        (``trait("plan").exists()``, whatever its value)."""
        return TraitCondition(self.name, self.type, Op.IS_NOT_NULL)

    def contains(self, text: str) -> TraitCondition:
        """A text trait contains ``text``, or a list-of-text trait holds it as an element.
        The trait's type must be given: the value alone cannot tell which."""
        if self.type is None:
            raise ValidationError.single(
                "type", None, f"give the type of trait {show(self.name)}: 'string' or 'string_list'"
            )
        return self._make(Op.CONTAINS, text)

    def starts_with(self, text: str) -> TraitCondition:
        """A text trait starts with ``text`` (case-sensitive)."""
        return self._make(Op.STARTS_WITH, text)

    def __repr__(self) -> str:
        return f"trait({show(self.name)}, {show(self.type)})"


def trait(name: str, type: TraitType | str | None = None) -> Trait:
    """A custom trait. Without ``type``, it is inferred from the value compared with (a
    ``str`` is a string trait, a ``date`` a date trait …); `is_null`, `is_not_null` and
    `contains` need it given. `exists` without it looks at a trait of any type
    (``trait("plan").exists()``: the customer has the trait, whatever its value)."""
    return Trait(name, type)


def tagged(tag: str) -> TagCondition:
    """The customer carries ``tag`` (compared in the stored form of tags: ``"VIP"`` is
    ``"vip"``)."""
    return TagCondition(tag)


def consent(channel: Channel | str, purpose: str) -> ConsentCondition:
    """The customer may be contacted on ``channel`` for ``purpose`` (as of the evaluation)."""
    return ConsentCondition(channel, purpose)


def members(ids: Iterable[str]) -> Members:
    """A static segment: the customers with these ids."""
    return Members(ids)


class StageRef:
    """A customer's current stage in one lifecycle model: ``stage("customer_lifecycle")``."""

    __slots__ = ("model",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, model: str) -> None:
        self.model = model

    def __eq__(self, name: object) -> StageCondition:  # type: ignore[override]
        return StageCondition(self.model, [name])

    def __ne__(self, name: object) -> Condition:  # type: ignore[override]
        return Not(StageCondition(self.model, [name]))

    def is_in(self, names: Iterable[str], *, at_least_days: int | None = None) -> StageCondition:
        """The current stage is one of ``names``; with ``at_least_days``, entered at least
        that many days before the evaluation's ``as_of``.

        Args:
            names: The stage names.
            at_least_days: How long the customer must have been in the stage (0-36,600).

        Returns:
            The `StageCondition`.

        Raises:
            ValidationError: A name is not a slug, or the days are out of range.
        """
        chosen = _listed(names, "names", "stage names")
        return StageCondition(self.model, chosen, at_least_days=at_least_days)

    def not_in(self, names: Iterable[str]) -> Condition:
        """The current stage is none of ``names`` (also true outside the model)."""
        return Not(StageCondition(self.model, _listed(names, "names", "stage names")))

    def __bool__(self) -> bool:
        raise _no_truth_value(repr(self))

    def __repr__(self) -> str:
        return f"stage({show(self.model)})"


def stage(model: str) -> StageRef:
    """The customer's current stage in lifecycle model ``model``."""
    return StageRef(model)


def days(n: int) -> timedelta:
    """``n`` whole days, for windows: ``purchases(last=days(90))``.

    Raises:
        ValidationError: ``n`` is not an int, or more days than a ``timedelta`` holds.
    """
    if type(n) is not int:
        raise ValidationError.single("days", n, "must be an int number of days")
    if abs(n) > timedelta.max.days:  # by magnitude: timedelta would raise OverflowError
        raise ValidationError.single("days", n, f"must be at most {timedelta.max.days} days")
    return timedelta(days=n)
