"""Money: exact amounts in integer minor units, arithmetic within one currency only."""

from __future__ import annotations

import operator
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import Money
from crmkit.domain import currency_exponent
from crmkit.errors import CurrencyMismatch, ValidationError
from crmkit.testing.strategies import currencies, money

small = 10**15
euros = money("EUR", -small, small)
COMPARISONS = [operator.lt, operator.le, operator.gt, operator.ge]


class TestOf:
    """`Money.of` builds Money from a major-unit amount."""

    def test_a_numeric_string_becomes_minor_units(self) -> None:
        """``"12.50"`` EUR is 1250 cents."""
        assert Money.of("12.50", "EUR") == Money(1250, "EUR")

    def test_an_int_and_a_decimal_are_accepted(self) -> None:
        """Whole numbers and Decimals are exact, so both are welcome."""
        assert Money.of(3, "USD") == Money(300, "USD")
        assert Money.of(Decimal("0.125"), "KWD") == Money(125, "KWD")

    def test_a_zero_decimal_currency_has_no_minor_digits(self) -> None:
        """Yen have no cents: 500 JPY is 500 minor units."""
        assert Money.of("500", "JPY") == Money(500, "JPY")
        assert currency_exponent("JPY") == 0

    @pytest.mark.parametrize("amount", [1.5, 0.1, float("nan"), True])
    def test_a_float_or_bool_is_refused(self, amount: object) -> None:
        """Floats are inexact, bools are not amounts: both are refused by name."""
        with pytest.raises(ValidationError) as caught:
            Money.of(amount, "EUR")  # type: ignore[arg-type]
        assert caught.value.paths == ("amount",)

    @pytest.mark.parametrize(("amount", "currency"), [("1.001", "EUR"), ("0.5", "JPY")])
    def test_more_decimals_than_the_currency_has_are_refused(
        self, amount: str, currency: str
    ) -> None:
        """A sub-cent amount cannot be stored without rounding, so it is refused."""
        with pytest.raises(ValidationError, match="decimal places"):
            Money.of(amount, currency)

    def test_trailing_zeros_beyond_the_minor_unit_are_fine(self) -> None:
        """``"1.500"`` EUR is exactly 1.50 EUR."""
        assert Money.of("1.500", "EUR") == Money(150, "EUR")

    def test_a_fraction_beyond_the_decimal_context_precision_is_still_refused(self) -> None:
        """``1.0000000000000000000000000001`` EUR has a sub-cent part: it must be refused,
        not rounded to 1.00 EUR."""
        with pytest.raises(ValidationError, match="decimal places"):
            Money.of("1.0000000000000000000000000001", "EUR")

    @pytest.mark.parametrize("amount", ["abc", "", "NaN", "Infinity", "1e21"])
    def test_text_that_is_no_finite_amount_is_refused(self, amount: str) -> None:
        """Garbage, NaN, infinities and absurd magnitudes are refused on ``amount``."""
        with pytest.raises(ValidationError) as caught:
            Money.of(amount, "EUR")
        assert caught.value.paths == ("amount",)

    @pytest.mark.parametrize("currency", ["eur", "XXX", "EURO", ""])
    def test_an_unknown_currency_is_refused(self, currency: str) -> None:
        """Only active ISO 4217 codes, upper case, are currencies."""
        with pytest.raises(ValidationError) as caught:
            Money.of("1", currency)
        assert caught.value.paths == ("currency",)

    @given(money())
    def test_the_amount_as_text_builds_the_same_money(self, value: Money) -> None:
        """``Money.of(str(m.amount), m.currency) == m`` for every Money."""
        assert Money.of(str(value.amount), value.currency) == value
        assert Money.of(value.amount, value.currency) == value

    @given(currencies(), st.integers(1, 6), st.integers(1, 9))
    def test_amounts_with_too_many_decimals_are_always_refused(
        self, currency: str, extra: int, digit: int
    ) -> None:
        """One more decimal digit than the currency has is always refused."""
        places = currency_exponent(currency) + extra
        with pytest.raises(ValidationError):
            Money.of(f"1.{'0' * (places - 1)}{digit}", currency)


class TestConstructor:
    """``Money(minor, currency)`` takes integer minor units."""

    @pytest.mark.parametrize("minor", [1.0, Decimal(1), True, "100"])
    def test_anything_but_an_int_is_refused(self, minor: object) -> None:
        """Minor units are an ``int``: no float, Decimal, bool or text."""
        with pytest.raises(ValidationError) as caught:
            Money(minor, "EUR")  # type: ignore[arg-type]
        assert caught.value.paths == ("minor",)

    def test_amounts_beyond_64_bits_are_refused(self) -> None:
        """Storage is a signed 64-bit integer; larger amounts would not survive it."""
        with pytest.raises(ValidationError):
            Money(2**63, "EUR")

    def test_the_amount_is_a_decimal_with_the_currency_digits(self) -> None:
        """``amount`` and ``str`` show the exact value with the currency's decimals."""
        assert Money(1250, "EUR").amount == Decimal("12.50")
        assert str(Money(-5, "EUR")) == "-0.05 EUR"
        assert str(Money(7, "KWD")) == "0.007 KWD"

    def test_money_is_always_truthy_so_a_zero_amount_is_not_mistaken_for_none(self) -> None:
        """``if interaction.amount:`` means "has an amount": a free order (zero) has one.
        Test for zero explicitly with ``money.minor == 0``."""
        assert Money.zero("EUR")
        assert Money(-1, "EUR")
        assert Money.zero("EUR").minor == 0


