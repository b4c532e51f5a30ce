"""How a service reads the rule a caller passes: a `Condition`, or a saved `Segment`."""

from __future__ import annotations

from crmkit.app.settings import Settings
from crmkit.domain import Condition, Segment
from crmkit.errors import ValidationError

__all__ = ["checked_rule", "rule_of"]


def rule_of(rule: object, path: str = "rule") -> Condition:
    """The `Condition` of ``rule``: itself, or a segment's rule.

    Raises:
        ValidationError: ``rule`` is neither (named ``path``).
    """
    if isinstance(rule, Condition):
        return rule
    if isinstance(rule, Segment):
        return rule.rule
    raise ValidationError.single(path, rule, "must be a Condition or a Segment")


def checked_rule(settings: Settings, rule: object, path: str = "rule") -> Condition:
    """`rule_of` ``rule``, with the traits, lifecycle models and stages it names checked
    against ``settings``: a typo is an error rather than a rule that silently matches
    nobody."""
    condition = rule_of(rule, path)
    Segment("rule", condition).check(settings.trait_schema, lifecycles=settings.lifecycles)
    return condition
