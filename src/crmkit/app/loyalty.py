"""Use cases of a loyalty programme: balances and statements, redemption, adjustments, the
batch job that matures and expires points, and referrals.

Earning is not a use case of its own: recording an interaction through the CRM books what it
earns in the same unit of work (see `crmkit.app.earning`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

import attrs

from crmkit.app.context import Context
from crmkit.app.earning import LedgerBook, booking_time
from crmkit.app.referrals import ReferralService
from crmkit.app.retries import retry_conflicts
from crmkit.domain import (
    CustomerId,
    EntryKind,
    LedgerEntry,
    LedgerState,
    PointsBalance,
    PointsJobReport,
    PointsLedger,
    Programme,
    StatementLine,
)
from crmkit.domain.values.ids import check_id
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import (
    InsufficientPoints,
    ValidationError,
)
from crmkit.ports import UnitOfWork

__all__ = ["LoyaltyService"]

T = TypeVar("T")


class LoyaltyService:
    """The loyalty programme's points, tiers and referrals: ``crm.loyalty``.

    Every method raises `UsageError` when the settings hold no programme
    (``Settings(loyalty=Programme(...))``).
    """

    def __init__(self, context: Context) -> None:
        self._context = context
        #: The programme's referrals: ``crm.loyalty.referrals``.
        self.referrals = ReferralService(context)

    @property
    def programme(self) -> Programme:
        """The settings' loyalty programme; raises `UsageError` when there is none."""
        return self._context.settings.programme()

    def balance(self, customer_id: str, *, as_of: datetime | None = None) -> PointsBalance:
        """The member's points at ``as_of`` (now by default): available, pending, tier.

        Points due to mature or expire by then count as such even before the batch job has
        booked it. Read at now, this is one row of storage (the ledger is read only when
        something fell due since the job last ran); at a past ``as_of`` it is derived from
        the ledger. Raises `NotFound` for an unknown customer (a customer who never earned
        has zero points).

        Returns:
            The member's `PointsBalance`.

        Raises:
            NotFound: no such customer.
            UsageError: the settings have no loyalty programme.
            ValidationError: ``as_of`` is no aware datetime.
        """
        programme = self.programme
        member = CustomerId(check_id("customer_id", customer_id))
        when = self._context.as_of(as_of)
        with self._context.reading() as uow:
            if as_of is None:
                stored = uow.points_ledgers.balance(programme.name, member)
                if stored is not None and stored.settled_at(when):
                    return stored
            ledger = self._ledger(uow, programme, member)
        return _settled_balance(ledger, when)

    def ledger(self, customer_id: str) -> PointsLedger:
        """The member's whole ledger (empty when they never earned); raises `NotFound` for an
        unknown customer.

        Returns:
            The member's `PointsLedger`.

        Raises:
            NotFound: no such customer.
            UsageError: the settings have no loyalty programme.
        """
        programme = self.programme
        with self._context.reading() as uow:
            return self._ledger(uow, programme, CustomerId(check_id("customer_id", customer_id)))

    def state(self, customer_id: str, *, as_of: datetime | None = None) -> LedgerState:
        """Everything the member's ledger adds up to at ``as_of`` (now by default), as if the
        batch job had run then: lots, available, pending and every total.

        Returns:
            The `LedgerState` at ``as_of``.

        Raises:
            NotFound: no such customer.
            UsageError: the settings have no loyalty programme.
            ValidationError: ``as_of`` is no aware datetime.
        """
        when = self._context.as_of(as_of)
        return self.ledger(customer_id).settled(when)

    def statement(self, customer_id: str, *, as_of: datetime | None = None) -> list[StatementLine]:
        """Every entry booked by ``as_of`` (all, by default) with the points after it, each
        naming its rule: where every point came from and went.

        Returns:
            The `StatementLine`s in booking order.

        Raises:
            NotFound: no such customer.
            UsageError: the settings have no loyalty programme.
            ValidationError: ``as_of`` is no aware datetime.
        """
        when = None if as_of is None else ensure_utc(as_of, "as_of")
        return self.ledger(customer_id).statement(when)

    def tier(self, customer_id: str, *, as_of: datetime | None = None) -> str | None:
        """The member's tier at ``as_of`` (now by default); ``None`` below every threshold.

        Returns:
            The tier's name, or ``None``.

        Raises:
            NotFound: no such customer.
            UsageError: the settings have no loyalty programme.
            ValidationError: ``as_of`` is no aware datetime.
        """
        when = self._context.as_of(as_of)
        return self.ledger(customer_id).tier(when)

    def stream_balances(self, *, batch_size: int = 1000) -> Iterator[PointsBalance]:
        """Every member's stored balance (as the job last left it), in customer id order,
        with bounded memory.

        Returns:
            An iterator over the stored `PointsBalance`s.

        Raises:
            UsageError: the settings have no loyalty programme.
            ValidationError: ``batch_size`` is out of range.
        """
        programme = self.programme
        with self._context.reading() as uow:
            yield from uow.points_ledgers.stream_balances(programme.name, batch_size=batch_size)

    def redeem(
        self,
        customer_id: str,
        *,
        points: int | None = None,
        reward: str | None = None,
        key: str | None = None,
    ) -> LedgerEntry:
        """Spend the member's available points now, oldest lot first: ``points``, or the price
        of the catalogue ``reward``. Returns the redemption entry.

        Points that fell due are matured and expired first. Beyond the balance it raises
        `InsufficientPoints` and writes nothing. With a ``key`` (e.g. the host's order id) a
        replay returns the first redemption instead of spending twice. Safe under
        concurrency: a racing writer makes it re-read and try again, so the total redeemed
        never exceeds what was available.

        Returns:
            The redemption's `LedgerEntry` (the one already booked, for a repeated ``key``).

        Raises:
            NotFound: no such customer.
            InsufficientPoints: the member has fewer available points than wanted.
            UsageError: the settings have no loyalty programme.
            ValidationError: neither or both of ``points`` and ``reward``, an unknown reward, or a
                bad ``key``.
        """
        programme = self.programme
        member = CustomerId(check_id("customer_id", customer_id))
        wanted = programme.redemption_points(points, reward)
        token = check_id("key", key) if key is not None else self._context.new_id()

        def redeem(uow: UnitOfWork, book: LedgerBook) -> LedgerEntry:
            ledger = self._ledger(uow, programme, member)
            book.adopt(ledger)
            if not ledger.entries:
                raise InsufficientPoints(member, wanted, 0)
            at = booking_time(ledger, self._context.now())
            ledger.mature_and_expire(at)
            return ledger.redeem(at, token, points=points, reward=reward)

        return self._retrying(programme, redeem)

    def adjust(
        self, customer_id: str, points: int, *, reason: str, key: str | None = None
    ) -> LedgerEntry:
        """Correct the member's points by hand, now: ``points > 0`` opens an available lot,
        ``points < 0`` takes available points oldest first (raising `InsufficientPoints`
        beyond the balance). ``reason`` (text) is kept on the entry; ``key`` makes it
        idempotent.

        Returns:
            The adjustment's `LedgerEntry` (the one already booked, for a repeated ``key``).

        Raises:
            NotFound: no such customer.
            InsufficientPoints: a negative adjustment beyond the available points.
            UsageError: the settings have no loyalty programme.
            ValidationError: ``points`` is zero or no integer, or ``reason`` is no text.
        """
        programme = self.programme
        member = CustomerId(check_id("customer_id", customer_id))
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError.single("reason", reason, "must be non-empty text")
        token = check_id("key", key) if key is not None else self._context.new_id()

        def adjust(uow: UnitOfWork, book: LedgerBook) -> LedgerEntry:
            ledger = self._ledger(uow, programme, member)
            book.adopt(ledger)
            at = booking_time(ledger, self._context.now())
            ledger.mature_and_expire(at)
            return ledger.adjust(points, at, token, reason)

        return self._retrying(programme, adjust)

    def run_job(self, *, as_of: datetime | None = None, batch_size: int = 500) -> PointsJobReport:
        """Mature pending points, expire points and announce lapsed tiers as of ``as_of`` (now
        by default) for every member with something due, a page of ``batch_size`` members
        per unit of work, so any number of members streams through bounded memory. Running
        it again at the same ``as_of`` changes nothing. Members whose ledger already has
        entries after ``as_of`` are skipped (their past cannot be rewritten) and listed in
        the report.

        Returns:
            A `PointsJobReport`: members reviewed, points matured and expired, members skipped.

        Raises:
            UsageError: the settings have no loyalty programme.
            ValidationError: ``as_of`` is no aware datetime, or ``batch_size`` is out of range.
        """
        programme = self.programme
        when = self._context.as_of(as_of)
        if type(batch_size) is not int or not 0 < batch_size <= 10_000:
            raise ValidationError.single("batch_size", batch_size, "must be from 1 to 10000")
        members = matured = expired = 0
        skipped: list[CustomerId] = []
        after: CustomerId | None = None
        while True:
            with self._context.reading() as uow:
                page = uow.points_ledgers.due(programme.name, when, after=after, limit=batch_size)
            if not page:
                break
            done = self._job_page(programme, page, when)
            members += done[0]
            matured += done[1]
            expired += done[2]
            skipped.extend(done[3])
            after = page[-1]
        return PointsJobReport(when, members, matured, expired, tuple(skipped))

    def _job_page(
        self, programme: Programme, page: list[CustomerId], when: datetime
    ) -> tuple[int, int, int, list[CustomerId]]:
        def review(uow: UnitOfWork, book: LedgerBook) -> tuple[int, int, int, list[CustomerId]]:
            members = matured = expired = 0
            skipped = []
            for ledger in uow.points_ledgers.find_many(programme, page, booking=()).values():
                book.adopt(ledger)
                last = ledger.last_at
                if last is not None and last > when:
                    skipped.append(ledger.customer_id)
                    continue
                tier = ledger.tier(last) if last is not None else None
                booked = ledger.mature_and_expire(when)
                book.touch(ledger)
                members += bool(booked) or ledger.tier(when) != tier
                matured += _sum(booked, EntryKind.MATURE)
                expired += _sum(booked, EntryKind.EXPIRE)
            return members, matured, expired, skipped

        # A member who earned or redeemed meanwhile makes the page be read and booked again.
        return self._retrying(programme, review)

    def _ledger(self, uow: UnitOfWork, programme: Programme, member: CustomerId) -> PointsLedger:
        found = uow.points_ledgers.find(programme, member)
        if found is not None:
            return found
        uow.customers.get(member)  # NotFound for a customer the tenant does not hold
        return PointsLedger(member, programme)

    def _retrying(self, programme: Programme, work: Callable[[UnitOfWork, LedgerBook], T]) -> T:
        """Run ``work`` in a unit of work, save the ledgers it booked on and commit, again
        from a fresh read (see `retry_conflicts`) when another writer got there first."""

        def attempt() -> T:
            with self._context.unit_of_work() as uow:
                book = LedgerBook(uow, programme)
                done = work(uow, book)
                book.save()
                uow.commit()
            return done

        # Another writer changed the ledger first: re-read it and decide again.
        return retry_conflicts(attempt)


def _sum(entries: list[LedgerEntry], kind: EntryKind) -> int:
    return sum(e.points for e in entries if e.kind is kind)


def _settled_balance(ledger: PointsLedger, when: datetime) -> PointsBalance:
    state = ledger.settled(when)
    summary = ledger.summary()
    booked = [e for e in ledger.entries if e.at <= when]
    return attrs.evolve(
        summary,
        last_at=booked[-1].at if booked else None,
        available=state.available,
        pending=state.pending,
        tier=ledger.tier(when) if ledger.programme.tiers else None,
        entries=len(booked),
    )
