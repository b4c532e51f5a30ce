"""Lifecycle models that ship with crmkit, ready to use or to copy and adapt.

- `CUSTOMER_LIFECYCLE`: a consumer business's customer lifecycle, from first contact through
  repeat buying and loyalty to advocacy, with lapsing, churn and reactivation driven by
  purchases (the attract -> convert -> retain -> loyalty -> refer arc of CRM practice).
- `HUBSPOT_LIFECYCLE`: HubSpot's eight standard lifecycle stages, moving forward only.
- `DEAL_PIPELINE`: a B2B lead-to-deal pipeline for accounts, with won and lost outcomes.

The reasoning behind each is on the lifecycle page of the documentation.
"""

from __future__ import annotations

from types import MappingProxyType

from crmkit.domain.interactions.channels import InteractionKind, SubjectKind
from crmkit.domain.lifecycle.model import (
    LifecycleModel,
    Outcome,
    ProgressionRule,
    Stage,
    Transition,
)
from crmkit.domain.segments.activity import interactions, purchases
from crmkit.domain.segments.builder import days, field

__all__ = ["CUSTOMER_LIFECYCLE", "DEAL_PIPELINE", "HUBSPOT_LIFECYCLE", "PRESETS"]

_REFERRALS = interactions(kinds=[InteractionKind.REFERRAL.value])
_MEETINGS = interactions(kinds=[InteractionKind.MEETING.value])

#: Lapsing and reactivation share one window, so the two rules can never both hold.
LAPSE_DAYS = 180
CHURN_DAYS = 365

CUSTOMER_LIFECYCLE = LifecycleModel(
    "customer_lifecycle",
    description="From first contact to advocate, with lapse, churn and reactivation.",
    stages=[
        Stage("subscriber", description="Opted in to hear from us; nothing more yet."),
        Stage("lead", description="Showed interest beyond subscribing."),
        Stage("qualified", description="A lead we can reach and who fits what we sell."),
        Stage("customer", description="Has bought at least once."),
        Stage("repeat", label="Repeat customer", description="2+ purchases in a year."),
        Stage("loyal", description="5+ purchases in a year."),
        Stage("advocate", description="A customer who refers others."),
        Stage("lapsed", description=f"No purchase for {LAPSE_DAYS} days."),
        Stage("churned", description=f"No purchase for {CHURN_DAYS} days.", outcome=Outcome.LOST),
    ],
    transitions=[
        ("subscriber", "lead"),
        ("subscriber", "customer"),
        Transition("lead", "qualified", guard=field("email").exists() | field("phone").exists()),
        ("lead", "customer"),
        ("qualified", "customer"),
        ("customer", "repeat"),
        ("customer", "advocate"),
        ("customer", "lapsed"),
        ("repeat", "loyal"),
        ("repeat", "advocate"),
        ("repeat", "lapsed"),
        ("loyal", "advocate"),
        ("loyal", "lapsed"),
        ("advocate", "lapsed"),
        ("lapsed", "customer"),
        ("lapsed", "churned"),
        ("churned", "customer"),
    ],
    rules=[
        ProgressionRule(
            "first_purchase",
            "customer",
            purchases().count() >= 1,
            sources={"subscriber", "lead", "qualified"},
            description="made a first purchase",
        ),
        ProgressionRule(
            "reactivated",
            "customer",
            purchases(last=days(LAPSE_DAYS)).count() >= 1,
            sources={"lapsed", "churned"},
            description="bought again after lapsing",
        ),
        ProgressionRule(
            "repeat_purchase",
            "repeat",
            purchases(last=days(365)).count() >= 2,
            description="2+ purchases in the last 365 days",
        ),
        ProgressionRule(
            "loyal",
            "loyal",
            purchases(last=days(365)).count() >= 5,
            description="5+ purchases in the last 365 days",
        ),
        ProgressionRule(
            "referred_someone",
            "advocate",
            interactions(kinds=[InteractionKind.REFERRAL.value], last=days(365)).count() >= 1,
            description="made a referral in the last 365 days",
        ),
        ProgressionRule(
            "lapsed",
            "lapsed",
            purchases(last=days(LAPSE_DAYS)).count() == 0,
            description=f"no purchase in the last {LAPSE_DAYS} days",
        ),
        ProgressionRule(
            "churned",
            "churned",
            purchases(last=days(CHURN_DAYS)).count() == 0,
            description=f"no purchase in the last {CHURN_DAYS} days",
        ),
    ],
)

