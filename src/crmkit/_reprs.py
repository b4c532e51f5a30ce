"""Showing a caller's value in a message: bounded, printable, and never raising.

An error message shows the offending value so that a log line alone says what was wrong. The
value is whatever the caller gave, so showing it must not fail where the error is being
built: ``repr`` of an integer of more than 4,300 digits raises ``ValueError`` (Python's limit
on integer-to-text conversion), a host's object may have a broken ``__repr__``, a 10 MB
string or a huge list would make a 10 MB message, and a lone surrogate (``"\\ud800"``) in a
path or message makes the message impossible to write to a UTF-8 log.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from typing import Any

__all__ = ["differing_text", "int_digits", "key_text", "printable", "show"]

#: The longest text `show` returns.
LIMIT = 80
#: Integers of more digits than this are described by their size, not written out.
MAX_SHOWN_DIGITS = 50
# Counting the digits exactly takes one power of ten; past this size an estimate will do.
_EXACT_BITS = 200_000
_LOG10_2_BELOW = 3010299956  # log10(2) = 0.30102999566..., rounded down, times 10**10


def int_digits(value: int) -> int:
    """The number of decimal digits of ``value`` (its sign aside), without converting it to
    text: exact up to about 60,000 digits, a lower bound beyond."""
    magnitude = abs(value)
    bits = magnitude.bit_length()
    if bits <= 1:
        return 1
    digits = (bits - 1) * _LOG10_2_BELOW // 10**10 + 1  # never more than the true count
    if bits <= _EXACT_BITS:
        while magnitude >= 10**digits:
            digits += 1
    return digits


def _describe_int(value: int) -> str:
    digits = int_digits(value)
    about = "" if value.bit_length() <= _EXACT_BITS else "at least "
    sign = "a negative" if value < 0 else "an"
    return f"{sign} integer of {about}{digits} digits"


class _Bounded(reprlib.Repr):
    """``repr`` with every part cut short, and integers too long to write described."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxdict = 8
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 16
        self.maxdeque = self.maxarray = 16
        self.maxstring = self.maxother = 4 * LIMIT

    def repr_int(self, x: int, level: int) -> str:
        if int_digits(x) > MAX_SHOWN_DIGITS:
            return _describe_int(x)
        return repr(x)

    def repr_bytes(self, x: bytes, level: int) -> str:
        return repr(x[: self.maxstring])


_BOUNDED = _Bounded()


def show(value: Any, limit: int = LIMIT) -> str:
    """``value`` for a message: its ``repr``, cut to ``limit`` characters (ending ``...``).

    Never raises: an integer of more than `MAX_SHOWN_DIGITS` digits reads "an integer of
    5001 digits", a value whose ``repr`` fails reads ``<Type object>``, long text and big
    containers are cut before they are written out, and what is returned is printable
    (``repr`` escapes lone surrogates and control characters).
    """
    try:
        text = _BOUNDED.repr(value)
    except Exception:  # a host's broken __repr__ must not hide the error being reported
        text = f"<{_type_name(value)} object>"
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def key_text(key: object, limit: int = 64) -> str:
    """A mapping key for a field path (``metadata.<key>``): text as it is, cut to ``limit``
    characters and made printable; any other key as `show` writes it."""
    if isinstance(key, str):
        text = printable(key[: limit + 1])
        return text if len(text) <= limit else text[: limit - 3] + "..."
    return show(key, limit)


def differing_text(differing: Sequence[str] | None) -> str:
    """How a conflict's message ends: `` with different email, tags`` (the differing
    fields), `` with the same content`` (none differs) or nothing (not compared)."""
    # Field names only: the values, stored or given, may be personal data.
    if differing is None:
        return ""
    if not differing:
        return " with the same content"
    return f" with different {', '.join(differing)}"


def printable(text: str) -> str:
    """``text`` with every character UTF-8 cannot encode (a lone surrogate) escaped as
    ``\\udxxx``, so that a message can always be written to a log."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _type_name(value: object) -> str:
    try:
        return type(value).__name__
    except Exception:  # pragma: no cover - a type always has a name
        return "unknown"
