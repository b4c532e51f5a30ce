"""The leaves about where a customer stands rather than what it holds: its stage in a
lifecycle model (`StageCondition`) and an explicit list of members (`Members`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import attrs

from crmkit.domain._checks import SLUG
from crmkit.domain._lists import listed
from crmkit.domain.rules.conditions import Condition, Facts, check_days
from crmkit.domain.rules.leaves import MAX_LIST_VALUES, MAX_MEMBERS
from crmkit.domain.values.ids import check_id
from crmkit.errors import ValidationError

__all__ = ["Members", "StageCondition"]


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
    (a customer who never entered the model is in none); with ``at_least_days``, they have
    also been in that stage for at least that many days at the evaluation's ``as_of``.

    ``at_least_days`` is how a segment waits on time in a stage ("trial customers of two
    weeks or more"); inside a lifecycle model's own guards and rules, `TimeInStage` says the
    same of the stage being left, without naming the model.
    """

    kind: ClassVar[str] = "stage"
    model: str = attrs.field(validator=_model_name)
    stages: frozenset[str] = attrs.field(converter=_stage_names)
    at_least_days: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check_days)
    )

    def holds(self, facts: Facts) -> bool:
        if facts.stages.get(self.model) not in self.stages:
            return False
        return self.at_least_days is None or _long_enough(facts, self.model, self.at_least_days)

    def describe(self) -> str:
        held = "" if self.at_least_days is None else f" for at least {self.at_least_days} days"
        return f"{self.model} stage in {sorted(self.stages)}{held}"


def _long_enough(facts: Facts, model: str, days: int) -> bool:
    entered = facts.stages_entered_at.get(model)
    return entered is not None and facts.as_of - entered >= timedelta(days=days)


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
