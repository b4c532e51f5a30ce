"""The parts of a lifecycle model: its stages, the transitions allowed between them and the
progression rules that move a subject on by themselves (`crmkit.domain.lifecycle.model`
puts them together and checks the whole)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

import attrs

from crmkit.domain._checks import SLUG, boolean, optional_text
from crmkit.domain.interactions.channels import enum_of
from crmkit.domain.rules.conditions import Condition
from crmkit.errors import ValidationError

__all__ = [
    "MAX_STAGES",
    "Outcome",
    "ProgressionRule",
    "Stage",
    "Transition",
    "at_most",
    "default_label",
    "stage_name",
]

#: The most stages a model may have (and so the most ``sources`` a rule may name).
MAX_STAGES = 100


def at_most(path: str, items: tuple[Any, ...], limit: int, what: str) -> tuple[Any, ...]:
    """``items``, refused before any is looked at when there are more than ``limit``."""
    if len(items) > limit:
        raise ValidationError.single(path, len(items), f"must hold at most {limit} {what}")
    return items


class Outcome(StrEnum):
    """What reaching a stage means for a pipeline: still open, won, or lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


def stage_name(path: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str) or not SLUG.fullmatch(value):
            raise ValidationError.single(path, value, "must be a lower-case slug like 'lead'")

    return check


def _label_of(stage: Stage) -> Any:
    # A name that is not text is left for the name's validator to refuse.
    name: Any = stage.name
    return default_label(name) if isinstance(name, str) else name


def _outcome(value: Any) -> Outcome:
    return enum_of(Outcome, value, "outcome")


@attrs.frozen
class Stage:
    """One stage of a lifecycle model.

    Attributes:
        name: a lower-case slug, unique in the model (``"customer"``).
        label: how to show it (defaults to the name, capitalised, with spaces).
        terminal: a final stage: no transition may leave it.
        outcome: for pipelines, whether reaching it means the deal was won or lost.
        description: what being in this stage means, for people.
    """

    name: str = attrs.field(validator=stage_name("name"))
    label: str = attrs.field(
        default=attrs.Factory(_label_of, takes_self=True),
        validator=optional_text,
        kw_only=True,
    )
    terminal: bool = attrs.field(default=False, validator=boolean, kw_only=True)
    outcome: Outcome = attrs.field(default=Outcome.OPEN, converter=_outcome, kw_only=True)
    description: str | None = attrs.field(default=None, validator=optional_text, kw_only=True)


def default_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _guard(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, Condition):
        raise ValidationError.single("guard", value, "must be a Condition or None")


@attrs.frozen
class Transition:
    """An allowed move from ``source`` to ``target``; with a ``guard``, only when it holds."""

    source: str = attrs.field(validator=stage_name("source"))
    target: str = attrs.field(validator=stage_name("target"))
    guard: Condition | None = attrs.field(default=None, validator=_guard, kw_only=True)


def _sources(value: Any) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single("sources", value, "must be a collection of stage names")
    items = at_most("sources", tuple(value), MAX_STAGES, "stage names")
    for item in items:
        if not isinstance(item, str) or not SLUG.fullmatch(item):
            raise ValidationError.single("sources", item, "must be a stage name (a slug)")
    return frozenset(items)


def _when(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Condition):
        raise ValidationError.single("when", value, "must be a Condition")


@attrs.frozen
class ProgressionRule:
    """Move a subject to ``target`` by itself when ``when`` holds.

    The rule applies from each stage in ``sources`` (empty: from every stage that has a
    transition to ``target``). The transition's guard must hold too.
    """

    name: str = attrs.field(validator=stage_name("name"))
    target: str = attrs.field(validator=stage_name("target"))
    when: Condition = attrs.field(validator=_when)
    sources: frozenset[str] = attrs.field(default=frozenset(), converter=_sources, kw_only=True)
    description: str | None = attrs.field(default=None, validator=optional_text, kw_only=True)
