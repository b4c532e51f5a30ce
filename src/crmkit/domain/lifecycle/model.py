"""Lifecycle models: a host's stages, the moves allowed between them, and automatic progression.

A `LifecycleModel` is a named state machine: stages (some final, some marking a deal won or
lost), the transitions allowed between them (optionally guarded by a `Condition`), an
initial stage, and progression rules that move a subject on by themselves when a condition
holds ("first purchase -> customer"). It is checked when built: every problem (an unknown or
duplicate stage, a transition to nowhere, a stage no path reaches) is reported at once in one
`ValidationError`, each with the path of the offending part.

Where a subject stands in a model, and how it got there, is its `StageHistory`
(`crmkit.domain.lifecycle.history`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

import attrs

from crmkit.domain._checks import optional_text
from crmkit.domain.interactions.channels import SubjectKind, enum_of
from crmkit.domain.lifecycle.checks import model_problems
from crmkit.domain.lifecycle.parts import (
    MAX_STAGES,
    Outcome,
    ProgressionRule,
    Stage,
    Transition,
    at_most,
    default_label,
    stage_name,
)
from crmkit.domain.rules.conditions import Facts
from crmkit.errors import GuardFailed, IllegalTransition, ValidationError

__all__ = [
    "MAX_PROGRESSION_RULES",
    "MAX_STAGES",
    "MAX_TRANSITIONS",
    "LifecycleModel",
    "Outcome",
    "ProgressionRule",
    "Stage",
    "Transition",
]

#: The most transitions a model may allow.
MAX_TRANSITIONS = 1000
#: The most progression rules a model may have.
MAX_PROGRESSION_RULES = 100


def _stages(value: Any) -> tuple[Stage, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single("stages", value, "must be a sequence of stages")
    given = at_most("stages", tuple(value), MAX_STAGES, "stages")
    items = tuple(Stage(v) if isinstance(v, str) else v for v in given)
    for index, item in enumerate(items):
        if not isinstance(item, Stage):
            raise ValidationError.single(f"stages[{index}]", item, "must be a Stage or a name")
    if not 0 < len(items) <= MAX_STAGES:
        raise ValidationError.single("stages", len(items), f"must hold 1-{MAX_STAGES} stages")
    return items


def _transitions(value: Any) -> tuple[Transition, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single("transitions", value, "must be a sequence of transitions")
    items = []
    for index, item in enumerate(
        at_most("transitions", tuple(value), MAX_TRANSITIONS, "transitions")
    ):
        if isinstance(item, tuple) and len(item) == 2:
            try:
                item = Transition(*item)
            except ValidationError as error:
                raise error.prefixed(f"transitions[{index}]") from None
        if not isinstance(item, Transition):
            raise ValidationError.single(
                f"transitions[{index}]", item, "must be a Transition or a (source, target) pair"
            )
        items.append(item)
    return tuple(items)


def _rules(value: Any) -> tuple[ProgressionRule, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single("rules", value, "must be a sequence of progression rules")
    items = at_most("rules", tuple(value), MAX_PROGRESSION_RULES, "progression rules")
    for index, item in enumerate(items):
        if not isinstance(item, ProgressionRule):
            raise ValidationError.single(f"rules[{index}]", item, "must be a ProgressionRule")
    return items


def _subject(value: Any) -> SubjectKind:
    return enum_of(SubjectKind, value, "subject")


def _first_stage(self: LifecycleModel) -> str:
    return self.stages[0].name


@attrs.frozen
class LifecycleModel:
    """A named state machine of stages, checked when built.

    Stages may be given as names, transitions as ``(source, target)`` pairs; the initial stage
    defaults to the first. ``subject`` says whether customers or accounts move through it.

    ```python
    from crmkit import LifecycleModel

    onboarding = LifecycleModel(
        "onboarding",
        stages=["signed_up", "activated", "paying"],
        transitions=[("signed_up", "activated"), ("activated", "paying")],
    )
    assert onboarding.allowed_from("signed_up") == ("activated",)
    ```
    """

    name: str = attrs.field(validator=stage_name("name"))
    stages: tuple[Stage, ...] = attrs.field(converter=_stages)
    transitions: tuple[Transition, ...] = attrs.field(converter=_transitions)
    initial: str = attrs.field(
        default=attrs.Factory(_first_stage, takes_self=True),
        validator=stage_name("initial"),
        kw_only=True,
    )
    rules: tuple[ProgressionRule, ...] = attrs.field(default=(), converter=_rules, kw_only=True)
    subject: SubjectKind = attrs.field(
        default=SubjectKind.CUSTOMER, converter=_subject, kw_only=True
    )
    description: str | None = attrs.field(default=None, validator=optional_text, kw_only=True)
    _by_name: Mapping[str, Stage] = attrs.field(init=False, eq=False, repr=False)
    _next: Mapping[str, tuple[Transition, ...]] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        problems = model_problems(self)
        if problems:
            raise ValidationError(problems)
        by_name = {stage.name: stage for stage in self.stages}
        following: dict[str, list[Transition]] = {name: [] for name in by_name}
        for transition in self.transitions:
            following[transition.source].append(transition)
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_next", {k: tuple(v) for k, v in following.items()})

    @property
    def stage_names(self) -> tuple[str, ...]:
        """Every stage's name, in model order."""
        return tuple(self._by_name)

    def stage(self, name: str) -> Stage:
        """The stage called ``name``; raises `ValidationError` naming the model's stages."""
        found = self._by_name.get(name)
        if found is None:
            raise ValidationError.single(
                "stage", name, f"is not a stage of {self.name}: {', '.join(self._by_name)}"
            )
        return found

    def allowed_from(self, stage: str) -> tuple[str, ...]:
        """The stages a subject in ``stage`` may move to next, in model order."""
        self.stage(stage)
        return tuple(t.target for t in self._next[stage])

    def transition(self, source: str, target: str) -> Transition | None:
        """The transition from ``source`` to ``target``, or ``None`` if there is none."""
        return next((t for t in self._next.get(source, ()) if t.target == target), None)

    def check_move(self, source: str, target: str, facts: Facts | None) -> Transition:
        """The transition for a move from ``source`` to ``target``.

        Raises `IllegalTransition` (naming the allowed next stages) when the model has no
        such transition, and `GuardFailed` when its guard does not hold for ``facts`` (a
        guarded move with no facts to check is refused too).
        """
        if source not in self._by_name:
            raise IllegalTransition(self.name, source, target, ())
        transition = self.transition(source, target)
        if transition is None:
            raise IllegalTransition(self.name, source, target, self.allowed_from(source))
        guard = transition.guard
        if guard is not None and (facts is None or not guard.holds(facts)):
            raise GuardFailed(self.name, source, target, guard.describe())
        return transition

    def is_path(self, stages: Iterable[str]) -> bool:
        """True when ``stages`` (oldest first) is a walk through the model's transitions."""
        walk = list(stages)
        return all(name in self._by_name for name in walk) and all(
            self.transition(a, b) is not None for a, b in pairwise(walk)
        )

    def to_mermaid(self) -> str:
        """The model as a Mermaid state diagram (``stateDiagram-v2``), for docs and UIs."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for stage in self.stages:
            if stage.label != default_label(stage.name):
                lines.append(f"    {stage.name} : {stage.label}")
        for transition in self.transitions:
            note = " : guarded" if transition.guard is not None else ""
            lines.append(f"    {transition.source} --> {transition.target}{note}")
        lines.extend(f"    {s.name} --> [*]" for s in self.stages if s.terminal)
        return "\n".join(lines)
