"""Interactions: the append-only log of everything that happened between a customer and the
business (purchases, refunds, support cases, campaign touches, referrals, notes …).

An interaction is never edited; a correction is a new interaction (a refund for a purchase).
An ``external_ref`` (the host's order number, ticket id, message id) makes recording idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, TypeAlias

import attrs

from crmkit._reprs import key_text
from crmkit.domain._checks import SLUG, optional_text, to_utc, utc
from crmkit.domain._frozen import FrozenMap
from crmkit.domain._same import differing_fields
from crmkit.domain.events import DomainEvent, InteractionRecorded
from crmkit.domain.interactions.channels import (
    Channel,
    Direction,
    InteractionKind,
    channel_of,
    enum_of,
)
from crmkit.domain.values.ids import CustomerId, InteractionId, check_id
from crmkit.domain.values.money import MAX_MINOR, Money
from crmkit.domain.values.texts import ensure_text
from crmkit.errors import ValidationError

__all__ = ["Interaction", "MetadataValue"]

MetadataValue: TypeAlias = str | int | bool

_META_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,63}")
_KINDS = {k.value: k for k in InteractionKind}
MAX_METADATA = 50


def _kind(value: Any) -> Any:
    return _KINDS.get(value, value) if isinstance(value, str) else value


def _check_kind(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValidationError.single(
            "kind", value, "must be an InteractionKind or a lower-case slug like 'webinar'"
        )


def _channel(value: Any) -> Channel:
    return channel_of(value, "channel")


def _direction(value: Any) -> Direction:
    return enum_of(Direction, value, "direction")


def _metadata(value: Any) -> Any:
    if isinstance(value, Mapping):
        return FrozenMap(value)
    return value


def _check_metadata(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Mapping):
        raise ValidationError.single("metadata", value, "must be a mapping")
    if len(value) > MAX_METADATA:
        raise ValidationError.single("metadata", len(value), f"has over {MAX_METADATA} keys")
    for key, item in value.items():
        if not isinstance(key, str) or not _META_KEY.fullmatch(key):
            raise ValidationError.single(
                f"metadata.{key_text(key)}",
                key,
                "a key must be 1-64 letters, digits, '_', '.', ':', '-'",
            )
        if isinstance(item, bool):
            continue
        if isinstance(item, int) and -MAX_MINOR <= item <= MAX_MINOR:
            continue
        if isinstance(item, str) and len(item) <= 1000:
            ensure_text(item, f"metadata.{key}")
            continue
        raise ValidationError.single(
            f"metadata.{key}", item, "must be text (1000 chars max), a 64-bit int or a bool"
        )


#: Why a purchase's or a refund's amount may not be negative: one sign convention, so that
#: loyalty reversals, segment sums and net spend all read an amount the same way.
_NO_NEGATIVE: Final[Mapping[str, str]] = {
    InteractionKind.PURCHASE.value: "a purchase's amount is what was paid: it must not be"
    " negative (record money given back as a refund)",
    InteractionKind.REFUND.value: "a refund's amount is what was given back: it must not be"
    " negative (refund 9.90 EUR as Money.of('9.90', 'EUR'))",
}


def _check_amount(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, Money):
        raise ValidationError.single("amount", value, "must be Money or None")
    # Validators run once every field is set, so the (converted) kind is known here.
    why = _NO_NEGATIVE.get(str(getattr(instance, "kind", "")))
    if why is not None and value.minor < 0:
        raise ValidationError.single("amount", value, why)


def _check_external_ref(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 200):
        raise ValidationError.single("external_ref", value, "must be 1-200 characters or None")
    if value is not None:
        ensure_text(value, "external_ref")


@attrs.frozen
class Interaction:
    """One thing that happened between a customer and the business.

    Attributes:
        id: the interaction's id.
        customer_id: whose interaction it is.
        occurred_at: when it happened (UTC), which may be long before it was recorded.
        kind: an `InteractionKind` or a host-defined lower-case slug.
        channel: where it happened.
        direction: inbound (the customer started it), outbound or internal.
        amount: the money involved, if any: the total of a purchase, the sum a refund gives
            back. Both are positive (or zero); a negative one is refused.
        owner: the person responsible, in the host's terms (a user id or name).
        team: the team responsible.
        campaign: the campaign it belongs to.
        metadata: free key/value facts (text, int or bool values).
        external_ref: the host's reference; recording the same reference twice stores once.
    """

    id: InteractionId = attrs.field(validator=lambda i, a, v: check_id("id", v))
    customer_id: CustomerId = attrs.field(validator=lambda i, a, v: check_id("customer_id", v))
    occurred_at: datetime = attrs.field(converter=to_utc, validator=utc)
    kind: str = attrs.field(converter=_kind, validator=_check_kind)
    channel: Channel = attrs.field(converter=_channel)
    direction: Direction = attrs.field(default=Direction.INBOUND, converter=_direction)
    amount: Money | None = attrs.field(default=None, validator=_check_amount)
    owner: str | None = attrs.field(default=None, validator=optional_text)
    team: str | None = attrs.field(default=None, validator=optional_text)
    campaign: str | None = attrs.field(default=None, validator=optional_text)
    metadata: Mapping[str, MetadataValue] = attrs.field(
        factory=FrozenMap, converter=_metadata, validator=_check_metadata
    )
    external_ref: str | None = attrs.field(default=None, validator=_check_external_ref)
    _events: list[DomainEvent] = attrs.field(
        factory=list, init=False, repr=False, eq=False, hash=False
    )

    @classmethod
    def record(cls, at: datetime, **fields: Any) -> Interaction:
        """Build an interaction (``fields`` as for the constructor) and collect
        `InteractionRecorded`, stamped ``at`` (the moment of recording)."""
        interaction = cls(**fields)
        interaction._events.append(
            InteractionRecorded(
                at,
                customer_id=interaction.customer_id,
                interaction_id=interaction.id,
                kind=interaction.kind,
                channel=interaction.channel,
                occurred_at=interaction.occurred_at,
            )
        )
        return interaction

    def same_content(self, other: Interaction) -> bool:
        """True when ``other`` records the same facts, whatever its id: every field the same
        value of the same type (`same_value`), so a metadata ``1`` is not ``True``."""
        return not self.differing_fields(other)

    def differing_fields(self, other: Interaction) -> tuple[str, ...]:
        """The names of the fields whose values differ from ``other``'s (`same_value`),
        leaving out the id: empty when ``other`` records the same facts."""
        return differing_fields(self, other, _CONTENT_FIELDS)

    def pull_events(self) -> list[DomainEvent]:
        """Hand over the events collected since the last call, and forget them."""
        events = list(self._events)
        self._events.clear()
        return events


#: The fields that make an interaction's content: all but its id (and the collected events).
_CONTENT_FIELDS = tuple(f.name for f in attrs.fields(Interaction) if f.eq and f.name != "id")
