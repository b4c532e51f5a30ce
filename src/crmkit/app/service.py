"""The application service: every use case of crmkit over injected ports."""

from __future__ import annotations

from crmkit.app.accounts import AccountUseCases
from crmkit.app.interactions import InteractionUseCases
from crmkit.app.lifecycle import LifecycleUseCases
from crmkit.app.loyalty import LoyaltyUseCases
from crmkit.app.segments import SegmentUseCases

__all__ = ["CrmService"]


class CrmService(
    AccountUseCases, InteractionUseCases, LifecycleUseCases, LoyaltyUseCases, SegmentUseCases
):
    """All use cases, bound to one tenant, over any adapter's units of work.

    Hosts normally use the `crmkit.CRM` front door, which builds this from an adapter.
    """
