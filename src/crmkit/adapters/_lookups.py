"""Checks of the lookup arguments every adapter shares (customer search, outbox reading), so
they refuse alike; beside them, the meaning of a search match, which the SQL adapter's
query must reproduce."""

from __future__ import annotations

from typing import Any

from crmkit.domain import Customer
from crmkit.domain.values.texts import ensure_text
from crmkit.errors import ValidationError
from crmkit.ports import MAX_FETCH

__all__ = ["check_outbox_read", "check_search_text", "search_matches"]


def check_search_text(text: Any) -> str:
    """``text`` if it is a non-empty text every backend can store.

    Args:
        text: the prefix a customer search looks for.

    Returns:
        ``text`` itself.

    Raises:
        ValidationError: ``text`` is not a ``str``, is empty, or holds U+0000 or a lone
            surrogate.
    """
    ensure_text(text, "text")
    if not text:
        # An empty prefix would match every customer: that is `list`, not a search.
        raise ValidationError.single("text", text, "must be at least one character")
    return text  # type: ignore[no-any-return]


def search_matches(customer: Customer, text: str) -> bool:
    """Whether ``customer``'s email, given name or family name starts with ``text``, as
    Python's ``value.lower().startswith(text.lower())`` says."""
    wanted = text.lower()
    email = None if customer.email is None else str(customer.email)
    return any(
        value is not None and value.lower().startswith(wanted)
        for value in (email, customer.given_name, customer.family_name)
    )


def check_outbox_read(after: Any, limit: Any) -> None:
    """A position of 0 or more to read after and a limit of 1 to `MAX_FETCH`.

    Args:
        after: the position the reader has seen up to (0: none yet).
        limit: how many messages to read at most.

    Raises:
        ValidationError: either is not an ``int`` (a ``bool`` is not one) or is out of range.
    """
    if type(after) is not int or after < 0:
        raise ValidationError.single("after", after, "must be an int of 0 or more")
    if type(limit) is not int or not 1 <= limit <= MAX_FETCH:
        raise ValidationError.single("limit", limit, f"must be an int from 1 to {MAX_FETCH}")
