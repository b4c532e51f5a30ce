"""The names a rule uses, checked against what a CRM knows.

A rule that names a lifecycle model, a stage or a trait the CRM does not have is valid on its
own, and matches nobody: ``stage("customer_lifecyle") == "lapsd"`` looks for a stage no
customer is ever in. Checked against the CRM's settings (its lifecycle models and their
stages, its trait schema), such a typo is a `ValidationError` naming the rule path and the
unknown name, and suggesting the closest known one ("did you mean 'customer_lifecycle'?").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from difflib import get_close_matches

from crmkit.domain.customers.traits import TraitSchema
from crmkit.domain.interactions.channels import SubjectKind
from crmkit.domain.lifecycle.model import LifecycleModel
from crmkit.domain.rules.conditions import AllOf, AnyOf, Condition, Not
from crmkit.domain.rules.leaves import TraitCondition
from crmkit.domain.rules.stage_leaves import StageCondition
from crmkit.errors import FieldError, ValidationError

__all__ = ["check_names", "condition_paths", "name_problems", "unknown_name"]

# How many known names a message lists when none is close to the unknown one.
_LISTED = 10


def condition_paths(condition: Condition, path: str = "") -> Iterator[tuple[str, Condition]]:
    """Every node of a condition tree with its path from the root, depth first: ``("",
    root)``, then e.g. ``("conditions[1]", ...)`` and ``("conditions[1].condition", ...)``."""
    yield path, condition
    prefix = f"{path}." if path else ""
    if isinstance(condition, AllOf | AnyOf):
        for index, child in enumerate(condition.conditions):
            yield from condition_paths(child, f"{prefix}conditions[{index}]")
    elif isinstance(condition, Not):
        yield from condition_paths(condition.condition, f"{prefix}condition")


def unknown_name(what: str, name: str, known: Iterable[str]) -> str:
    """The message for ``name``, which is not one of ``known``: "is not {what}: did you
    mean 'x'?" with the closest known name, or the known names when none is close."""
    names = sorted(set(known))
    close = get_close_matches(name, names, n=1)
    if close:
        return f"is not {what}: did you mean {close[0]!r}?"
    if not names:
        return f"is not {what}: there are none"
    shown = ", ".join(names[:_LISTED]) + (", …" if len(names) > _LISTED else "")
    return f"is not {what}: use one of {shown}"


def name_problems(
    condition: Condition,
    *,
    schema: TraitSchema | None = None,
    lifecycles: Sequence[LifecycleModel] | None = None,
    path: str = "",
) -> list[FieldError]:
    """Every name in ``condition`` that the CRM's settings do not know, each with its path
    under ``path`` (``rule.conditions[1].model``).

    Args:
        condition: the rule to check.
        schema: the CRM's trait schema; ``None``: any trait may be compared.
        lifecycles: the CRM's lifecycle models; ``None``: stages are not checked (an empty
            sequence: the CRM tracks none, so every stage condition is unknown).
        path: where ``condition`` is, for the paths of the problems.

    Returns:
        The problems, in tree order; empty when every name is known.
    """
    problems: list[FieldError] = []
    for where, node in condition_paths(condition, path):
        at = f"{where}." if where else ""
        if isinstance(node, StageCondition) and lifecycles is not None:
            problems.extend(_stage_problems(node, lifecycles, at))
        elif isinstance(node, TraitCondition) and schema is not None:
            problems.extend(_trait_problems(node, schema, at))
    return problems


def _stage_problems(
    node: StageCondition, lifecycles: Sequence[LifecycleModel], at: str
) -> list[FieldError]:
    model = next((m for m in lifecycles if m.name == node.model), None)
    if model is None:
        mine = (m.name for m in lifecycles if m.subject is SubjectKind.CUSTOMER)
        message = unknown_name("a customer lifecycle model of this CRM", node.model, mine)
        return [FieldError(f"{at}model", node.model, message)]
    if model.subject is not SubjectKind.CUSTOMER:
        return [
            FieldError(f"{at}model", node.model, "is an account lifecycle: no customer is in it")
        ]
    known = model.stage_names
    return [
        FieldError(f"{at}stages", name, unknown_name(f"a stage of {model.name}", name, known))
        for name in sorted(node.stages)
        if name not in known
    ]


def _trait_problems(node: TraitCondition, schema: TraitSchema, at: str) -> list[FieldError]:
    definition = schema.traits.get(node.name)
    if definition is None:
        if schema.allow_undeclared:
            return []
        message = unknown_name("in the trait schema", node.name, schema.traits)
        return [FieldError(f"{at}name", node.name, message)]
    if node.type is not None and definition.type is not node.type:
        declared = f"the schema declares {node.name} as {definition.type}"
        return [FieldError(f"{at}type", node.type.value, declared)]
    return []


def check_names(
    condition: Condition,
    *,
    schema: TraitSchema | None = None,
    lifecycles: Sequence[LifecycleModel] | None = None,
    path: str = "",
) -> None:
    """Raise a `ValidationError` listing every problem `name_problems` finds."""
    problems = name_problems(condition, schema=schema, lifecycles=lifecycles, path=path)
    if problems:
        raise ValidationError(problems)
