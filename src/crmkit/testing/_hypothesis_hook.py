"""Registers crmkit's strategies with Hypothesis (run by its ``hypothesis`` entry point), so
that ``st.from_type(Customer)`` works in any suite once crmkit is installed.

Registration is lazy: Hypothesis runs this hook while it is being imported, possibly from
``crmkit.testing.strategies`` itself, so the strategies module is only imported when a
strategy is first asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Public type (in crmkit.domain, or crmkit.app with "app:") -> strategy function (in
# crmkit.testing.strategies).
_STRATEGIES = {
    "Account": "accounts",
    "AccountLink": "account_links",
    "ConsentRecord": "consent_records",
    "ContactPoint": "contact_points",
    "Customer": "customers",
    "DomainEvent": "domain_events",
    "EmailAddress": "emails",
    "Interaction": "interactions",
    "Money": "money",
    "PhoneNumber": "phone_numbers",
    "PostalAddress": "postal_addresses",
    "TraitDefinition": "trait_definitions",
    "TraitSchema": "trait_schemas",
    "AccountChanged": "domain_events",
    "AccountRegistered": "domain_events",
    "ConsentChanged": "domain_events",
    "CustomerProfileChanged": "domain_events",
    "CustomerRegistered": "domain_events",
    "InteractionRecorded": "domain_events",
    "StageChanged": "domain_events",
    "EnteredSegment": "domain_events",
    "LeftSegment": "domain_events",
    "MembershipChange": "membership_changes",
    "SegmentSnapshot": "segment_snapshots",
    "Facts": "facts",
    "LifecycleModel": "lifecycle_models",
    "ProgressionRule": "progression_rules",
    "Stage": "stages",
    "StageChange": "stage_changes",
    "StageHistory": "stage_histories",
    "Transition": "transitions",
    "Condition": "conditions",
    "AllOf": "conditions",
    "AnyOf": "conditions",
    "Not": "conditions",
    "TimeInStage": "conditions",
    "AggregateCondition": "conditions",
    "ConsentCondition": "conditions",
    "FieldCondition": "conditions",
    "Members": "conditions",
    "StageCondition": "conditions",
    "TagCondition": "conditions",
    "TraitCondition": "conditions",
    "Segment": "segments",
    "Window": "windows",
    "Programme": "loyalty_programmes",
    "LedgerEntry": "ledger_entries",
    "Referral": "referrals",
    "PointsBalance": "points_balances",
    "PointsEarned": "domain_events",
    "PointsRedeemed": "domain_events",
    "PointsExpired": "domain_events",
    "TierChanged": "domain_events",
    "ReferralChanged": "domain_events",
    "Stay": "stays",
    "DurationStats": "duration_stats",
    "FunnelStep": "funnel_steps",
    "Funnel": "funnels",
    "StageFlow": "stage_flows",
    "LedgerState": "ledger_states",
    "app:PointsJobReport": "points_job_reports",
    "app:ProgressionReport": "progression_reports",
    "ports:ImportResult": "import_results",
}


def _lazy(type_name: str, function: str) -> Any:
    def resolve(requested: type) -> Any:
        strategies = import_module("crmkit.testing.strategies")
        if function == "domain_events":
            return strategies.domain_events(requested)
        if function == "conditions":
            return strategies.conditions(of=requested)
        return getattr(strategies, function)()

    return resolve


def register_strategies() -> None:
    """Register a strategy for every public crmkit type."""
    from hypothesis import strategies as st

    for name, function in _STRATEGIES.items():
        # "app:" ("ports:") names a result of the application layer (of a port); the rest
        # are domain types.
        where, _, type_name = name.rpartition(":")
        module = import_module(f"crmkit.{where or 'domain'}")
        st.register_type_strategy(getattr(module, type_name), _lazy(type_name, function))
