"""Text the domain accepts is text every backend can store and every encoder can write.

A Python ``str`` may hold two things that are not storable Unicode text: U+0000, which
PostgreSQL refuses in text columns, and a lone surrogate (U+D800 to U+DFFF, e.g. from
``"\\ud800"`` or a JSON ``"\\ud800"`` escape), which is half of a UTF-16 pair and has no UTF-8
form, so every SQL driver, ``str.encode`` and a UTF-8 log refuse it. Refusing both where
text enters the domain keeps the in-memory store and the SQL backends in agreement and
turns what would be a driver's ``UnicodeEncodeError`` into a `ValidationError` naming the
field. Valid text outside the Basic Multilingual Plane (emoji, ``"𝄞"``) is fine.
"""

from __future__ import annotations

import re
from typing import Any

from crmkit.errors import ValidationError

__all__ = ["ensure_text"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def ensure_text(value: Any, path: str = "text") -> str:
    """Return ``value`` if it is a ``str`` every backend can store, else raise.

    Args:
        value: the text to check.
        path: the field path the error names.

    Returns:
        ``value`` itself.

    Raises:
        ValidationError: ``value`` is not a ``str``, or holds U+0000 or a lone surrogate.
    """
    if not isinstance(value, str):
        raise ValidationError.single(path, value, "must be text")
    if value.isascii() and "\x00" not in value:
        return value
    found = _SURROGATE.search(value)  # invalid Unicode is named before a mere NUL
    if found is None:
        if "\x00" in value:
            raise ValidationError.single(path, value, "must not contain the NUL character (U+0000)")
        return value
    raise ValidationError.single(
        path,
        value,
        f"must not contain a lone surrogate (U+{ord(found.group()):04X} at {found.start()}): "
        "it is not valid Unicode text",
    )
