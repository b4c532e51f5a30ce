"""The checks a lifecycle model passes when built: known stages, reachable from the initial
one, transitions and rules that name them, and leaves its subject can meet."""

from __future__ import annotations

from typing import Protocol

from crmkit.domain.interactions.channels import SubjectKind
from crmkit.domain.lifecycle.parts import ProgressionRule, Stage, Transition
from crmkit.domain.rules.conditions import Condition
from crmkit.domain.rules.leaves import (
    ConsentCondition,
    FieldCondition,
    TagCondition,
    TraitCondition,
)
from crmkit.domain.rules.stage_leaves import Members, StageCondition
from crmkit.errors import FieldError

__all__ = ["model_problems"]


class _Model(Protocol):
    """What the checks read of a `LifecycleModel` being built."""

    @property
    def stages(self) -> tuple[Stage, ...]: ...
    @property
    def transitions(self) -> tuple[Transition, ...]: ...
    @property
    def rules(self) -> tuple[ProgressionRule, ...]: ...
    @property
    def initial(self) -> str: ...
    @property
    def subject(self) -> SubjectKind: ...


def model_problems(model: _Model) -> list[FieldError]:
    """Every problem of ``model``, each with the path of the offending part (none: it is
    sound)."""
    problems: list[FieldError] = []
    seen: set[str] = set()
    for index, stage in enumerate(model.stages):
        if stage.name in seen:
            problems.append(FieldError(f"stages[{index}].name", stage.name, "is a duplicate"))
        seen.add(stage.name)
    if model.initial not in seen:
        problems.append(FieldError("initial", model.initial, "is not one of the stages"))
    problems.extend(_transition_problems(model, seen))
    if model.initial in seen:
        problems.extend(_reachability_problems(model))
    problems.extend(_rule_problems(model, seen))
    problems.extend(_subject_problems(model))
    return problems


def _subject_problems(model: _Model) -> list[FieldError]:
    """Conditions that could never hold for the model's subjects (a customer's profile
    field, tag or trait in an account model) are mistakes, so they are refused."""
    conditions = [
        *((f"transitions[{i}].guard", t.guard) for i, t in enumerate(model.transitions)),
        *((f"rules[{i}].when", r.when) for i, r in enumerate(model.rules)),
    ]
    problems = []
    for path, condition in conditions:
        for leaf in condition.leaves() if condition is not None else ():
            if model.subject is not SubjectKind.ACCOUNT:
                continue
            if isinstance(leaf, TagCondition | TraitCondition):
                problems.append(
                    FieldError(path, leaf.describe(), "accounts have no tags or traits")
                )
            elif _customer_only(leaf):
                problems.append(FieldError(path, leaf.describe(), "only customers meet it"))
    return problems


def _customer_only(leaf: Condition) -> bool:
    """A segment leaf that looks at what only a customer has: profile fields (an account
    model may still compare ``account.*`` fields), traits, consent, stages, membership."""
    if isinstance(leaf, FieldCondition):
        return not leaf.field.startswith("account.")
    return isinstance(leaf, TraitCondition | ConsentCondition | StageCondition | Members)


def _transition_problems(model: _Model, stages: set[str]) -> list[FieldError]:
    problems = []
    terminal = {s.name for s in model.stages if s.terminal}
    pairs: set[tuple[str, str]] = set()
    for index, t in enumerate(model.transitions):
        path = f"transitions[{index}]"
        if t.source not in stages:
            problems.append(FieldError(f"{path}.source", t.source, "is not one of the stages"))
        elif t.source in terminal:
            problems.append(FieldError(f"{path}.source", t.source, "is a terminal stage"))
        if t.target not in stages:
            problems.append(
                FieldError(f"{path}.target", t.target, "leads nowhere: not one of the stages")
            )
        if t.source == t.target:
            problems.append(FieldError(path, (t.source, t.target), "must change the stage"))
        if (t.source, t.target) in pairs:
            problems.append(FieldError(path, (t.source, t.target), "is a duplicate"))
        pairs.add((t.source, t.target))
    return problems


def _reachability_problems(model: _Model) -> list[FieldError]:
    reached = {model.initial}
    frontier = [model.initial]
    while frontier:
        stage = frontier.pop()
        for t in model.transitions:
            if t.source == stage and t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    return [
        FieldError(f"stages[{i}].name", s.name, f"cannot be reached from {model.initial!r}")
        for i, s in enumerate(model.stages)
        if s.name not in reached
    ]


def _rule_problems(model: _Model, stages: set[str]) -> list[FieldError]:
    problems = []
    names: set[str] = set()
    pairs = {(t.source, t.target) for t in model.transitions}
    for index, rule in enumerate(model.rules):
        path = f"rules[{index}]"
        if rule.name in names:
            problems.append(FieldError(f"{path}.name", rule.name, "is a duplicate"))
        names.add(rule.name)
        if rule.target not in stages:
            problems.append(FieldError(f"{path}.target", rule.target, "is not one of the stages"))
            continue
        for source in sorted(rule.sources):
            if source not in stages:
                problems.append(FieldError(f"{path}.sources", source, "is not one of the stages"))
            elif (source, rule.target) not in pairs:
                problems.append(
                    FieldError(f"{path}.sources", source, f"has no transition to {rule.target!r}")
                )
        if not rule.sources and not any(target == rule.target for _, target in pairs):
            problems.append(FieldError(f"{path}.target", rule.target, "no transition leads here"))
    return problems
