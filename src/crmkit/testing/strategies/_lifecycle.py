"""Strategies for lifecycle models, stages, transitions, stage changes and histories."""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import strategies as st

from crmkit.domain import (
    Condition,
    LifecycleModel,
    Outcome,
    ProgressionRule,
    Stage,
    StageChange,
    StageHistory,
    SubjectKind,
    Transition,
)
from crmkit.testing.strategies._parts import (
    _actors,
    _gaps,
    _history_starts,
    _reasons,
    _short_slugs,
    _stage_names,
)
from crmkit.testing.strategies._rules import conditions
from crmkit.testing.strategies._values import _text, ids, slugs, utc_datetimes


def stages(name: str | None = None, *, terminal: bool | None = None) -> st.SearchStrategy[Stage]:
    """Stages: a slug name (or ``name``), sometimes a label, a terminal flag (or
    ``terminal``), an outcome, sometimes a description."""
    return st.builds(
        _stage,
        _stage_names() if name is None else st.just(name),
        st.booleans() if terminal is None else st.just(terminal),
        _stage_parts(),
    )


def _stage(name: str, terminal: bool, parts: dict[str, Any]) -> Stage:
    label = parts.pop("label")
    if label is not None:
        parts["label"] = label
    return Stage(name, terminal=terminal, **parts)


@cache
def _stage_parts() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "label": st.none() | _text(20),
            "outcome": st.sampled_from(Outcome),
            "description": _reasons(),
        }
    )


def transitions() -> st.SearchStrategy[Transition]:
    """Transitions between two different stage names, sometimes guarded (outside a model)."""
    return st.builds(
        lambda pair, guard: Transition(*pair, guard=guard),
        st.lists(_stage_names(), min_size=2, max_size=2, unique=True),
        st.none() | conditions(2),
    )


def progression_rules() -> st.SearchStrategy[ProgressionRule]:
    """Progression rules with a slug name and target, a condition, and some sources
    (outside a model: use `lifecycle_models` for rules consistent with their model)."""
    return st.builds(
        ProgressionRule,
        slugs(12),
        _stage_names(),
        conditions(2),
        sources=st.frozensets(_stage_names(), max_size=3),
        description=st.none() | _text(40),
    )


@st.composite
def _lifecycle_model(
    draw: st.DrawFn, max_stages: int, subject: SubjectKind | None, min_rules: int
) -> Any:
    smallest = 2 if min_rules else 1
    names = draw(st.lists(_short_slugs(), min_size=smallest, max_size=max_stages, unique=True))
    initial = draw(st.sampled_from(names))
    # The initial stage leads somewhere whenever there is somewhere else to go.
    terminal = {n for n in names if draw(st.booleans()) and draw(st.booleans())}
    if len(names) > 1:
        terminal.discard(initial)
    # A random spanning tree from the initial stage: every stage is reachable ...
    others = draw(st.permutations([n for n in names if n != initial]))
    placed, edges = [initial], []
    for name in others:
        parents = [p for p in placed if p not in terminal]
        edges.append((draw(st.sampled_from(parents)), name))
        placed.append(name)
    # ... then a few more edges, never leaving a terminal stage.
    sources = [n for n in names if n not in terminal]
    if sources and len(names) > 1:
        extra = st.tuples(st.sampled_from(sources), st.sampled_from(names))
        for pair in draw(st.lists(extra, max_size=len(names) * 2)):
            if pair[0] != pair[1] and pair not in edges:
                edges.append(pair)
    edges = draw(st.permutations(edges))
    # Conditions must be ones the model's subjects can meet.
    subject = subject if subject is not None else draw(st.sampled_from(SubjectKind))
    guards = _guards(subject)
    moves = [Transition(a, b, guard=draw(guards)) for a, b in edges]
    rules = []
    targets = sorted({b for _, b in edges})
    count = draw(st.integers(min_rules, max(min_rules, 4))) if targets else 0
    for index in range(count):
        target = draw(st.sampled_from(targets))
        feeding = sorted(a for a, b in edges if b == target)
        rules.append(
            ProgressionRule(
                f"rule_{index}",
                target,
                draw(conditions(2, subject=subject)),
                sources=draw(st.just(()) | st.lists(st.sampled_from(feeding), min_size=1)),
                description=draw(_reasons()),
            )
        )
    return LifecycleModel(
        draw(_model_names()),
        stages=[_stage(n, n in terminal, draw(_stage_parts())) for n in names],
        transitions=moves,
        initial=initial,
        rules=rules,
        subject=subject,
        description=draw(_reasons()),
    )


