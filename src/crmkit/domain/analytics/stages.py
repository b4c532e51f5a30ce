"""Analytics over stage histories: time in each stage, stage-to-stage flow, and funnels.

Each function reads an iterable of `StageHistory` once, front to back, so a host can pass a
generator streaming millions of histories from storage. None reads a clock: each takes the
instant or period it looks at (``as_of``, ``since``/``until``), so the same histories always
give the same figures. They are model-free: they look only at the stage names in the
histories, so they work for any `LifecycleModel`; the caller says which stages matter.

Durations are exact: they are added up and divided in whole microseconds, never in floats.
Rates are floats (a share of a count), and ``0.0`` when there is nothing to divide.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

import attrs

from crmkit.domain._checks import SLUG, non_negative_int
from crmkit.domain._frozen import FrozenMap
from crmkit.domain.lifecycle.history import StageHistory
from crmkit.domain.values.timestamps import ensure_utc, ensure_utc_or_none
from crmkit.errors import ValidationError

__all__ = [
    "DurationStats",
    "Funnel",
    "FunnelStep",
    "StageFlow",
    "funnel",
    "stage_conversion",
    "stage_durations",
]

_MICROSECOND = timedelta(microseconds=1)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _duration(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ValidationError.single(attribute.name, value, "must be a timedelta >= 0")


def _rate(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    # A share of a count: NaN, infinities and negative rates cannot come out of `_share`.
    if type(value) is not float or not 0.0 <= value <= 1.0:
        raise ValidationError.single(attribute.name, value, "must be a float from 0.0 to 1.0")


def _steps_of(value: Any) -> tuple[FunnelStep, ...]:
    return tuple(value) if isinstance(value, list) else value


def _check_steps(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, tuple):
        raise ValidationError.single("steps", value, "must be a sequence of FunnelSteps")
    for i, step in enumerate(value):
        if not isinstance(step, FunnelStep):
            raise ValidationError.single(f"steps[{i}]", step, "must be a FunnelStep")


@attrs.frozen
class DurationStats:
    """The distribution of the lengths of the stays in one stage.

    Percentiles use the nearest-rank method, so each is a stay length that actually occurred:
    with the ``n`` lengths sorted ascending, the ``p``-th percentile is the one at (1-based)
    rank ``ceil(p * n / 100)``. The median is the 50th percentile by that rule, i.e. the lower
    of the two middle lengths when ``n`` is even.

    Attributes:
        count: how many stays (a subject that came back to the stage counts once per stay).
        total: the stays' lengths added up.
        minimum: the shortest stay.
        maximum: the longest stay.
        mean: ``total / count``, rounded to the nearest microsecond (halves to even).
        median: the 50th percentile (nearest rank).
        p90: the 90th percentile (nearest rank): 90% of the stays were this long or shorter.
    """

    count: int = attrs.field(validator=non_negative_int)
    total: timedelta = attrs.field(validator=_duration)
    minimum: timedelta = attrs.field(validator=_duration)
    maximum: timedelta = attrs.field(validator=_duration)
    mean: timedelta = attrs.field(validator=_duration)
    median: timedelta = attrs.field(validator=_duration)
    p90: timedelta = attrs.field(validator=_duration)


def _stats(micros: list[int]) -> DurationStats:
    """The statistics of stay lengths in microseconds, sorted ascending (at least one)."""
    count, total = len(micros), sum(micros)

    def nearest_rank(percent: int) -> timedelta:
        rank = -(-percent * count // 100)  # ceil(percent * count / 100), in integers
        return timedelta(microseconds=micros[rank - 1])

    return DurationStats(
        count=count,
        total=timedelta(microseconds=total),
        minimum=timedelta(microseconds=micros[0]),
        maximum=timedelta(microseconds=micros[-1]),
        mean=timedelta(microseconds=round(Fraction(total, count))),
        median=nearest_rank(50),
        p90=nearest_rank(90),
    )


def stage_durations(
    histories: Iterable[StageHistory], *, as_of: datetime, include_ongoing: bool = False
) -> dict[str, DurationStats]:
    """How long subjects stay in each stage, as seen at ``as_of``.

    Every stay counts, so a subject that came back to a stage adds one stay per visit. A stay
    that ended by ``as_of`` (``left_at <= as_of``) is complete. One still going at ``as_of``
    (never left, or left only later) is ongoing: its length so far, ``as_of - entered_at``,
    counts only with ``include_ongoing``, since it is a lower bound and would pull the figures
    down. Stays entered after ``as_of`` had not begun, so they are ignored.

    With ``include_ongoing``, the totals over all stages add up to the time every subject has
    spent in the model by ``as_of``.

    Exact percentiles need every stay's length, so this keeps one 8-byte integer per stay.

    Returns:
        The statistics of each stage that has at least one stay counted, in the order the
        stages were first met.
    """
    as_of = ensure_utc(as_of, "as_of")
    lengths: dict[str, array[int]] = {}
    for history in histories:
        for stay in history.stays():
            if stay.entered_at > as_of:
                break
            if stay.left_at is not None and stay.left_at <= as_of:
                end = stay.left_at
            elif include_ongoing:
                end = as_of
            else:
                continue
            lengths.setdefault(stay.stage, array("q")).append(
                (end - stay.entered_at) // _MICROSECOND
            )
    return {stage: _stats(sorted(values)) for stage, values in lengths.items()}


def _frozen_counts(value: Mapping[str, int]) -> FrozenMap[str, int]:
    return FrozenMap(value)


@attrs.frozen
class StageFlow:
    """Where the subjects that entered one stage during a period went next.

    Always ``entered == moved_on + still_there``.

    Attributes:
        stage: the stage entered.
        entered: how many entries into the stage the period saw (a subject that came back
            counts once per entry).
        moved_to: for each next stage, how many of those entries left for it before the end
            of the period.
        still_there: how many of those entries had not left by the end of the period.
    """

    stage: str
    entered: int = attrs.field(validator=non_negative_int)
    moved_to: Mapping[str, int] = attrs.field(converter=_frozen_counts)
    still_there: int = attrs.field(validator=non_negative_int)

    @property
    def moved_on(self) -> int:
        """How many of the entries left the stage before the end of the period."""
        return sum(self.moved_to.values())

    def conversion_rate(self, to: str) -> float:
        """The share of the entries that moved on to stage ``to`` (``0.0`` if none entered)."""
        return _share(self.moved_to.get(to, 0), self.entered)

    @property
    def drop_off_rate(self) -> float:
        """The share of the entries that had not moved on by the end of the period.

        It does not look at outcomes: a subject that moved to a lost stage moved on, and
        shows in ``moved_to``; one that stalled in the stage dropped off (``0.0`` if none
        entered).
        """
        return _share(self.still_there, self.entered)


def stage_conversion(
    histories: Iterable[StageHistory], *, since: datetime, until: datetime
) -> dict[str, StageFlow]:
    """Stage-to-stage conversion and drop-off over the period ``[since, until)``.

    An entry into a stage counts when it happened in the period (``since <= at < until``); the
    entry into the model counts as an entry into its first stage. The entry then either moved
    on to another stage before ``until`` or is still there; later moves are not followed, so
    each figure is "of those who entered, where were they next?".

    Returns:
        A `StageFlow` for each stage entered during the period, in the order the stages were
        first met.

    Raises:
        ValidationError: when a bound is not a timezone-aware datetime, or ``since`` is not
            before ``until``.
    """
    since, until = _period(since, until, "since", "until")
    entered: Counter[str] = Counter()
    still_there: Counter[str] = Counter()
    moved: dict[str, Counter[str]] = {}
    for history in histories:
        changes = history.changes
        for change, following in zip(changes, (*changes[1:], None), strict=True):
            if change.at >= until:
                break
            if change.at < since:
                continue
            stage = change.to_stage
            entered[stage] += 1
            moved.setdefault(stage, Counter())
            if following is not None and following.at < until:
                moved[stage][following.to_stage] += 1
            else:
                still_there[stage] += 1
    return {
        stage: StageFlow(stage, count, dict(moved[stage]), still_there[stage])
        for stage, count in entered.items()
    }


@attrs.frozen
class FunnelStep:
    """How far into a funnel a cohort got, at one step.

    Attributes:
        stage: the stage this step stands for.
        reached: how many of the cohort reached this step or a later one.
        conversion_from_previous: ``reached`` as a share of those who reached the previous
            step (for the first step, of the cohort).
        conversion_from_start: ``reached`` as a share of the cohort.
        dropped: how many reached the previous step (for the first step, were in the cohort)
            but not this one.
    """

    stage: str
    reached: int = attrs.field(validator=non_negative_int)
    conversion_from_previous: float = attrs.field(validator=_rate)
    conversion_from_start: float = attrs.field(validator=_rate)
    dropped: int = attrs.field(validator=non_negative_int)


@attrs.frozen
class Funnel:
    """A cohort's progress through ordered steps: how many reached each, and how many dropped.

    Attributes:
        cohort: how many subjects the funnel follows.
        steps: one `FunnelStep` per step, in funnel order; ``reached`` never increases.
    """

    cohort: int = attrs.field(validator=non_negative_int)
    steps: tuple[FunnelStep, ...] = attrs.field(converter=_steps_of, validator=_check_steps)


def funnel(
    histories: Iterable[StageHistory],
    steps: Sequence[str],
    *,
    as_of: datetime,
    entered_since: datetime | None = None,
    entered_until: datetime | None = None,
) -> Funnel:
    """The funnel of ``steps`` (stage names, in order) for a cohort, as seen at ``as_of``.

    The cohort is every subject that entered the model in ``[entered_since, entered_until)``
    (``None``: unbounded) and by ``as_of`` (one that had not yet entered was not there to
    see). A subject has reached a step when, by ``as_of``, it had entered that step's stage or
    any later step's: skipping a step counts as passing it, so a customer who bought without
    ever being a qualified lead still counts as qualified, and the counts never grow down the
    funnel. Where it went afterwards (even out again) does not matter.

    Raises:
        ValidationError: when ``steps`` is empty or holds a duplicate or a non-stage-name, a
            datetime is not timezone-aware, or ``entered_since`` is not before
            ``entered_until``.
    """
    names = _steps(steps)
    as_of = ensure_utc(as_of, "as_of")
    since = ensure_utc_or_none(entered_since, "entered_since")
    until = ensure_utc_or_none(entered_until, "entered_until")
    if since is not None and until is not None:
        _period(since, until, "entered_since", "entered_until")
    index = {name: i for i, name in enumerate(names)}
    cohort = 0
    deepest: Counter[int] = Counter()  # how many subjects got exactly this far
    for history in histories:
        started = history.started_at
        if started > as_of or (since and started < since) or (until and started >= until):
            continue
        cohort += 1
        furthest = -1
        for change in history.changes:
            if change.at > as_of:
                break
            furthest = max(furthest, index.get(change.to_stage, -1))
        deepest[furthest] += 1
    # Reaching step i means getting at least that far: peel off, step by step, the subjects
    # whose furthest step was the one before (-1: none of the steps).
    result: list[FunnelStep] = []
    reached = cohort
    for i, name in enumerate(names):
        previous, reached = reached, reached - deepest[i - 1]
        dropped = previous - reached
        result.append(
            FunnelStep(name, reached, _share(reached, previous), _share(reached, cohort), dropped)
        )
    return Funnel(cohort, tuple(result))


def _steps(steps: Any) -> tuple[str, ...]:
    if isinstance(steps, str) or not isinstance(steps, Iterable):
        raise ValidationError.single("steps", steps, "must be a sequence of stage names")
    names = tuple(steps)
    if not names:
        raise ValidationError.single("steps", names, "must name at least one stage")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not SLUG.fullmatch(name):
            raise ValidationError.single(f"steps[{i}]", name, "must be a stage name (a slug)")
        if name in names[:i]:
            raise ValidationError.single(f"steps[{i}]", name, "is a duplicate")
    return names


def _period(since: Any, until: Any, since_path: str, until_path: str) -> tuple[datetime, datetime]:
    start, end = ensure_utc(since, since_path), ensure_utc(until, until_path)
    if not start < end:
        raise ValidationError.single(until_path, until, f"must be after {since_path} ({since})")
    return start, end
