"""Ledger entries and lots: the append-only record of a member's points, and what it adds up to.

Every change to a member's points is one `LedgerEntry`. Earnings (and positive adjustments)
open a *lot*; redemptions, expiries, reversals and negative adjustments record which lots
they took points from (``takes``), so the state at any instant is a plain fold of the entries
booked up to it (`crmkit.domain.loyalty.tally.fold`): no clock, no hidden state, the past
included.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs

from crmkit.domain._checks import (
    MAX_BIGINT,
    non_negative_int,
    optional_storable,
    storable,
    to_utc,
    utc,
    version_number,
)
from crmkit.domain.interactions.channels import enum_of
from crmkit.domain.values.texts import ensure_text
from crmkit.errors import ValidationError

__all__ = ["EntryKind", "LedgerEntry", "LedgerState", "LotState"]


class EntryKind(StrEnum):
    """What a ledger entry did to the member's points."""

    EARN = "earn"  # opened a lot (pending, or available at once)
    MATURE = "mature"  # a pending lot became available
    REDEEM = "redeem"  # spent available points on a reward
    EXPIRE = "expire"  # available points ran out of time
    REVERSE = "reverse"  # a refund took back what its purchase earned
    ADJUST = "adjust"  # a correction by hand: opens a lot (> 0) or takes points (< 0)


def _kind(value: Any) -> EntryKind:
    return enum_of(EntryKind, value, "kind")


_TAKING = frozenset({EntryKind.REDEEM, EntryKind.EXPIRE, EntryKind.REVERSE})


def _takes(value: Any) -> tuple[tuple[str, int], ...]:
    if value == ():
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single("takes", value, "must be (lot, points) pairs")
    pairs = tuple(value)
    for i, pair in enumerate(pairs):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ValidationError.single(f"takes[{i}]", pair, "must be a (lot, points) pair")
        ensure_text(pair[0], f"takes[{i}]")
        if type(pair[1]) is not int:  # never converted from text: no int() of a caller's value
            raise ValidationError.single(f"takes[{i}]", pair[1], "points must be an int")
    return tuple((lot, points) for lot, points in pairs)


@attrs.frozen
class LedgerEntry:
    """One booked change to a member's points.

    Attributes:
        seq: the entry's position in the ledger (0, 1, 2 …).
        kind: what it did.
        points: how many points it moved (> 0; signed only for adjustments).
        at: when it was booked; entries are booked in time order.
        key: its idempotency key, unique within the ledger.
        rule: the rule that caused it (an earning rule, ``pending_period``, ``expiry``,
            ``refund``, a reward's name or an adjustment's reason).
        interaction_id: the interaction that caused it, if any.
        reference: what it refers to: the refunded purchase of a reversal.
        lot: the lot it opened (earn, positive adjust) or matured.
        takes: the ``(lot, points)`` it took, oldest lot first.
        spend: the money (minor units) behind it: spent (earn) or refunded (reverse).
        occurred_at: when the interaction behind it happened.
        available_from: when the lot it opened becomes available.
        expires_at: when the lot it opened expires (``None``: never).
        shortfall: reversal points that could not be taken back (already spent), forgiven.
    """

    seq: int = attrs.field(validator=version_number)
    kind: EntryKind = attrs.field(converter=_kind)
    points: int = attrs.field()
    at: datetime = attrs.field(converter=to_utc, validator=utc)
    key: str = attrs.field(validator=storable)
    rule: str | None = attrs.field(default=None, kw_only=True, validator=optional_storable)
    interaction_id: str | None = attrs.field(
        default=None, kw_only=True, validator=optional_storable
    )
    reference: str | None = attrs.field(default=None, kw_only=True, validator=optional_storable)
    lot: str | None = attrs.field(default=None, kw_only=True, validator=optional_storable)
    takes: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=_takes, kw_only=True)
    spend: int = attrs.field(default=0, kw_only=True)
    occurred_at: datetime | None = attrs.field(default=None, kw_only=True)
    available_from: datetime | None = attrs.field(default=None, kw_only=True)
    expires_at: datetime | None = attrs.field(default=None, kw_only=True)
    shortfall: int = attrs.field(default=0, kw_only=True, validator=non_negative_int)

    @points.validator
    def _check_points(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not int or (value < 0 and self.kind is not EntryKind.ADJUST):
            raise ValidationError.single("points", value, "must be an integer >= 0")
        if abs(value) > MAX_BIGINT:  # what every backend's BIGINT column holds
            raise ValidationError.single("points", value, f"must be at most {MAX_BIGINT} in size")

    @property
    def change(self) -> int:
        """The signed change to the member's points (available + pending)."""
        if self.kind in _TAKING:
            return -self.points
        if self.kind is EntryKind.MATURE:
            return 0
        return self.points

    @property
    def opens_lot(self) -> bool:
        """True for an earning or a positive adjustment: the entry opens a lot."""
        return self.kind is EntryKind.EARN or (self.kind is EntryKind.ADJUST and self.points > 0)


@attrs.frozen
class LotState:
    """A lot as of some instant: points earned together, and how many remain."""

    lot: str
    opened_by: LedgerEntry
    remaining: int
    available: bool

    @property
    def expires_at(self) -> datetime | None:
        """When what remains of the lot expires (``None``: never)."""
        return self.opened_by.expires_at

    @property
    def fifo_key(self) -> tuple[datetime, int]:
        """The order lots are consumed in: oldest available first, then by ledger order."""
        return (self.opened_by.available_from or self.opened_by.at, self.opened_by.seq)


@attrs.frozen
class LedgerState:
    """What a ledger adds up to at ``as_of``.

    The totals always balance: ``earned + adjusted_in == redeemed + expired + reversed +
    adjusted_out + available + pending``.
    """

    as_of: datetime | None = attrs.field(converter=to_utc, validator=attrs.validators.optional(utc))
    lots: tuple[LotState, ...]
    earned: int
    adjusted_in: int
    adjusted_out: int
    redeemed: int
    expired: int
    reversed: int

    @property
    def available(self) -> int:
        """The points the member may redeem: the balance."""
        return sum(lot.remaining for lot in self.lots if lot.available)

    @property
    def pending(self) -> int:
        """The points earned but not yet available (e.g. inside a return window)."""
        return sum(lot.remaining for lot in self.lots if not lot.available)

    def open_lots(self, *, available_only: bool = True) -> list[LotState]:
        """The lots with points left, oldest first (FIFO order)."""
        lots = [lot for lot in self.lots if lot.remaining and (lot.available or not available_only)]
        return sorted(lots, key=lambda lot: lot.fifo_key)
