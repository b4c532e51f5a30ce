"""What recording an interaction sets off in its own unit of work, capability by capability.

Recording an interaction runs an ordered tuple of reactions built from the settings: the
loyalty programme earns points, the lifecycle models' progression rules move the customer
(and its account), tracked segments update their stored membership. Each reaction works in
the recording's unit of work, so the interaction and everything it caused commit together or
not at all. A capability added later (campaign attribution, SLA clocks) adds a reaction here;
the interaction service never learns its name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import attrs

from crmkit.app.earning import LedgerBook, book_interaction
from crmkit.app.membership import refresh_customer
from crmkit.app.progression import progress_subject
from crmkit.app.settings import Settings
from crmkit.domain import Customer, Interaction, LifecycleModel, Programme, Segment, SubjectKind
from crmkit.ports import IdSource, UnitOfWork

__all__ = [
    "LifecycleProgression",
    "LoyaltyEarning",
    "Reaction",
    "SegmentTracking",
    "reactions_for",
]


class Reaction(Protocol):
    """Something an interaction sets off, inside the unit of work that records it."""

    def __call__(
        self, uow: UnitOfWork, customer: Customer, interaction: Interaction, now: datetime
    ) -> None:
        """React to ``interaction`` of ``customer``, just stored in ``uow``, at ``now``."""
        ...


@attrs.frozen
class LoyaltyEarning:
    """Books what the interaction earns (or a refund reverses) under the programme."""

    programme: Programme
    ids: IdSource

    def __call__(
        self, uow: UnitOfWork, customer: Customer, interaction: Interaction, now: datetime
    ) -> None:
        book = LedgerBook(uow, self.programme)
        book_interaction(book, interaction, now, self.ids, customer)
        book.save()


@attrs.frozen
class LifecycleProgression:
    """Applies the progression rules of the customer's models, and of its account's."""

    customer_models: tuple[LifecycleModel, ...]
    account_models: tuple[LifecycleModel, ...]

    def __call__(
        self, uow: UnitOfWork, customer: Customer, interaction: Interaction, now: datetime
    ) -> None:
        if self.customer_models:
            progress_subject(uow, self.customer_models, customer.id, as_of=now, customer=customer)
        link = customer.account
        if not self.account_models or link is None:
            return
        # A link to an account the tenant does not hold (links of imported or directly stored
        # customers are not checked) has no pipeline to move: the interaction is still recorded.
        if uow.accounts.find(link.account_id) is not None:
            progress_subject(uow, self.account_models, link.account_id, as_of=now)


@attrs.frozen
class SegmentTracking:
    """Brings the customer's stored membership of the tracked segments up to date."""

    segments: tuple[Segment, ...]

    def __call__(
        self, uow: UnitOfWork, customer: Customer, interaction: Interaction, now: datetime
    ) -> None:
        refresh_customer(uow, self.segments, customer, as_of=now)


def reactions_for(settings: Settings) -> tuple[Reaction, ...]:
    """The reactions ``settings`` ask for, in the order they run: earning first (a tier a
    purchase reaches is then visible to the rules), then progression, then segments."""
    reactions: list[Reaction] = []
    if settings.loyalty is not None:
        reactions.append(LoyaltyEarning(settings.loyalty, settings.ids))
    with_rules = [m for m in settings.lifecycles if m.rules]
    if with_rules:
        reactions.append(
            LifecycleProgression(
                tuple(m for m in with_rules if m.subject is SubjectKind.CUSTOMER),
                tuple(m for m in with_rules if m.subject is SubjectKind.ACCOUNT),
            )
        )
    if settings.segments:
        reactions.append(SegmentTracking(settings.segments))
    return tuple(reactions)
