"""A member's points ledger: the append-only aggregate every earning and spending goes through.

Entries are booked in time order (``at`` never goes back) and never changed; balance, pending
points, lots and tier at any ``as_of`` are folds of the entries booked by then. Every write is
idempotent on its key: replaying an interaction, a refund, a redemption or the batch job at the
same ``as_of`` books nothing more. Redemptions spend the *booked* available points: run
`PointsLedger.mature_and_expire` at the same instant first, as the application layer does.
The ledger collects `PointsEarned`, `PointsRedeemed`, `PointsExpired` and `TierChanged`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from crmkit.domain._checks import MAX_BIGINT, version_number
from crmkit.domain._same import same_value
from crmkit.domain.events import DomainEvent
from crmkit.domain.interactions.interaction import Interaction
from crmkit.domain.loyalty._booking import (
    cap_awards,
    earn_entries,
    job_entries,
    period_days,
    take_oldest_first,
)
from crmkit.domain.loyalty._ledger_checks import MAX_REASON, check_adjustment, check_time
from crmkit.domain.loyalty._tier_window import TierWindow
from crmkit.domain.loyalty._views import LedgerViews
from crmkit.domain.loyalty.entries import EntryKind, LedgerEntry
from crmkit.domain.loyalty.events import PointsEarned, PointsExpired, PointsRedeemed, TierChanged
from crmkit.domain.loyalty.head import (
    LedgerHead,
    LedgerHistory,
    StoredEntries,
    fits,
    lookback_of,
)
from crmkit.domain.loyalty.programme import Award, Programme
from crmkit.domain.loyalty.refunds import plan_reversal
from crmkit.domain.loyalty.tally import Tally
from crmkit.domain.rules.conditions import Facts
from crmkit.domain.values.ids import CustomerId, check_id
from crmkit.domain.values.timestamps import ensure_utc, ensure_utc_or_none
from crmkit.errors import IdempotencyConflict, InsufficientPoints, ValidationError

__all__ = ["MAX_REASON", "PointsLedger"]


def _entry_list(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    return list(entries)


@attrs.define
class PointsLedger(LedgerViews):
    """The points of one member (``customer_id``) under one ``programme``.

    Rebuild a stored ledger by passing its ``entries``, in order, its stored ``version``
    (for optimistic concurrency; 0 for a ledger never stored) and ``reviewed_at``, the last
    instant the batch job brought it up to date (its `PointsBalance.last_at`).
    """

    customer_id: CustomerId = attrs.field(validator=lambda i, a, v: check_id("customer_id", v))
    programme: Programme
    entries: list[LedgerEntry] = attrs.field(factory=list, converter=_entry_list)
    version: int = attrs.field(default=0, kw_only=True, validator=version_number)
    reviewed_at: datetime | None = attrs.field(
        default=None, kw_only=True, validator=lambda i, a, v: ensure_utc_or_none(v, "reviewed_at")
    )
    _tally: Tally = attrs.field(factory=Tally, init=False, repr=False, eq=False)
    _tiers: tuple[Programme, TierWindow] | None = attrs.field(
        default=None, init=False, repr=False, eq=False
    )
    _events: list[DomainEvent] = attrs.field(factory=list, init=False, repr=False, eq=False)

    @classmethod
    def restore(
        cls,
        customer_id: CustomerId,
        programme: Programme,
        entries: Iterable[LedgerEntry],
        *,
        version: int,
        last_at: datetime | None,
        tally: Tally | None = None,
    ) -> PointsLedger:
        """A stored ledger: its entries, version and the ``last_at`` of its stored
        `PointsBalance` (a review by the job after the last entry is kept as ``reviewed_at``).

        ``tally``, the running tally of these very entries that a store kept (`tally`),
        spares adding them all up again: restoring then costs a few dict copies at most,
        not the length of the ledger. A tally of other entries is ignored."""
        booked = list(entries)
        reviewed = (
            last_at if last_at is not None and (not booked or last_at > booked[-1].at) else None
        )
        ledger = cls(customer_id, programme, booked, version=version, reviewed_at=reviewed)
        if tally is not None and tally.holds(booked):
            ledger._tally = tally.copy()
        return ledger

    @classmethod
    def from_head(
        cls,
        customer_id: CustomerId,
        programme: Programme,
        head: LedgerHead,
        history: LedgerHistory,
        *,
        version: int,
        last_at: datetime | None,
    ) -> PointsLedger | None:
        """A stored ledger restored from its `LedgerHead` (see `crmkit.domain.loyalty.head`):
        booking reads only what the head holds, and ``history`` is asked for stored entries
        when needed. ``None`` when the head cannot serve ``programme`` (its tier window
        looks back further than the head kept): restore it from its entries then."""
        if not fits(head, lookback_of(programme)):
            return None
        stored = head.last.at if head.last is not None else None
        reviewed = last_at if last_at is not None and (stored is None or last_at > stored) else None
        ledger = cls(customer_id, programme, version=version, reviewed_at=reviewed)
        object.__setattr__(ledger, "entries", StoredEntries(head, history))  # not converted
        ledger._tally = Tally.from_head(head)
        return ledger

    def _recall(self, **what: Any) -> None:
        entries = self.entries
        if isinstance(entries, StoredEntries) and not entries.loaded:
            self._tally.learn(entries, entries.recall(**what))

    def tally(self) -> Tally:
        """A copy of the running tally of the ledger's entries, for a store to keep beside
        them and hand back to `restore`."""
        self._tally.in_time_order(self.entries)  # catch up first
        return self._tally.copy()

    @property
    def has_events(self) -> bool:
        """True when the ledger collected events not yet handed over (`pull_events`)."""
        return bool(self._events)

    def entry_with_key(self, key: str) -> LedgerEntry | None:
        """The first entry booked with the idempotency key ``key`` (``None``: none), looked
        up in the ledger's index."""
        self._recall(keys=[key])
        return self._tally.index(self.entries).keys.get(key)

    def known_key(self, key: str) -> LedgerEntry | None:
        """Like `entry_with_key`, from what the ledger knows without asking its store."""
        return self._tally.index(self.entries).keys.get(key)

    def pull_events(self) -> list[DomainEvent]:
        """Hand over the events collected since the last call, and forget them."""
        events = list(self._events)
        self._events.clear()
        return events

    def earn(
        self, interaction: Interaction, at: datetime, facts: Facts | None = None
    ) -> list[LedgerEntry]:
        """Book what ``interaction`` earns under the programme (one lot per rule), at ``at``.

        Idempotent on the interaction: once it has earned, replaying it books nothing. The
        member's tier at ``at`` picks the tier benefit and multipliers; ``facts`` (the member's,
        for segment multipliers) are optional. Period caps cut the awards that would pass them.
        """
        if interaction.customer_id != self.customer_id:
            raise ValidationError.single(
                "customer_id", interaction.customer_id, f"is not this ledger's {self.customer_id!r}"
            )
        self._recall(interactions=[interaction.id])
        index = self._tally.index(self.entries)
        if interaction.id in index.earned:
            return []
        check_time(at, self.last_at)
        when, caps = interaction.occurred_at, self.programme.period_caps
        awards: Iterable[Award] = self.programme.awards(interaction, self.tier(at), facts)
        if caps:
            spans = [period_days(cap.period, when) for cap in caps]
            for span in spans:
                self._recall(occurred=span)
            earned = {e.seq: e for span in spans for e in index.earned_between(*span)}
            awards = cap_awards(awards, caps, [earned[seq] for seq in sorted(earned)], when)
        entries = earn_entries(self.programme, interaction, awards, at, len(self.entries))
        entries = self._book(at, entries)
        for entry in entries:
            self._events.append(
                PointsEarned(
                    at,
                    customer_id=self.customer_id,
                    points=entry.points,
                    rule=str(entry.rule),
                    interaction_id=entry.interaction_id,
                )
            )
        return entries

    def refund(self, refund: Interaction, *, purchase_id: str, at: datetime) -> LedgerEntry | None:
        """Book the reversal of what purchase ``purchase_id`` earned, for ``refund`` (its amount,
        or the whole purchase when it has none); see `crmkit.domain.loyalty.refunds` for the
        policy. Idempotent on the refund; ``None`` when there is nothing to reverse."""
        self._recall(interactions=[refund.id, purchase_id], references=[purchase_id])
        index = self._tally.index(self.entries)
        if refund.id in index.refunds:
            return None
        check_time(at, self.last_at)
        refunded = refund.amount.minor if refund.amount is not None else None
        related = [*index.earned.get(purchase_id, ()), *index.reversals.get(purchase_id, ())]
        state = self._tally.open_state(self.entries)
        plan = plan_reversal(related, state, purchase_id, refunded)
        if plan is None:
            return None
        entry = self._entry(
            EntryKind.REVERSE,
            plan.points,
            at,
            f"reverse:{refund.id}",
            rule="refund",
            interaction_id=refund.id,
            reference=purchase_id,
            takes=plan.takes,
            spend=plan.spend,
            shortfall=plan.shortfall,
        )
        return self._book(at, [entry])[0]

    def redeem(
        self, at: datetime, key: str, *, points: int | None = None, reward: str | None = None
    ) -> LedgerEntry:
        """Spend available points, oldest lot first: ``points``, or a catalogue ``reward``'s
        price. Raise `InsufficientPoints` (writing nothing) beyond the balance. Replaying
        ``key`` with the same request returns the first entry; with another, it conflicts."""
        points = self.programme.redemption_points(points, reward)
        key, rule = f"redeem:{check_id('key', key)}", reward or "redemption"
        if (existing := self._replayed(key, points, rule)) is not None:
            return existing
        check_time(at, self.last_at)
        entry = self._taking(EntryKind.REDEEM, points, at, key, rule=rule)
        entry = self._book(at, [entry])[0]
        self._events.append(
            PointsRedeemed(at, customer_id=self.customer_id, points=points, reward=reward)
        )
        return entry

    def adjust(self, points: int, at: datetime, key: str, reason: str) -> LedgerEntry:
        """Correct the member's points by hand: ``points > 0`` opens an available lot (which
        expires like earned points), ``< 0`` takes available points oldest first (never below
        zero). ``reason`` names the cause."""
        check_adjustment(points, reason)
        key = f"adjust:{check_id('key', key)}"
        if (existing := self._replayed(key, points, reason)) is not None:
            return existing
        check_time(at, self.last_at)
        if points > 0:
            entry = self._entry(
                EntryKind.ADJUST, points, at, key, rule=reason, lot=key,
                available_from=at, expires_at=self.programme.expires_at(at),
            )  # fmt: skip
        else:
            entry = self._taking(EntryKind.ADJUST, -points, at, key, rule=reason)
            entry = attrs.evolve(entry, points=points)
        return self._book(at, [entry])[0]

    def mature_and_expire(self, as_of: datetime) -> list[LedgerEntry]:
        """The batch job: make pending lots due by ``as_of`` available, then expire what is
        left of available lots past their expiry, oldest first, and review the tier: a tier
        lapsed with time is announced (`TierChanged`) and the ledger is marked reviewed at
        ``as_of``. Running it again at the same ``as_of`` books and announces nothing (each
        lot matures once and expires once)."""
        ensure_utc(as_of, "as_of")
        _, _, next_lot = self._tally.figures(self.entries)
        due = next_lot is not None and next_lot <= as_of
        state = self._tally.open_state(self.entries) if due else None
        entries = job_entries(state, as_of, len(self.entries)) if state is not None else []
        if entries:
            check_time(as_of, self.last_at)
            entries = self._book(as_of, entries)
            expired = sum(e.points for e in entries if e.kind is EntryKind.EXPIRE)
            if expired:
                self._events.append(
                    PointsExpired(as_of, customer_id=self.customer_id, points=expired)
                )
        last = self.last_at
        if last is not None and as_of > last:
            before, after = self.tier(last), self.tier(as_of)
            if before != after:
                self._events.append(
                    TierChanged(
                        as_of, customer_id=self.customer_id, from_tier=before, to_tier=after
                    )
                )
            self.reviewed_at = as_of
        return entries

    def _entry(
        self, kind: EntryKind, points: int, at: datetime, key: str, **more: Any
    ) -> LedgerEntry:
        return LedgerEntry(len(self.entries), kind, points, at, key, **more)

    def _taking(
        self, kind: EntryKind, points: int, at: datetime, key: str, rule: str
    ) -> LedgerEntry:
        lots = self._tally.open_state(self.entries).open_lots()
        available = sum(lot.remaining for lot in lots)
        if points > available:
            raise InsufficientPoints(self.customer_id, points, available)
        takes, _ = take_oldest_first(lots, points)
        return self._entry(kind, points, at, key, rule=rule, takes=takes)

    def _replayed(self, key: str, points: int, rule: str) -> LedgerEntry | None:
        entry = self.entry_with_key(key)
        if entry is None:
            return None
        compared = (("points", entry.points, points), ("rule", entry.rule, rule))
        differing = [name for name, stored, given in compared if not same_value(stored, given)]
        if not differing:
            return entry
        raise IdempotencyConflict("key", key, entry.key, differing=differing)

    def _check_room(self, entries: list[LedgerEntry]) -> None:
        # The balance is stored in BIGINT columns on every backend: memory refuses what SQL
        # could not hold, instead of SQL failing with OverflowError where memory goes on.
        added = sum(e.change for e in entries)
        if added > 0 and self._tally.points(self.entries) + added > MAX_BIGINT:
            raise ValidationError.single(
                "points",
                added,
                f"would take the member's points past {MAX_BIGINT}, the most storage holds",
            )

    def _book(self, at: datetime, entries: list[LedgerEntry]) -> list[LedgerEntry]:
        self._check_room(entries)
        before = self.tier(self.last_at) if self.last_at is not None else None
        start = len(self.entries)
        entries = [
            e if e.seq == start + i else attrs.evolve(e, seq=start + i)
            for i, e in enumerate(entries)
        ]
        self.entries.extend(entries)
        after = self.tier(at)
        if entries and after != before:
            self._events.append(
                TierChanged(at, customer_id=self.customer_id, from_tier=before, to_tier=after)
            )
        return entries
