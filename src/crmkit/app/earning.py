"""Loyalty work inside a unit of work: what an interaction being recorded earns or reverses.

`record_interaction` calls `book_interaction` with the unit of work it already holds, so an
interaction and the points it earns (or the reversal a refund causes, or the rewards of the
referral a first purchase qualifies) commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from crmkit.app.membership import customer_facts
from crmkit.domain import (
    Channel,
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
from crmkit.errors import CurrencyMismatch, NotFound, ValidationError
from crmkit.ports import IdSource, UnitOfWork

__all__ = ["REFUND_OF", "LedgerBook", "book_interaction", "booking_time", "refunded_purchase"]

#: The metadata key of a refund that names the purchase it refunds (its id or external ref).
REFUND_OF = "refund_of"


class LedgerBook:
    """The ledgers one unit of work touches, loaded once and saved once."""

    def __init__(self, uow: UnitOfWork, programme: Programme) -> None:
        self.uow = uow
        self.programme = programme
        # Per member: the ledger, and how many entries it had when read.
        self._ledgers: dict[CustomerId, tuple[PointsLedger, int]] = {}
        self._touched: set[CustomerId] = set()
        self._referees_checked: set[CustomerId] = set()

    def load(self, interactions: Collection[Interaction]) -> None:
        """Read the ledgers of the members of many interactions at once (those not loaded
        yet), with the stored entries of those interactions (to book them once)."""
        wanted = {i.customer_id for i in interactions if i.customer_id not in self._ledgers}
        ids = [i.id for i in interactions if i.customer_id in wanted]
        ledgers = self.uow.points_ledgers
        found = ledgers.find_many(self.programme, wanted, booking=ids) if wanted else {}
        for customer_id in wanted:
            ledger = found.get(customer_id) or PointsLedger(customer_id, self.programme)
            self.adopt(ledger)

    def of(self, customer_id: CustomerId, booking: Collection[str] = ()) -> PointsLedger:
        """The member's ledger (a new, empty one when they have none yet), read for booking
        (the interactions ``booking``, if any) in this unit of work."""
        if customer_id not in self._ledgers:
            found = self.uow.points_ledgers.find_many(
                self.programme, [customer_id], booking=booking
            ).get(customer_id)
            ledger = found if found is not None else PointsLedger(customer_id, self.programme)
            self.adopt(ledger)
        return self._ledgers[customer_id][0]

    def adopt(self, ledger: PointsLedger) -> None:
        """Take charge of a ledger loaded elsewhere (e.g. in a batch)."""
        self._ledgers[ledger.customer_id] = (ledger, len(ledger.entries))

    def touch(self, ledger: PointsLedger) -> None:
        """Save ``ledger`` even if it booked nothing (the job reviewed it)."""
        self._touched.add(ledger.customer_id)

    def save(self) -> None:
        """Add or update every ledger that booked something; empty new ledgers are not kept."""
        # A ledger that booked nothing changed only if its tier lapsed (it announced it).
        changed = [
            ledger
            for ledger, loaded in self._ledgers.values()
            if len(ledger.entries) > loaded
            or (ledger.version and (ledger.customer_id in self._touched or ledger.has_events))
        ]
        if changed:
            self.uow.points_ledgers.save_many(changed)
        self._ledgers.clear()
        self._touched.clear()

    def pending_referral(self, referee_id: CustomerId) -> Referral | None:
        """The referee's pending referral, looked up once per member and unit of work."""
        if referee_id in self._referees_checked:
            return None
        self._referees_checked.add(referee_id)
        referral = self.uow.referrals.for_referee(self.programme.name, referee_id)
        return (
            referral if referral is not None and referral.status is ReferralStatus.PENDING else None
        )


def booking_time(ledger: PointsLedger, now: datetime) -> datetime:
    """When to book on ``ledger`` at ``now``: never before its last entry or review (a job
    run for a later ``as_of``, another process's clock), so entries stay in time order."""
    last = ledger.last_at
    return now if last is None or now >= last else last


def refunded_purchase(uow: UnitOfWork, refund: Interaction) -> InteractionId | None:
    """The purchase a refund names under `REFUND_OF` (by id, then by external reference), or
    ``None`` when it names none; raise `ValidationError` when an interaction that is no
    refund names one, or a refund names no purchase of its customer (a note, another
    customer's order, nothing stored), `CurrencyMismatch` when the refund is in another
    currency."""
    named = refund.metadata.get(REFUND_OF)
    if named is None:
        return None
    if refund.kind != InteractionKind.REFUND:
        raise ValidationError.single(
            f"metadata.{REFUND_OF}", named, f"only a refund names a purchase, not a {refund.kind}"
        )
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
    paid, back = purchase.amount, refund.amount
    if paid is not None and back is not None and paid.currency != back.currency:
        raise CurrencyMismatch(paid.currency, back.currency)
    return purchase.id


def book_interaction(
    book: LedgerBook,
    interaction: Interaction,
    now: datetime,
    ids: IdSource,
    customer: Customer | None = None,
) -> None:
    """Book what ``interaction`` earns (or, for a refund naming its purchase, reverses) on its
    customer's ledger at ``now``, after maturing and expiring what is due; a customer's first
    purchase while referred qualifies and rewards the referral. ``customer`` is read only
    when needed (segment multipliers) if not given."""
    programme = book.programme
    ledger = book.of(interaction.customer_id, [interaction.id])
    now = booking_time(ledger, now)
    ledger.mature_and_expire(now)
    if interaction.kind == InteractionKind.REFUND:
        purchase = refunded_purchase(book.uow, interaction)
        if purchase is not None:
            ledger.refund(interaction, purchase_id=purchase, at=now)
    else:
        ledger.earn(interaction, now, _facts(book, interaction.customer_id, customer, now))
    if interaction.kind == InteractionKind.PURCHASE and programme.referrals is not None:
        referral = book.pending_referral(interaction.customer_id)
        if referral is not None:
            _reward(book, referral, interaction, now, ids)


def _facts(
    book: LedgerBook, customer_id: CustomerId, customer: Customer | None, now: datetime
) -> Facts | None:
    if not any(m.segment is not None for m in book.programme.multipliers):
        return None
    member = customer if customer is not None else book.uow.customers.get(customer_id)
    return customer_facts(book.uow, member, now)


def _reward(
    book: LedgerBook, referral: Referral, purchase: Interaction, now: datetime, ids: IdSource
) -> None:
    policy = book.programme.referrals
    assert policy is not None  # checked by the caller
    referral.qualify(purchase.id, now)
    # The bonus is booked now, on no channel of the referee's: only the policy's own event
    # rules (and date or tier multipliers) decide what it is worth.
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
            occurred_at=now,
            kind=kind,
            channel=Channel.OTHER,
            direction=Direction.INTERNAL,
            metadata={"referral": referral.id, "role": role},
            external_ref=f"referral:{referral.id}:{role}",
        )
        book.uow.interactions.add(reward)
        ledger = book.of(customer_id, [reward.id])
        at = booking_time(ledger, now)
        ledger.mature_and_expire(at)
        ledger.earn(reward, at, _facts(book, customer_id, None, at))
    referral.reward(now)
    book.uow.referrals.update(referral)
