"""Strategies for interactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from crmkit.domain import (
    Channel,
    CustomerId,
    Direction,
    Interaction,
    InteractionId,
    InteractionKind,
    Money,
)
from crmkit.testing.strategies._values import (
    _STORABLE,
    EARLIEST,
    LATEST,
    _spaced,
    customer_ids,
    ids,
    money,
    slugs,
    utc_datetimes,
)


def interactions(
    *,
    customer_id: str | None = None,
    kinds: list[str] | None = None,
    currency: str | None = None,
    min_time: datetime = EARLIEST,
    max_time: datetime = LATEST,
) -> st.SearchStrategy[Interaction]:
    """Interactions, optionally of one customer, some kinds, one currency, a time range.

    Amounts may be negative, except a purchase's and a refund's (what was paid, what was
    given back), which are never below zero."""
    kind = st.sampled_from(kinds) if kinds else st.sampled_from(InteractionKind) | slugs()
    metadata = st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        st.one_of(st.text(_STORABLE, max_size=20), st.integers(-(10**9), 10**9), st.booleans()),
        max_size=3,
    )
    return st.builds(
        _interaction,
        st.tuples(kind, st.none() | money(currency)),
        id=ids().map(InteractionId),
        customer_id=st.just(CustomerId(customer_id)) if customer_id else customer_ids(),
        occurred_at=utc_datetimes(min_time, max_time),
        channel=st.sampled_from(Channel),
        direction=st.sampled_from(Direction),
        owner=st.none() | st.sampled_from(["alice", "bob"]),
        team=st.none() | st.sampled_from(["sales", "support"]),
        campaign=st.none() | _spaced(st.sampled_from(["spring_sale", "welcome"])),
        metadata=metadata,
        external_ref=st.none() | _spaced(ids()),
    )


#: The kinds whose amount is never negative: a purchase's is what was paid, a refund's what
#: was given back (crmkit.domain.interactions.interaction).
_UNSIGNED_KINDS = frozenset({InteractionKind.PURCHASE, InteractionKind.REFUND})


def _interaction(kind_and_amount: tuple[str, Money | None], **fields: Any) -> Interaction:
    kind, amount = kind_and_amount
    if amount is not None and kind in _UNSIGNED_KINDS and amount.minor < 0:
        amount = -amount
    return Interaction(kind=kind, amount=amount, **fields)
