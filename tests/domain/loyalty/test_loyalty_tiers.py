"""Tiers over a long history: the tier a ledger keeps up to date (and when it next changes
with time alone) is the tier recomputed from scratch from the entries, and booking on a
long ledger costs what its tier window holds, not what its whole history does."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from crmkit import CRM, Customer, FixedClock, Settings
from crmkit.domain.interactions.channels import Channel
from crmkit.domain.interactions.interaction import Interaction
from crmkit.domain.loyalty import (
    EntryKind,
    LedgerEntry,
    PointsLedger,
    Programme,
    SpendRule,
    Tier,
    TierBasis,
    TierChanged,
    TierPolicy,
    fold,
)
from crmkit.domain.values.ids import CustomerId, InteractionId
from crmkit.domain.values.money import Money
from crmkit.errors import InsufficientPoints

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
CUSTOMER = CustomerId("c1")


def programme(
    policy: TierPolicy,
    thresholds: Sequence[int] = (100, 500, 2000),
    lots: tuple[int, int | None] = (14, 90),
) -> Programme:
    """Three tiers (or as many as ``thresholds``); ``lots``: the pending and expiry days."""
    names = ("silver", "gold", "platinum")
    return Programme(
        "shop",
        [SpendRule("per_euro", 1, Money.of("1", "EUR"))],
        tiers=[Tier(name, threshold) for name, threshold in zip(names, thresholds, strict=False)],
        tier_policy=policy,
        pending_days=lots[0],
        expiry_days=lots[1],
    )


def buy(ident: str, euros: str, when: datetime) -> Interaction:
    return Interaction(
        id=InteractionId(ident),
        customer_id=CUSTOMER,
        occurred_at=when,
        kind="purchase",
        channel=Channel.WEB,
        amount=Money.of(euros, "EUR"),
    )


def refund(ident: str, euros: str | None, when: datetime) -> Interaction:
    return Interaction(
        id=InteractionId(ident),
        customer_id=CUSTOMER,
        occurred_at=when,
        kind="refund",
        channel=Channel.WEB,
        amount=None if euros is None else Money.of(euros, "EUR"),
    )


# -- the tier from scratch: every entry, every instant it could change ----------------------


def tier_from_scratch(
    policy: TierPolicy, tiers: Sequence[Tier], entries: list[LedgerEntry], at: datetime
) -> str | None:
    """The best qualification at any moment of ``[at - retention, at]``, trying every
    instant an entry booked by ``at`` enters or leaves the window (q is constant between)."""
    booked = [e for e in entries if e.at <= at]
    since, window = at - timedelta(days=policy.retention_days), timedelta(days=policy.window_days)
    moments = {since, at}
    moments.update(e.at for e in booked if since <= e.at)
    moments.update(e.at + window for e in booked if since <= e.at + window <= at)
    best = max(policy.qualifying(booked, moment) for moment in moments)
    reached = [tier for tier in tiers if tier.threshold <= best]
    return max(reached, key=lambda tier: tier.threshold).name if reached else None


def lapse_from_scratch(book: PointsLedger, after: datetime) -> datetime | None:
    """The first instant after ``after`` whose tier (from scratch) differs from the tier at
    ``after``: tried at every instant an entry, or the end of its window, enters or leaves
    the retention span."""
    policy, tiers = book.programme.tier_policy, book.programme.tiers
    window, keep = timedelta(days=policy.window_days), timedelta(days=policy.retention_days)
    now = tier_from_scratch(policy, tiers, book.entries, after)
    candidates = sorted(
        {
            e.at + shift
            for e in book.entries
            if e.kind in (EntryKind.EARN, EntryKind.REVERSE)
            for shift in (timedelta(0), window, keep, window + keep)
            if e.at + shift > after
        }
    )
    for moment in candidates:
        if tier_from_scratch(policy, tiers, book.entries, moment) != now:
            return moment
    return None


def due_from_scratch(book: PointsLedger) -> datetime | None:
    """When something next falls due after the ledger's last instant, from the fold of its
    entries and the tier from scratch."""
    last = book.last_at
    if last is None:
        return None
    due = []
    for lot in fold(book.entries).lots:
        if lot.remaining:
            moment = lot.expires_at if lot.available else lot.opened_by.available_from
            if moment is not None:
                due.append(moment)
    lapse = lapse_from_scratch(book, last)
    if lapse is not None:
        due.append(lapse)
    return min(due) if due else None


# -- generated histories ---------------------------------------------------------------------

POLICIES = st.builds(
    TierPolicy,
    st.sampled_from(TierBasis),
    st.sampled_from([1, 7, 30, 365]),
    st.sampled_from([0, 0, 3, 10, 90]),
)
THRESHOLDS = st.sampled_from([(100, 500, 2000), (0, 150), (50, 60, 70), (300,)])
#: Pending and expiry days: without them, the next instant due is the tier's own lapse.
LOTS = st.sampled_from([(0, None), (0, None), (14, 90), (0, 30)])

#: One step: a gap in seconds, an operation and two numbers.
Step = tuple[int, str, int, int | None]
STEPS = st.tuples(
    st.integers(0, 40 * 86_400),
    st.sampled_from(["buy", "buy", "buy", "refund", "redeem", "adjust", "job"]),
    st.integers(1, 400),
    st.none() | st.integers(1, 400),
)


def step(book: PointsLedger, when: datetime, op: str, n: int, m: int | None) -> None:
    """Book one generated operation at ``when``, as the application does (the job first)."""
    book.mature_and_expire(when)
    bought = sum(1 for e in book.entries if e.kind is EntryKind.EARN)
    if op == "buy":
        book.earn(buy(f"p{len(book.entries)}", f"{n}.{(m or 0) % 100:02d}", when), when)
    elif op == "refund" and bought:
        purchases = sorted(
            {str(e.interaction_id) for e in book.entries if e.kind is EntryKind.EARN}
        )
        book.refund(
            refund(f"r{len(book.entries)}", None if m is None else str(m), when),
            purchase_id=purchases[n % len(purchases)],
            at=when,
        )
    elif op == "redeem":
        with contextlib.suppress(InsufficientPoints):
            book.redeem(when, f"k{len(book.entries)}", points=n)
    elif op == "adjust":
        with contextlib.suppress(InsufficientPoints):
            book.adjust(n if m is None else -n, when, f"a{len(book.entries)}", "correction")


Lots = tuple[int, int | None]


@given(POLICIES, THRESHOLDS, LOTS, st.lists(STEPS, max_size=30), st.data())
def test_the_kept_tier_and_its_lapse_are_the_tier_recomputed_from_scratch(
    policy: TierPolicy,
    thresholds: tuple[int, ...],
    lots: Lots,
    steps: list[Step],
    data: st.DataObject,
) -> None:
    """After every booking: the tier at the last instant, the summary's tier and next due
    instant, and the tier at instants ahead and behind, all equal the tier from scratch."""
    book = PointsLedger(CUSTOMER, programme(policy, thresholds, lots))
    tiers, when = book.programme.tiers, T0
    for gap, op, n, m in steps:
        when += timedelta(seconds=gap)
        step(book, when, op, n, m)
        last = book.last_at
        if last is None:  # nothing booked yet
            continue
        summary = book.summary()
        assert summary.tier == tier_from_scratch(policy, tiers, book.entries, last)
        assert summary.next_due_at == due_from_scratch(book)
        for probe in data.draw(st.lists(st.integers(-500 * 86_400, 500 * 86_400), max_size=3)):
            moment = last + timedelta(seconds=probe)
            assert book.tier(moment) == tier_from_scratch(policy, tiers, book.entries, moment)


@given(POLICIES, THRESHOLDS, LOTS, st.lists(STEPS, min_size=1, max_size=20), st.data())
def test_the_tier_holds_until_the_next_instant_due(
    policy: TierPolicy,
    thresholds: tuple[int, ...],
    lots: Lots,
    steps: list[Step],
    data: st.DataObject,
) -> None:
    """With no new entry, the tier from scratch is the same at every instant before the
    next instant the summary says is due: the stored tier can be trusted until then."""
    book, when = PointsLedger(CUSTOMER, programme(policy, thresholds, lots)), T0
    for gap, op, n, m in steps:
        when += timedelta(seconds=gap)
        step(book, when, op, n, m)
    last = book.last_at
    if last is None:
        return
    policy, tiers = book.programme.tier_policy, book.programme.tiers
    now = tier_from_scratch(policy, tiers, book.entries, last)
    due = book.summary().next_due_at
    horizon = last + 3 * policy.lookback + DAY
    until = horizon if due is None else min(due, horizon)
    for fraction in data.draw(st.lists(st.floats(0, 1, exclude_max=True), max_size=5)):
        moment = min(last + (until - last) * fraction, until - timedelta(microseconds=1))
        assert tier_from_scratch(policy, tiers, book.entries, moment) == now


# -- examples --------------------------------------------------------------------------------


class TestLapse:
    def test_a_tier_kept_by_retention_lapses_when_the_refund_leaves_the_retention(self) -> None:
        """A gold purchase half refunded a day later: the member stays gold for the 10 days
        of retention after the refund, then holds silver; the summary says so in advance."""
        book = PointsLedger(CUSTOMER, programme(TierPolicy(window_days=30, retention_days=10)))
        book.earn(buy("p1", "600", T0), T0)
        book.refund(refund("r1", "300", T0 + DAY), purchase_id="p1", at=T0 + DAY)
        assert book.tier(T0 + DAY) == "gold"  # the best of the last 10 days
        assert book.summary().next_due_at == T0 + 11 * DAY
        assert book.tier(T0 + 11 * DAY) == "silver"

    def test_a_refund_leaving_the_window_gives_the_tier_back(self) -> None:
        """A refund of an old purchase cost the tier; when it leaves the window, the
        newer purchases qualify again: the job announces the upgrade."""
        book = PointsLedger(CUSTOMER, programme(TierPolicy(window_days=30)))
        book.earn(buy("p1", "400", T0), T0)
        book.refund(refund("r1", None, T0 + 10 * DAY), purchase_id="p1", at=T0 + 10 * DAY)
        book.earn(buy("p2", "150", T0 + 20 * DAY), T0 + 20 * DAY)
        # 400 - 400 + 150, then without p1 (day 30): 150 - 400, then without the refund.
        assert book.tier(T0 + 20 * DAY) == "silver"
        assert book.tier(T0 + 30 * DAY) is None
        assert book.tier(T0 + 40 * DAY) == "silver"
        book.mature_and_expire(T0 + 34 * DAY)  # p2's points mature
        assert book.summary().next_due_at == T0 + 40 * DAY
        book.pull_events()
        book.mature_and_expire(T0 + 40 * DAY)
        upgrade = TierChanged(T0 + 40 * DAY, customer_id=CUSTOMER, from_tier=None, to_tier="silver")
        assert upgrade in book.pull_events()


# -- the cost of booking on a long ledger ----------------------------------------------------


def calls_during(action: Callable[[], Any]) -> int:
    """How many Python functions (and generator steps) ``action`` runs: a measure of work
    that does not depend on the machine."""
    count = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count


def daily_buyer(days: int, policy: TierPolicy) -> PointsLedger:
    """A member who bought every day for ``days`` days up to T0, the job run before each."""
    book = PointsLedger(CUSTOMER, programme(policy))
    for day in range(days):
        when = T0 - (days - day) * DAY
        book.mature_and_expire(when)
        book.earn(buy(f"p{day}", "12.34", when), when)
    book.summary()
    return book


def test_booking_on_a_long_ledger_costs_what_its_tier_window_holds() -> None:
    """Earning, redeeming and reviewing for a member with years of history does the same
    work as for a member whose history is only what the windows hold: the tier's (40 days)
    and that of the lots with points left (14 days pending, then 90 until they expire)."""
    policy = TierPolicy(window_days=30, retention_days=10)
    short, long = daily_buyer(150, policy), daily_buyer(3000, policy)

    def work(book: PointsLedger) -> Callable[[], Any]:
        def booking() -> None:
            book.mature_and_expire(T0)
            book.earn(buy("now", "20", T0), T0)
            book.redeem(T0, "now", points=10)
            book.mature_and_expire(T0 + DAY)
            book.summary()

        return booking

    assert calls_during(work(long)) <= calls_during(work(short)) * 1.05


def test_a_ledger_with_a_long_history_keeps_the_tier_of_its_window() -> None:
    """The incremental tier matches the tier from scratch after years of purchases."""
    policy = TierPolicy(window_days=30, retention_days=10)
    book = daily_buyer(400, policy)
    for shift in (-40, -1, 0, 5, 30, 41, 100):
        moment = T0 + shift * DAY
        expected = tier_from_scratch(policy, book.programme.tiers, book.entries, moment)
        assert book.tier(moment) == expected


def test_earning_through_the_crm_costs_what_the_window_holds(tmp_path: Path) -> None:
    """Through the front door, in memory and on SQLite, a purchase of a member with years of
    history does the work of a member with only the recent entries: the store keeps each
    ledger's running tally, so reading the ledger does not add up its whole history."""
    policy = TierPolicy(window_days=30, retention_days=10)
    for crm in (
        CRM.in_memory(Settings(clock=FixedClock(T0), loyalty=programme(policy))),
        CRM.sqlite(tmp_path / "crm.db", Settings(clock=FixedClock(T0), loyalty=programme(policy))),
    ):
        long, short = CustomerId("long"), CustomerId("short")
        crm.customers.import_many([Customer.register(c, at=T0 - 4000 * DAY) for c in (long, short)])
        with crm.unit_of_work() as uow:
            for who, days in ((long, 3000), (short, 150)):
                book = daily_buyer(days, policy)
                uow.points_ledgers.add(PointsLedger(who, book.programme, book.entries))
            uow.commit()

        for who in (long, short, long, short):  # warm up: the first reads fill the caches
            purchase(crm, who)()
        assert calls_during(purchase(crm, long)) <= calls_during(purchase(crm, short)) * 1.05


def purchase(crm: CRM, who: str) -> Callable[[], Any]:
    """Recording a purchase of 5 EUR for ``who``, to be run."""
    return lambda: crm.interactions.record(
        who, kind="purchase", channel="web", amount=Money.of("5", "EUR")
    )
