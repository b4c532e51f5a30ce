"""Consent: what a customer agreed to (or withdrew), for which purpose and channel, with evidence.

Consent is kept as an append-only list of records, never overwritten, because a regulator asks
"what did you know, and when?". `may_contact` answers from that history at any instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs

from crmkit.domain._checks import SLUG, check_slug, optional_text, text, to_utc, utc
from crmkit.domain.interactions.channels import Channel, channel_of, enum_of
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import ValidationError

__all__ = [
    "ConsentRecord",
    "ConsentStatus",
    "DoubleOptIn",
    "check_purpose",
    "deciding_consent",
    "may_contact",
]


class ConsentStatus(StrEnum):
    """Whether a consent record gives or takes away permission."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class DoubleOptIn(StrEnum):
    """Where a grant stands in a double opt-in flow. A ``PENDING`` grant permits nothing yet."""

    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    CONFIRMED = "confirmed"


def _channel(value: Any) -> Channel | None:
    return None if value is None else channel_of(value, "channel")


def _status(value: Any) -> ConsentStatus:
    return enum_of(ConsentStatus, value, "status")


def _double_opt_in(value: Any) -> DoubleOptIn:
    return enum_of(DoubleOptIn, value, "double_opt_in")


@attrs.frozen
class ConsentRecord:
    """One consent decision with its evidence.

    Attributes:
        purpose: what the contact is for, a lower-case slug such as ``"marketing"``.
        channel: the channel it covers, or ``None`` for every channel.
        status: granted or withdrawn.
        at: when the customer decided (UTC).
        source: where it was captured, e.g. ``"checkout_form"`` or ``"call_centre"``.
        method: how, e.g. ``"checkbox"``, ``"verbal"``, ``"unsubscribe_link"``.
        evidence: a reference that proves it (a form submission id, a recording id).
        double_opt_in: the double opt-in state of a grant.
    """

    purpose: str = attrs.field(validator=check_slug)
    channel: Channel | None = attrs.field(converter=_channel)
    status: ConsentStatus = attrs.field(converter=_status)
    at: datetime = attrs.field(converter=to_utc, validator=utc)
    source: str = attrs.field(validator=text)
    method: str | None = attrs.field(default=None, validator=optional_text)
    evidence: str | None = attrs.field(default=None, validator=optional_text)
    double_opt_in: DoubleOptIn = attrs.field(
        default=DoubleOptIn.NOT_REQUIRED, converter=_double_opt_in
    )

    @property
    def permits(self) -> bool:
        """True when this record, taken alone, allows contact."""
        return (
            self.status is ConsentStatus.GRANTED and self.double_opt_in is not DoubleOptIn.PENDING
        )

    def covers(self, channel: Channel, purpose: str) -> bool:
        """True when this record speaks about ``channel`` for ``purpose``."""
        return self.purpose == purpose and (self.channel is None or self.channel == channel)


def check_purpose(value: Any, path: str = "purpose") -> str:
    """``value`` if it can be a consent purpose (a lower-case slug), else `ValidationError`.

    A question about a purpose no record can have (``"News Letter"``) is a typo, not a
    customer who never agreed: answering "no" would hide it.
    """
    if type(value) is not str or not SLUG.fullmatch(value):
        raise ValidationError.single(
            path,
            value,
            "is not a purpose: purposes are lower-case slugs like 'newsletter', "
            "so no consent can ever be recorded for it",
        )
    return value


def deciding_consent(
    records: Iterable[ConsentRecord], channel: Channel, purpose: str, at: datetime
) -> ConsentRecord | None:
    """Return the record that decides contact on ``channel`` for ``purpose`` at ``at``.

    The latest record at or before ``at`` that covers the channel decides; among records
    of the same instant a withdrawal wins. ``None`` means nobody ever asked.

    Raises:
        ValidationError: ``purpose`` is not a purpose slug (see `check_purpose`), or ``at``
            is not timezone-aware.
    """
    check_purpose(purpose)
    moment = ensure_utc(at, "at")
    best: ConsentRecord | None = None
    for record in records:
        if record.at > moment or not record.covers(channel, purpose):
            continue
        if (
            best is None
            or record.at > best.at
            or (record.at == best.at and _weight(record) > _weight(best))
        ):
            best = record
    return best


def _weight(record: ConsentRecord) -> int:
    # At the same instant: withdrawal beats a pending grant beats a grant.
    if record.status is ConsentStatus.WITHDRAWN:
        return 2
    return 1 if record.double_opt_in is DoubleOptIn.PENDING else 0


def may_contact(
    records: Iterable[ConsentRecord], channel: Channel, purpose: str, at: datetime
) -> bool:
    """True when the consent history allows contact on ``channel`` for ``purpose`` at ``at``.

    No record means no consent: crmkit is opt-in by default. A ``purpose`` that is not a
    purpose slug raises `ValidationError` rather than answering no.
    """
    decision = deciding_consent(records, channel, purpose, at)
    return decision is not None and decision.permits
