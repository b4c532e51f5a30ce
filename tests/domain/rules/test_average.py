"""The average measure: the mean amount in one currency, compared exactly, missing when none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import Channel, CustomerId, Interaction, InteractionId, Money
from crmkit.domain import AggregateCondition, Measure, Op, compile_condition
from crmkit.errors import ValidationError
from crmkit.segments import Condition, Facts, Window, days, interactions, purchases

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
_MAX = 2**63 - 1


def bought(*amounts: Money | None, days_ago: int = 1, kind: str = "purchase") -> Facts:
    """A customer with one interaction of ``kind`` per amount, ``days_ago`` before AS_OF."""
    return Facts(
        as_of=AS_OF,
        interactions=[
            Interaction(
                InteractionId(f"i{n}"),
                CustomerId("c1"),
                AS_OF - timedelta(days=days_ago),
                kind,
                Channel.WEB,
                amount=amount,
            )
            for n, amount in enumerate(amounts)
        ],
    )


def answers(rule: Condition, facts: Facts) -> bool:
    """``holds``, after checking that the compiled evaluator says the same."""
    compiled = compile_condition(rule)(facts)
    assert compiled == rule.holds(facts)
    return compiled


EUR = "EUR"


class TestAverage:
    def test_the_builder_makes_an_avg_leaf_in_money(self) -> None:
        """``purchases(last=days(90)).avg("EUR") >= 50``: 50 EUR as Money, purchases only."""
        rule = purchases(last=days(90)).avg(EUR) >= 50
        assert rule == AggregateCondition(
            Measure.AVG,
            Op.GE,
            Money.of(50, EUR),
            currency=EUR,
            kinds=["purchase"],
            window=Window(last_days=90),
        )

    def test_an_average_exactly_on_the_operand_is_at_least_it(self) -> None:
        """40 and 60 EUR average exactly 50 EUR: ``>=`` and ``==`` hold, ``>`` does not."""
        facts = bought(Money.of(40, EUR), Money.of(60, EUR))
        average = purchases().avg(EUR)
        assert answers(average >= 50, facts)
        assert answers(average == 50, facts)
        assert not answers(average > 50, facts)
        assert not answers(average < 50, facts)

    def test_an_average_is_never_rounded(self) -> None:
        """49.99 and 50.00 average 49.995 EUR: not 50, not 49.99; between them."""
        facts = bought(Money.of("49.99", EUR), Money.of(50, EUR))
        average = purchases().avg(EUR)
        assert not answers(average >= 50, facts)
        assert answers(average > "49.99", facts)
        assert answers(average.between("49.99", 50), facts)
        assert not answers(average == "49.99", facts)

    def test_a_customer_with_no_amount_in_the_currency_has_no_average(self) -> None:
        """No purchase, or only other currencies, or no amounts: only ``is_null`` holds,
        and the negation of a comparison is plainly true."""
        average = purchases().avg(EUR)
        for facts in (bought(), bought(Money.of(10, "USD")), bought(None, None)):
            assert answers(average.is_null(), facts)
            assert not answers(average.exists(), facts)
            for rule in (average >= 0, average < 0, average == 0, average != 0):
                assert not answers(rule, facts)
                assert answers(~rule, facts)

    def test_other_currencies_and_missing_amounts_are_left_out(self) -> None:
        """The mean of the EUR amounts only: 10 USD and a free purchase count for nothing."""
        facts = bought(Money.of(30, EUR), Money.of(10, "USD"), None, Money.of(50, EUR))
        assert answers(purchases().avg(EUR) == 40, facts)
        assert answers(purchases().avg("USD") == 10, facts)

    def test_huge_amounts_average_exactly(self) -> None:
        """Sums beyond 64 bits, an average on the edge of the range."""
        facts = bought(Money(_MAX, EUR), Money(_MAX - 2, EUR))
        average = purchases().avg(EUR)
        assert answers(average == Money(_MAX - 1, EUR), facts)
        assert not answers(average > Money(_MAX - 1, EUR), facts)

    def test_the_window_and_filters_select_what_is_averaged(self) -> None:
        """An old purchase is outside the last 90 days; a refund is not a purchase."""
        old, recent = bought(Money.of(500, EUR), days_ago=200), bought(Money.of(20, EUR))
        facts = Facts(as_of=AS_OF, interactions=[*old.interactions, *recent.interactions])
        assert answers(purchases(last=days(90)).avg(EUR) == 20, facts)
        assert answers(purchases().avg(EUR) == 260, facts)
        refund = bought(Money.of(70, EUR), kind="refund")
        assert answers(purchases().avg(EUR).is_null(), refund)
        assert answers(interactions(kinds=["refund"]).avg(EUR) == 70, refund)

    def test_the_measure_is_an_exact_fraction(self) -> None:
        """``measure_of`` gives the mean in minor units as a `Fraction`, or None."""
        rule = purchases().avg(EUR) >= 0
        assert rule.measure_of(bought(Money(1, EUR), Money(2, EUR))) == Fraction(3, 2)
        assert rule.measure_of(bought()) is None

    def test_an_average_needs_money_in_its_currency(self) -> None:
        """A plain number becomes Money through the builder; a bare leaf needs both."""
        with pytest.raises(ValidationError, match="currency"):
            AggregateCondition(Measure.AVG, Op.GE, Money.of(5, "USD"), currency=EUR)
        with pytest.raises(ValidationError, match="Money"):
            AggregateCondition(Measure.AVG, Op.GE, 5, currency=EUR)
        with pytest.raises(ValidationError, match="currency"):
            AggregateCondition(Measure.AVG, Op.IS_NULL)
        with pytest.raises(ValidationError, match="op"):
            AggregateCondition(Measure.AVG, Op.IN, [Money.of(5, EUR)], currency=EUR)


amounts = st.lists(
    st.one_of(
        st.none(),
        st.builds(Money, st.integers(0, _MAX), st.sampled_from([EUR, "USD"])),
        st.builds(Money, st.sampled_from([0, 1, 4_999, 5_000, 5_001, _MAX]), st.just(EUR)),
    ),
    max_size=6,
)
operands = st.sampled_from([0, 1, 4_999, 5_000, 5_001, _MAX]) | st.integers(-_MAX, _MAX)
ops = st.sampled_from([Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE])


class TestAverageProperties:
    @given(amounts, ops, operands)
    def test_the_average_compares_like_the_exact_mean(
        self, paid: list[Money | None], op: Op, operand: int
    ) -> None:
        """``avg op v`` is ``mean op v`` over the exact rational mean of the EUR amounts,
        false without one; the compiled evaluator agrees; ``~`` is its plain negation."""
        facts = bought(*paid)
        rule = AggregateCondition(
            Measure.AVG, op, Money(operand, EUR), currency=EUR, kinds=["purchase"]
        )
        minors = [m.minor for m in paid if m is not None and m.currency == EUR]
        if minors:
            mean = Fraction(sum(minors), len(minors))
            want = {
                Op.EQ: mean == operand,
                Op.NE: mean != operand,
                Op.LT: mean < operand,
                Op.LE: mean <= operand,
                Op.GT: mean > operand,
                Op.GE: mean >= operand,
            }[op]
        else:
            want = False
        assert answers(rule, facts) is want
        assert answers(~rule, facts) is (not want)

    @given(amounts, operands, operands)
    def test_between_is_both_bounds(self, paid: list[Money | None], a: int, b: int) -> None:
        """``between(low, high)`` holds exactly when ``>= low`` and ``<= high`` both do."""
        facts = bought(*paid)
        low, high = sorted([a, b])
        average = purchases().avg(EUR)
        both = answers(average >= Money(low, EUR), facts) and answers(
            average <= Money(high, EUR), facts
        )
        assert answers(average.between(Money(low, EUR), Money(high, EUR)), facts) is both
