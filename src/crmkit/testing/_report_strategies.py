"""Strategies for the results crmkit computes: stage analytics and job reports.

Each value is what the function that produces it could return: durations come from real
stay lengths, funnel counts never grow down the funnel, a flow's entries are those that
moved on plus those still there. Re-exported by `crmkit.testing.strategies`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import strategies as st

from crmkit.domain import (
    DurationStats,
    Funnel,
    FunnelStep,
    PointsJobReport,
    ProgressionReport,
    StageChanged,
    StageFlow,
    Stay,
)
from crmkit.domain.analytics.stages import _share, _stats
from crmkit.domain.loyalty import LedgerState, PointsLedger
from crmkit.ports import ImportResult

__all__ = [
    "duration_stats",
    "funnel_steps",
    "funnels",
    "import_results",
    "ledger_states",
    "points_job_reports",
    "progression_reports",
    "stage_flows",
    "stays",
]

_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
_COUNTS = st.integers(0, 10_000)


def _instants() -> st.SearchStrategy[datetime]:
    from crmkit.testing.strategies import utc_datetimes

    return utc_datetimes()


def stays() -> st.SearchStrategy[Stay]:
    """Stays in a stage: entered at a UTC instant, left later (or still there)."""
    return st.builds(
        lambda stage, at, length: Stay(stage, at, None if length is None else at + length),
        _NAMES,
        _instants(),
        st.none() | st.timedeltas(timedelta(0), timedelta(days=3650)),
    )


def duration_stats() -> st.SearchStrategy[DurationStats]:
    """The statistics of one to twenty stay lengths (up to ten years, to the microsecond)."""
    lengths = st.lists(st.integers(0, 10 * 365 * 86_400 * 10**6), min_size=1, max_size=20)
    return lengths.map(lambda micros: _stats(sorted(micros)))


def funnel_steps() -> st.SearchStrategy[FunnelStep]:
    """One step of a funnel: of ``previous`` subjects, ``reached`` got this far."""

    def step(stage: str, cohort: int, previous: int, reached: int) -> FunnelStep:
        previous = min(previous, cohort)
        reached = min(reached, previous)
        return FunnelStep(
            stage, reached, _share(reached, previous), _share(reached, cohort), previous - reached
        )

    return st.builds(step, _NAMES, _COUNTS, _COUNTS, _COUNTS)


@st.composite
def funnels(draw: st.DrawFn) -> Funnel:
    """Funnels of one to eight distinct steps whose counts never grow down the funnel."""
    names = draw(st.lists(_NAMES, min_size=1, max_size=8, unique=True))
    cohort = draw(_COUNTS)
    steps, previous = [], cohort
    for name in names:
        reached = draw(st.integers(0, previous))
        steps.append(
            FunnelStep(
                name,
                reached,
                _share(reached, previous),
                _share(reached, cohort),
                previous - reached,
            )
        )
        previous = reached
    return Funnel(cohort, tuple(steps))


@st.composite
def stage_flows(draw: st.DrawFn) -> StageFlow:
    """Where the entries into one stage went: some moved on to other stages, some stayed."""
    stage = draw(_NAMES)
    moved = draw(st.dictionaries(_NAMES.filter(lambda n: n != stage), _COUNTS, max_size=4))
    still_there = draw(_COUNTS)
    return StageFlow(stage, sum(moved.values()) + still_there, moved, still_there)


def ledger_states() -> st.SearchStrategy[LedgerState]:
    """What a drawn ledger adds up to, at the end of time or at a UTC instant."""
    return st.builds(
        lambda ledger, as_of: ledger.state(as_of),
        st.from_type(PointsLedger),
        st.none() | _instants(),
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
    from crmkit.testing.strategies import customer_ids

    return st.builds(
        PointsJobReport,
        _instants(),
        _COUNTS,
        _COUNTS,
        _COUNTS,
        st.lists(customer_ids(), max_size=4, unique=True).map(tuple),
    )


def progression_reports() -> st.SearchStrategy[ProgressionReport]:
    """What a batch re-evaluation reports: the stage changes it made and what it skipped."""
    from crmkit.testing.strategies import domain_events, ids

    changes = st.lists(domain_events(StageChanged), max_size=3).map(tuple)
    skipped = st.lists(st.tuples(_NAMES, ids()), max_size=3).map(tuple)

    def report(
        as_of: datetime,
        counts: tuple[int, int, int],
        made: tuple[StageChanged, ...],
        left: tuple[tuple[str, str], ...],
    ) -> ProgressionReport:
        _, entered, moved = counts
        return ProgressionReport(as_of, max(counts), entered, moved, made, left)

    counts = st.tuples(_COUNTS, _COUNTS, _COUNTS)
    return st.builds(report, _instants(), counts, changes, skipped)
