"""Loyalty through the front door: earning when interactions are recorded, refunds, the
batch job, redemption, adjustments and referrals, on every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crmkit import CRM, FixedClock, Interaction, InteractionId, Money
from crmkit.domain import DomainEvent
from crmkit.errors import (
    CurrencyMismatch,
    InsufficientPoints,
    NotFound,
    ReferralRefused,
    UsageError,
    ValidationError,
)
from crmkit.events import PointsEarned, PointsExpired, PointsRedeemed, ReferralChanged, TierChanged
from crmkit.loyalty import (
    EventRule,
    Multiplier,
    Programme,
    Redemption,
    ReferralPolicy,
    ReferralStatus,
    Reward,
    SpendRule,
    Tier,
)
from tests.conftest import MakeCrm, crm_maker

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
EUR = "EUR"

PROGRAMME = Programme(
    "club",
    [
        SpendRule("spend", 1, Money.of("1.00", EUR)),
        EventRule("review", "review", 20),
        EventRule("referral", "referral", 100),
        EventRule("welcome", "sign_up", 50),
    ],
    tiers=[Tier("silver", 200, multiplier=2)],
    pending_days=14,
    expiry_days=365,
    redemption=Redemption(minimum=10, step=5),
    rewards=[Reward("coffee", 90)],
    referrals=ReferralPolicy("referral", referee_kind="sign_up"),
)


@pytest.fixture
def make(any_store: object) -> MakeCrm:
    return crm_maker(any_store, START, loyalty=PROGRAMME)


def _buy(crm: CRM, customer: str, euros: str, **more: object) -> str:
    made = crm.interactions.record(
        customer, kind="purchase", channel="web", amount=Money.of(euros, EUR), **more
    )
    return made.id


def _settle(crm: CRM, clock: FixedClock, days: int = 15) -> None:
    clock.advance(timedelta(days=days))
    crm.loyalty.run_job()


def test_a_purchase_earns_pending_points_that_mature_after_the_return_window(
    make: MakeCrm,
) -> None:
    clock = FixedClock(START)
    crm = make(clock=clock)
    ada = crm.customers.register(email="ada@example.com").id
    _buy(crm, ada, "42.90")
    balance = crm.loyalty.balance(ada)
    assert (balance.available, balance.pending) == (0, 42)
    clock.advance(timedelta(days=14))
    # Due points count as available before the job books them...
    assert crm.loyalty.balance(ada).available == 42
    report = crm.loyalty.run_job()
    assert (report.members, report.matured, report.expired) == (1, 42, 0)
    # ...and the stored balance says so once it has.
    assert crm.loyalty.balance(ada).available == 42
    assert crm.loyalty.balance(ada).version == 2


def test_replaying_a_purchase_awards_nothing_more(make: MakeCrm) -> None:
    crm = make()
    ada = crm.customers.register(email="ada@example.com").id
    for _ in range(3):
        _buy(crm, ada, "10.00", external_ref="order-1")
    assert crm.loyalty.balance(ada).pending == 10
    assert len(crm.loyalty.statement(ada)) == 1


def test_an_interaction_kind_with_an_event_rule_earns_its_points(make: MakeCrm) -> None:
    crm = make()
    ada = crm.customers.register(email="ada@example.com").id
    crm.interactions.record(ada, kind="review", channel="web")
    crm.interactions.record(ada, kind="note", channel="web")  # no rule: nothing
    [line] = crm.loyalty.statement(ada)
    assert (line.entry.rule, line.entry.points, line.pending) == ("review", 20, 20)


def test_a_partial_refund_reverses_its_share_of_the_purchase_rounded_against_it(
    make: MakeCrm,
) -> None:
    clock = FixedClock(START)
    crm = make(clock=clock)
    ada = crm.customers.register(email="ada@example.com").id
    order = _buy(crm, ada, "100.00", external_ref="order-7")
    crm.interactions.record(
        ada, kind="refund", channel="web", amount=Money.of("33.50", EUR), refund_of="order-7"
    )
    # ceil(100 * 33.50 / 100) = 34 points go back; 66 remain, still pending.
    assert crm.loyalty.balance(ada).pending == 66
    crm.interactions.record(ada, kind="refund", channel="web", refund_of=order)  # the rest
    state = crm.loyalty.state(ada)
    assert (state.available, state.pending, state.reversed) == (0, 0, 100)


def test_a_refund_naming_no_purchase_of_the_customer_is_refused_and_nothing_is_stored(
    make: MakeCrm,
) -> None:
    crm = make()
    ada = crm.customers.register(email="ada@example.com").id
    bob = crm.customers.register(email="bob@example.com").id
    bobs = _buy(crm, bob, "10.00")
    for named in ("no-such-order", bobs):
        with pytest.raises(ValidationError, match="refund_of"):
            crm.interactions.record(ada, kind="refund", channel="web", refund_of=named)
    assert crm.interactions.timeline(ada) == []


def test_spent_points_are_forgiven_when_their_purchase_is_refunded(make: MakeCrm) -> None:
    clock = FixedClock(START)
    crm = make(clock=clock)
    ada = crm.customers.register(email="ada@example.com").id
    order = _buy(crm, ada, "50.00")
    _settle(crm, clock)
    crm.loyalty.redeem(ada, points=40)
    crm.interactions.record(ada, kind="refund", channel="web", refund_of=order)
    state = crm.loyalty.state(ada)
    [*_, reversal] = crm.loyalty.statement(ada)
    assert (reversal.entry.points, reversal.entry.shortfall) == (10, 40)
    assert state.available == 0  # never negative


def test_redeeming_beyond_the_balance_raises_and_writes_nothing(make: MakeCrm) -> None:
    clock = FixedClock(START)
    crm = make(clock=clock)
    ada = crm.customers.register(email="ada@example.com").id
    _buy(crm, ada, "30.00")
    _settle(crm, clock)
    before = crm.loyalty.ledger(ada)
    with pytest.raises(InsufficientPoints) as raised:
        crm.loyalty.redeem(ada, points=35)
    assert (raised.value.requested, raised.value.available) == (35, 30)
    assert crm.loyalty.ledger(ada) == before


def test_redemption_checks_the_minimum_step_and_catalogue(make: MakeCrm) -> None:
    clock = FixedClock(START)
    crm = make(clock=clock)
    ada = crm.customers.register(email="ada@example.com").id
    _buy(crm, ada, "95.00")
    _settle(crm, clock)
    for bad in ({"points": 5}, {"points": 12}, {"reward": "tea"}, {}):
        with pytest.raises(ValidationError):
            crm.loyalty.redeem(ada, **bad)  # type: ignore[arg-type]
    entry = crm.loyalty.redeem(ada, reward="coffee", key="order-9")
    assert (entry.points, entry.rule) == (90, "coffee")
    assert crm.loyalty.redeem(ada, reward="coffee", key="order-9") == entry  # a replay
    assert crm.loyalty.balance(ada).available == 5


def test_a_customer_without_points_has_a_zero_balance_and_an_unknown_one_is_not_found(
    make: MakeCrm,
) -> None:
    crm = make()
    ada = crm.customers.register(email="ada@example.com").id
    assert (crm.loyalty.balance(ada).available, crm.loyalty.balance(ada).pending) == (0, 0)
    assert crm.loyalty.statement(ada) == []
    with pytest.raises(InsufficientPoints):
        crm.loyalty.redeem(ada, points=10)
    with pytest.raises(NotFound):
        crm.loyalty.balance("nobody")
    with pytest.raises(NotFound):
        crm.loyalty.redeem("nobody", points=10)


def test_the_job_expires_points_oldest_first_and_a_second_run_changes_nothing(
    make: MakeCrm,
) -> None:
    clock = FixedClock(START)
    crm = make(clock=clock)
    ada = crm.customers.register(email="ada@example.com").id
    _buy(crm, ada, "10.00")
    clock.advance(timedelta(days=100))
    _buy(crm, ada, "20.00")
    as_of = START + timedelta(days=14 + 365)  # the first lot's expiry; the second is younger
    clock.set(as_of)
    report = crm.loyalty.run_job(as_of=as_of)
    assert (report.expired, crm.loyalty.balance(ada).available) == (10, 20)
    statement = crm.loyalty.statement(ada)
    again = crm.loyalty.run_job(as_of=as_of)
    assert (again.members, again.matured, again.expired) == (0, 0, 0)
    assert crm.loyalty.statement(ada) == statement


def test_the_balance_at_a_past_date_is_derived_from_the_ledger(make: MakeCrm) -> None:
    clock = FixedClock(START)
    crm = make(clock=clock)
    ada = crm.customers.register(email="ada@example.com").id
    _buy(crm, ada, "10.00")
    _settle(crm, clock, days=30)
    crm.loyalty.redeem(ada, points=10)
    assert crm.loyalty.balance(ada, as_of=START + timedelta(days=20)).available == 10
    assert crm.loyalty.balance(ada, as_of=START + timedelta(days=1)).pending == 10
    assert crm.loyalty.balance(ada).available == 0


def test_tier_benefits_multiply_what_a_member_earns(make: MakeCrm) -> None:
    crm = make()
    ada = crm.customers.register(email="ada@example.com").id
    _buy(crm, ada, "200.00")
    assert crm.loyalty.tier(ada) == "silver"
    _buy(crm, ada, "10.00")
    assert crm.loyalty.statement(ada)[-1].entry.points == 20


def test_adjustments_add_or_take_points_with_a_reason(make: MakeCrm) -> None:
    crm = make()
    ada = crm.customers.register(email="ada@example.com").id
    crm.loyalty.adjust(ada, 25, reason="goodwill", key="ticket-1")
    crm.loyalty.adjust(ada, 25, reason="goodwill", key="ticket-1")  # a replay
    crm.loyalty.adjust(ada, -5, reason="correction")
    assert crm.loyalty.balance(ada).available == 20
    with pytest.raises(InsufficientPoints):
        crm.loyalty.adjust(ada, -50, reason="correction")
    with pytest.raises(ValidationError):
        crm.loyalty.adjust(ada, 5, reason="")


def test_a_referral_qualifies_on_the_first_purchase_and_rewards_both_sides_once(
    make: MakeCrm,
) -> None:
    crm = make()
    ada = crm.customers.register(email="ada@example.com").id
    bob = crm.customers.register(email="bob@example.com").id
    referral = crm.loyalty.referrals.refer(ada, bob, code="ADA-2026")
    assert referral.status is ReferralStatus.PENDING
    first = _buy(crm, bob, "10.00")
    _buy(crm, bob, "10.00")
    done = crm.loyalty.referrals.get(referral.id)
    assert (done.status, done.qualifying_interaction_id) == (ReferralStatus.REWARDED, first)
    assert crm.loyalty.balance(ada).pending == 100
    assert crm.loyalty.balance(bob).pending == 10 + 10 + 50  # two purchases and the welcome
    assert crm.loyalty.referrals.list_by_referrer(ada) == [done]
    assert crm.loyalty.referrals.find_by_referee(bob) == done
    kinds = [i.kind for i in crm.interactions.timeline(ada)]
    assert kinds == ["referral"]


def test_self_referrals_and_second_referrals_are_refused(make: MakeCrm) -> None:
    crm = make()
    ada = crm.customers.register(email="ada@example.com").id
    bob = crm.customers.register(email="bob@example.com").id
    cy = crm.customers.register(email="cy@example.com").id
    with pytest.raises(ReferralRefused, match="themselves"):
        crm.loyalty.referrals.refer(ada, ada)
    crm.loyalty.referrals.refer(ada, bob)
    with pytest.raises(ReferralRefused, match="already referred"):
        crm.loyalty.referrals.refer(cy, bob)
    with pytest.raises(NotFound):
        crm.loyalty.referrals.refer(ada, "nobody")
    assert crm.loyalty.referrals.list_by_referrer(cy) == []


def test_customers_who_bought_already_or_referred_the_referrer_cannot_be_referred(
    make: MakeCrm,
) -> None:
    crm = make()
    ada = crm.customers.register(email="ada@example.com").id
    bob = crm.customers.register(email="bob@example.com").id
    cy = crm.customers.register(email="cy@example.com").id
    _buy(crm, cy, "5.00")
    with pytest.raises(ReferralRefused, match="already made a purchase"):
        crm.loyalty.referrals.refer(ada, cy)
    crm.loyalty.referrals.refer(ada, bob)
    with pytest.raises(ReferralRefused, match="mutual"):
        crm.loyalty.referrals.refer(bob, ada)


def test_a_referral_bonus_is_not_multiplied_by_the_referees_channel(any_store: object) -> None:
    app_bonus = Programme(
        "club",
        [SpendRule("spend", 1, Money.of("1.00", EUR)), EventRule("referral", "referral", 100)],
        multipliers=[Multiplier("app", 2, channels={"app"})],
        referrals=ReferralPolicy("referral"),
    )
    crm = crm_maker(any_store, START, loyalty=app_bonus)()
    ada = crm.customers.register(email="ada@example.com").id
    bob = crm.customers.register(email="bob@example.com").id
    crm.loyalty.referrals.refer(ada, bob)
    crm.interactions.record(bob, kind="purchase", channel="app", amount=Money.of("10", EUR))
    assert crm.loyalty.balance(ada).available == 100
    assert crm.loyalty.balance(bob).available == 20


def test_loyalty_events_are_published_after_commit(make: MakeCrm) -> None:
    clock = FixedClock(START)
    crm = make(clock=clock)
    seen: list[DomainEvent] = []
    for kind in (PointsEarned, PointsRedeemed, PointsExpired, TierChanged, ReferralChanged):
        crm.events.subscribe(kind, seen.append)
    ada = crm.customers.register(email="ada@example.com").id
    bob = crm.customers.register(email="bob@example.com").id
    crm.loyalty.referrals.refer(ada, bob)
    _buy(crm, bob, "250.00")
    _settle(crm, clock)
    crm.loyalty.redeem(bob, points=100)
    clock.advance(timedelta(days=400))
    crm.loyalty.run_job()
    names = [type(e).__name__ for e in seen]
    assert names.count("ReferralChanged") == 3  # pending, qualified, rewarded
    assert {"PointsEarned", "PointsRedeemed", "PointsExpired", "TierChanged"} <= set(names)


def test_tenants_keep_their_own_points(make: MakeCrm) -> None:
    alpha, beta = make("alpha"), make("beta")
    ada = alpha.customers.register(email="ada@example.com").id
    _buy(alpha, ada, "10.00")
    with pytest.raises(NotFound):
        beta.loyalty.balance(ada)
    assert list(beta.loyalty.stream_balances()) == []
    assert [b.customer_id for b in alpha.loyalty.stream_balances()] == [ada]


def test_a_crm_without_a_programme_records_interactions_but_has_no_points(
    any_store: object,
) -> None:
    crm = crm_maker(any_store, START)()
    ada = crm.customers.register(email="ada@example.com").id
    _buy(crm, ada, "10.00")
    with pytest.raises(UsageError, match="loyalty"):
        crm.loyalty.balance(ada)
    with pytest.raises(ValidationError):
        crm_maker(any_store, START)(loyalty="club")


def test_a_bulk_import_can_earn_points_as_recording_one_by_one_does(make: MakeCrm) -> None:
    one_by_one, bulk = make("alpha"), make("beta")
    members = []
    for crm in (one_by_one, bulk):
        ada = crm.customers.register(email="ada@example.com").id
        bob = crm.customers.register(email="bob@example.com").id
        members.append((ada, bob))
    (ada, bob), (ada_b, bob_b) = members
    for amount, who in (("12.50", ada), ("230.00", bob), ("9.99", ada)):
        _buy(one_by_one, who, amount)
    batch = [
        Interaction(
            id=InteractionId(f"i{n}"),
            customer_id=who,
            occurred_at=START,
            kind="purchase",
            channel="web",
            amount=Money.of(amount, EUR),
        )
        for n, (amount, who) in enumerate((("12.50", ada_b), ("230.00", bob_b), ("9.99", ada_b)))
    ]
    assert bulk.interactions.import_many(batch, batch_size=2, earn_points=True).imported == 3
    for mine, theirs in ((ada, ada_b), (bob, bob_b)):
        expected = [(e.kind, e.points, e.rule) for e in one_by_one.loyalty.ledger(mine).entries]
        got = [(e.kind, e.points, e.rule) for e in bulk.loyalty.ledger(theirs).entries]
        assert got == expected
        assert bulk.loyalty.balance(theirs).pending == one_by_one.loyalty.balance(mine).pending


def test_a_bulk_import_earns_only_when_asked_and_only_with_a_programme(
    any_store: object,
) -> None:
    crm = crm_maker(any_store, START, loyalty=PROGRAMME)()
    ada = crm.customers.register(email="ada@example.com").id
    purchase = Interaction(
        id=InteractionId("p1"),
        customer_id=ada,
        occurred_at=START,
        kind="purchase",
        channel="web",
        amount=Money.of("10", EUR),
    )
    crm.interactions.import_many([purchase])
    assert crm.loyalty.statement(ada) == []
    plain = crm_maker(any_store, START)("other")
    with pytest.raises(UsageError):
        plain.interactions.import_many([], earn_points=True)


def test_a_tier_lapsing_with_time_is_read_at_once_and_announced_by_the_job(
    make: MakeCrm,
) -> None:
    clock = FixedClock(START)
    crm = make(clock=clock)
    changes: list[TierChanged] = []
    crm.events.subscribe(TierChanged, changes.append)
    ada = crm.customers.register(email="ada@example.com").id
    _buy(crm, ada, "250.00")
    _settle(crm, clock)
    assert crm.loyalty.balance(ada).tier == "silver"
    clock.advance(timedelta(days=366))  # the purchase left the 365-day window
    assert crm.loyalty.balance(ada).tier is None  # before any job ran
    crm.loyalty.run_job()
    assert [(c.from_tier, c.to_tier) for c in changes] == [(None, "silver"), ("silver", None)]
    assert crm.loyalty.balance(ada).tier is None
    assert crm.loyalty.run_job().members == 0
    assert len(changes) == 2


def test_a_job_run_ahead_of_the_clock_does_not_block_recording(make: MakeCrm) -> None:
    clock = FixedClock(START)
    crm = make(clock=clock)
    ada = crm.customers.register(email="ada@example.com").id
    _buy(crm, ada, "10.00")
    crm.loyalty.run_job(as_of=START + timedelta(days=30))
    _buy(crm, ada, "5.00")  # booked at the job's instant, not before it
    assert [line.entry.at for line in crm.loyalty.statement(ada)][-1] == START + timedelta(days=30)
    # Its return window (from when it occurred) has passed by then: available at once.
    assert crm.loyalty.balance(ada).available == 15


def test_a_refund_in_another_currency_than_its_purchase_is_refused(make: MakeCrm) -> None:
    crm = make()
    ada = crm.customers.register(email="ada@example.com").id
    order = _buy(crm, ada, "10.00")
    with pytest.raises(CurrencyMismatch):
        crm.interactions.record(
            ada, kind="refund", channel="web", amount=Money.of("10.00", "USD"), refund_of=order
        )
    assert crm.loyalty.balance(ada).pending == 10
    assert [i.kind for i in crm.interactions.timeline(ada)] == ["purchase"]
