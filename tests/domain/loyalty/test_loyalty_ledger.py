"""Points ledgers: earning, maturing, redeeming, expiring and reversing, and their invariants."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit.domain.interactions.channels import Channel
from crmkit.domain.interactions.interaction import Interaction
from crmkit.domain.loyalty import (
    EntryKind,
    PeriodCap,
    PointsEarned,
    PointsExpired,
    PointsLedger,
    PointsRedeemed,
    Programme,
    Reward,
    SpendRule,
    Tier,
    TierChanged,
    TierPolicy,
    fold,
)
from crmkit.domain.values.ids import CustomerId, InteractionId
from crmkit.domain.values.money import Money
from crmkit.errors import IdempotencyConflict, InsufficientPoints, ValidationError

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
CUSTOMER = CustomerId("c1")

PROGRAMME = Programme(
    "shop",
    [SpendRule("per_euro", 1, Money.of("1", "EUR"))],
    tiers=[Tier("silver", 100), Tier("gold", 500, multiplier=Decimal(2))],
    tier_policy=TierPolicy(window_days=30, retention_days=10),
    pending_days=14,
    expiry_days=60,
    rewards=[Reward("mug", 50)],
)


def buy(ident: str, euros: str, when: datetime = T0) -> Interaction:
    return Interaction(
        id=InteractionId(ident),
        customer_id=CUSTOMER,
        occurred_at=when,
        kind="purchase",
        channel=Channel.WEB,
        amount=Money.of(euros, "EUR"),
    )


def refund(ident: str, euros: str | None, when: datetime = T0) -> Interaction:
    amount = None if euros is None else Money.of(euros, "EUR")
    return Interaction(
        id=InteractionId(ident),
        customer_id=CUSTOMER,
        occurred_at=when,
        kind="refund",
        channel=Channel.WEB,
        amount=amount,
    )


def ledger(programme: Programme = PROGRAMME) -> PointsLedger:
    return PointsLedger(CUSTOMER, programme)


def funded(points_euros: str = "100") -> PointsLedger:
    """A ledger whose purchase at T0 has matured by T0 + 14 days."""
    book = ledger()
    book.earn(buy("p1", points_euros), T0)
    book.mature_and_expire(T0 + 14 * DAY)
    return book


class TestEarning:
    def test_earned_points_are_pending_until_the_return_window_ends(self) -> None:
        """A purchase opens a pending lot that the job makes available after 14 days."""
        book = ledger()
        book.earn(buy("p1", "42.90"), T0)
        assert (book.balance(), book.pending()) == (0, 42)
        assert book.mature_and_expire(T0 + 13 * DAY) == []
        book.mature_and_expire(T0 + 14 * DAY)
        assert (book.balance(), book.pending()) == (42, 0)

    def test_each_entry_names_its_rule_interaction_and_key(self) -> None:
        """The earning entry names the spend rule and the purchase."""
        book = ledger()
        [entry] = book.earn(buy("p1", "10"), T0)
        assert (entry.kind, entry.rule, entry.interaction_id) == (EntryKind.EARN, "per_euro", "p1")
        assert entry.key == "earn:p1:per_euro"

    def test_replaying_an_interaction_awards_nothing_more(self) -> None:
        """The second earn of the same purchase books nothing."""
        book = ledger()
        book.earn(buy("p1", "10"), T0)
        assert book.earn(buy("p1", "10"), T0 + DAY) == []
        assert book.pending() == 10

    def test_a_period_cap_limits_what_a_member_earns_per_day(self) -> None:
        """With 25 points a day, two purchases of 20 earn 20 then 5."""
        capped = attrs.evolve(PROGRAMME, period_caps=[PeriodCap("day", 25)])
        book = ledger(capped)
        book.earn(buy("p1", "20"), T0)
        [second] = book.earn(buy("p2", "20"), T0)
        assert second.points == 5
        assert book.earn(buy("p3", "20", T0 + DAY), T0 + DAY)[0].points == 20

    def test_someone_elses_interaction_is_refused(self) -> None:
        """A ledger earns only from its own member's interactions."""
        other = attrs.evolve(buy("p1", "10"), customer_id=CustomerId("c2"))
        with pytest.raises(ValidationError):
            ledger().earn(other, T0)

    def test_booking_before_the_last_entry_is_refused(self) -> None:
        """Entries are booked in time order, so past states never change."""
        book = ledger()
        book.earn(buy("p1", "10"), T0)
        with pytest.raises(ValidationError) as error:
            book.earn(buy("p2", "10"), T0 - DAY)
        assert error.value.paths == ("at",)


