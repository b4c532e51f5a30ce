"""The interaction capability: the append-only interaction log."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Protocol

from crmkit.domain import (
    Channel,
    CustomerId,
    Interaction,
    InteractionId,
)
from crmkit.ports.pages import ImportResult, OnExisting

__all__ = ["InteractionRepository", "InteractionStorage"]


class InteractionRepository(Protocol):
    """The interaction log of one tenant: append and read, never edit."""

    def add(self, interaction: Interaction) -> None:
        """Append an interaction; raises `IdempotencyConflict` if its external_ref is taken.

        Storing announces nothing by itself: `InteractionRecorded` is collected by the
        customer (`Customer.note`), as the `CRM.record_interaction` use case does."""
        ...

    def add_many(
        self,
        interactions: Iterable[Interaction],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        """Bulk-append interactions (a data import): records no events. A taken id or
        external_ref raises `IdempotencyConflict`, except that with ``on_existing="skip"`` an
        interaction whose id or external_ref is stored with the same content
        (`Interaction.same_content`) is skipped. Returns what was stored and skipped."""
        ...

    def get(self, interaction_id: InteractionId) -> Interaction:
        """The interaction with that id; raises `NotFound`."""
        ...

    def find_by_external_ref(self, external_ref: str) -> Interaction | None:
        """The interaction recorded with that external reference, or ``None``."""
        ...

    def timeline(
        self,
        customer_id: CustomerId,
        *,
        channels: Collection[Channel] | None = None,
        kinds: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Interaction]:
        """A customer's interactions ordered by (occurred_at, id), optionally only some
        channels or kinds, and only those with ``since <= occurred_at < until``."""
        ...

    def stream(self, *, batch_size: int = 1000) -> Iterator[Interaction]:
        """Every interaction in (occurred_at, id) order, in batches."""
        ...

    def count(self) -> int:
        """How many interactions the tenant has."""
        ...


class InteractionStorage(Protocol):
    """The interaction capability of a unit of work."""

    @property
    def interactions(self) -> InteractionRepository:
        """The tenant's interaction log."""
        ...
