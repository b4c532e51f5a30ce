"""Strategies for what crmkit's jobs, imports and listings return, and a ledger's state."""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from hypothesis import strategies as st

from crmkit.domain import PointsJobReport, ProgressionReport, StageChanged
from crmkit.domain.loyalty import LedgerState
from crmkit.ports import ImportResult, Page
from crmkit.testing.strategies._analytics import COUNTS, NAMES
from crmkit.testing.strategies._events import domain_events
from crmkit.testing.strategies._points import _ledgers
from crmkit.testing.strategies._values import customer_ids, ids, utc_datetimes


def ledger_states() -> st.SearchStrategy[LedgerState]:
    """What a drawn ledger adds up to, at the end of time or at a UTC instant."""
    return st.builds(
        lambda ledger, as_of: ledger.state(as_of),
        _ledgers(),
        st.none() | utc_datetimes(),
    )


def import_results() -> st.SearchStrategy[ImportResult]:
    """What a bulk import reports: how many rows it stored, and the positions (in the
    input, increasing) of those it skipped."""

    def result(skipped: list[bool]) -> ImportResult:
        # One flag per row of the input: skipped, or stored.
        return ImportResult(skipped.count(False), tuple(n for n, s in enumerate(skipped) if s))

    return st.builds(result, st.lists(st.booleans(), max_size=30))


def points_job_reports() -> st.SearchStrategy[PointsJobReport]:
    """What a run of the points job reports: counts and the members it skipped."""
    return st.builds(
        PointsJobReport,
        utc_datetimes(),
        COUNTS,
        COUNTS,
        COUNTS,
        st.lists(customer_ids(), max_size=4, unique=True).map(tuple),
    )


def progression_reports() -> st.SearchStrategy[ProgressionReport]:
    """What a batch re-evaluation reports: the stage changes it made and what it skipped."""
    changes = st.lists(domain_events(StageChanged), max_size=3).map(tuple)
    skipped = st.lists(st.tuples(NAMES, ids()), max_size=3).map(tuple)

    def report(
        as_of: datetime,
        counts: tuple[int, int, int],
        made: tuple[StageChanged, ...],
        left: tuple[tuple[str, str], ...],
    ) -> ProgressionReport:
        _, entered, moved = counts
        return ProgressionReport(as_of, max(counts), entered, moved, made, left)

    counts = st.tuples(COUNTS, COUNTS, COUNTS)
    return st.builds(report, utc_datetimes(), counts, changes, skipped)


def _pages(of: Any) -> st.SearchStrategy[Page[Any]]:
    """Pages of a listing, of up to three items: of the type asked for (``Page[Customer]``)
    or, for a bare ``Page``, of ids; a cursor to the next one, unless it is the last."""
    (item, *_) = get_args(of) or (str,)
    items = ids() if item is str else st.from_type(item)
    return st.builds(Page, st.lists(items, max_size=3).map(tuple), st.none() | ids())