class TestRedeeming:
    def test_redeeming_spends_available_points(self) -> None:
        """Redeeming a reward takes its price and emits PointsRedeemed."""
        book = funded()
        book.pull_events()
        entry = book.redeem(T0 + 15 * DAY, "order-9", reward="mug")
        assert (entry.points, entry.rule, book.balance()) == (50, "mug", 50)
        [event] = book.pull_events()
        assert isinstance(event, PointsRedeemed)
        assert event.aggregate_id == CUSTOMER

    def test_redeeming_more_than_the_balance_writes_nothing(self) -> None:
        """InsufficientPoints names what was asked and what is there; no entry is booked."""
        book = funded("30")
        before = list(book.entries)
        with pytest.raises(InsufficientPoints) as error:
            book.redeem(T0 + 15 * DAY, "k", points=31)
        assert (error.value.requested, error.value.available) == (31, 30)
        assert book.entries == before

    def test_pending_points_cannot_be_redeemed(self) -> None:
        """Points inside the return window are not yet the member's to spend."""
        book = ledger()
        book.earn(buy("p1", "100"), T0)
        with pytest.raises(InsufficientPoints):
            book.redeem(T0, "k", points=1)

    def test_replaying_a_redemption_key_spends_once(self) -> None:
        """The same key and amount returns the first entry; another amount conflicts."""
        book = funded()
        first = book.redeem(T0 + 15 * DAY, "k", points=10)
        assert book.redeem(T0 + 16 * DAY, "k", points=10) == first
        assert book.balance() == 90
        with pytest.raises(IdempotencyConflict):
            book.redeem(T0 + 16 * DAY, "k", points=20)

    def test_redemption_minimum_and_step_are_enforced(self) -> None:
        """A programme asking for multiples of 10 refuses 15, writing nothing."""
        stepped = attrs.evolve(PROGRAMME, redemption=attrs.evolve(PROGRAMME.redemption, step=10))
        book = ledger(stepped)
        book.adjust(100, T0, "k", "goodwill")
        with pytest.raises(ValidationError) as error:
            book.redeem(T0, "k", points=15)
        assert error.value.paths == ("points",)
        assert len(book.entries) == 1


class TestExpiry:
    def test_points_expire_oldest_first_days_after_becoming_available(self) -> None:
        """The lot available at day 14 expires at day 74; the later one survives."""
        book = ledger()
        book.earn(buy("p1", "10"), T0)
        book.earn(buy("p2", "20", T0 + 10 * DAY), T0 + 10 * DAY)
        book.mature_and_expire(T0 + 30 * DAY)
        book.pull_events()
        [expiry] = book.mature_and_expire(T0 + 74 * DAY)
        assert expiry.takes == (("earn:p1:per_euro", 10),)
        assert book.balance() == 20
        assert book.pull_events() == [PointsExpired(T0 + 74 * DAY, customer_id=CUSTOMER, points=10)]

    def test_rerunning_the_job_at_the_same_instant_changes_nothing(self) -> None:
        """The second run at the same as_of books nothing."""
        book = funded()
        assert book.mature_and_expire(T0 + 90 * DAY)
        assert book.mature_and_expire(T0 + 90 * DAY) == []


class TestRefunds:
    def test_a_full_refund_reverses_what_the_purchase_earned(self) -> None:
        """All 100 points of the purchase go back, even while still pending."""
        book = ledger()
        book.earn(buy("p1", "100"), T0)
        entry = book.refund(refund("r1", "100"), purchase_id="p1", at=T0 + DAY)
        assert entry is not None
        assert (entry.points, entry.shortfall) == (100, 0)
        assert (book.balance(), book.pending()) == (0, 0)

    def test_partial_refunds_round_up_and_add_up_to_the_whole(self) -> None:
        """Refunding 1/3 of 10 points takes ceil(3.33) = 4, then 3, then 3."""
        book = ledger()
        book.earn(buy("p1", "10.50"), T0)  # 10 points for 10.50 EUR
        takes = [book.refund(refund(f"r{i}", "3.50"), purchase_id="p1", at=T0) for i in range(3)]
        assert [t.points for t in takes if t] == [4, 3, 3]
        assert book.refund(refund("r9", "1"), purchase_id="p1", at=T0) is None

    def test_refunded_points_already_spent_are_forgiven_not_owed(self) -> None:
        """Other points pay first; what cannot be taken is the shortfall, balance stays >= 0."""
        book = funded("100")
        book.redeem(T0 + 15 * DAY, "k", points=80)
        entry = book.refund(refund("r1", None), purchase_id="p1", at=T0 + 16 * DAY)
        assert entry is not None
        assert (entry.points, entry.shortfall) == (20, 80)
        assert book.balance() == 0

    def test_replaying_a_refund_reverses_once(self) -> None:
        """The same refund interaction is reversed once."""
        book = ledger()
        book.earn(buy("p1", "100"), T0)
        book.refund(refund("r1", "50"), purchase_id="p1", at=T0)
        assert book.refund(refund("r1", "50"), purchase_id="p1", at=T0) is None
        assert book.pending() == 50


