"""The loyalty capability: points ledgers and referrals."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Protocol

from crmkit.domain import (
    CustomerId,
    PointsBalance,
    PointsLedger,
    Programme,
    Referral,
)

__all__ = ["LoyaltyStorage", "PointsLedgerRepository", "ReferralRepository"]


class PointsLedgerRepository(Protocol):
    """The members' points ledgers, one per (programme, customer): append-only entries, and
    beside them each ledger's `PointsBalance` (kept in the same transaction) so that reading
    a balance never scans the entries."""

    def add(self, ledger: PointsLedger) -> None:
        """Store a new ledger (version 0) with its entries; it becomes version 1. Raises
        `ConcurrencyConflict` if the member already has a ledger in that programme."""
        ...

    def update(self, ledger: PointsLedger) -> None:
        """Append the entries booked since the ledger was read and store its new balance, if
        its stored version is still ``ledger.version``, then bump it; raises
        `ConcurrencyConflict` if another writer got there first, `NotFound` if it was never
        added. Entries already stored are never changed."""
        ...

    def save_many(self, ledgers: Collection[PointsLedger]) -> None:
        """`add` the ledgers at version 0 and `update` the others, all at once: the same
        outcome as one call each (a `ConcurrencyConflict` fails the unit of work), in as few
        statements as the storage allows. The bulk earning path uses it."""
        ...

    def find(self, programme: Programme, customer_id: CustomerId) -> PointsLedger | None:
        """The member's ledger under ``programme`` with every entry, or ``None``."""
        ...

    def find_many(
        self,
        programme: Programme,
        customer_ids: Collection[CustomerId],
        *,
        booking: Collection[str] | None = None,
    ) -> dict[CustomerId, PointsLedger]:
        """The ledgers of the members that have one, by customer id (a batch in one read).

        With ``booking`` (the ids of the interactions about to be booked on them, if any),
        the ledgers are for booking inside this unit of work only: a store may restore them
        from their heads (`crmkit.domain.loyalty.head`) and read their stored entries only
        when asked for — those of the interactions named, with the ledgers."""
        ...

    def balance(self, programme: str, customer_id: CustomerId) -> PointsBalance | None:
        """The stored summary of the member's ledger, read without its entries, or ``None``."""
        ...

    def due(
        self,
        programme: str,
        as_of: datetime,
        *,
        after: CustomerId | None = None,
        limit: int = 1000,
    ) -> list[CustomerId]:
        """Up to ``limit`` members (above ``after``, in id order) whose ledger has a pending lot
        maturing or a lot expiring by ``as_of`` (``next_due_at <= as_of``): the batch job's
        work list, one page at a time."""
        ...

    def stream_balances(self, programme: str, *, batch_size: int = 1000) -> Iterator[PointsBalance]:
        """Every member's stored summary in the programme, in customer id order, fetched in
        batches so memory stays bounded."""
        ...


class ReferralRepository(Protocol):
    """The tenant's referrals. A referee is referred at most once per programme."""

    def add(self, referral: Referral) -> None:
        """Store a new referral (version 0); it becomes version 1. Raises `ReferralRefused`
        if its referee already has a referral in the programme, `ConcurrencyConflict` if
        its id is taken."""
        ...

    def update(self, referral: Referral) -> None:
        """Store a referral's new status if its stored version is still ``referral.version``,
        then bump it; raises `ConcurrencyConflict` if another writer got there first,
        `NotFound` if it was never added."""
        ...

    def get(self, referral_id: str) -> Referral:
        """The referral with that id; raises `NotFound`."""
        ...

    def for_referee(self, programme: str, referee_id: CustomerId) -> Referral | None:
        """The referral that brought ``referee_id`` into ``programme``, or ``None``."""
        ...

    def by_referrer(self, programme: str, referrer_id: CustomerId) -> list[Referral]:
        """The referrals ``referrer_id`` made in ``programme``, oldest first (then by id)."""
        ...


class LoyaltyStorage(Protocol):
    """The loyalty capability of a unit of work: ledgers and referrals."""

    @property
    def points_ledgers(self) -> PointsLedgerRepository:
        """The tenant's loyalty points ledgers and their balances."""
        ...

    @property
    def referrals(self) -> ReferralRepository:
        """The tenant's referrals."""
        ...
