"""The application service: every use case of crmkit over injected ports."""

from __future__ import annotations

import inspect

from crmkit.app.accounts import AccountUseCases
from crmkit.app.interactions import InteractionUseCases
from crmkit.app.lifecycle import LifecycleUseCases
from crmkit.app.loyalty import LoyaltyUseCases
from crmkit.app.segments import SegmentUseCases

__all__ = ["CrmService", "name_methods_after"]


class CrmService(
    AccountUseCases, InteractionUseCases, LifecycleUseCases, LoyaltyUseCases, SegmentUseCases
):
    """All use cases, bound to one tenant, over any adapter's units of work.

    Hosts normally use the `crmkit.CRM` front door, which builds this from an adapter.
    """


def name_methods_after(front: type) -> None:
    """Name every public use case that ``front`` inherits ``Front.method``.

    Python words its own `TypeError` for a wrong call (an unexpected keyword argument, one
    positional argument too many) with the function's qualified name. Without this, a host
    that calls ``crm.redeem_points(..., rewrd=...)`` reads of ``LoyaltyUseCases``, a class it
    never met; with it, of ``CRM.redeem_points``, the method it called.
    """
    for name in dir(front):
        if name.startswith("_"):
            continue
        member = inspect.getattr_static(front, name)
        function = getattr(member, "__func__", member)  # a classmethod's or staticmethod's
        if inspect.isfunction(function) and function.__module__.startswith("crmkit.app."):
            function.__qualname__ = f"{front.__name__}.{name}"
