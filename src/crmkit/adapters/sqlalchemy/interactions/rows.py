"""Interactions to rows of ``crmkit_interactions``, and back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from crmkit.adapters.sqlalchemy.rows import from_us, hydrate, to_us
from crmkit.domain import (
    Channel,
    CustomerId,
    Direction,
    Interaction,
    InteractionId,
    InteractionKind,
    Money,
)
from crmkit.domain._frozen import FrozenMap

__all__ = ["interaction_from_row", "interaction_row"]

_CHANNELS = Channel._value2member_map_
_KINDS = InteractionKind._value2member_map_
_DIRECTIONS = Direction._value2member_map_


def interaction_row(tenant: str, interaction: Interaction) -> dict[str, Any]:
    """The ``crmkit_interactions`` row of an interaction."""
    amount = interaction.amount
    return {
        "tenant_id": tenant,
        "id": interaction.id,
        "customer_id": interaction.customer_id,
        "occurred_at_us": to_us(interaction.occurred_at),
        "kind": str(interaction.kind),
        "channel": interaction.channel.value,
        "direction": interaction.direction.value,
        "amount_minor": None if amount is None else amount.minor,
        "currency": None if amount is None else amount.currency,
        "owner": interaction.owner,
        "team": interaction.team,
        "campaign": interaction.campaign,
        "metadata": json.dumps(dict(interaction.metadata)) if interaction.metadata else None,
        "external_ref": interaction.external_ref,
    }


def interaction_from_row(row: Mapping[Any, Any]) -> Interaction:
    """An interaction from its row."""
    minor = row["amount_minor"]
    kind = row["kind"]
    return hydrate(
        Interaction,
        id=InteractionId(row["id"]),
        customer_id=CustomerId(row["customer_id"]),
        occurred_at=from_us(row["occurred_at_us"]),
        kind=_KINDS.get(kind, kind),
        channel=_CHANNELS[row["channel"]],
        direction=_DIRECTIONS[row["direction"]],
        amount=None if minor is None else hydrate(Money, minor=minor, currency=row["currency"]),
        owner=row["owner"],
        team=row["team"],
        campaign=row["campaign"],
        metadata=FrozenMap(json.loads(row["metadata"])) if row["metadata"] else FrozenMap(),
        external_ref=row["external_ref"],
        _events=[],
    )
