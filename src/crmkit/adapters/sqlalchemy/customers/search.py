"""Finding customers by phone and by the start of a name or email, through indexes.

A search for ``text`` matches the customers whose email, given name or family name ``value``
has ``value.lower().startswith(text.lower())``. The names are stored lower-cased beside
themselves (``given_name_key``, ``family_name_key``) and the email is stored lower-cased
already, so each field is one range of its ``(tenant_id, key)`` index: from the prefix up to
(not including) the first text after every text that starts with it. Every backend compares
these columns by code point, so the range is the prefix test exactly, for any text.
"""

from __future__ import annotations

import sys
from typing import Any

from sqlalchemy import and_, select, union

from crmkit.adapters.sqlalchemy.customers.tables import customers
from crmkit.domain.values.texts import ensure_text
from crmkit.errors import ValidationError

__all__ = ["MAX_SEARCH", "matching_text", "phone_is", "search_text"]

#: The longest searched field (an email address): a longer text can match nothing.
MAX_SEARCH = 254
_c = customers.c
_SURROGATES = range(0xD800, 0xE000)


def search_text(text: Any) -> str:
    """``text`` lower-cased, if it is a text a search may be for; raises `ValidationError`
    (naming ``text``) if it is not text, is empty or is longer than any searched field."""
    if not isinstance(text, str):
        raise ValidationError.single("text", text, "must be text")
    ensure_text(text, "text")
    if not text:
        raise ValidationError.single("text", text, "must not be empty")
    if len(text) > MAX_SEARCH:
        raise ValidationError.single(
            "text", len(text), f"at most {MAX_SEARCH} characters (the longest field)"
        )
    return text.lower()


def _after_prefix(prefix: str) -> str | None:
    """The least text greater than every text starting with ``prefix`` (``None``: there is
    none, the prefix being all U+10FFFF)."""
    while prefix:
        last = ord(prefix[-1]) + 1
        if last in _SURROGATES:  # no stored text holds a surrogate
            last = _SURROGATES.stop
        if last <= sys.maxunicode:
            return prefix[:-1] + chr(last)
        prefix = prefix[:-1]
    return None


def _starts_with(column: Any, prefix: str) -> Any:
    upper = _after_prefix(prefix)
    if upper is None:
        return column >= prefix
    return and_(column >= prefix, column < upper)


def matching_text(tenant: str, prefix: str) -> Any:
    """``SELECT id`` of the tenant's customers one of whose searched fields starts with the
    lower-cased ``prefix``: a UNION of three index ranges (a customer found twice counts once)."""
    return union(
        *(
            select(_c.id).where(_c.tenant_id == tenant, _starts_with(column, prefix))
            for column in (_c.email, _c.given_name_key, _c.family_name_key)
        )
    )


def phone_is(e164: str) -> Any:
    """The condition on ``crmkit_customers`` of a stored phone whose E.164 part is ``e164``."""
    return _c.phone == e164
