"""The one table of crmkit's public types and the strategies that draw them.

`register_all` hands every row to ``st.register_type_strategy``; crmkit's ``hypothesis``
entry point (``crmkit.testing._hypothesis_hook``) calls it while Hypothesis is imported, so
``st.from_type(Customer)`` works in any suite once crmkit is installed, without importing
`crmkit.testing.strategies` first.

Each row is lazy: it names a strategy function, imported and called only when Hypothesis
first asks for the type. This module imports no strategy module itself, because the hook
may run in the middle of importing one (``import crmkit.testing.strategies`` imports
Hypothesis, which runs the hook).

A new public type takes one row here; ``tests/test_public_types.py`` fails until it has one.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from crmkit.app.settings import Settings
from crmkit.domain import (
    Account,
    AccountChanged,
    AccountLink,
    AccountRegistered,
    AggregateCondition,
    AllOf,
    AnyOf,
    Condition,
    ConsentChanged,
    ConsentCondition,
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerProfileChanged,
    CustomerRegistered,
    DomainEvent,
    DurationStats,
    EmailAddress,
    EnteredSegment,
    Facts,
    FieldCondition,
    Funnel,
    FunnelStep,
    Interaction,
    InteractionRecorded,
    LeftSegment,
    LifecycleModel,
    Members,
    MembershipChange,
    Money,
    Not,
    PhoneNumber,
    PointsJobReport,
    PostalAddress,
    ProgressionReport,
    ProgressionRule,
    Segment,
    SegmentSnapshot,
    Stage,
    StageChange,
    StageChanged,
    StageCondition,
    StageFlow,
    StageHistory,
    Stay,
    TagCondition,
    TimeInStage,
    TraitCondition,
    TraitDefinition,
    TraitSchema,
    Transition,
    Window,
)
from crmkit.domain.loyalty import (
    Award,
    EventRule,
    LedgerEntry,
    LedgerState,
    LotState,
    Multiplier,
    PeriodCap,
    PointsBalance,
    PointsEarned,
    PointsExpired,
    PointsLedger,
    PointsRedeemed,
    Programme,
    Redemption,
    Referral,
    ReferralChanged,
    ReferralPolicy,
    Reward,
    SpendRule,
    StatementLine,
    Tier,
    TierChanged,
    TierPolicy,
)
from crmkit.ports import ImportResult, OutboxMessage, Page

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

#: How Hypothesis asks for a type's strategy: with the type it wants (a subclass, for a
#: union such as `Condition`).
Resolver = Callable[[type], "SearchStrategy[Any]"]

_PACKAGE = "crmkit.testing.strategies"


def drawn_by(function: str, *, of_type: bool = False) -> Resolver:
    """The strategy ``function`` of `crmkit.testing.strategies`, looked up when first used.

    Args:
        function: a public strategy's name (``"customers"``), or a private one's as
            ``"module:name"`` (``"_loyalty:_tiers"``) for types with no public strategy.
        of_type: call it with ``of=`` the requested type, for the strategies that draw one
            class of a union (`domain_events`, `conditions`) or the items of a generic
            (``Page[Customer]``).

    Returns:
        What ``st.register_type_strategy`` takes: a function of the requested type.
    """
    module, _, name = function.rpartition(":")

    def resolve(requested: type) -> SearchStrategy[Any]:
        where = import_module(f"{_PACKAGE}.{module}" if module else _PACKAGE)
        make = getattr(where, name)
        return make(of=requested) if of_type else make()  # type: ignore[no-any-return]

    return resolve


_EVENTS = drawn_by("domain_events", of_type=True)
_CONDITIONS = drawn_by("conditions", of_type=True)

#: Every public type and how to draw it, one row each, grouped by capability.
STRATEGIES: dict[type, Resolver] = {
    # values
    EmailAddress: drawn_by("emails"),
    Money: drawn_by("money"),
    PhoneNumber: drawn_by("phone_numbers"),
    PostalAddress: drawn_by("postal_addresses"),
    ContactPoint: drawn_by("contact_points"),
    # customers and accounts
    ConsentRecord: drawn_by("consent_records"),
    Customer: drawn_by("customers"),
    TraitDefinition: drawn_by("trait_definitions"),
    TraitSchema: drawn_by("trait_schemas"),
    Account: drawn_by("accounts"),
    AccountLink: drawn_by("account_links"),
    # interactions
    Interaction: drawn_by("interactions"),
    ImportResult: drawn_by("import_results"),
    Page: drawn_by("_reports:_pages", of_type=True),
    # events
    DomainEvent: _EVENTS,
    AccountChanged: _EVENTS,
    AccountRegistered: _EVENTS,
    ConsentChanged: _EVENTS,
    CustomerProfileChanged: _EVENTS,
    CustomerRegistered: _EVENTS,
    InteractionRecorded: _EVENTS,
    StageChanged: _EVENTS,
    EnteredSegment: _EVENTS,
    LeftSegment: _EVENTS,
    PointsEarned: _EVENTS,
    PointsRedeemed: _EVENTS,
    PointsExpired: _EVENTS,
    TierChanged: _EVENTS,
    ReferralChanged: _EVENTS,
    OutboxMessage: drawn_by("_events:_outbox_messages"),
    # rules
    Condition: _CONDITIONS,
    AllOf: _CONDITIONS,
    AnyOf: _CONDITIONS,
    Not: _CONDITIONS,
    TagCondition: _CONDITIONS,
    TimeInStage: _CONDITIONS,
    AggregateCondition: _CONDITIONS,
    ConsentCondition: _CONDITIONS,
    FieldCondition: _CONDITIONS,
    Members: _CONDITIONS,
    StageCondition: _CONDITIONS,
    TraitCondition: _CONDITIONS,
    Window: drawn_by("windows"),
    Facts: drawn_by("facts"),
    # lifecycle
    LifecycleModel: drawn_by("lifecycle_models"),
    ProgressionRule: drawn_by("progression_rules"),
    Stage: drawn_by("stages"),
    StageChange: drawn_by("stage_changes"),
    StageHistory: drawn_by("stage_histories"),
    Transition: drawn_by("transitions"),
    ProgressionReport: drawn_by("progression_reports"),
    # segments
    Segment: drawn_by("segments"),
    MembershipChange: drawn_by("membership_changes"),
    SegmentSnapshot: drawn_by("segment_snapshots"),
    # analytics
    Stay: drawn_by("stays"),
    DurationStats: drawn_by("duration_stats"),
    FunnelStep: drawn_by("funnel_steps"),
    Funnel: drawn_by("funnels"),
    StageFlow: drawn_by("stage_flows"),
    # loyalty
    Programme: drawn_by("loyalty_programmes"),
    Settings: drawn_by("settings"),
    SpendRule: drawn_by("_loyalty:_spend_rules"),
    EventRule: drawn_by("_loyalty:_event_rules"),
    Multiplier: drawn_by("_loyalty:_multipliers"),
    Tier: drawn_by("_loyalty:_tiers"),
    TierPolicy: drawn_by("_loyalty:_tier_policies"),
    PeriodCap: drawn_by("_loyalty:_period_caps"),
    Redemption: drawn_by("_loyalty:_redemptions"),
    Reward: drawn_by("_loyalty:_rewards"),
    Award: drawn_by("_loyalty:_awards"),
    ReferralPolicy: drawn_by("_loyalty:_referral_policies"),
    Referral: drawn_by("referrals"),
    PointsBalance: drawn_by("points_balances"),
    LedgerEntry: drawn_by("ledger_entries"),
    PointsLedger: drawn_by("_points:_ledgers"),
    LedgerState: drawn_by("ledger_states"),
    LotState: drawn_by("_points:_lot_states"),
    StatementLine: drawn_by("_points:_statement_lines"),
    PointsJobReport: drawn_by("points_job_reports"),
}


def register_all() -> None:
    """Register every row of `STRATEGIES` with Hypothesis (again, harmlessly, if it is)."""
    from hypothesis import strategies as st

    for kind, resolve in STRATEGIES.items():
        st.register_type_strategy(kind, resolve)
