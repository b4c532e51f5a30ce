"""Recording interactions inside a unit of work: one at a time, or a burst in one commit.

`record_in` is what one recording does in the unit of work it is given: the idempotent replay
check, the refund's purchase check, the append, then every reaction of the settings (earning,
progression, segment tracking). ``crm.interactions.record`` runs it in a unit of work of its
own; ``crm.interactions.record_many`` runs it for each interaction of a batch in one unit of
work, so a burst pays one commit (on SQLite, one synchronous write to disk) per batch rather
than one per interaction, with the same reactions in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from crmkit.app.context import Context
from crmkit.app.earning import refunded_purchase
from crmkit.app.reactions import Reaction
from crmkit.domain import Interaction, InteractionId
from crmkit.errors import IdempotencyConflict, ValidationError
from crmkit.ports import UnitOfWork

__all__ = ["fields_of", "record_batch", "record_in"]


def record_in(
    uow: UnitOfWork,
    context: Context,
    reactions: Sequence[Reaction],
    candidate: Interaction,
    *,
    keep_stored_time: bool,
    new_id: Callable[[], InteractionId],
) -> tuple[Interaction, bool]:
    """Record ``candidate`` in ``uow`` and run ``reactions``; returns the interaction and
    whether it is new (``False``: the one stored under its external reference, a replay).

    The customer must exist (`NotFound`); the real id comes from ``new_id``, drawn only for a
    new interaction.
    """
    customer = uow.customers.get(candidate.customer_id)
    if candidate.external_ref is not None:
        stored = uow.interactions.find_by_external_ref(candidate.external_ref)
        if stored is not None:
            return replayed(stored, candidate, keep_stored_time), False
    # With or without a loyalty programme, a refund names a purchase of its customer.
    refunded_purchase(uow, candidate)
    now = context.now()
    interaction = Interaction.record(now, **{**fields_of(candidate), "id": new_id()})
    uow.interactions.add(interaction)
    for react in reactions:
        react(uow, customer, interaction, now)
    return interaction, True


def record_batch(
    context: Context, reactions: Sequence[Reaction], batch: Sequence[Interaction], first: int
) -> list[Interaction]:
    """Record every interaction of ``batch`` (positions from ``first`` in the caller's
    sequence) in one unit of work, committed once; an error names the position."""
    with context.unit_of_work() as uow:
        recorded = []
        for index, candidate in enumerate(batch, start=first):
            try:
                done, _ = record_in(
                    uow,
                    context,
                    reactions,
                    candidate,
                    keep_stored_time=False,
                    new_id=_own_id(candidate),  # the caller's id, as in import_many
                )
            except ValidationError as error:
                raise error.prefixed(f"interactions[{index}]") from None
            recorded.append(done)
        uow.commit()
    return recorded


def fields_of(interaction: Interaction) -> dict[str, object]:
    """The fields an `Interaction` is built from, by name."""
    return {f.name: getattr(interaction, f.name) for f in attrs.fields(Interaction) if f.init}


def replayed(stored: Interaction, candidate: Interaction, keep_stored_time: bool) -> Interaction:
    """``stored``, the answer to a replay of its external reference by ``candidate``; raises
    `IdempotencyConflict` naming the fields that differ (the instant too, unless kept)."""
    if keep_stored_time:
        candidate = attrs.evolve(candidate, occurred_at=stored.occurred_at)
    differing = stored.differing_fields(candidate)
    if differing:
        raise IdempotencyConflict(
            "external_ref", candidate.external_ref, stored.id, differing=differing
        )
    return stored


def _own_id(candidate: Interaction) -> Callable[[], InteractionId]:
    return lambda: candidate.id
