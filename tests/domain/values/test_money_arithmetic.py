"""Money arithmetic a host needs: scaling by exact factors with a stated rounding, sums, and
splitting into parts that sum exactly; everything else is refused with crmkit's errors."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import Money
from crmkit.domain.values.money import MAX_MINOR, MAX_PARTS
from crmkit.errors import CurrencyMismatch, UsageError, ValidationError
from crmkit.testing.strategies import money

small = 10**15
euros = money("EUR", -small, small)
one_euro = Money.of("1", "EUR")

exact_factors = st.integers(-1000, 1000) | st.decimals(
    min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False, places=4
)
int_ratios = st.integers(0, 10**6)
decimal_ratios = st.decimals(min_value=0, max_value=10**6, places=3)
ratio_lists = st.lists(int_ratios | decimal_ratios, min_size=1, max_size=12).filter(
    lambda ratios: any(r > 0 for r in ratios)
)


class TestScaling:
    """``money * factor`` for an int or Decimal; `Money.multiply` to choose the rounding."""

    def test_a_decimal_factor_scales_with_bankers_rounding(self) -> None:
        """1 EUR * 1.5 is 1.50 EUR; 0.05 EUR * 0.5 is 2.5 cents, rounded half to even: 2."""
        assert one_euro * Decimal("1.5") == Money.of("1.50", "EUR")
        assert Money(5, "EUR") * Decimal("0.5") == Money(2, "EUR")
        assert Money(7, "EUR") * Decimal("0.5") == Money(4, "EUR")

    def test_a_factor_on_the_left_scales_alike(self) -> None:
        """Decimal("1.5") * money and 3 * money are the same as the other way round."""
        assert Decimal("1.5") * one_euro == one_euro * Decimal("1.5")
        assert 3 * one_euro == one_euro * 3 == Money.of("3", "EUR")

    @pytest.mark.parametrize(
        ("rounding", "expected"),
        [
            (ROUND_HALF_EVEN, 2),
            (ROUND_HALF_UP, 3),
            (ROUND_HALF_DOWN, 2),
            (ROUND_DOWN, 2),
            (ROUND_UP, 3),
            (ROUND_FLOOR, 2),
            (ROUND_CEILING, 3),
        ],
    )
    def test_multiply_rounds_as_told(self, rounding: str, expected: int) -> None:
        """2.5 cents in every rounding mode a host might state."""
        assert Money(5, "EUR").multiply(Decimal("0.5"), rounding) == Money(expected, "EUR")

    def test_an_unknown_rounding_mode_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            one_euro.multiply(Decimal("1.5"), "half_even")
        assert caught.value.paths == ("rounding",)

    @pytest.mark.parametrize("factor", [1.5, Fraction(3, 2), True, "1.5", None])
    def test_a_factor_that_is_no_exact_number_is_refused_at_factor(self, factor: Any) -> None:
        """A float would bring binary error back in; a bool or text is a mistake."""
        for scale in (operator.mul, lambda m, f: f * m, lambda m, f: m.multiply(f)):
            with pytest.raises(ValidationError) as caught:
                scale(one_euro, factor)
            assert caught.value.paths == ("factor",)

    def test_a_decimal_with_more_than_60_digits_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="60 digits"):
            one_euro * Decimal("1." + "1" * 60)

    @pytest.mark.parametrize("factor", [2**63, Decimal("1E+50"), Decimal(2**63)])
    def test_a_product_beyond_the_storable_range_is_refused(self, factor: Any) -> None:
        with pytest.raises(ValidationError) as caught:
            one_euro * factor
        assert caught.value.paths == ("factor",)

    def test_money_times_money_is_refused(self) -> None:
        with pytest.raises(UsageError, match="Money times Money"):
            one_euro * one_euro

    @pytest.mark.parametrize("divide", [operator.truediv, operator.floordiv])
    def test_division_is_refused_pointing_at_split(self, divide: Callable[..., Any]) -> None:
        with pytest.raises(UsageError, match=r"split\(n\)"):
            divide(one_euro, 3)

    @given(money(), st.sampled_from([1, Decimal(1), Decimal("1.000")]))
    def test_scaling_by_one_is_the_identity(self, amount: Money, one: Any) -> None:
        assert amount * one == amount == one * amount
        assert amount.multiply(one, ROUND_UP) == amount

    @given(euros, exact_factors)
    def test_scaling_is_the_exact_product_rounded_half_to_even(
        self, amount: Money, factor: Any
    ) -> None:
        exact = Decimal(amount.minor) * Decimal(factor)
        assert (amount * factor).minor == int(exact.to_integral_value(ROUND_HALF_EVEN))
        assert abs((amount * factor).minor - exact) <= Decimal("0.5")

    @given(euros, st.integers(-1000, 1000))
    def test_an_int_factor_is_exact(self, amount: Money, factor: int) -> None:
        assert (amount * factor).minor == amount.minor * factor


class TestAddingNumbers:
    """Only Money adds to Money; the one exception is ``0 + money``, so that sum() works."""

    @pytest.mark.parametrize(
        "combine",
        [
            lambda m: m + 1,
            lambda m: 1 + m,
            lambda m: m + 0,
            lambda m: m - 1,
            lambda m: 1 - m,
            lambda m: 0 - m,
            lambda m: m + Decimal("1"),
            lambda m: Decimal("1") + m,
            lambda m: m + 1.0,
            lambda m: 0.0 + m,
            lambda m: False + m,
            lambda m: m + "1",
            lambda m: None + m,
        ],
    )
    def test_a_plain_number_is_neither_added_nor_subtracted(
        self, combine: Callable[[Money], object]
    ) -> None:
        with pytest.raises(UsageError, match="Money of the same currency"):
            combine(one_euro)

    def test_the_message_names_the_type_not_the_value(self) -> None:
        """A number beside an amount might be personal: only its type is shown."""
        with pytest.raises(UsageError) as caught:
            one_euro + 123456789
        assert "123456789" not in str(caught.value)
        assert "int" in str(caught.value)

    def test_sum_needs_no_start(self) -> None:
        amounts = [Money.of("1.50", "EUR"), Money.of("2.25", "EUR"), Money.of("-0.75", "EUR")]
        assert sum(amounts) == Money.of("3.00", "EUR")
        assert 0 + one_euro == one_euro

    def test_the_sum_of_nothing_is_the_start(self) -> None:
        """sum([]) is the int 0 (Python's start): give a start for lists that may be empty."""
        assert sum([]) == 0
        assert sum([], Money.zero("EUR")) == Money.zero("EUR")

    @given(st.lists(euros, min_size=1, max_size=20))
    def test_sum_equals_folding_plus(self, amounts: list[Money]) -> None:
        assert sum(amounts) == functools.reduce(operator.add, amounts)
        assert sum(amounts, Money.zero("EUR")) == sum(amounts)

    @given(st.lists(money(), min_size=2, max_size=6))
    def test_a_currency_mismatch_is_always_refused(self, amounts: list[Money]) -> None:
        """Whatever the amounts, two currencies never combine: no rate is guessed."""
        currencies = {m.currency for m in amounts}
        if len(currencies) == 1:
            assert sum(amounts).currency in currencies
            return
        with pytest.raises(CurrencyMismatch):
            sum(amounts)
        first = amounts[0]
        other = next(m for m in amounts if m.currency != first.currency)
        for combine in (operator.add, operator.sub, operator.lt, operator.ge):
            with pytest.raises(CurrencyMismatch):
                combine(first, other)


class TestAllocate:
    """`allocate` splits by ratios and `split` into equal parts, losing no minor unit."""

    def test_a_hundred_euros_in_one_to_two(self) -> None:
        assert Money.of("100", "EUR").allocate([1, 2]) == [
            Money.of("33.33", "EUR"),
            Money.of("66.67", "EUR"),
        ]

    def test_ten_euros_in_three_gives_the_extra_cent_to_the_first(self) -> None:
        assert Money.of("10", "EUR").split(3) == [
            Money.of("3.34", "EUR"),
            Money.of("3.33", "EUR"),
            Money.of("3.33", "EUR"),
        ]

    def test_decimal_ratios_and_percentages_split_alike(self) -> None:
        amount = Money.of("1000.03", "EUR")
        assert amount.allocate([Decimal("0.5"), Decimal("0.5")]) == amount.allocate([50, 50])
        assert sum(amount.allocate([50, 50])) == amount

    def test_a_zero_ratio_gets_nothing(self) -> None:
        assert Money(5, "EUR").allocate([1, 0, 1]) == [
            Money(3, "EUR"),
            Money(0, "EUR"),
            Money(2, "EUR"),
        ]

    def test_a_refund_splits_as_its_purchase_does_negated(self) -> None:
        assert Money.of("-10", "EUR").split(3) == [-m for m in Money.of("10", "EUR").split(3)]

    def test_a_zero_decimal_currency_splits_in_whole_units(self) -> None:
        thirds = [Money(34, "JPY"), Money(33, "JPY"), Money(33, "JPY")]
        assert Money.of("100", "JPY").split(3) == thirds

    @pytest.mark.parametrize(
        ("ratios", "path"),
        [
            ([1.5, 1], "ratios[0]"),
            ([1, -1], "ratios[1]"),
            ([0, 0], "ratios"),
            ([], "ratios"),
            ("12", "ratios"),
            (3, "ratios"),
            ([True], "ratios[0]"),
            ([Decimal("NaN")], "ratios[0]"),
            ([Decimal("1E-40")], "ratios[0]"),
            ([10**40], "ratios[0]"),
            ([1] * (MAX_PARTS + 1), "ratios"),
        ],
    )
    def test_bad_ratios_are_refused_at_their_path(self, ratios: Any, path: str) -> None:
        with pytest.raises(ValidationError) as caught:
            one_euro.allocate(ratios)
        assert caught.value.paths == (path,)

    @pytest.mark.parametrize("parts", [0, -1, MAX_PARTS + 1, 2.0, True, "3"])
    def test_bad_part_counts_are_refused(self, parts: Any) -> None:
        with pytest.raises(ValidationError) as caught:
            one_euro.split(parts)
        assert caught.value.paths == ("parts",)

    @given(money(), ratio_lists)
    def test_parts_sum_exactly_and_stay_within_a_unit_of_their_share(
        self, amount: Money, ratios: list[Any]
    ) -> None:
        parts = amount.allocate(ratios)
        assert len(parts) == len(ratios)
        assert sum(parts) == amount
        assert {p.currency for p in parts} == {amount.currency}
        total = sum(Decimal(r) for r in ratios)
        for part, ratio in zip(parts, ratios, strict=True):
            share = Decimal(amount.minor) * Decimal(ratio) / total
            assert abs(part.minor - share) < 1
            if ratio == 0:
                assert part.minor == 0

    @given(money(None, -MAX_MINOR, MAX_MINOR), st.integers(1, 50))
    def test_split_parts_sum_exactly_and_differ_by_at_most_one_unit(
        self, amount: Money, n: int
    ) -> None:
        parts = amount.split(n)
        assert sum(parts) == amount
        minors = [p.minor for p in parts]
        assert max(minors) - min(minors) <= 1
        assert minors == sorted(minors, key=abs, reverse=True)  # the larger parts first

    @given(money(), ratio_lists)
    def test_the_opposite_amount_splits_into_the_opposite_parts(
        self, amount: Money, ratios: list[Any]
    ) -> None:
        assert (-amount).allocate(ratios) == [-p for p in amount.allocate(ratios)]
