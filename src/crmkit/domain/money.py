"""Money: an exact amount in integer minor units with an ISO 4217 currency.

Floats never enter: ``0.1 + 0.2`` is not ``0.3``, and a CRM that sums purchases must be exact.
Arithmetic and ordering are defined only within one currency; mixing two raises
`crmkit.errors.CurrencyMismatch` rather than guessing an exchange rate.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation, localcontext
from typing import Any

import attrs

from crmkit.domain._iso import CURRENCY_EXPONENTS
from crmkit.errors import CurrencyMismatch, ValidationError

__all__ = ["MAX_MINOR", "Money", "currency_exponent"]


# Wide enough for any amount Money can hold times any factor with 60 significant digits; the
# exact context refuses to round at all (a digit beyond 100 would be a sub-minor-unit digit).
_WIDE = Context(prec=100, Emax=999_999, Emin=-999_999)
_EXACT = Context(prec=100, Emax=999_999, Emin=-999_999, traps=[Inexact, InvalidOperation])


def currency_exponent(currency: str) -> int:
    """Return the number of minor-unit digits of an ISO 4217 ``currency`` (2 for EUR)."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise ValidationError.single(
            "currency", currency, "must be an active ISO 4217 code such as 'EUR'"
        ) from None


#: Amounts are stored as signed 64-bit integers of minor units (SQL BIGINT).
MAX_MINOR = 2**63 - 1


def _check_minor(instance: Money, attribute: attrs.Attribute[int], value: Any) -> None:
    if type(value) is not int:
        raise ValidationError.single(
            "minor", value, "must be an int number of minor units (no float, no bool)"
        )
    if not -MAX_MINOR <= value <= MAX_MINOR:
        raise ValidationError.single("minor", value, "is outside the signed 64-bit range")


def _check_currency(instance: Money, attribute: attrs.Attribute[str], value: Any) -> None:
    if not isinstance(value, str) or value not in CURRENCY_EXPONENTS:
        raise ValidationError.single(
            "currency", value, "must be an active ISO 4217 code such as 'EUR'"
        )


@attrs.frozen(order=False)
class Money:
    """An exact amount of one currency, kept as an integer of minor units (cents).

    Build one with `Money.of` from a ``Decimal``, ``int`` or numeric string
    (``Money.of("12.50", "EUR")``), or directly from minor units
    (``Money(1250, "EUR")``). ``amount`` gives the value back as a ``Decimal``.
    """

    minor: int = attrs.field(validator=_check_minor)
    currency: str = attrs.field(validator=_check_currency)

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Build Money from a major-unit amount; refuse floats and sub-minor-unit precision."""
        exponent = currency_exponent(currency)
        if isinstance(amount, bool) or not isinstance(amount, Decimal | int | str):
            raise ValidationError.single(
                "amount", amount, "must be a Decimal, int or numeric string (never a float)"
            )
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise ValidationError.single("amount", amount, "is not a number") from None
        if not value.is_finite():
            raise ValidationError.single("amount", amount, "must be finite")
        if value.adjusted() > 20:
            raise ValidationError.single("amount", amount, "is too large")
        try:
            with localcontext(_EXACT):
                scaled = value.scaleb(exponent)
                whole = scaled.to_integral_value()
        except Inexact:
            whole, scaled = Decimal(0), Decimal(1)  # more digits than any amount can have
        if scaled != whole:
            raise ValidationError.single(
                "amount", amount, f"has more than {exponent} decimal places for {currency}"
            )
        if not -MAX_MINOR <= whole <= MAX_MINOR:
            raise ValidationError.single("amount", amount, "is outside the storable range")
        return cls(int(whole), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Return nothing of ``currency``: the neutral element of addition."""
        return cls(0, currency)

    @property
    def amount(self) -> Decimal:
        """The amount in major units, exact, with the currency's number of decimals."""
        return Decimal(self.minor).scaleb(-currency_exponent(self.currency))

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __mul__(self, factor: object) -> Money:
        if type(factor) is not int:
            return NotImplemented
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def multiply(self, factor: Decimal | int, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Multiply by an exact factor, rounding to whole minor units (banker's by default)."""
        if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
            raise ValidationError.single("factor", factor, "must be a Decimal or int")
        if isinstance(factor, Decimal) and not factor.is_finite():
            raise ValidationError.single("factor", factor, "must be finite")
        with localcontext(_WIDE):
            product = (Decimal(self.minor) * factor).to_integral_value(rounding=rounding)
        if not -MAX_MINOR <= product <= MAX_MINOR:
            raise ValidationError.single("factor", factor, "makes the amount unstorably large")
        return Money(int(product), self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor >= other.minor

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
