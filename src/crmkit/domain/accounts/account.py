"""Accounts: the companies a B2B host sells to. Customers are their contacts, linked by role."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs

from crmkit.domain._checks import (
    check_slug,
    optional_text,
    text,
    to_utc,
    utc,
    version_number,
)
from crmkit.domain.events import AccountChanged, AccountRegistered, DomainEvent
from crmkit.domain.interactions.channels import enum_of
from crmkit.domain.values.contact import normalize_email
from crmkit.domain.values.ids import AccountId, check_id
from crmkit.errors import ValidationError

__all__ = ["Account", "AccountLink", "CompanySize", "normalize_web_domain"]


class CompanySize(StrEnum):
    """Head-count bands, following the EU's SME definition and common CRM practice."""

    SOLO = "1"
    MICRO = "2-9"
    SMALL = "10-49"
    MEDIUM = "50-249"
    LARGE = "250-999"
    ENTERPRISE = "1000+"


def normalize_web_domain(value: Any, path: str = "domain") -> str:
    """Normalise a company web domain: ``"https://www.Example.com/"`` becomes ``"example.com"``."""
    if not isinstance(value, str):
        raise ValidationError.single(path, value, "must be a web domain such as 'example.com'")
    host = value.strip().lower()
    for scheme in ("https://", "http://"):
        host = host.removeprefix(scheme)
    host = host.split("/", 1)[0].removeprefix("www.").rstrip(".")
    try:
        # Reuse the email domain rules: a web domain is what follows the '@'.
        return normalize_email(f"x@{host}", path).partition("@")[2]
    except ValidationError:
        raise ValidationError.single(
            path, value, "must be a web domain such as 'example.com'"
        ) from None


def _optional_domain(value: Any) -> str | None:
    return None if value is None else normalize_web_domain(value)


def _size(value: Any) -> CompanySize | None:
    return None if value is None else enum_of(CompanySize, value, "size")


@attrs.frozen
class AccountLink:
    """A customer's place in an account: which account, and in what role (a slug such as
    ``"decision_maker"``, ``"billing"`` or ``"user"``)."""

    account_id: AccountId = attrs.field(validator=lambda i, a, v: check_id("account_id", v))
    role: str = attrs.field(default="contact", validator=check_slug)


_EDITABLE = ("name", "domain", "industry", "size")


@attrs.define(eq=True)
class Account:
    """A company (B2B customer) with a name, web domain, industry and size.

    Its contacts are the customers whose ``account`` links to it. Register one with
    `Account.register`; the ``version`` counts committed saves, for optimistic concurrency.
    """

    id: AccountId = attrs.field(validator=lambda i, a, v: check_id("id", v))
    name: str = attrs.field(validator=text)
    created_at: datetime = attrs.field(converter=to_utc, validator=utc)
    updated_at: datetime = attrs.field(converter=to_utc, validator=utc)
    domain: str | None = attrs.field(default=None, converter=_optional_domain)
    industry: str | None = attrs.field(default=None, validator=optional_text)
    size: CompanySize | None = attrs.field(default=None, converter=_size)
    version: int = attrs.field(default=0, validator=version_number)
    _events: list[DomainEvent] = attrs.field(factory=list, init=False, repr=False, eq=False)

    @classmethod
    def register(
        cls,
        account_id: AccountId,
        *,
        name: str,
        at: datetime,
        domain: str | None = None,
        industry: str | None = None,
        size: CompanySize | str | None = None,
    ) -> Account:
        """Create an account and record `AccountRegistered`."""
        account = cls(
            id=account_id,
            name=name,
            created_at=at,
            updated_at=at,
            domain=domain,
            industry=industry,
            size=size,
        )
        account._events.append(AccountRegistered(account.created_at, account_id=account.id))
        return account

    def update(self, *, at: datetime, **changes: Any) -> tuple[str, ...]:
        """Change ``name``, ``domain``, ``industry`` or ``size``; return the changed fields.

        Emits `AccountChanged` when anything changed.
        """
        unknown = sorted(set(changes) - set(_EDITABLE))
        if unknown:
            raise ValidationError.single(unknown[0], changes[unknown[0]], "is not an account field")
        candidate = attrs.evolve(self, **changes)
        changed = tuple(f for f in changes if getattr(candidate, f) != getattr(self, f))
        if changed:
            for name in changed:
                setattr(self, name, getattr(candidate, name))
            self.updated_at = at
            self._events.append(AccountChanged(self.updated_at, account_id=self.id, fields=changed))
        return changed

    def pull_events(self) -> list[DomainEvent]:
        """Hand over the events collected since the last call, and forget them."""
        events, self._events = self._events, []
        return events
