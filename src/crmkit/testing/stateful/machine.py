"""`AdapterStateMachine`: every rule group of the package, over one shared state."""

from __future__ import annotations

from crmkit.testing.stateful._base import MachineState
from crmkit.testing.stateful.accounts import AccountRules
from crmkit.testing.stateful.clock import ClockRules
from crmkit.testing.stateful.customers import CustomerRules
from crmkit.testing.stateful.interactions import InteractionRules
from crmkit.testing.stateful.lifecycle import LifecycleRules
from crmkit.testing.stateful.loyalty import LoyaltyRules
from crmkit.testing.stateful.reads import ReadInvariants
from crmkit.testing.stateful.referrals import ReferralRules
from crmkit.testing.stateful.units_of_work import UnitOfWorkRules

__all__ = ["AdapterStateMachine"]


class AdapterStateMachine(
    CustomerRules,
    InteractionRules,
    UnitOfWorkRules,
    AccountRules,
    LifecycleRules,
    LoyaltyRules,
    ReferralRules,
    ClockRules,
    ReadInvariants,
    MachineState,
):
    """Drives an adapter and crmkit's in-memory model with the same random operations, and
    checks after every step that they agree on every outcome and every read.

    Override `open_storage` (and `close_storage` if needed); everything else is inherited.
    Run it through its ``TestCase`` (with your Hypothesis ``settings``) or with
    `hypothesis.stateful.run_state_machine_as_test`. The machine works in the tenants
    `TENANTS`, starts the shared clock ``clock`` at 2024-01-01 UTC and moves it forward
    itself; its CRMs track the lifecycle models `LIFECYCLES` and run the loyalty programme
    `LOYALTY`, so the adapter must implement ``UnitOfWork.stage_histories``,
    ``UnitOfWork.points_ledgers`` and ``UnitOfWork.referrals`` too.
    """
