"""Splitting a whole number of minor units into parts by ratios, losing no unit.

Each part gets the floor of its exact share; the units left over (fewer than the number of
parts) go one each to the parts whose exact share lost the most to that floor, the first
such part on a tie (the largest remainder method). So the parts always sum to the whole,
and each is its exact share rounded down or up: never more than one unit away from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

from crmkit.errors import ValidationError

__all__ = ["MAX_PARTS", "allocate_minor"]

#: The most parts an amount may be split into.
MAX_PARTS: Final = 10_000
# A ratio is an exact number with at most this many digits before and after the point.
_RATIO_DIGITS: Final = 30


def allocate_minor(minor: int, ratios: Iterable[Any]) -> list[int]:
    """Split ``minor`` units by ``ratios`` (ints or Decimals, at least one above zero).

    A negative amount splits as its opposite does, negated, so ``-x`` and ``x`` split alike.
    """
    weights = _weights(ratios)
    if minor < 0:
        return [-part for part in _split(-minor, weights)]
    return _split(minor, weights)


def _split(minor: int, weights: list[int]) -> list[int]:
    total = sum(weights)
    shares = [divmod(minor * weight, total) for weight in weights]
    parts = [whole for whole, _ in shares]
    left = minor - sum(parts)
    # The parts that lost most to rounding down get the units left, earliest first on a tie.
    order = sorted(range(len(shares)), key=lambda i: (-shares[i][1], i))
    for index in order[:left]:
        parts[index] += 1
    return parts


def _weights(ratios: Iterable[Any]) -> list[int]:
    """The ratios as whole numbers in the same proportion (Decimals scaled by one power
    of ten), checked."""
    if isinstance(ratios, str | bytes) or not isinstance(ratios, Iterable):
        raise ValidationError.single("ratios", ratios, "must be a list of ints or Decimals")
    items = list(ratios)
    if not 0 < len(items) <= MAX_PARTS:
        raise ValidationError.single("ratios", len(items), f"must hold 1 to {MAX_PARTS} ratios")
    for index, ratio in enumerate(items):
        _check_ratio(f"ratios[{index}]", ratio)
    if not any(ratio > 0 for ratio in items):
        raise ValidationError.single("ratios", items[:3], "at least one ratio must be above 0")
    exponent = min(_exponent(ratio) for ratio in items)
    return [int(Decimal(ratio).scaleb(-exponent)) for ratio in items]


def _check_ratio(path: str, ratio: Any) -> None:
    if isinstance(ratio, bool) or not isinstance(ratio, int | Decimal):
        raise ValidationError.single(path, ratio, "must be an int or Decimal (never a float)")
    if isinstance(ratio, Decimal) and not ratio.is_finite():
        raise ValidationError.single(path, ratio, "must be finite")
    if ratio < 0:
        raise ValidationError.single(path, ratio, "must not be negative")
    if ratio and (_exponent(ratio) < -_RATIO_DIGITS or Decimal(ratio).adjusted() > _RATIO_DIGITS):
        raise ValidationError.single(
            path, ratio, f"must have at most {_RATIO_DIGITS} digits before and after the point"
        )


def _exponent(ratio: int | Decimal) -> int:
    if not isinstance(ratio, Decimal):
        return 0
    exponent = ratio.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked before
    return min(exponent, 0)
