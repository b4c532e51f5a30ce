"""Domain events: facts the aggregates record as they change.

Aggregates collect them; the unit of work publishes them to subscribed handlers after a
successful commit (and, in the SQL adapter, writes them to an outbox in the same transaction).
Each event names its aggregate and the instant ``at`` the change was made (from the clock).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from crmkit.domain._checks import to_utc, utc
from crmkit.domain.customers.consent import ConsentStatus
from crmkit.domain.interactions.channels import Channel, SubjectKind
from crmkit.domain.values.ids import AccountId, CustomerId, InteractionId
from crmkit.domain.values.texts import ensure_text

__all__ = [
    "AccountChanged",
    "AccountRegistered",
    "ConsentChanged",
    "CustomerProfileChanged",
    "CustomerRegistered",
    "DomainEvent",
    "EnteredSegment",
    "InteractionRecorded",
    "LeftSegment",
    "StageChanged",
]


def _sorted(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(names))


@attrs.frozen
class DomainEvent:
    """The base of every event; ``aggregate_id`` orders events per aggregate."""

    at: datetime = attrs.field(converter=to_utc, validator=utc)

    def __attrs_post_init__(self) -> None:
        # The domain builds events from checked values; an event read back from a document
        # (`from_json`) must hold storable text as well, or the outbox cannot write it.
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, str):
                    ensure_text(item, field.name)

    @property
    def aggregate_id(self) -> str:
        """The id of the aggregate that emitted the event."""
        raise AttributeError("aggregate_id")  # overridden by every concrete event


@attrs.frozen
class CustomerRegistered(DomainEvent):
    """A new customer was registered."""

    customer_id: CustomerId = attrs.field(kw_only=True)

    @property
    def aggregate_id(self) -> str:
        return self.customer_id


@attrs.frozen
class CustomerProfileChanged(DomainEvent):
    """Profile fields of a customer changed; ``fields`` names them, sorted."""

    customer_id: CustomerId = attrs.field(kw_only=True)
    fields: tuple[str, ...] = attrs.field(kw_only=True, converter=_sorted)

    @property
    def aggregate_id(self) -> str:
        return self.customer_id


@attrs.frozen
class ConsentChanged(DomainEvent):
    """A consent record was added for a customer."""

    customer_id: CustomerId = attrs.field(kw_only=True)
    purpose: str = attrs.field(kw_only=True)
    channel: Channel | None = attrs.field(kw_only=True)
    status: ConsentStatus = attrs.field(kw_only=True)

    @property
    def aggregate_id(self) -> str:
        return self.customer_id


@attrs.frozen
class InteractionRecorded(DomainEvent):
    """An interaction was recorded for a customer (replays of the same one emit nothing)."""

    customer_id: CustomerId = attrs.field(kw_only=True)
    interaction_id: InteractionId = attrs.field(kw_only=True)
    kind: str = attrs.field(kw_only=True)
    channel: Channel = attrs.field(kw_only=True)
    occurred_at: datetime = attrs.field(kw_only=True)

    @property
    def aggregate_id(self) -> str:
        return self.customer_id


@attrs.frozen
class AccountRegistered(DomainEvent):
    """A new B2B account was registered."""

    account_id: AccountId = attrs.field(kw_only=True)

    @property
    def aggregate_id(self) -> str:
        return self.account_id


@attrs.frozen
class AccountChanged(DomainEvent):
    """Fields of an account changed; ``fields`` names them, sorted."""

    account_id: AccountId = attrs.field(kw_only=True)
    fields: tuple[str, ...] = attrs.field(kw_only=True, converter=_sorted)

    @property
    def aggregate_id(self) -> str:
        return self.account_id


@attrs.frozen
class StageChanged(DomainEvent):
    """A customer or account entered a lifecycle model or moved to another of its stages.

    ``from_stage`` is ``None`` when the subject entered the model; ``rule`` names the
    progression rule that made the move (``None`` for a move made by hand).
    """

    subject_kind: SubjectKind = attrs.field(kw_only=True)
    subject_id: str = attrs.field(kw_only=True)
    model: str = attrs.field(kw_only=True)
    from_stage: str | None = attrs.field(kw_only=True)
    to_stage: str = attrs.field(kw_only=True)
    reason: str | None = attrs.field(kw_only=True, default=None)
    actor: str | None = attrs.field(kw_only=True, default=None)
    rule: str | None = attrs.field(kw_only=True, default=None)

    @property
    def aggregate_id(self) -> str:
        return self.subject_id


@attrs.frozen
class EnteredSegment(DomainEvent):
    """A customer became a member of a tracked segment: ``at`` is the ``as_of`` of the
    evaluation that found them in it."""

    customer_id: CustomerId = attrs.field(kw_only=True)
    segment: str = attrs.field(kw_only=True)

    @property
    def aggregate_id(self) -> str:
        return self.customer_id


@attrs.frozen
class LeftSegment(DomainEvent):
    """A customer stopped being a member of a tracked segment: ``at`` is the ``as_of`` of the
    evaluation that no longer found them in it."""

    customer_id: CustomerId = attrs.field(kw_only=True)
    segment: str = attrs.field(kw_only=True)

    @property
    def aggregate_id(self) -> str:
        return self.customer_id