@cache
def _guards(subject: SubjectKind) -> st.SearchStrategy[Condition | None]:
    return st.none() | conditions(2, subject=subject)


@cache
def _model_names() -> st.SearchStrategy[str]:
    return st.sampled_from(["customer_lifecycle", "pipeline"]) | _short_slugs()


def lifecycle_models(
    *, max_stages: int = 8, subject: SubjectKind | None = None, min_rules: int = 0
) -> st.SearchStrategy[LifecycleModel]:
    """Valid lifecycle models of 1 to ``max_stages`` stages.

    The transitions are a random spanning tree from the initial stage (so every stage is
    reachable) plus a few random edges; some stages are terminal (and have no way out), some
    transitions guarded. Progression rules, when there are any, target stages that some
    transition leads to, from sources that have that transition. ``subject`` fixes who
    moves through the model; ``min_rules`` asks for at least that many rules.
    """
    if max_stages < 1 or (min_rules and max_stages < 2):
        raise ValueError("max_stages must be at least 1 (2 for a model with rules)")
    return _lifecycle_model(max_stages, subject, min_rules)


def stage_changes() -> st.SearchStrategy[StageChange]:
    """Single stage changes (outside a history): an entry (no ``from_stage``) or a move
    between two different stages."""
    return st.builds(
        lambda pair, entry, at, reason, actor, rule: StageChange(
            None if entry else pair[0], pair[1], at, reason=reason, actor=actor, rule=rule
        ),
        st.lists(_stage_names(), min_size=2, max_size=2, unique=True),
        st.booleans(),
        utc_datetimes(),
        st.none() | _text(40),
        _actors(),
        st.none() | slugs(12),
    )


@st.composite
def _stage_history(draw: st.DrawFn, model: LifecycleModel | None, max_moves: int) -> Any:
    if model is None:
        model = draw(lifecycle_models())
    at = draw(_history_starts())
    first = draw(st.just(model.initial) | st.sampled_from(model.stage_names))
    reason = _reasons()
    changes = [StageChange(None, first, at, reason=draw(reason), actor=draw(_actors()))]
    gaps = _gaps()
    for _ in range(draw(st.integers(0, max_moves))):
        current = changes[-1].to_stage
        allowed = model.allowed_from(current)
        if not allowed:
            break
        target = draw(st.sampled_from(allowed))
        at += draw(gaps)
        rules = [
            r.name
            for r in model.rules
            if r.target == target and (not r.sources or current in r.sources)
        ]
        changes.append(
            StageChange(
                current,
                target,
                at,
                reason=draw(reason),
                actor=draw(_actors()),
                rule=draw(st.none() | st.sampled_from(rules)) if rules else None,
            )
        )
    return StageHistory(model.subject, draw(ids()), model.name, changes)


def stage_histories(
    model: LifecycleModel | None = None, *, max_moves: int = 8
) -> st.SearchStrategy[StageHistory]:
    """Stage histories as stored (version 0, no pending events): a subject entering
    ``model`` (a random one if ``None``) at its initial stage, or sometimes another, then
    a random walk of up to ``max_moves`` legal transitions at non-decreasing UTC instants
    (ties included), with random reasons and actors.

    Guards are not evaluated: the walk follows the model's graph, as a history of moves
    made with the facts of their day would.
    """
    return _stage_history(model, max_moves)
