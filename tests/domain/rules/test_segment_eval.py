"""The compiled evaluator gives exactly the answer of ``Condition.holds``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from crmkit import Channel, CustomerId, Interaction, InteractionId, Money
from crmkit.domain import compile_condition, evaluate, matching
from crmkit.segments import Condition, Facts, days, interactions, purchases, tagged
from crmkit.testing import strategies as cs

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)


def bought(days_ago: int, n: int, euros: int = 10) -> Interaction:
    """A purchase of ``euros`` by ``c1``."""
    return Interaction(
        InteractionId(f"i{n}"),
        CustomerId("c1"),
        AS_OF - timedelta(days=days_ago),
        "purchase",
        Channel.WEB,
        amount=Money.of(euros, "EUR"),
    )


class TestCompiled:
    """``compile_condition(c)(facts) == c.holds(facts)``."""

    @given(cs.segment_rules(4), st.lists(cs.segment_facts(), min_size=1, max_size=3))
    def test_compiled_rules_agree_with_holds(self, rule: Condition, many: list[Facts]) -> None:
        """For random trees over every leaf kind, and random customers."""
        matcher = compile_condition(rule)
        assert [matcher(f) for f in many] == [rule.holds(f) for f in many]

    @given(cs.conditions(3), cs.facts())
    def test_compiled_lifecycle_conditions_agree_too(self, rule: Condition, facts: Facts) -> None:
        """Lifecycle conditions (with `TimeInStage`) compile to their own meaning."""
        assert compile_condition(rule)(facts) == rule.holds(facts)

    def test_aggregates_over_the_same_interactions_share_one_selection(self) -> None:
        """A count and a sum of the same purchases: one pass, both right, per customer."""
        recent = purchases(last=days(30))
        rule = (recent.count() >= 2) & (recent.sum("EUR") >= 25) & ~tagged("blocked")
        matcher = compile_condition(rule)
        rich = Facts(as_of=AS_OF, interactions=[bought(1, 1, 20), bought(2, 2, 20)])
        poor = Facts(as_of=AS_OF, interactions=[bought(1, 1), bought(2, 2), bought(40, 3, 99)])
        assert [matcher(f) for f in (poor, rich, poor)] == [False, True, False]

    def test_matching_and_evaluate_compile_once(self) -> None:
        """Helpers over many customers."""
        rule = interactions().count() >= 1
        some = Facts(as_of=AS_OF, interactions=[bought(1, 1)])
        none = Facts(as_of=AS_OF)
        assert list(matching(rule, [some, none])) == [some]
        assert list(evaluate(rule, [some, none])) == [(some, True), (none, False)]
