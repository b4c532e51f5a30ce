"""The tier over a rolling window, from one sweep over the entries the window holds.

What qualifies at an instant m, q(m), is a step function of time: it changes only when an
entry enters the window (at its ``at``) or leaves it (at ``at + window``). The tier at T is
the best tier reached by the highest q over ``[T - retention, T]``. One sweep over the change
points in time order, keeping a sliding maximum, gives the tier at T and, carried on over the
instants ahead with no new entry, the first instant the tier changes with time alone (its
*lapse*: a downgrade as qualifying entries leave, or an upgrade as a refund does).

Both cost O(k log k) for the k entries of the lookback window (``window + retention``), never
the whole ledger: `TierWindow` finds those entries by bisection (entries are booked in time
order) and remembers its answers until an entry is booked.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING

from crmkit.domain.loyalty.entries import EntryKind, LedgerEntry
from crmkit.domain.values.timestamps import earlier, later

if TYPE_CHECKING:
    from crmkit.domain.loyalty.tiers import Tier

__all__ = ["TierWindow", "lapse", "qualification_steps", "tier_name"]

_at = attrgetter("at")

#: q as a step function: (instant, the value from that instant on), in time order.
Steps = list[tuple[datetime, int]]


def qualification_steps(entries: Iterable[LedgerEntry], window: timedelta, money: bool) -> Steps:
    """q as a step function over ``entries`` (each counted from its ``at`` to its
    ``at + window``): points earned net of reversals, or money spent net of refunds with a
    purchase's spend counted once (its latest entry's). Exact from the earliest instant
    whose window holds no entry left out of ``entries``."""
    events: list[tuple[datetime, int, int, LedgerEntry]] = []
    for index, entry in enumerate(entries):
        if entry.kind is EntryKind.EARN or entry.kind is EntryKind.REVERSE:
            events.append((entry.at, index, 1, entry))
            leaves = later(entry.at, window)  # None: it never leaves
            if leaves is not None:
                events.append((leaves, index, -1, entry))
    events.sort(key=lambda event: (event[0], event[1], event[2]))
    steps: Steps = []
    value = 0
    spent: dict[str | None, list[int]] = {}  # purchase -> [its spend counted, entries inside]
    for when, _, sign, entry in events:
        if entry.kind is EntryKind.REVERSE:
            value -= sign * (entry.spend if money else entry.points + entry.shortfall)
        elif not money:
            value += sign * entry.points
        else:
            value += _spend_change(spent, entry, sign)
        if steps and steps[-1][0] == when:
            steps[-1] = (when, value)
        else:
            steps.append((when, value))
    return steps


def _spend_change(spent: dict[str | None, list[int]], entry: LedgerEntry, sign: int) -> int:
    # Entries leave in the order they entered, so the spend counted for a purchase is its
    # latest entry's for as long as one of its entries is inside the window.
    held = spent.get(entry.interaction_id)
    if sign > 0:
        if held is None:
            spent[entry.interaction_id] = [entry.spend, 1]
            return entry.spend
        change = entry.spend - held[0]
        held[0], held[1] = entry.spend, held[1] + 1
        return change
    assert held is not None  # an entry leaves only after it entered
    held[1] -= 1
    if held[1]:
        return 0
    del spent[entry.interaction_id]
    return -held[0]


def _best_over(steps: Steps, instants: Iterable[datetime], retention: timedelta) -> Iterator[int]:
    """For each of ``instants`` (ascending), the highest q over ``[T - retention, T]``:
    a sliding maximum over the steps (amortised O(1) per step and instant)."""
    # Segment 0 is the time before the first step (nothing inside); segment i + 1 starts at
    # steps[i].
    values = [0, *(value for _, value in steps)]
    last = len(steps)
    low = high = 0
    best = deque([0])  # segments in the current span, their values decreasing
    for moment in instants:
        while high < last and steps[high][0] <= moment:
            high += 1
            while best and values[best[-1]] <= values[high]:
                best.pop()
            best.append(high)
        start = earlier(moment, retention)  # None: the span reaches back to the first step
        while start is not None and low < last and steps[low][0] <= start:
            low += 1
        while best[0] < low:
            best.popleft()
        yield values[best[0]]


def tier_name(tiers: Sequence[Tier], best: int) -> str | None:
    """The name of the highest tier whose threshold ``best`` reaches (``None``: none)."""
    reached = [tier for tier in tiers if tier.threshold <= best]
    return max(reached, key=attrgetter("threshold")).name if reached else None


def best_at(steps: Steps, at: datetime, retention: timedelta) -> int:
    """The highest q over ``[at - retention, at]``."""
    return next(_best_over(steps, [at], retention))


def lapse(
    steps: Steps, after: datetime, retention: timedelta, tiers: Sequence[Tier]
) -> datetime | None:
    """The first instant after ``after`` when the tier differs from the tier at ``after``,
    if no entry is booked after ``after`` (``steps`` built from every entry booked by then);
    ``None`` when it never does. The tier can change only where a step enters the span
    ``[T - retention, T]`` (T at a step) or leaves it (T at a step plus the retention)."""
    candidates: set[datetime] = set()
    for when, _ in steps:
        if when > after:
            candidates.add(when)
        ends = later(when, retention)
        if ends is not None and ends > after:
            candidates.add(ends)
    moments = [after, *sorted(candidates)]
    bests = _best_over(steps, moments, retention)
    now = tier_name(tiers, next(bests))
    for moment, best in zip(moments[1:], bests, strict=True):
        if tier_name(tiers, best) != now:
            return moment
    return None


class TierWindow:
    """A ledger's tier at any instant and its next lapse, from the entries of the lookback
    window only (found by bisection), remembered until the ledger books another entry.

    Args:
        window: the qualification window.
        retention: how long a tier reached is kept.
        money: True when money spent qualifies, False for points earned.
        tiers: the programme's tiers.
    """

    def __init__(
        self, window: timedelta, retention: timedelta, money: bool, tiers: Sequence[Tier]
    ) -> None:
        self._window, self._retention, self._money = window, retention, money
        self._lookback = window + retention
        self._tiers = tiers
        self._count = 0
        self._last: LedgerEntry | None = None
        self._ordered = True
        self._tier: dict[datetime, str | None] = {}
        self._lapse: dict[datetime, datetime | None] = {}
        self._now: Steps | None = None  # the steps that hold from the last entry on

    def _catch_up(self, entries: Sequence[LedgerEntry], ordered: bool) -> None:
        known = self._count
        if known == len(entries) and (not known or entries[known - 1] is self._last):
            return
        self._ordered = ordered
        self._count = len(entries)
        self._last = entries[-1] if entries else None
        self._tier.clear()
        self._lapse.clear()
        self._now = None

    def _steps(self, entries: Sequence[LedgerEntry], at: datetime) -> Steps:
        """Steps exact over ``[at - retention, at]`` and, when ``at`` is at or after the last
        entry, from then on: those of the entries booked in ``(at - lookback, at]``."""
        last = entries[-1].at if entries else None
        if last is not None and at >= last and self._ordered:
            if self._now is None:  # one list serves every instant from the last entry on
                self._now = self._span(entries, last, last)
            return self._now
        return self._span(entries, at, at)

    def _span(self, entries: Sequence[LedgerEntry], start: datetime, end: datetime) -> Steps:
        """The steps of the entries booked in ``(start - lookback, end]``."""
        since = earlier(start, self._lookback)  # None: every entry so far
        if self._ordered:
            low = 0 if since is None else bisect_right(entries, since, key=_at)
            high = bisect_right(entries, end, key=_at)
            inside: Iterable[LedgerEntry] = entries[low:high]
        else:
            inside = [e for e in entries if (since is None or e.at > since) and e.at <= end]
        return qualification_steps(inside, self._window, self._money)

    def tier(self, entries: Sequence[LedgerEntry], at: datetime, ordered: bool) -> str | None:
        """The tier at ``at`` from the entries booked by then (``ordered``: whether they are
        in time order, so that bisection finds the window)."""
        self._catch_up(entries, ordered)
        if at not in self._tier:
            steps = self._steps(entries, at)
            self._tier[at] = tier_name(self._tiers, best_at(steps, at, self._retention))
        return self._tier[at]

    def lapse(
        self, entries: Sequence[LedgerEntry], after: datetime, ordered: bool
    ) -> datetime | None:
        """The first instant after ``after`` (at or after the last entry) when the tier
        changes with time alone (``None``: never)."""
        self._catch_up(entries, ordered)
        if after not in self._lapse:
            steps = self._steps(entries, after)
            self._lapse[after] = lapse(steps, after, self._retention, self._tiers)
        return self._lapse[after]
