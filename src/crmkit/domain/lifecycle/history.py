"""Where one customer or account stands in one lifecycle model, and every move that led there.

A `StageHistory` is an aggregate: the append-only list of `StageChange` entries of one subject
in one model (the first enters the model, from no stage), and a version for optimistic
concurrency. Its current stage is always the last entry's ``to_stage``. It moves only through
`StageHistory.move` (checked against the model: the transition must exist and its guard hold)
and `StageHistory.progress` (the model's progression rules), and collects `StageChanged`
events for the unit of work to publish.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import attrs

from crmkit.domain._checks import SLUG, optional_text, to_utc, utc, version_number
from crmkit.domain.events import DomainEvent, StageChanged
from crmkit.domain.interactions.channels import SubjectKind, enum_of
from crmkit.domain.lifecycle.model import LifecycleModel, ProgressionRule
from crmkit.domain.rules.conditions import Facts
from crmkit.domain.values.ids import check_id
from crmkit.errors import ValidationError

__all__ = ["StageChange", "StageHistory", "Stay"]

#: How progression rules sign the moves they make when no actor is given.
AUTOMATIC = "crmkit"


def _optional_slug(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not SLUG.fullmatch(value)):
        raise ValidationError.single(attribute.name, value, "must be a stage name (a slug)")


def _slug(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        raise ValidationError.single(attribute.name, value, "is required")
    _optional_slug(instance, attribute, value)


def _actor(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or len(value) > 200):
        raise ValidationError.single("actor", value, "must be text of at most 200 characters")
    optional_text(instance, attribute, value)


@attrs.frozen
class StageChange:
    """One move in a subject's history.

    Attributes:
        from_stage: the stage left (``None`` for the entry into the model).
        to_stage: the stage entered.
        at: when the move took effect (UTC).
        reason: why, in the words of whoever moved it (or the rule's description).
        actor: who moved it: a user id, a system name, or ``"crmkit"`` for automatic rules.
        rule: the progression rule that made the move; ``None`` for a move made by hand.
    """

    from_stage: str | None = attrs.field(validator=_optional_slug)
    to_stage: str = attrs.field(validator=_slug)
    at: datetime = attrs.field(converter=to_utc, validator=utc)
    reason: str | None = attrs.field(default=None, validator=optional_text, kw_only=True)
    actor: str | None = attrs.field(default=None, validator=_actor, kw_only=True)
    rule: str | None = attrs.field(default=None, validator=_optional_slug, kw_only=True)


_optional_utc = attrs.validators.optional(utc)


@attrs.frozen
class Stay:
    """A stretch of time a subject spent in one stage (``left_at`` ``None``: still there)."""

    stage: str
    entered_at: datetime = attrs.field(converter=to_utc, validator=utc)
    left_at: datetime | None = attrs.field(converter=to_utc, validator=_optional_utc)

    def duration(self, as_of: datetime) -> timedelta:
        """How long the stay lasted, counting an ongoing one up to ``as_of``."""
        end = self.left_at if self.left_at is not None else as_of
        return max(end - self.entered_at, timedelta(0))


def _kind(value: Any) -> SubjectKind:
    return enum_of(SubjectKind, value, "subject_kind")


def _changes(value: Any) -> tuple[StageChange, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single("changes", value, "must be a sequence of stage changes")
    return tuple(value)


def _check_changes(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value:
        raise ValidationError.single("changes", value, "must hold at least the entry")
    previous: StageChange | None = None
    for index, change in enumerate(value):
        path = f"changes[{index}]"
        if not isinstance(change, StageChange):
            raise ValidationError.single(path, change, "must be a StageChange")
        expected = previous.to_stage if previous is not None else None
        if change.from_stage != expected:
            raise ValidationError.single(
                f"{path}.from_stage", change.from_stage, f"must be {expected!r}"
            )
        if previous is not None and change.at < previous.at:
            raise ValidationError.single(f"{path}.at", change.at, "is before the change before")
        previous = change


@attrs.define(eq=True)
class StageHistory:
    """One subject's path through one lifecycle model: the aggregate the stage lives in.

    Start one with `StageHistory.enter`; move it with `move` or `progress`.
    """

    subject_kind: SubjectKind = attrs.field(converter=_kind)
    subject_id: str = attrs.field(validator=lambda i, a, v: check_id("subject_id", v))
    model: str = attrs.field(validator=_slug)
    changes: tuple[StageChange, ...] = attrs.field(converter=_changes, validator=_check_changes)
    version: int = attrs.field(default=0, validator=version_number)
    _events: list[DomainEvent] = attrs.field(factory=list, init=False, repr=False, eq=False)

    @classmethod
    def enter(
        cls,
        model: LifecycleModel,
        subject_id: str,
        *,
        at: datetime,
        stage: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
    ) -> StageHistory:
        """Put a subject into ``model``, at its initial stage unless ``stage`` says otherwise
        (to bring in a customer who is already, say, a ``customer``). Records `StageChanged`."""
        target = model.stage(stage if stage is not None else model.initial).name
        change = StageChange(None, target, at, reason=reason, actor=actor)
        history = cls(model.subject, subject_id, model.name, (change,))
        history._announce(change)
        return history

    @property
    def current(self) -> str:
        """The stage the subject is in now: the last change's ``to_stage``."""
        return self.changes[-1].to_stage

    @property
    def entered_at(self) -> datetime:
        """When the subject entered its current stage."""
        return self.changes[-1].at

    @property
    def started_at(self) -> datetime:
        """When the subject entered the model."""
        return self.changes[0].at

    def stage_at(self, at: datetime) -> str | None:
        """The stage the subject was in at ``at`` (``None``: not yet in the model)."""
        found = None
        for change in self.changes:
            if change.at > at:
                break
            found = change.to_stage
        return found

    def stays(self) -> Iterator[Stay]:
        """Each stretch of time spent in a stage, oldest first; the last is ongoing."""
        for change, following in zip(self.changes, (*self.changes[1:], None), strict=True):
            yield Stay(change.to_stage, change.at, None if following is None else following.at)

    def time_in_stages(self, as_of: datetime) -> dict[str, timedelta]:
        """Total time spent in each stage up to ``as_of`` (stages visited twice add up).

        The durations always sum exactly to ``as_of - started_at`` (zero before the entry).
        """
        totals: dict[str, timedelta] = {}
        for stay in self.stays():
            if stay.entered_at >= as_of:
                break
            end = as_of if stay.left_at is None else min(stay.left_at, as_of)
            totals[stay.stage] = totals.get(stay.stage, timedelta(0)) + (end - stay.entered_at)
        return totals

    def move(
        self,
        model: LifecycleModel,
        to: str,
        *,
        at: datetime,
        facts: Facts | None = None,
        reason: str | None = None,
        actor: str | None = None,
    ) -> StageChange | None:
        """Move to stage ``to`` at ``at`` and record `StageChanged`; return the change.

        Moving to the current stage changes nothing and returns ``None``. Raises
        `IllegalTransition` (naming the allowed next stages) when the model has no such move,
        `GuardFailed` when the transition's guard does not hold for ``facts``, and
        `ValidationError` when ``at`` is before the last change.
        """
        self._check_model(model)
        if to == self.current:
            model.stage(to)
            return None
        model.check_move(self.current, to, None if facts is None else self._situated(facts))
        return self._append(StageChange(self.current, to, at, reason=reason, actor=actor))

    def progress(
        self, model: LifecycleModel, facts: Facts, *, actor: str | None = None
    ) -> list[StageChange]:
        """Apply the model's progression rules as of ``facts.as_of``; return the moves made.

        Rules are tried in model order; the first whose condition (and transition guard)
        holds moves the subject, and the search starts again from the new stage. Within one
        instant a subject never returns to a stage it has already passed through by rule, so
        rules that undo each other cannot loop, and evaluating twice at the same ``as_of``
        changes nothing the second time. A history whose last change is after ``as_of`` is
        left alone (its past cannot be rewritten).
        """
        self._check_model(model)
        as_of = facts.as_of
        if as_of < self.entered_at or not model.rules:
            return []
        visited = {self.current}
        for change in reversed(self.changes):
            if change.at != as_of or change.rule is None:
                break
            visited.update((change.to_stage, change.from_stage or change.to_stage))
        moves = []
        while (rule := self._next_rule(model, facts, visited)) is not None:
            reason = rule.description or rule.name
            change = StageChange(
                self.current, rule.target, as_of, reason=reason, actor=actor or AUTOMATIC
            )
            moves.append(self._append(attrs.evolve(change, rule=rule.name)))
            visited.add(rule.target)
        return moves

    def _next_rule(
        self, model: LifecycleModel, facts: Facts, visited: set[str]
    ) -> ProgressionRule | None:
        current = self.current
        facts = self._situated(facts)
        for rule in model.rules:
            if rule.target in visited or (rule.sources and current not in rule.sources):
                continue
            transition = model.transition(current, rule.target)
            if transition is None:
                continue
            if transition.guard is not None and not transition.guard.holds(facts):
                continue
            if rule.when.holds(facts):
                return rule
        return None

    def _situated(self, facts: Facts) -> Facts:
        return facts.in_stage_since(self.entered_at)

    def pull_events(self) -> list[DomainEvent]:
        """Hand over the events collected since the last call, and forget them."""
        events, self._events = self._events, []
        return events

    def peek_events(self) -> tuple[DomainEvent, ...]:
        """The events collected so far, without taking them."""
        return tuple(self._events)

    def fits(self, model: LifecycleModel) -> bool:
        """True when this history belongs to ``model`` and its current stage is one of the
        model's stages (false after a host renamed or removed the stage)."""
        return model.name == self.model and self.current in model.stage_names

    def _check_model(self, model: LifecycleModel) -> None:
        if model.name != self.model:
            raise ValidationError.single("model", model.name, f"this history is of {self.model}")
        if self.current not in model.stage_names:
            raise ValidationError.single(
                "current", self.current, f"is not a stage of {model.name}: has the model changed?"
            )

    def _append(self, change: StageChange) -> StageChange:
        if change.at < self.entered_at:
            raise ValidationError.single(
                "at", change.at, f"is before the last stage change ({self.entered_at})"
            )
        self.changes = (*self.changes, change)
        self._announce(change)
        return change

    def _announce(self, change: StageChange) -> None:
        self._events.append(self.event_for(change))

    def event_for(self, change: StageChange) -> StageChanged:
        """The `StageChanged` event that announces ``change`` of this history: a change
        together with whose it is and in which model."""
        return StageChanged(
            change.at,
            subject_kind=self.subject_kind,
            subject_id=self.subject_id,
            model=self.model,
            from_stage=change.from_stage,
            to_stage=change.to_stage,
            reason=change.reason,
            actor=change.actor,
            rule=change.rule,
        )
