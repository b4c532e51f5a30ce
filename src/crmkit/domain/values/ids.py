"""Typed identifiers.

Ids are plain strings at run time (cheap to store, hash and compare) but distinct types for
the type checker, so a ``CustomerId`` cannot be passed where an ``AccountId`` is expected.
The application layer draws them from an injected id source; the domain never invents one.
"""

from __future__ import annotations

import re
from typing import NewType

from crmkit.errors import ValidationError

__all__ = [
    "AccountId",
    "CustomerId",
    "EventId",
    "InteractionId",
    "TenantId",
    "DEFAULT_TENANT",
    "check_id",
    "check_tenant",
]

CustomerId = NewType("CustomerId", str)
AccountId = NewType("AccountId", str)
InteractionId = NewType("InteractionId", str)
EventId = NewType("EventId", str)
TenantId = NewType("TenantId", str)

#: The tenant of hosts that serve a single business.
DEFAULT_TENANT = TenantId("default")

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
_TENANT = re.compile(r"[a-z0-9][a-z0-9_\-]{0,62}")


def check_id(path: str, value: object) -> str:
    """Return ``value`` if it is a well-formed id (1-64 URL-safe characters), else raise."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValidationError.single(
            path, value, "must be 1-64 letters, digits, '_', '.', ':' or '-'"
        )
    return value


def check_tenant(value: object) -> TenantId:
    """Return ``value`` as a tenant id if well formed (lower-case slug), else raise."""
    if not isinstance(value, str) or not _TENANT.fullmatch(value):
        raise ValidationError.single(
            "tenant", value, "must be 1-63 lower-case letters, digits, '_' or '-'"
        )
    return TenantId(value)