_HUBSPOT_FUNNEL = (
    "subscriber",
    "lead",
    "marketing_qualified_lead",
    "sales_qualified_lead",
    "opportunity",
    "customer",
    "evangelist",
)

HUBSPOT_LIFECYCLE = LifecycleModel(
    "hubspot_lifecycle",
    description="HubSpot's eight standard lifecycle stages: forward moves only.",
    stages=[
        Stage("subscriber"),
        Stage("lead"),
        Stage("marketing_qualified_lead", label="Marketing qualified lead (MQL)"),
        Stage("sales_qualified_lead", label="Sales qualified lead (SQL)"),
        Stage("opportunity"),
        Stage("customer", outcome=Outcome.WON),
        Stage("evangelist", outcome=Outcome.WON),
        Stage("other", description="Does not fit any other stage.", terminal=True),
    ],
    transitions=[
        *(
            (earlier, later)
            for i, earlier in enumerate(_HUBSPOT_FUNNEL)
            for later in _HUBSPOT_FUNNEL[i + 1 :]
        ),
        *((stage, "other") for stage in _HUBSPOT_FUNNEL),
    ],
    rules=[
        ProgressionRule(
            "first_purchase",
            "customer",
            purchases().count() >= 1,
            description="made a first purchase",
        ),
        ProgressionRule(
            "referred_someone",
            "evangelist",
            _REFERRALS.count() >= 1,
            sources={"customer"},
            description="referred someone",
        ),
    ],
)

_OPEN_DEAL = frozenset({"contacted", "qualified", "proposal", "negotiation"})

DEAL_PIPELINE = LifecycleModel(
    "deal_pipeline",
    subject=SubjectKind.ACCOUNT,
    description="B2B lead to deal, for accounts: won, lost, and lost deals re-engaged.",
    stages=[
        Stage("new", label="New lead"),
        Stage("contacted"),
        Stage("qualified"),
        Stage("proposal", label="Proposal sent"),
        Stage("negotiation"),
        Stage("won", label="Closed won", terminal=True, outcome=Outcome.WON),
        Stage("lost", label="Closed lost", outcome=Outcome.LOST),
    ],
    transitions=[
        ("new", "contacted"),
        Transition("contacted", "qualified", guard=field("account.domain").exists()),
        Transition(
            "qualified",
            "proposal",
            guard=_MEETINGS.count() >= 1,
        ),
        ("proposal", "negotiation"),
        ("negotiation", "won"),
        *((stage, "lost") for stage in ("new", *sorted(_OPEN_DEAL))),
        ("lost", "contacted"),
    ],
    rules=[
        ProgressionRule(
            "first_meeting",
            "contacted",
            _MEETINGS.count() >= 1,
            sources={"new"},
            description="a first meeting with one of the account's contacts",
        ),
        ProgressionRule(
            "first_purchase",
            "won",
            purchases().count() >= 1,
            description="one of the account's contacts bought",
        ),
        ProgressionRule(
            "gone_quiet",
            "lost",
            interactions(last=days(90)).count() == 0,
            sources=_OPEN_DEAL,
            description="no interaction with the account for 90 days",
        ),
    ],
)

#: Every preset by its model name.
PRESETS = MappingProxyType(
    {model.name: model for model in (CUSTOMER_LIFECYCLE, HUBSPOT_LIFECYCLE, DEAL_PIPELINE)}
)