class TestHistoryAndTiers:
    def test_the_balance_on_a_past_date_is_what_was_booked_by_then(self) -> None:
        """'What was my balance on day 15?' after a later redemption."""
        book = funded()
        book.redeem(T0 + 20 * DAY, "k", points=60)
        assert book.balance(T0 + 15 * DAY) == 100
        assert book.balance(T0 + 20 * DAY) == 40
        assert book.balance(T0 - DAY) == 0

    def test_the_statement_explains_every_point(self) -> None:
        """Each line is an entry with its rule and the points after it."""
        book = funded()
        book.redeem(T0 + 15 * DAY, "k", points=30)
        lines = [
            (ln.entry.kind, ln.entry.rule, ln.available, ln.pending) for ln in book.statement()
        ]
        assert lines == [
            (EntryKind.EARN, "per_euro", 0, 100),
            (EntryKind.MATURE, "pending_period", 100, 0),
            (EntryKind.REDEEM, "redemption", 70, 0),
        ]

    def test_tiers_come_from_points_earned_not_the_balance(self) -> None:
        """Redeeming does not cost the tier; it lapses after window + retention."""
        book = funded("150")
        book.redeem(T0 + 15 * DAY, "k", points=150)
        assert book.tier(T0 + 15 * DAY) == "silver"
        assert book.tier(T0 + 39 * DAY) == "silver"  # out of the window, kept by retention
        assert book.tier(T0 + 41 * DAY) is None

    def test_tier_changes_are_announced(self) -> None:
        """Reaching a threshold emits TierChanged."""
        book = ledger()
        book.earn(buy("p1", "99"), T0)
        book.earn(buy("p2", "1"), T0 + DAY)
        events = book.pull_events()
        assert (
            TierChanged(T0 + DAY, customer_id=CUSTOMER, from_tier=None, to_tier="silver") in events
        )
        assert sum(isinstance(e, PointsEarned) for e in events) == 2

    def test_adjustments_open_or_take_points_but_never_below_zero(self) -> None:
        """+20 opens an available lot; -30 is more than there is."""
        book = ledger()
        book.adjust(20, T0, "goodwill", "goodwill")
        assert book.balance() == 20
        with pytest.raises(InsufficientPoints):
            book.adjust(-30, T0, "fix", "correction")
        book.adjust(-5, T0, "fix", "correction")
        assert book.balance() == 15


# -- properties ---------------------------------------------------------------------------------

#: One step of a member's life: a gap in days, then an operation.
Step = tuple[int, str, int, int | None]
STEPS = st.tuples(
    st.integers(0, 40),
    st.sampled_from(["buy", "buy", "refund", "redeem", "adjust", "job"]),
    st.integers(1, 300),
    st.none() | st.integers(1, 300),
)


def replay_script(steps: list[Step], programme: Programme = PROGRAMME) -> PointsLedger:
    """Run generated steps against a fresh ledger, tolerating refused redemptions."""
    book, when, bought = ledger(programme), T0, 0
    for gap, op, n, m in steps:
        when += gap * DAY
        if op == "buy":
            bought += 1
            book.earn(buy(f"p{bought}", f"{n}.{(m or 0) % 100:02d}", when), when)
        elif op == "refund" and bought:
            euros = None if m is None else str(m)
            book.refund(
                refund(f"r{len(book.entries)}", euros, when),
                purchase_id=f"p{n % bought + 1}",
                at=when,
            )
        elif op == "redeem":
            with contextlib.suppress(InsufficientPoints):
                book.redeem(when, f"k{len(book.entries)}", points=n)
        elif op == "adjust":
            with contextlib.suppress(InsufficientPoints):
                book.adjust(n if m is None else -n, when, f"a{len(book.entries)}", "correction")
        elif op == "job":
            book.mature_and_expire(when)
    return book


SCRIPTS = st.lists(STEPS, max_size=25)


def instants_of(book: PointsLedger) -> list[datetime]:
    """Every booking instant, a moment before each, and one long after."""
    times = {e.at for e in book.entries}
    return sorted(times | {t - timedelta(seconds=1) for t in times} | {T0 + 10_000 * DAY})


