"""The in-memory adapter's loyalty repositories: points ledgers (with their balances) and
referrals. Writes are staged on the unit of work and applied by its commit."""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from crmkit.adapters._arguments import check_batch, check_page
from crmkit.domain import CustomerId, LedgerEntry, PointsBalance, PointsLedger, Programme, Referral
from crmkit.domain._arguments import each_of, instance_of
from crmkit.domain.loyalty.tally import Tally
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import ConcurrencyConflict, NotFound, ReferralRefused, ValidationError

if TYPE_CHECKING:
    from crmkit.adapters.memory.unit_of_work import InMemoryUnitOfWork

__all__ = ["LedgerKey", "StoredLedger", "referral_copy"]

LedgerKey = tuple[str, CustomerId]  # (programme, customer)
#: (entries, summary, running tally): the tally spares a fold of every entry on each read.
StoredLedger = tuple[tuple[LedgerEntry, ...], PointsBalance, Tally]


def referral_copy(referral: Referral) -> Referral:
    """A copy without the original's events."""
    twin = copy.copy(referral)
    twin._events = []
    return twin


class PointsLedgers:
    """`crmkit.ports.PointsLedgerRepository` over an in-memory unit of work."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def add(self, ledger: PointsLedger) -> None:
        instance_of(ledger, PointsLedger, "ledger")
        uow = self._uow
        key = (ledger.programme.name, ledger.customer_id)
        if ledger.version != 0:
            raise ValidationError.single("version", ledger.version, "a new ledger has version 0")
        if uow._ledger(key) is not None:
            raise ConcurrencyConflict("points ledger", key, 0, "it already exists")
        ledger.version = 1
        uow._stage_ledger(ledger, 0)
        uow._track(ledger)

    def update(self, ledger: PointsLedger) -> None:
        instance_of(ledger, PointsLedger, "ledger")
        uow = self._uow
        key = (ledger.programme.name, ledger.customer_id)
        current = uow._ledger(key)
        if current is None:
            raise NotFound("points ledger", key)
        entries, summary, _ = current
        if summary.version != ledger.version:
            raise ConcurrencyConflict("points ledger", key, ledger.version)
        if tuple(ledger.entries[: len(entries)]) != entries:
            raise ValidationError.single("entries", len(ledger.entries), "are append-only")
        staged = uow._ledgers.get(key)
        base = staged[0] if staged is not None else summary.version
        ledger.version += 1
        uow._stage_ledger(ledger, base)
        uow._track(ledger)

    def save_many(self, ledgers: Collection[PointsLedger]) -> None:
        for ledger in each_of(ledgers, PointsLedger, "ledgers"):
            if ledger.version == 0:
                self.add(ledger)
            else:
                self.update(ledger)

    def find(self, programme: Programme, customer_id: CustomerId) -> PointsLedger | None:
        current = self._uow._ledger((programme.name, customer_id))
        if current is None:
            return None
        entries, summary, tally = current
        return PointsLedger.restore(
            customer_id,
            programme,
            entries,
            version=summary.version,
            last_at=summary.last_at,
            tally=tally,
        )

    def find_many(
        self,
        programme: Programme,
        customer_ids: Collection[CustomerId],
        *,
        booking: Collection[str] | None = None,
    ) -> dict[CustomerId, PointsLedger]:
        del booking  # every ledger is whole in memory
        found = {}
        for customer_id in customer_ids:
            ledger = self.find(programme, customer_id)
            if ledger is not None:
                found[customer_id] = ledger
        return found

    def balance(self, programme: str, customer_id: CustomerId) -> PointsBalance | None:
        current = self._uow._ledger((programme, customer_id))
        return None if current is None else current[1]

    def due(
        self,
        programme: str,
        as_of: datetime,
        *,
        after: CustomerId | None = None,
        limit: int = 1000,
    ) -> list[CustomerId]:
        ensure_utc(as_of, "as_of")
        check_page(limit, after)
        chosen = sorted(
            summary.customer_id
            for summary in self._uow._all_balances(programme)
            if summary.next_due_at is not None
            and summary.next_due_at <= as_of
            and (after is None or summary.customer_id > after)
        )
        return chosen[:limit]

    def stream_balances(self, programme: str, *, batch_size: int = 1000) -> Iterator[PointsBalance]:
        check_batch(batch_size)
        yield from sorted(self._uow._all_balances(programme), key=lambda s: s.customer_id)


class Referrals:
    """`crmkit.ports.ReferralRepository` over an in-memory unit of work."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def add(self, referral: Referral) -> None:
        instance_of(referral, Referral, "referral")
        uow = self._uow
        if referral.version != 0:
            raise ValidationError.single(
                "version", referral.version, "a new referral has version 0"
            )
        if uow._referral(referral.id) is not None:
            raise ConcurrencyConflict("referral", referral.id, 0, "it already exists")
        if self.for_referee(referral.programme, referral.referee_id) is not None:
            raise ReferralRefused.already_referred(referral.referee_id)
        referral.version = 1
        uow._stage_referral(referral, 0)
        uow._track(referral)

    def update(self, referral: Referral) -> None:
        instance_of(referral, Referral, "referral")
        uow = self._uow
        current = uow._referral(referral.id)
        if current is None:
            raise NotFound("referral", referral.id)
        if current.version != referral.version:
            raise ConcurrencyConflict("referral", referral.id, referral.version)
        unchanged = (current.programme, current.referrer_id, current.referee_id)
        if (referral.programme, referral.referrer_id, referral.referee_id) != unchanged:
            raise ValidationError.single("referral", referral.id, "changed who it links")
        staged = uow._referrals.get(referral.id)
        base = staged[0] if staged is not None else current.version
        referral.version += 1
        uow._stage_referral(referral, base)
        uow._track(referral)

    def get(self, referral_id: str) -> Referral:
        found = self._uow._referral(referral_id)
        if found is None:
            raise NotFound("referral", referral_id)
        return referral_copy(found)

    def for_referee(self, programme: str, referee_id: CustomerId) -> Referral | None:
        for referral in self._uow._all_referrals():
            if referral.programme == programme and referral.referee_id == referee_id:
                return referral_copy(referral)
        return None

    def by_referrer(self, programme: str, referrer_id: CustomerId) -> list[Referral]:
        mine = [
            referral_copy(r)
            for r in self._uow._all_referrals()
            if r.programme == programme and r.referrer_id == referrer_id
        ]
        return sorted(mine, key=lambda r: (r.created_at, r.id))
