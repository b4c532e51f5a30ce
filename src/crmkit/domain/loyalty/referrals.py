"""Referrals: one customer (the referrer) brings in another (the referee).

A `Referral` moves ``pending → qualified → rewarded``: it qualifies on the referee's first
purchase recorded while it is pending, and is rewarded once the programme's earning rules
have booked the points of its `ReferralPolicy` (for the referrer, the referee or both). A
customer cannot refer themselves, and a referee is referred at most once per programme (the
application layer checks the stored referrals; the storage enforces it too).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs

from crmkit.domain._checks import (
    SLUG,
    optional_storable,
    optional_text,
    to_utc,
    utc,
    version_number,
)
from crmkit.domain.events import DomainEvent
from crmkit.domain.interactions.channels import enum_of
from crmkit.domain.values.ids import CustomerId, check_id
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import IllegalTransition, ReferralRefused, ValidationError

__all__ = ["Referral", "ReferralChanged", "ReferralPolicy", "ReferralStatus"]


class ReferralStatus(StrEnum):
    """Where a referral stands."""

    PENDING = "pending"  # recorded; the referee has not purchased yet
    QUALIFIED = "qualified"  # the referee made a first purchase
    REWARDED = "rewarded"  # the referral's points were booked


_NEXT = {
    ReferralStatus.PENDING: ReferralStatus.QUALIFIED,
    ReferralStatus.QUALIFIED: ReferralStatus.REWARDED,
}


def _kind(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not SLUG.fullmatch(value)):
        raise ValidationError.single(attribute.name, value, "must be a lower-case slug or None")


@attrs.frozen
class ReferralPolicy:
    """How a programme rewards a qualified referral, through its earning rules.

    When a referral qualifies, the application records an interaction of ``referrer_kind``
    for the referrer and one of ``referee_kind`` for the referee (``None``: that side earns
    nothing); the programme's event rules for those kinds award the points, with the
    member's multipliers, caps, pending period and expiry like any other earning. The
    `Programme` checks that each kind named has an event rule.
    """

    referrer_kind: str | None = attrs.field(default="referral", validator=_kind)
    referee_kind: str | None = attrs.field(default=None, kw_only=True, validator=_kind)

    def __attrs_post_init__(self) -> None:
        if self.referrer_kind is None and self.referee_kind is None:
            raise ValidationError.single(
                "referrer_kind", None, "the referrer, the referee or both must be rewarded"
            )


def _status(value: Any) -> ReferralStatus:
    return enum_of(ReferralStatus, value, "status")


def _optional_utc(value: Any) -> Any:
    return None if value is None else to_utc(value)


def _optional_instant(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        utc(instance, attribute, value)


@attrs.frozen
class ReferralChanged(DomainEvent):
    """A referral was recorded (``pending``), qualified or rewarded."""

    referral_id: str = attrs.field(kw_only=True)
    referrer_id: CustomerId = attrs.field(kw_only=True)
    referee_id: CustomerId = attrs.field(kw_only=True)
    status: ReferralStatus = attrs.field(kw_only=True, converter=_status)

    @property
    def aggregate_id(self) -> str:
        return self.referral_id


@attrs.define(eq=True)
class Referral:
    """A referral of ``referee_id`` by ``referrer_id`` in ``programme``, with its status.

    Attributes:
        id: the referral's id.
        programme: the loyalty programme it rewards under.
        referrer_id: who referred.
        referee_id: who was referred.
        code: the referral code the referee used, if any (free text, e.g. a campaign code).
        created_at: when it was recorded.
        status: pending, qualified or rewarded.
        qualified_at: when the referee's first purchase qualified it.
        qualifying_interaction_id: that purchase.
        rewarded_at: when its points were booked.
        version: the stored version, for optimistic concurrency.
    """

    id: str = attrs.field(validator=lambda i, a, v: check_id("id", v))
    programme: str = attrs.field()
    referrer_id: CustomerId = attrs.field(validator=lambda i, a, v: check_id("referrer_id", v))
    referee_id: CustomerId = attrs.field(validator=lambda i, a, v: check_id("referee_id", v))
    created_at: datetime = attrs.field(converter=to_utc, validator=utc)
    code: str | None = attrs.field(default=None, kw_only=True, validator=optional_text)
    status: ReferralStatus = attrs.field(
        default=ReferralStatus.PENDING, converter=_status, kw_only=True
    )
    qualified_at: datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_optional_instant, kw_only=True
    )
    qualifying_interaction_id: str | None = attrs.field(
        default=None, kw_only=True, validator=optional_storable
    )
    rewarded_at: datetime | None = attrs.field(
        default=None, converter=_optional_utc, validator=_optional_instant, kw_only=True
    )
    version: int = attrs.field(default=0, validator=version_number, kw_only=True)
    _events: list[DomainEvent] = attrs.field(
        factory=list, init=False, repr=False, eq=False, hash=False
    )

    @programme.validator
    def _check_programme(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str) or not SLUG.fullmatch(value):
            raise ValidationError.single("programme", value, "must be a lower-case slug")

    def __attrs_post_init__(self) -> None:
        if self.referrer_id == self.referee_id:
            raise ReferralRefused(self.referee_id, "a customer cannot refer themselves")

    @classmethod
    def record(
        cls,
        referral_id: str,
        programme: str,
        referrer_id: CustomerId,
        referee_id: CustomerId,
        at: datetime,
        *,
        code: str | None = None,
    ) -> Referral:
        """A new pending referral; raises `ReferralRefused` for a self-referral."""
        referral = cls(referral_id, programme, referrer_id, referee_id, at, code=code)
        referral._changed(at)
        return referral

    def qualify(self, interaction_id: str, at: datetime) -> None:
        """The referee's first purchase ``interaction_id`` qualifies the referral."""
        self._advance(ReferralStatus.QUALIFIED, at)
        self.qualified_at = at
        self.qualifying_interaction_id = interaction_id

    def reward(self, at: datetime) -> None:
        """The referral's points were booked."""
        self._advance(ReferralStatus.REWARDED, at)
        self.rewarded_at = at

    def pull_events(self) -> list[DomainEvent]:
        """Hand over the events collected since the last call, and forget them."""
        events = list(self._events)
        self._events.clear()
        return events

    def _advance(self, target: ReferralStatus, at: datetime) -> None:
        if _NEXT.get(self.status) is not target:
            allowed = [_NEXT[self.status].value] if self.status in _NEXT else []
            raise IllegalTransition("referral", self.status.value, target.value, allowed)
        ensure_utc(at, "at")
        since = self.qualified_at or self.created_at
        if at < since:
            raise ValidationError.single("at", at, f"is before the referral's last step ({since})")
        self.status = target
        self._changed(at)

    def _changed(self, at: datetime) -> None:
        self._events.append(
            ReferralChanged(
                at,
                referral_id=self.id,
                referrer_id=self.referrer_id,
                referee_id=self.referee_id,
                status=self.status,
            )
        )