class TestInvariants:
    @given(SCRIPTS)
    def test_the_balance_is_never_negative(self, steps: list[Step]) -> None:
        """At every instant, no lot and no total goes below zero."""
        book = replay_script(steps)
        for when in instants_of(book):
            state = book.state(when)
            assert all(lot.remaining >= 0 for lot in state.lots)
            assert state.available >= 0
            assert state.pending >= 0

    @given(SCRIPTS)
    def test_every_point_is_accounted_for_at_every_instant(self, steps: list[Step]) -> None:
        """earned + in = redeemed + expired + reversed + out + available + pending, always."""
        book = replay_script(steps)
        for when in instants_of(book):
            s = book.state(when)
            outgoing = s.redeemed + s.expired + s.reversed + s.adjusted_out
            assert s.earned + s.adjusted_in == outgoing + s.available + s.pending
            assert sum(ln.entry.change for ln in book.statement(when)) == s.available + s.pending

    @given(SCRIPTS, st.data())
    def test_replaying_any_earning_event_awards_nothing_more(
        self, steps: list[Step], data: st.DataObject
    ) -> None:
        """Earning again from any purchase already booked books nothing."""
        book = replay_script(steps)
        earned = [e for e in book.entries if e.kind is EntryKind.EARN]
        if not earned:
            return
        entry = data.draw(st.sampled_from(earned))
        again = buy(str(entry.interaction_id), "999", book.entries[-1].at)
        assert book.earn(again, book.entries[-1].at) == []

    @given(SCRIPTS, st.integers(0, 200))
    def test_rerunning_the_expiry_job_at_the_same_instant_changes_nothing(
        self, steps: list[Step], days: int
    ) -> None:
        """The second run at the same as_of books nothing and emits nothing."""
        book = replay_script(steps)
        as_of = (book.entries[-1].at if book.entries else T0) + days * DAY
        book.mature_and_expire(as_of)
        entries, _ = list(book.entries), book.pull_events()
        assert book.mature_and_expire(as_of) == []
        assert book.entries == entries
        assert book.pull_events() == []

    @given(SCRIPTS)
    def test_a_refund_never_leaves_net_points_for_refunded_spend(self, steps: list[Step]) -> None:
        """Points taken back or forgiven cover at least the refunded share of what was earned."""
        book = replay_script(steps)
        for purchase in {e.interaction_id for e in book.entries if e.kind is EntryKind.EARN}:
            earned = [
                e for e in book.entries if e.kind is EntryKind.EARN and e.interaction_id == purchase
            ]
            back = [
                e for e in book.entries if e.kind is EntryKind.REVERSE and e.reference == purchase
            ]
            points, spend = sum(e.points for e in earned), earned[0].spend
            refunded, due = sum(e.spend for e in back), sum(e.points + e.shortfall for e in back)
            assert due * spend >= points * refunded
            assert due <= points
            assert refunded <= spend

    @given(SCRIPTS)
    def test_redemptions_and_expiries_consume_lots_oldest_first(self, steps: list[Step]) -> None:
        """What an entry takes is a prefix of the available lots in FIFO order."""
        book = replay_script(steps)
        for index, entry in enumerate(book.entries):
            if entry.kind not in (EntryKind.REDEEM, EntryKind.ADJUST) or not entry.takes:
                continue
            before = fold(book.entries[:index])
            order = [lot.lot for lot in before.open_lots()]
            assert [lot for lot, _ in entry.takes] == order[: len(entry.takes)]
            remaining = {lot.lot: lot.remaining for lot in before.lots}
            assert all(remaining[lot] == n for lot, n in entry.takes[:-1])

    @given(SCRIPTS)
    def test_expiry_takes_exactly_the_due_lots_oldest_first(self, steps: list[Step]) -> None:
        """Each job expires every available lot past its date, in FIFO order, and no other."""
        book = replay_script(steps)
        expiries = [e for e in book.entries if e.kind is EntryKind.EXPIRE]
        for at in {e.at for e in expiries}:
            batch = [e.takes[0][0] for e in expiries if e.at == at]
            after = book.state(at)
            due = [lot for lot in after.lots if lot.expires_at is not None and lot.expires_at <= at]
            assert all(lot.remaining == 0 for lot in due if lot.available)
            fifo = sorted(
                batch, key=lambda key: next(x.fifo_key for x in after.lots if x.lot == key)
            )
            assert batch == fifo

    @given(SCRIPTS, st.integers(0, 400))
    def test_the_tier_at_t_depends_only_on_entries_inside_the_window(
        self, steps: list[Step], days: int
    ) -> None:
        """Dropping every entry booked before T - (window + retention) leaves the tier at T."""
        book = replay_script(steps)
        when = T0 + days * DAY
        policy = PROGRAMME.tier_policy
        recent = [e for e in book.entries if e.at > when - policy.lookback]
        assert policy.tier_at(PROGRAMME.tiers, recent, when) == book.tier(when)
        later = [e for e in book.entries if e.at <= when]
        assert policy.tier_at(PROGRAMME.tiers, later, when) == book.tier(when)
