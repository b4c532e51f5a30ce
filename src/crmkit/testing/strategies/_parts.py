"""Small strategies the capability modules share, each built once (strategies built anew on
every draw make generation several times slower)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from hypothesis import strategies as st

from crmkit.domain import (
    CustomerId,
    InteractionKind,
)
from crmkit.testing.strategies._values import _text, customer_ids, ids, slugs, utc_datetimes

_TAGS = ("vip", "b2b", "newsletter")
_KINDS = tuple(k.value for k in InteractionKind)


@cache
def _actors() -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(["alice", "bob", "crmkit"]) | ids()


@cache
def _reasons() -> st.SearchStrategy[str | None]:
    return st.none() | _text(40)


@cache
def _short_slugs() -> st.SearchStrategy[str]:
    return slugs(12)


@cache
def _stage_names() -> st.SearchStrategy[str]:
    return st.sampled_from(["lead", "customer", "lapsed", "won"]) | _short_slugs()


@cache
def _gaps() -> st.SearchStrategy[timedelta]:
    seconds = st.integers(1, 200 * 86_400).map(lambda s: timedelta(seconds=s))
    return st.just(timedelta(0)) | seconds


@cache
def _bounds() -> st.SearchStrategy[tuple[int | None, int | None]]:
    def pair(low: int | None, spread: int | None) -> tuple[int | None, int | None]:
        if low is None:
            return None, spread if spread is not None else 0
        return low, None if spread is None else low + spread

    return st.builds(pair, st.none() | st.integers(0, 5), st.none() | st.integers(0, 5))


@cache
def _history_starts() -> st.SearchStrategy[datetime]:
    return utc_datetimes(datetime(2000, 1, 1), datetime(2060, 1, 1))


@cache
def _customer_pairs() -> st.SearchStrategy[tuple[CustomerId, CustomerId]]:
    """Two different customers (a referrer and a referee)."""
    return st.lists(customer_ids(), min_size=2, max_size=2, unique=True).map(
        lambda pair: (pair[0], pair[1])
    )


#: The instant segment facts are evaluated at by default; generated windows and datetime
#: values cluster around it, so that boundaries (exactly N days before, exactly ``as_of``)
#: are hit often.
SEGMENT_AS_OF = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
