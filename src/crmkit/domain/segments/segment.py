"""A segment: a named rule saying who is in a group of customers.

The rule is a `Condition` tree (see `crmkit.domain.rules.leaves` for the leaves). A segment
is checked when it is built: its name is a slug, and its leaves are ones a customer can
meet. `Segment.check` also checks the names it uses (traits, lifecycle models, stages)
against a CRM's settings: its `TraitSchema` and its lifecycle models.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from crmkit.domain._checks import SLUG, optional_text
from crmkit.domain.customers.traits import TraitSchema
from crmkit.domain.lifecycle.model import LifecycleModel
from crmkit.domain.rules.aggregates import AggregateCondition
from crmkit.domain.rules.conditions import AllOf, AnyOf, Condition, Facts, Not
from crmkit.domain.rules.evaluate import Matcher, compile_condition
from crmkit.domain.rules.leaves import (
    ConsentCondition,
    FieldCondition,
    TagCondition,
    TraitCondition,
)
from crmkit.domain.rules.names import condition_paths, name_problems
from crmkit.domain.rules.stage_leaves import Members, StageCondition
from crmkit.errors import FieldError, ValidationError

__all__ = ["SEGMENT_CONDITION_TYPES", "Segment", "condition_paths"]

#: The conditions a segment's rule may hold. `TimeInStage` is missing: it looks at the stage
#: a lifecycle model is checking, and a segment checks none (a segment names the model and
#: the stages: `StageCondition(..., at_least_days=N)`).
SEGMENT_CONDITION_TYPES: tuple[type[Condition], ...] = (
    AllOf,
    AnyOf,
    Not,
    FieldCondition,
    TraitCondition,
    ConsentCondition,
    StageCondition,
    Members,
    AggregateCondition,
    TagCondition,
)


def _name(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValidationError.single("name", value, "must be a lower-case slug like 'vip_de'")


def _rule(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Condition):
        raise ValidationError.single("rule", value, "must be a Condition")
    problems = [
        FieldError(_under("rule", path), node.describe(), problem)
        for path, node in condition_paths(value)
        if (problem := _segment_problem(node))
    ]
    if problems:
        raise ValidationError(problems)


def _segment_problem(node: Condition) -> str | None:
    if not isinstance(node, SEGMENT_CONDITION_TYPES):
        return f"{node.kind or type(node).__name__} cannot be used in a segment"
    return None


def _under(prefix: str, path: str) -> str:
    return prefix if not path else f"{prefix}.{path}"


@attrs.frozen
class Segment:
    """A named group of customers: those for whom ``rule`` holds.

    Attributes:
        name: a lower-case slug (``"vip_de"``) that names the segment in its tenant.
        rule: a `Condition` tree of the conditions listed in `SEGMENT_CONDITION_TYPES`.
        description: what the group is for, for people.
    """

    name: str = attrs.field(validator=_name)
    rule: Condition = attrs.field(validator=_rule)
    description: str | None = attrs.field(default=None, validator=optional_text)

    def check(
        self,
        schema: TraitSchema | None = None,
        *,
        lifecycles: Iterable[LifecycleModel] | None = None,
    ) -> None:
        """Refuse names the CRM's settings do not know, with a `ValidationError` naming the
        path of every such node (``rule.conditions[1].name``), the unknown name and the
        closest known one ("did you mean 'customer_lifecycle'?").

        Args:
            schema: the trait schema: traits it does not declare (unless it allows others),
                or declares with another type, are refused. ``None``: any trait.
            lifecycles: the lifecycle models: stage conditions naming another model, an
                account model or a stage the model does not have are refused. ``None``:
                stages are not checked; an empty list: the CRM tracks no model.

        Raises:
            ValidationError: with every problem found.
        """
        models = None if lifecycles is None else tuple(lifecycles)
        problems = name_problems(self.rule, schema=schema, lifecycles=models, path="rule")
        if problems:
            raise ValidationError(problems)

    def holds(self, facts: Facts) -> bool:
        """True when the customer of ``facts`` is in the segment (by the reference walk of
        the tree; `matcher` is faster for many customers)."""
        return self.rule.holds(facts)

    def matcher(self) -> Matcher:
        """The rule compiled once into a function of `Facts`: use it to test many customers."""
        return compile_condition(self.rule)

    def describe(self) -> str:
        """The segment in words."""
        return f"{self.name}: {self.rule.describe()}"
