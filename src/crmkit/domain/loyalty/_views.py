"""What a points ledger adds up to: the read side of `PointsLedger` (its base class).

Balance, pending points, lots, tier, statement, the stored summary and the head are folds
of the entries (`crmkit.domain.loyalty.tally`), kept up to date as entries are booked; the
booking side lives in `crmkit.domain.loyalty.ledger`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from crmkit.domain.loyalty._booking import job_entries
from crmkit.domain.loyalty._tier_window import TierWindow
from crmkit.domain.loyalty.balance import PointsBalance, StatementLine
from crmkit.domain.loyalty.entries import LedgerEntry, LedgerState, LotState
from crmkit.domain.loyalty.head import LedgerHead, StoredEntries, lookback_of, window_of
from crmkit.domain.loyalty.programme import Programme
from crmkit.domain.loyalty.tally import Tally, fold, running
from crmkit.domain.loyalty.tiers import TierBasis
from crmkit.domain.values.ids import CustomerId
from crmkit.domain.values.timestamps import earlier, ensure_utc

__all__ = ["LedgerViews"]


class LedgerViews:
    """The read side of a points ledger; `PointsLedger` holds the state it reads."""

    __slots__ = ()

    customer_id: CustomerId
    programme: Programme
    entries: list[LedgerEntry]
    version: int
    reviewed_at: datetime | None
    _tally: Tally
    _tiers: tuple[Programme, TierWindow] | None

    def head(self) -> LedgerHead:
        """The `LedgerHead` of the ledger's entries, for a store to keep beside them."""
        entries = self.entries
        lots, totals, ordered = self._tally.head_parts(entries)
        last = entries[-1] if entries else None
        lookback = lookback_of(self.programme)
        since = None if last is None else last.at
        window: tuple[LedgerEntry, ...] = ()
        if last is not None and lookback is not None:
            since = earlier(last.at, lookback)
            if isinstance(entries, StoredEntries) and not entries.head.covers(since):
                entries.load()  # the head's window starts later than this one
            window = window_of(self._shown(), since, ordered)
        return LedgerHead(len(entries), last, lots, totals, window, since, ordered)  # type: ignore[arg-type]

    def _shown(self) -> Sequence[LedgerEntry]:
        """The entries a tier window is shown from the last entry on: all of them, or for a
        ledger restored from its head, the head's window and the new entries."""
        entries = self.entries
        if isinstance(entries, StoredEntries) and not entries.loaded:
            return entries.window()
        return entries

    @property
    def last_at(self) -> datetime | None:
        """The instant the ledger is up to date at: its last entry, or the batch job's last
        review of it if later."""
        last = self.entries[-1].at if self.entries else None
        if last is None or (self.reviewed_at is not None and self.reviewed_at > last):
            return self.reviewed_at
        return last

    def state(self, as_of: datetime | None = None) -> LedgerState:
        """Everything the ledger adds up to at ``as_of`` (now, when ``None``: every entry)."""
        if isinstance(self.entries, StoredEntries):
            self.entries.load()  # every lot ever opened, spent ones included
        if as_of is None or not self.entries or as_of >= self.entries[-1].at:
            return self._tally.state(self.entries, as_of)
        return fold(self.entries, as_of)

    def settled(self, as_of: datetime) -> LedgerState:
        """The state at ``as_of`` as if the batch job had run then: pending lots due by
        ``as_of`` count as available and lots past their expiry as expired, whether or not
        the job has booked it yet. This is what a member sees at ``as_of``."""
        ensure_utc(as_of, "as_of")
        booked = [e for e in self.entries if e.at <= as_of]
        return fold([*booked, *job_entries(fold(booked), as_of, len(booked))])

    def summary(self) -> PointsBalance:
        """The booked balance, pending points, tier and what falls due next (see
        `PointsBalance`): what storage keeps beside the entries."""
        available, pending, next_lot = self._tally.figures(self.entries)
        last = self.last_at
        due = [] if next_lot is None else [next_lot]
        tier = self.tier(last) if last is not None else None
        if self.programme.tiers and last is not None:
            # Even without a tier, one can be reached with time alone (a refund leaving).
            ordered = self._tally.in_time_order(self.entries)
            lapse = self._tier_window().lapse(self._shown(), last, ordered)
            if lapse is not None:
                due.append(lapse)
        return PointsBalance(
            customer_id=self.customer_id,
            programme=self.programme.name,
            available=available,
            pending=pending,
            tier=tier,
            entries=len(self.entries),
            last_at=last,
            next_due_at=min(due) if due else None,
            version=self.version,
        )

    def _tier_window(self) -> TierWindow:
        programme = self.programme
        if self._tiers is None or self._tiers[0] is not programme:
            policy = programme.tier_policy
            window = TierWindow(
                timedelta(days=policy.window_days),
                timedelta(days=policy.retention_days),
                policy.basis is TierBasis.MONEY_SPENT,
                programme.tiers,
            )
            self._tiers = (programme, window)  # type: ignore[misc]  # a field of the subclass
        return self._tiers[1]

    def balance(self, as_of: datetime | None = None) -> int:
        """The available points at ``as_of``: what the member may redeem."""
        return self.state(as_of).available

    def pending(self, as_of: datetime | None = None) -> int:
        """The points earned by ``as_of`` but not yet available."""
        return self.state(as_of).pending

    def lots(self, as_of: datetime | None = None) -> list[LotState]:
        """The lots with points left at ``as_of``, pending or available, oldest first."""
        return self.state(as_of).open_lots(available_only=False)

    def tier(self, as_of: datetime) -> str | None:
        """The member's tier at ``as_of`` (``None``: no tier), from entries booked by then."""
        if not self.programme.tiers:
            return None
        as_of = ensure_utc(as_of, "as_of")
        entries = self.entries
        if isinstance(entries, StoredEntries) and entries and as_of < entries[-1].at:
            entries.load()  # a past instant: its window may reach before the head's
        ordered = self._tally.in_time_order(entries)
        return self._tier_window().tier(self._shown(), as_of, ordered)

    def statement(self, as_of: datetime | None = None) -> list[StatementLine]:
        """Every entry booked by ``as_of`` with the points after it: where each point went."""
        lines = []
        for entry, available, pending in running(self.entries):
            if as_of is not None and entry.at > as_of:
                break
            lines.append(StatementLine(entry, available, pending))
        return lines
