"""The in-memory adapter's interaction log: `crmkit.ports.InteractionRepository`."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from crmkit.adapters._arguments import check_batch, check_window
from crmkit.adapters._bulk import add_each, is_replayed_interaction
from crmkit.domain import Channel, CustomerId, Interaction, InteractionId
from crmkit.domain._arguments import instance_of
from crmkit.errors import NotFound, ValidationError
from crmkit.ports import ImportResult, OnExisting

if TYPE_CHECKING:
    from crmkit.adapters.memory.unit_of_work import InMemoryUnitOfWork

__all__ = ["Interactions"]


def _in(value: str, allowed: Collection[str] | None) -> bool:
    return allowed is None or value in allowed


class Interactions:
    """`crmkit.ports.InteractionRepository` over an in-memory unit of work."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def add(self, interaction: Interaction) -> None:
        instance_of(interaction, Interaction, "interaction")
        self._add(interaction)
        self._uow._track(interaction)

    def _add(self, interaction: Interaction, *, skip: bool = False) -> bool:
        uow = self._uow
        if not isinstance(interaction, Interaction):
            raise ValidationError.single("interaction", interaction, "must be an Interaction")
        ref = interaction.external_ref
        by_id = uow._interaction(interaction.id)
        by_ref = None if ref is None else self.find_by_external_ref(ref)
        if is_replayed_interaction(interaction, by_id, by_ref, skip=skip):
            return False
        uow._stage_interaction(interaction)
        return True

    def add_many(
        self,
        interactions: Iterable[Interaction],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        return add_each(interactions, self._add, batch_size=batch_size, on_existing=on_existing)

    def get(self, interaction_id: InteractionId) -> Interaction:
        found = self._uow._interaction(interaction_id)
        if found is None:
            raise NotFound("interaction", interaction_id)
        return found

    def find_by_external_ref(self, external_ref: str) -> Interaction | None:
        uow = self._uow
        uow._require_open()
        with uow._store.lock:
            stored = uow._tables.refs.get(external_ref)
        if stored is not None:
            return uow._interaction(stored)
        staged = uow._staged_refs.get(external_ref)
        return None if staged is None else uow._interactions[staged]

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
        since, until = check_window(since, until, limit)
        chosen = [
            i
            for i in self._uow._customer_interactions(customer_id)
            if _in(i.channel, channels)
            and _in(i.kind, kinds)
            and (since is None or i.occurred_at >= since)
            and (until is None or i.occurred_at < until)
        ]
        chosen.sort(key=lambda i: (i.occurred_at, i.id), reverse=newest_first)
        return chosen if limit is None else chosen[:limit]

    def stream(self, *, batch_size: int = 1000) -> Iterator[Interaction]:
        check_batch(batch_size)
        yield from sorted(self._uow._all_interactions(), key=lambda i: (i.occurred_at, i.id))

    def count(self) -> int:
        return len(self._uow._all_interactions())
