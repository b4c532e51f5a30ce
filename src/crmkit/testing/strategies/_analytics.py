"""Strategies for the stage analytics crmkit computes: stays, duration statistics, funnels
and flows.

Each value is what the function that produces it could return: durations come from real stay
lengths, funnel counts never grow down the funnel, a flow's entries are those that moved on
plus those still there.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st

from crmkit.domain import DurationStats, Funnel, FunnelStep, StageFlow, Stay
from crmkit.domain.analytics.stages import _share, _stats
from crmkit.testing.strategies._values import utc_datetimes

#: Stage names and counts, shared with the job reports.
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
COUNTS = st.integers(0, 10_000)


def stays() -> st.SearchStrategy[Stay]:
    """Stays in a stage: entered at a UTC instant, left later (or still there)."""
    return st.builds(
        lambda stage, at, length: Stay(stage, at, None if length is None else at + length),
        NAMES,
        utc_datetimes(),
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

    return st.builds(step, NAMES, COUNTS, COUNTS, COUNTS)


@st.composite
def funnels(draw: st.DrawFn) -> Funnel:
    """Funnels of one to eight distinct steps whose counts never grow down the funnel."""
    names = draw(st.lists(NAMES, min_size=1, max_size=8, unique=True))
    cohort = draw(COUNTS)
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
    stage = draw(NAMES)
    moved = draw(st.dictionaries(NAMES.filter(lambda n: n != stage), COUNTS, max_size=4))
    still_there = draw(COUNTS)
    return StageFlow(stage, sum(moved.values()) + still_there, moved, still_there)
