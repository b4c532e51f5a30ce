"""Hypothesis strategies for every public crmkit type, valid by construction.

Use them directly (``customers()``, ``money(currency="EUR")``) or through
``st.from_type(Customer)``: installing crmkit registers a strategy for every public type with
Hypothesis through its ``hypothesis`` entry point, from one table (``_registry.STRATEGIES``),
so ``st.from_type`` works without importing this module first. Every strategy shrinks
towards small, plain values.

The strategies live in one private module per capability (``_values``, ``_customers``,
``_accounts``, ``_interactions``, ``_events``, ``_rules`` and ``_leaves``, ``_lifecycle``,
``_segments``, ``_analytics``, ``_loyalty`` and ``_points``, ``_reports``); import them from
here.
"""

from __future__ import annotations

from crmkit.testing.strategies._accounts import account_links, accounts
from crmkit.testing.strategies._analytics import (
    duration_stats,
    funnel_steps,
    funnels,
    stage_flows,
    stays,
)
from crmkit.testing.strategies._customers import (
    consent_records,
    customers,
    trait_definitions,
    trait_schemas,
    trait_values,
    traits,
)
from crmkit.testing.strategies._events import domain_events
from crmkit.testing.strategies._interactions import interactions
from crmkit.testing.strategies._leaves import windows
from crmkit.testing.strategies._lifecycle import (
    lifecycle_models,
    progression_rules,
    stage_changes,
    stage_histories,
    stages,
    transitions,
)
from crmkit.testing.strategies._loyalty import loyalty_programmes
from crmkit.testing.strategies._parts import SEGMENT_AS_OF as SEGMENT_AS_OF
from crmkit.testing.strategies._points import ledger_entries, points_balances, referrals
from crmkit.testing.strategies._registry import register_all
from crmkit.testing.strategies._reports import (
    import_results,
    ledger_states,
    points_job_reports,
    progression_reports,
)
from crmkit.testing.strategies._rules import conditions, facts, segment_rules
from crmkit.testing.strategies._segments import (
    membership_changes,
    segment_facts,
    segment_snapshots,
    segments,
)
from crmkit.testing.strategies._settings import settings
from crmkit.testing.strategies._values import EARLIEST as EARLIEST
from crmkit.testing.strategies._values import LATEST as LATEST
from crmkit.testing.strategies._values import (
    account_ids,
    contact_points,
    currencies,
    customer_ids,
    emails,
    ids,
    money,
    phone_numbers,
    postal_addresses,
    purposes,
    slugs,
    tenants,
    utc_datetimes,
    web_domains,
)

__all__ = [
    "settings",
    "account_ids",
    "account_links",
    "accounts",
    "conditions",
    "consent_records",
    "contact_points",
    "currencies",
    "customer_ids",
    "customers",
    "domain_events",
    "duration_stats",
    "emails",
    "facts",
    "funnel_steps",
    "funnels",
    "ids",
    "import_results",
    "interactions",
    "ledger_entries",
    "ledger_states",
    "lifecycle_models",
    "loyalty_programmes",
    "membership_changes",
    "money",
    "phone_numbers",
    "points_balances",
    "points_job_reports",
    "postal_addresses",
    "progression_reports",
    "progression_rules",
    "purposes",
    "referrals",
    "segment_facts",
    "segment_rules",
    "segment_snapshots",
    "segments",
    "slugs",
    "stage_changes",
    "stage_flows",
    "stage_histories",
    "stages",
    "stays",
    "tenants",
    "trait_definitions",
    "trait_schemas",
    "trait_values",
    "traits",
    "transitions",
    "utc_datetimes",
    "web_domains",
    "windows",
]

# Hypothesis registers these through the entry point; again here for a suite that runs with
# HYPOTHESIS_NO_PLUGINS, or where crmkit is on the path without being installed.
register_all()
