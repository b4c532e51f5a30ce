"""Money: an exact amount in integer minor units with an ISO 4217 currency.

Floats never enter: ``0.1 + 0.2`` is not ``0.3``, and a CRM that sums purchases must be exact.
Arithmetic and ordering are defined only within one currency; mixing two raises
`crmkit.errors.CurrencyMismatch` rather than guessing an exchange rate.

What a host needs, and nothing that could lose or invent a cent: add and subtract Money
(``sum(amounts)`` works too), scale by an exact factor (an ``int`` exactly; a ``Decimal``
rounded to whole minor units, half to even unless `Money.multiply` is told otherwise), and
split into parts that sum exactly (`Money.allocate`, `Money.split`). A float, a plain number
added, Money times Money or Money divided are refused with `crmkit.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation, localcontext
from typing import Any

import attrs

from crmkit.domain._allocation import MAX_PARTS, allocate_minor
from crmkit.domain._iso import CURRENCY_EXPONENTS
from crmkit.errors import CurrencyMismatch, UsageError, ValidationError

__all__ = ["MAX_MINOR", "MAX_PARTS", "Money", "currency_exponent"]

# The `decimal` rounding modes `Money.multiply` takes: every one there is.
_ROUNDINGS = frozenset(
    {
        "ROUND_05UP",
        "ROUND_CEILING",
        "ROUND_DOWN",
        "ROUND_FLOOR",
        "ROUND_HALF_DOWN",
        "ROUND_HALF_EVEN",
        "ROUND_HALF_UP",
        "ROUND_UP",
    }
)


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
            raise _only_money("add", other, self.currency)
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __radd__(self, other: object) -> Money:
        # sum() starts from the int 0: that one start is the neutral element, nothing else.
        if type(other) is int and other == 0:
            return self
        raise _only_money("add", other, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise _only_money("subtract", other, self.currency)
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __rsub__(self, other: object) -> Money:
        raise _only_money("subtract", other, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __mul__(self, factor: object) -> Money:
        """``money * 3`` is exact; ``money * Decimal("1.5")`` rounds to whole minor units,
        half to even (call `multiply` to choose the rounding). Floats are refused."""
        if isinstance(factor, Money):
            raise UsageError(
                "Money times Money has no meaning: multiply by an int or Decimal factor"
            )
        if type(factor) is int:
            if not -MAX_MINOR <= self.minor * factor <= MAX_MINOR:
                raise ValidationError.single("factor", factor, "makes the amount unstorably large")
            return Money(self.minor * factor, self.currency)
        return self.multiply(factor)  # type: ignore[arg-type]  # it refuses what is not exact

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Money:
        raise UsageError(
            "Money is not divided: split it with .split(n) or .allocate(ratios), whose parts "
            "sum exactly, or scale it with .multiply(Decimal(...), rounding)"
        )

    __floordiv__ = __truediv__

    def multiply(self, factor: Decimal | int, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Multiply by an exact factor, rounding the product to whole minor units.

        Args:
            factor: an ``int`` or a finite ``Decimal`` (never a float: ``Decimal("1.5")``).
            rounding: a `decimal` rounding mode (``ROUND_DOWN``, ``ROUND_HALF_UP`` …);
                ``ROUND_HALF_EVEN`` (banker's rounding, as ``*`` uses) by default.

        Returns:
            The scaled Money, in the same currency.

        Raises:
            ValidationError: a factor that is not an exact number, an unknown rounding mode,
                or a product beyond the storable range.
        """
        if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
            raise ValidationError.single(
                "factor", factor, "must be a Decimal or int (never a float: Decimal('1.5'))"
            )
        if isinstance(factor, Decimal) and not factor.is_finite():
            raise ValidationError.single("factor", factor, "must be finite")
        if rounding not in _ROUNDINGS:
            raise ValidationError.single("rounding", rounding, "must be a decimal ROUND_* mode")
        if isinstance(factor, Decimal):
            if len(factor.as_tuple().digits) > 60:  # beyond _WIDE's exact products
                raise ValidationError.single("factor", factor, "has more than 60 digits")
            if factor.adjusted() > 40:
                raise ValidationError.single("factor", factor, "makes the amount unstorably large")
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

    def allocate(self, ratios: Iterable[Decimal | int]) -> list[Money]:
        """Split the amount in proportion to ``ratios``, in parts that sum exactly to it.

        Each part is its exact share rounded down or up to a whole minor unit; the units
        that rounding down leaves over go to the parts that lost most to it (the earliest on a
        tie). ``Money.of("100", "EUR").allocate([1, 2])`` is 33.33 and 66.67 EUR.

        Args:
            ratios: 1 to `MAX_PARTS` ints or Decimals, none negative, one at least above zero
                (a zero ratio gets nothing).

        Returns:
            One Money per ratio, in their order.

        Raises:
            ValidationError: at ``ratios`` or ``ratios[i]`` for a bad ratio (a float, say).
        """
        return [Money(part, self.currency) for part in allocate_minor(self.minor, ratios)]

    def split(self, parts: int) -> list[Money]:
        """Split the amount into ``parts`` (1 to `MAX_PARTS`) that sum exactly to it and
        differ by at most one minor unit, the larger ones first: 10 EUR in 3 is 3.34, 3.33,
        3.33 EUR. Raises `ValidationError` at ``parts`` for anything but such an int."""
        if type(parts) is not int or not 1 <= parts <= MAX_PARTS:
            raise ValidationError.single("parts", parts, f"must be an int from 1 to {MAX_PARTS}")
        return self.allocate([1] * parts)


def _only_money(verb: str, other: object, currency: str) -> UsageError:
    # The offending value's type only: a number beside an amount may be personal data.
    return UsageError(
        f"Money can only {verb} Money of the same currency, not {type(other).__name__}: "
        f"write Money.of(..., {currency!r}) (sum() of Money needs no start)"
    )
