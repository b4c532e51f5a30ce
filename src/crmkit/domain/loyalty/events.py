"""The domain events of loyalty ledgers; each names the member (``aggregate_id``)."""

from __future__ import annotations

import attrs

from crmkit.domain.events import DomainEvent
from crmkit.domain.values.ids import CustomerId

__all__ = ["PointsEarned", "PointsExpired", "PointsRedeemed", "TierChanged"]


@attrs.frozen
class PointsEarned(DomainEvent):
    """A rule awarded points for an interaction (pending until ``available_from``)."""

    customer_id: CustomerId = attrs.field(kw_only=True)
    points: int = attrs.field(kw_only=True)
    rule: str = attrs.field(kw_only=True)
    interaction_id: str | None = attrs.field(kw_only=True)

    @property
    def aggregate_id(self) -> str:
        return self.customer_id


@attrs.frozen
class PointsRedeemed(DomainEvent):
    """A member spent available points, on a catalogue reward when ``reward`` is set."""

    customer_id: CustomerId = attrs.field(kw_only=True)
    points: int = attrs.field(kw_only=True)
    reward: str | None = attrs.field(kw_only=True, default=None)

    @property
    def aggregate_id(self) -> str:
        return self.customer_id


@attrs.frozen
class PointsExpired(DomainEvent):
    """Available points of a member ran out of time (the sum over the lots that expired)."""

    customer_id: CustomerId = attrs.field(kw_only=True)
    points: int = attrs.field(kw_only=True)

    @property
    def aggregate_id(self) -> str:
        return self.customer_id


@attrs.frozen
class TierChanged(DomainEvent):
    """A member's tier changed (``None``: no tier)."""

    customer_id: CustomerId = attrs.field(kw_only=True)
    from_tier: str | None = attrs.field(kw_only=True)
    to_tier: str | None = attrs.field(kw_only=True)

    @property
    def aggregate_id(self) -> str:
        return self.customer_id
