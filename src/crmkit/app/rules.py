"""How a service reads the rule a caller passes: a `Condition`, or a saved `Segment`."""

from __future__ import annotations

from crmkit.app.settings import Settings
from crmkit.domain import Condition, Segment, normalize_tag
from crmkit.domain.rules.conditions import AllOf
from crmkit.domain.segments.builder import field, tagged
from crmkit.domain.values.ids import check_id
from crmkit.errors import ValidationError

__all__ = ["checked_rule", "customer_filter", "rule_of"]


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


def customer_filter(
    settings: Settings, tag: str | None, account_id: str | None, where: object
) -> Condition | None:
    """One rule for customers with ``tag``, linked to ``account_id`` and matching ``where``
    (each optional; ``None`` when none is given)."""
    parts: list[Condition] = []
    if tag is not None:
        parts.append(tagged(normalize_tag(tag, "tag")))
    if account_id is not None:
        parts.append(field("account_id") == check_id("account_id", account_id))
    if where is not None:
        parts.append(checked_rule(settings, where, "where"))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AllOf(parts)