class TestArithmetic:
    """Addition, subtraction, negation and integer multiplication within one currency."""

    def test_adding_two_amounts_of_one_currency(self) -> None:
        """12.50 EUR + 0.75 EUR is 13.25 EUR."""
        assert Money.of("12.50", "EUR") + Money.of("0.75", "EUR") == Money.of("13.25", "EUR")

    @given(euros, euros, euros)
    def test_addition_is_associative(self, a: Money, b: Money, c: Money) -> None:
        """(a + b) + c == a + (b + c)."""
        assert (a + b) + c == a + (b + c)

    @given(euros, euros)
    def test_addition_is_commutative(self, a: Money, b: Money) -> None:
        """a + b == b + a."""
        assert a + b == b + a

    @given(money())
    def test_zero_is_the_identity(self, a: Money) -> None:
        """a + 0 == a == 0 + a, in a's currency."""
        zero = Money.zero(a.currency)
        assert a + zero == a == zero + a

    @given(euros, euros)
    def test_subtracting_then_adding_back_gives_the_start(self, a: Money, b: Money) -> None:
        """a - b + b == a."""
        assert a - b + b == a

    @given(money())
    def test_negation_is_the_additive_inverse(self, a: Money) -> None:
        """a + (-a) == 0, and -(-a) == a."""
        assert a + (-a) == Money.zero(a.currency)
        negated = -a
        assert -negated == a
        assert abs(-a) == abs(a)

    @given(euros, euros, st.integers(-1000, 1000))
    def test_int_multiplication_distributes_over_addition(self, a: Money, b: Money, k: int) -> None:
        """k * (a + b) == k * a + k * b, from either side."""
        assert k * (a + b) == a * k + b * k

    @pytest.mark.parametrize("factor", [1.5, True, "2"])
    def test_multiplying_by_a_float_bool_or_text_with_star_is_refused(self, factor: object) -> None:
        """``*`` takes an exact factor only (an int or a Decimal): bad input on ``factor``."""
        with pytest.raises(ValidationError) as caught:
            Money(100, "EUR") * factor  # type: ignore[operator]
        assert caught.value.paths == ("factor",)

    def test_multiply_rounds_half_to_even_by_default(self) -> None:
        """0.05 EUR times 0.5 is 2.5 cents, which rounds to 2 (banker's rounding)."""
        assert Money(5, "EUR").multiply(Decimal("0.5")) == Money(2, "EUR")
        assert Money(7, "EUR").multiply(Decimal("0.5")) == Money(4, "EUR")

    @pytest.mark.parametrize("factor", ["NaN", "Infinity", "-Infinity", "sNaN"])
    def test_multiply_refuses_a_factor_that_is_not_finite(self, factor: str) -> None:
        """A NaN or infinite factor is bad input on ``factor``, not a crash."""
        with pytest.raises(ValidationError) as caught:
            Money(5, "EUR").multiply(Decimal(factor))
        assert caught.value.paths == ("factor",)

    def test_multiply_refuses_a_float(self) -> None:
        """A float factor would bring float error back in."""
        with pytest.raises(ValidationError) as caught:
            Money(5, "EUR").multiply(0.5)  # type: ignore[arg-type]
        assert caught.value.paths == ("factor",)


class TestCurrencyMismatch:
    """Two currencies never mix: no exchange rate is guessed."""

    @given(money(), money())
    def test_adding_or_subtracting_two_currencies_raises(self, a: Money, b: Money) -> None:
        """a + b and a - b raise CurrencyMismatch when the currencies differ."""
        for op in (operator.add, operator.sub):
            if a.currency == b.currency:
                assert op(a, b).currency == a.currency
            else:
                with pytest.raises(CurrencyMismatch):
                    op(a, b)

    @pytest.mark.parametrize("compare", COMPARISONS)
    def test_ordering_two_currencies_raises(self, compare: object) -> None:
        """1 EUR is neither less nor more than 1 USD."""
        with pytest.raises(CurrencyMismatch) as caught:
            compare(Money(100, "EUR"), Money(100, "USD"))  # type: ignore[operator]
        assert (caught.value.left, caught.value.right) == ("EUR", "USD")

    def test_a_mismatch_is_a_validation_error_naming_both_currencies(self) -> None:
        """Hosts that catch ValidationError catch currency mixing too."""
        with pytest.raises(ValidationError, match=r"EUR.*USD"):
            Money(1, "EUR") + Money(1, "USD")

    def test_equality_across_currencies_is_just_false(self) -> None:
        """Equality never raises: 1 EUR is not 1 USD."""
        assert Money(100, "EUR") != Money(100, "USD")

    @given(euros, euros)
    def test_ordering_within_one_currency_follows_the_amounts(self, a: Money, b: Money) -> None:
        """Comparisons agree with the minor units."""
        assert (a < b, a <= b, a > b, a >= b) == (
            a.minor < b.minor,
            a.minor <= b.minor,
            a.minor > b.minor,
            a.minor >= b.minor,
        )

    @pytest.mark.parametrize("compare", COMPARISONS)
    def test_ordering_against_a_plain_number_raises_type_error(self, compare: object) -> None:
        """``Money(1, "EUR") < 5`` is a type error, as for any unorderable pair."""
        with pytest.raises(TypeError):
            compare(Money(1, "EUR"), 5)  # type: ignore[operator]
