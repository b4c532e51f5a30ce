"""The machine's fixed world: the tenants, the pools of tags and sources, the lifecycle models
and the loyalty programme both sides' CRMs run, and the shapes of the bundles' keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from crmkit.domain import (
    CUSTOMER_LIFECYCLE,
    DEAL_PIPELINE,
    AccountId,
    Channel,
    CustomerId,
    EventRule,
    Interaction,
    InteractionKind,
    LifecycleModel,
    Money,
    Multiplier,
    Outcome,
    Period,
    PeriodCap,
    Programme,
    ProgressionRule,
    Redemption,
    ReferralPolicy,
    Reward,
    SpendRule,
    Stage,
    SubjectKind,
    TenantId,
    Tier,
    TierPolicy,
    TimeInStage,
    Transition,
)
from crmkit.segments import days, field, interactions, tagged

#: Where the shared clock starts.
START: Final = datetime(2024, 1, 1, tzinfo=UTC)
#: The two tenants the machine works in (names no other suite is likely to use, so that a
#: shared test database can be cleaned tenant by tenant).
TENANTS: Final = (TenantId("stateful_a"), TenantId("stateful_b"))
#: Tags the machine sets and lists customers by.
TAGS: Final = ("vip", "b2b", "newsletter")
#: Host systems that know customers by an external id.
SOURCES: Final = ("shop", "billing")

#: A small customer model of the machine's own, next to the presets: a guard on a tag the
#: machine sets and one on the time spent in a stage, rules over a 30-day window (so that time
#: passing flips them back and forth), a rule whose transition is guarded, one that time alone
#: triggers, and a terminal stage.
ONBOARDING: Final = LifecycleModel(
    "onboarding",
    stages=[
        Stage("invited"),
        Stage("active"),
        Stage("champion"),
        Stage("dormant"),
        Stage("closed", terminal=True, outcome=Outcome.LOST),
    ],
    transitions=[
        ("invited", "active"),
        ("invited", "closed"),
        Transition("active", "champion", guard=tagged("vip")),
        ("active", "dormant"),
        ("champion", "dormant"),
        ("dormant", "active"),
        Transition("dormant", "closed", guard=TimeInStage(30)),
    ],
    rules=[
        ProgressionRule(
            "activated",
            "active",
            interactions(last=days(30)).count() >= 1,
            sources={"invited", "dormant"},
        ),
        ProgressionRule(
            "championed",
            "champion",
            field("email").exists() & (interactions(last=days(60)).count() >= 2),
        ),
        ProgressionRule("went_quiet", "dormant", ~(interactions(last=days(30)).count() >= 1)),
        ProgressionRule("expired", "closed", TimeInStage(60), sources={"invited"}),
    ],
)
#: The lifecycle models both sides' CRMs track: two for customers, one for accounts.
LIFECYCLES: Final = (CUSTOMER_LIFECYCLE, ONBOARDING, DEAL_PIPELINE)
CUSTOMER_MODELS: Final = tuple(m for m in LIFECYCLES if m.subject is SubjectKind.CUSTOMER)
#: A stage no model has, to ask for now and then.
NOWHERE: Final = "nowhere"
#: Interactions are often recorded some time in the last year, so that the rules' windows
#: (30 to 365 days) count them.
YEAR_MINUTES: Final = 365 * 24 * 60
#: The interaction kinds the models' rules and guards count: drawn often, so that they move.
LIFECYCLE_KINDS: Final = (
    InteractionKind.PURCHASE.value,
    InteractionKind.REFERRAL.value,
    InteractionKind.MEETING.value,
)

#: The loyalty programme both sides' CRMs run, so that recording an interaction through the
#: CRM earns points (and a refund naming its purchase reverses them):
#:
#: - ``spend``: 1 point per EUR spent on a purchase (``per=Money(100, "EUR")``), the exact
#:   figure times the multipliers rounded once, half up: 12.50 EUR earns 13 points, 19 in
#:   silver. Other currencies earn nothing.
#: - ``review``, ``referral`` and ``welcome``: 15 points per ``review``, 40 per ``referral``
#:   and 10 per ``sign_up`` (rounded down after the multipliers). A qualified referral earns
#:   through them (`ReferralPolicy`: a ``referral`` for the referrer, a ``sign_up`` for the
#:   referee).
#: - ``app_bonus``: an interaction in the app earns twice as much.
#: - ``silver``: reached with 150 points earned (net of reversals) in a 60-day window, kept 14
#:   days more; its members earn 1.5 times as much.
#: - At most 600 points per member for the interactions of one (UTC) day.
#: - Points are pending for 3 days, then available for 30 before they expire: less than the
#:   time `AdapterStateMachine.let_time_pass` lets pass, so the job matures and expires them.
#: - Redemptions take at least 10 points, in steps of 5; the ``coffee`` reward costs 25.
LOYALTY: Final = Programme(
    "stateful",
    rules=[
        SpendRule("spend", 1, Money(100, "EUR"), rounding=ROUND_HALF_UP),
        EventRule("review", InteractionKind.REVIEW.value, 15),
        EventRule("referral", InteractionKind.REFERRAL.value, 40),
        EventRule("welcome", InteractionKind.SIGN_UP.value, 10),
    ],
    multipliers=[Multiplier("app_bonus", 2, channels={Channel.APP})],
    tiers=[Tier("silver", 150, multiplier=Decimal("1.5"))],
    tier_policy=TierPolicy(window_days=60, retention_days=14),
    period_caps=[PeriodCap(Period.DAY, 600)],
    pending_days=3,
    expiry_days=30,
    redemption=Redemption(minimum=10, step=5),
    rewards=[Reward("coffee", 25)],
    referrals=ReferralPolicy(
        InteractionKind.REFERRAL.value, referee_kind=InteractionKind.SIGN_UP.value
    ),
)
#: The kinds the programme rewards (besides those of `LIFECYCLE_KINDS`): drawn often too.
LOYALTY_KINDS: Final = (
    InteractionKind.PURCHASE.value,
    InteractionKind.REVIEW.value,
    InteractionKind.SIGN_UP.value,
)
#: Customers the loyalty rules earn, redeem and adjust points for besides those registered by
#: `AdapterStateMachine.register_customer`: each joins (is registered) when it first earns.
MEMBERS: Final = (CustomerId("member-1"), CustomerId("member-2"))
#: Keys redemptions and adjustments are made with, from a small pool: replays are frequent.
POINTS_KEYS: Final = ("order-1", "order-2")
#: What a refund names as its purchase (``refund_of``): the purchase by id or by external
#: reference, a purchase of another customer, an interaction of the customer that is no
#: purchase, nothing stored, or no purchase at all (a refund that reverses nothing).
REFUND_TARGETS: Final = ("id", "id", "ref", "other", "not_a_purchase", "unknown", "none")
#: An id no interaction has.
NO_SUCH_PURCHASE: Final = "no-such-purchase"

_Key = tuple[TenantId, CustomerId]
_AccountKey = tuple[TenantId, AccountId]
_Recorded = tuple[TenantId, Interaction]
