"""The public methods of the front door, service by service, for tests that cover them all."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from crmkit import CRM
from crmkit.app.accounts import AccountService
from crmkit.app.consent import ConsentService
from crmkit.app.customers import CustomerService
from crmkit.app.events import EventService
from crmkit.app.interactions import InteractionService
from crmkit.app.lifecycle import LifecycleService
from crmkit.app.loyalty import LoyaltyService
from crmkit.app.referrals import ReferralService
from crmkit.app.segments import SegmentService

#: Where each service hangs on a `CRM` (``""`` is the CRM itself).
SERVICES: dict[str, type] = {
    "": CRM,
    "customers": CustomerService,
    "consent": ConsentService,
    "accounts": AccountService,
    "interactions": InteractionService,
    "lifecycle": LifecycleService,
    "segments": SegmentService,
    "loyalty": LoyaltyService,
    "loyalty.referrals": ReferralService,
    "events": EventService,
}


def public_methods() -> Iterator[tuple[str, Callable[..., Any]]]:
    """``("customers.register", function)`` for every public method of every service."""
    for path, service in SERVICES.items():
        for name in dir(service):
            member = inspect.getattr_static(service, name)
            function = getattr(member, "__func__", member)
            if not name.startswith("_") and inspect.isfunction(function):
                yield (f"{path}.{name}" if path else name), function


def bound(crm: CRM, path: str) -> Callable[..., Any]:
    """The method at ``path`` (``"loyalty.referrals.get"``) of ``crm``."""
    target: Any = crm
    for part in path.split("."):
        target = getattr(target, part)
    return target  # type: ignore[no-any-return]
