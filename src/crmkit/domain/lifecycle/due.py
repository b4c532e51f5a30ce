"""Which customers a lifecycle model's rules could move: one segment rule for the whole set.

A batch re-evaluation that asks each customer in turn costs one round of reads per customer.
`due_rule` states instead, as one segment condition, who the model has work for at an
instant: every customer whose current stage has a progression rule (and transition guard)
that holds, plus those with no history in the model or at a stage it no longer has. A store
answers it set-wise (SQL compiles it to one query), and only those customers are progressed
one by one, by the same domain code as ever, so the answer is exactly the per-customer one.

`TimeInStage(N)` inside a rule means "in the stage being left for N days"; for the stages a
term is about, that is `StageCondition(model, stages, at_least_days=N)`, so it is rewritten
into the segment leaf that says it with the model named.
"""

from __future__ import annotations

from collections.abc import Sequence

from crmkit.domain.interactions.channels import SubjectKind
from crmkit.domain.lifecycle.model import LifecycleModel, ProgressionRule
from crmkit.domain.rules.conditions import (
    MAX_CONDITIONS,
    AllOf,
    AnyOf,
    Condition,
    Not,
    TimeInStage,
)
from crmkit.domain.rules.stage_leaves import StageCondition
from crmkit.domain.segments.segment import SEGMENT_CONDITION_TYPES
from crmkit.errors import ValidationError

__all__ = ["due_rule"]


def due_rule(model: LifecycleModel) -> Condition | None:
    """The customers ``model`` has work for at an instant, as one segment condition.

    It holds for a customer when they have no history in the model or sit at a stage the
    model no longer has (they enter, or are reported skipped), or when a progression rule
    from their current stage holds together with its transition's guard. It may hold for a
    customer whom the rules still leave where they are (a history whose last change is after
    the instant), never the other way round.

    Args:
        model: A customer lifecycle model.

    Returns:
        The condition, or ``None`` when no segment can say it: an account model, a rule
        using a condition that is no segment leaf, or a rule too deeply nested to wrap.
    """
    if model.subject is not SubjectKind.CUSTOMER:
        return None
    terms: list[Condition] = [Not(StageCondition(model.name, model.stage_names))]
    try:
        for rule in model.rules:
            terms.extend(_rule_terms(model, rule))
        due = _any(terms)
    except ValidationError:  # deeper or wider than a condition may be: ask one by one
        return None
    if not all(isinstance(leaf, SEGMENT_CONDITION_TYPES) for leaf in due.leaves()):
        return None
    return due


def _rule_terms(model: LifecycleModel, rule: ProgressionRule) -> list[Condition]:
    """One term per distinct guard among the stages ``rule`` moves from."""
    by_guard: dict[Condition | None, list[str]] = {}
    for source in rule.sources or model.stage_names:
        transition = model.transition(source, rule.target)
        if transition is not None:
            by_guard.setdefault(transition.guard, []).append(source)
    terms: list[Condition] = []
    for guard, stages in by_guard.items():
        parts: list[Condition] = [StageCondition(model.name, stages)]
        if guard is not None:
            parts.append(_situated(guard, model.name, stages))
        parts.append(_situated(rule.when, model.name, stages))
        terms.append(AllOf(parts))
    return terms


def _situated(condition: Condition, model: str, stages: Sequence[str]) -> Condition:
    """``condition`` with each `TimeInStage` said as a stage leaf of ``model``."""
    if isinstance(condition, TimeInStage):
        return StageCondition(model, stages, at_least_days=condition.at_least_days)
    if type(condition) is AllOf:
        return AllOf(tuple(_situated(c, model, stages) for c in condition.conditions))
    if type(condition) is AnyOf:
        return AnyOf(tuple(_situated(c, model, stages) for c in condition.conditions))
    if type(condition) is Not:
        return Not(_situated(condition.condition, model, stages))
    return condition


def _any(terms: list[Condition]) -> Condition:
    """``AnyOf(terms)``, in groups of at most `MAX_CONDITIONS`."""
    while len(terms) > MAX_CONDITIONS:
        terms = [AnyOf(terms[i : i + MAX_CONDITIONS]) for i in range(0, len(terms), MAX_CONDITIONS)]
    return terms[0] if len(terms) == 1 else AnyOf(terms)
