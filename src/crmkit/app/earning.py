"""Loyalty work inside a unit of work: what an interaction being recorded earns or reverses.

`record_interaction` calls `book_interaction` with the unit of work it already holds, so an
interaction and the points it earns (or the reversal a refund causes, or the rewards of the
referral a first purchase qualifies) commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime

from crmkit.app.membership import customer_facts
from crmkit.domain import (
    Customer,
    CustomerId,
    Direction,
    Facts,
    Interaction,
    InteractionId,
    InteractionKind,
    PointsLedger,
    Programme,
    Referral,
    ReferralStatus,
)
from crmkit.errors import NotFound, ValidationError
from crmkit.ports import IdSource, UnitOfWork

__all__ = ["REFUND_OF", "LedgerBook", "book_interaction", "refunded_purchase"]

#: The metadata key of a refund that names the purchase it refunds (its id or external ref).
REFUND_OF = "refund_of"


class LedgerBook:
    """The ledgers one unit of work touches, loaded once and saved once."""

    def __init__(self, uow: UnitOfWork, programme: Programme) -> None:
        self.uow = uow
        self.programme = programme
        self._ledgers: dict[CustomerId, tuple[PointsLedger, int]] = {}

    def of(self, customer_id: CustomerId) -> PointsLedger:
        """The member's ledger (a new, empty one when they have none yet)."""
        if customer_id not in self._ledgers:
            found = self.uow.points_ledgers.find(self.programme, customer_id)
            ledger = found if found is not None else PointsLedger(customer_id, self.programme)
            self._ledgers[customer_id] = (ledger, len(ledger.entries))
        return self._ledgers[customer_id][0]

    def adopt(self, ledger: PointsLedger) -> None:
        """Take charge of a ledger loaded elsewhere (e.g. in a batch)."""
        self._ledgers[ledger.customer_id] = (ledger, len(ledger.entries))

    def save(self) -> None:
        """Add or update every ledger that booked something; empty new ledgers are not kept."""
        for ledger, loaded in self._ledgers.values():
            if len(ledger.entries) == loaded:
                continue
            if ledger.version == 0:
                self.uow.points_ledgers.add(ledger)
            else:
                self.uow.points_ledgers.update(ledger)
        self._ledgers.clear()


def refunded_purchase(uow: UnitOfWork, refund: Interaction) -> InteractionId | None:
    """The purchase a refund names under `REFUND_OF` (by id, then by external reference), or
    ``None`` when it names none; raise `ValidationError` when it names no purchase of the
    refund's customer."""
    named = refund.metadata.get(REFUND_OF)
    if named is None:
        return None
    purchase: Interaction | None = None
    if isinstance(named, str):
        try:
            purchase = uow.interactions.get(InteractionId(named))
        except (NotFound, ValidationError):
            purchase = uow.interactions.find_by_external_ref(named)
    if (
        purchase is None
        or purchase.customer_id != refund.customer_id
        or purchase.kind != InteractionKind.PURCHASE
    ):
        raise ValidationError.single(
            f"metadata.{REFUND_OF}", named, "must name a purchase of the same customer"
        )
    return purchase.id


def book_interaction(
    book: LedgerBook, interaction: Interaction, customer: Customer, now: datetime, ids: IdSource
) -> None:
    """Book what ``interaction`` earns (or, for a refund naming its purchase, reverses) on its
    customer's ledger at ``now``, after maturing and expiring what is due; a customer's first
    purchase while referred qualifies and rewards the referral."""
    programme = book.programme
    ledger = book.of(interaction.customer_id)
    ledger.mature_and_expire(now)
    if interaction.kind == InteractionKind.REFUND:
        purchase = refunded_purchase(book.uow, interaction)
        if purchase is not None:
            ledger.refund(interaction, purchase_id=purchase, at=now)
    else:
        ledger.earn(interaction, now, _facts(book, customer, now))
    if interaction.kind == InteractionKind.PURCHASE and programme.referrals is not None:
        referral = book.uow.referrals.for_referee(programme.name, customer.id)
        if referral is not None and referral.status is ReferralStatus.PENDING:
            _reward(book, referral, interaction, now, ids)


def _facts(book: LedgerBook, customer: Customer, now: datetime) -> Facts | None:
    if any(m.segment is not None for m in book.programme.multipliers):
        return customer_facts(book.uow, customer, now)
    return None


def _reward(
    book: LedgerBook, referral: Referral, purchase: Interaction, now: datetime, ids: IdSource
) -> None:
    policy = book.programme.referrals
    assert policy is not None  # checked by the caller
    referral.qualify(purchase.id, now)
    sides = (
        (referral.referrer_id, policy.referrer_kind, "referrer"),
        (referral.referee_id, policy.referee_kind, "referee"),
    )
    for customer_id, kind, role in sides:
        if kind is None:
            continue
        reward = Interaction.record(
            now,
            id=InteractionId(ids.new_id()),
            customer_id=customer_id,
            occurred_at=purchase.occurred_at,
            kind=kind,
            channel=purchase.channel,
            direction=Direction.INTERNAL,
            metadata={"referral": referral.id, "role": role},
            external_ref=f"referral:{referral.id}:{role}",
        )
        book.uow.interactions.add(reward)
        ledger = book.of(customer_id)
        ledger.mature_and_expire(now)
        member = book.uow.customers.get(customer_id)
        ledger.earn(reward, now, _facts(book, member, now))
    referral.reward(now)
    book.uow.referrals.update(referral)
