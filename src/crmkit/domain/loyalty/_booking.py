"""Pure helpers of the ledger: taking points oldest lot first, period caps, the batch job."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from crmkit.domain._checks import MAX_BIGINT, to_utc
from crmkit.domain.interactions.interaction import Interaction
from crmkit.domain.loyalty.entries import EntryKind, LedgerEntry, LedgerState, LotState
from crmkit.domain.loyalty.programme import Award, Programme
from crmkit.domain.loyalty.rules import Period, PeriodCap
from crmkit.errors import ValidationError

__all__ = ["cap_awards", "earn_entries", "job_entries", "period_days", "take_oldest_first"]


def take_oldest_first(lots: Iterable[LotState], points: int) -> tuple[list[tuple[str, int]], int]:
    """Take ``points`` from ``lots`` in the given (FIFO) order: the takes, and what was left."""
    takes, left = [], points
    for lot in lots:
        if left == 0:
            break
        take = min(left, lot.remaining)
        if take:
            takes.append((lot.lot, take))
            left -= take
    return takes, left


def cap_awards(
    awards: Iterable[Award],
    caps: Sequence[PeriodCap],
    entries: Sequence[LedgerEntry],
    occurred_at: datetime,
) -> list[Award]:
    """Cut ``awards`` so that no period cap is passed by the member's gross earnings in the
    period ``occurred_at`` falls in; earlier awards are served first."""
    if not caps:
        return [award for award in awards if award.points > 0]
    room = []
    for cap in caps:
        period = cap.period.key(occurred_at)
        used = sum(
            e.points
            for e in entries
            if e.kind is EntryKind.EARN
            and e.occurred_at is not None
            and cap.period.key(e.occurred_at) == period
        )
        room.append(max(cap.points - used, 0))
    capped = []
    for award in awards:
        points = min([award.points, *room])
        room = [r - points for r in room]
        if points > 0:
            capped.append(Award(award.rule, points))
    return capped


def period_days(period: Period, when: datetime) -> tuple[date, date]:
    """The first and last UTC day of the ``period`` that ``when`` falls in."""
    day = when.date()
    if period is Period.DAY:
        return day, day
    if period is Period.WEEK:
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=min(6, (date.max - monday).days))
    first = day.replace(day=1)
    if first.month == 12:
        return first, first.replace(day=31)
    return first, first.replace(month=first.month + 1) - timedelta(days=1)


def job_entries(state: LedgerState, as_of: datetime, start: int = 0) -> list[LedgerEntry]:
    """The entries the batch job books at ``as_of`` (numbered from ``start``): maturing the
    pending lots due by then, then expiring what remains of lots past their expiry, oldest
    first."""
    entries: list[LedgerEntry] = []
    matured = set()
    for lot in state.open_lots(available_only=False):
        ready = lot.opened_by.available_from
        if not lot.available and ready is not None and ready <= as_of:
            key = f"mature:{lot.lot}"
            entries.append(
                LedgerEntry(
                    start + len(entries), EntryKind.MATURE, lot.remaining, as_of, key,
                    rule="pending_period", lot=lot.lot,
                )
            )  # fmt: skip
            matured.add(lot.lot)
    for lot in state.open_lots(available_only=False):
        due = lot.expires_at is not None and lot.expires_at <= as_of
        if due and (lot.available or lot.lot in matured):
            takes = ((lot.lot, lot.remaining),)
            entries.append(
                LedgerEntry(
                    start + len(entries), EntryKind.EXPIRE, lot.remaining, as_of,
                    f"expire:{lot.lot}", rule="expiry", takes=takes,
                )
            )  # fmt: skip
    return entries


def earn_entries(
    programme: Programme,
    interaction: Interaction,
    awards: Iterable[Award],
    at: datetime,
    start: int = 0,
) -> list[LedgerEntry]:
    """One earning entry (one lot) per award, booked at ``at`` (numbered from ``start``). The
    lot is pending until the programme's pending period after the interaction (never before
    ``at``)."""
    available_from = max(at, programme.available_from(interaction.occurred_at))
    expires_at = programme.expires_at(available_from)
    spend = interaction.amount.minor if interaction.amount is not None else 0
    at = to_utc(at)
    entries: list[LedgerEntry] = []
    for award in awards:
        points = award.points
        if type(points) is not int or not 0 <= points <= MAX_BIGINT:
            raise ValidationError.single("points", points, f"must be an int from 0 to {MAX_BIGINT}")
        # Every value comes checked (the interaction, the programme's rule names, the
        # booking instant) or is computed from them: the entry is built without its checks.
        entry = _NEW(LedgerEntry)
        key = f"earn:{interaction.id}:{award.rule}"
        for name, value in (
            ("seq", start + len(entries)), ("kind", EntryKind.EARN), ("points", points),
            ("at", at), ("key", key), ("rule", award.rule),
            ("interaction_id", interaction.id), ("reference", None), ("lot", key),
            ("takes", ()), ("spend", spend), ("occurred_at", interaction.occurred_at),
            ("available_from", available_from), ("expires_at", expires_at), ("shortfall", 0),
        ):  # fmt: skip
            _SET(entry, name, value)
        entries.append(entry)
    return entries


_NEW = object.__new__
_SET = object.__setattr__
