"""One check for every parameter that takes a collection of values (kinds, channels, ids …).

A text is itself iterable, so ``kinds="purchase"`` would otherwise become the set of its
letters and match nothing, without a word. Every rule builder and condition refuses it here,
with the parameter's name, before it iterates anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crmkit.errors import ValidationError

__all__ = ["iterable_of", "listed"]


def iterable_of(path: str, value: Any, what: str) -> Iterable[Any]:
    """``value`` itself, if it holds items of ``what`` one by one: any iterable (a stream
    stays a stream) but a text, bytes or a mapping, whose characters or keys would be read as
    the items, or a lone number.

    Raises:
        ValidationError: at ``path``, naming what was meant.
    """
    if isinstance(value, str | bytes | bytearray):
        raise ValidationError.single(
            path, value, f"must be a list of {what}, not a single text: wrap it in [ ]"
        )
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise ValidationError.single(path, value, f"must be a list of {what}")
    return value


def listed(path: str, value: Any, what: str) -> tuple[Any, ...]:
    """The items of ``value``, a list, tuple, set or other collection of ``what``.

    Args:
        path: the parameter's name, for the error (``"kinds"``).
        value: what the caller gave.
        what: the items in words (``"interaction kinds"``).

    Returns:
        The items, in the collection's order.

    Raises:
        ValidationError: ``value`` is a single text (or bytes), a mapping, or not iterable.
    """
    return tuple(iterable_of(path, value, what))
