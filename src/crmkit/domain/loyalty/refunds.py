"""How a refund takes back what its purchase earned.

Policy, in order:

1. **Proportional, rounded against the refund.** After refunds totalling ``r`` of a purchase
   of ``s`` that earned ``p`` points, ``ceil(p * r / s)`` points are due back in all (``r`` is
   capped at ``s``; a refund without an amount refunds what is left). Each refund owes the
   growth of that figure, so a full refund — in one go or in parts — takes back exactly ``p``,
   and no refunded unit of money ever keeps a point.
2. **From the purchase's own lots first**, pending or available, then from the member's other
   available lots and then pending lots, oldest first.
3. **Never below zero.** Points due that the member already spent (redeemed, expired) are
   *forgiven*: recorded on the reversal as its ``shortfall``, never charged as a negative
   balance or a debt. The statement shows them.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from crmkit.domain.loyalty._booking import take_oldest_first
from crmkit.domain.loyalty.entries import EntryKind, LedgerEntry, LedgerState

__all__ = ["Reversal", "plan_reversal"]


@attrs.frozen
class Reversal:
    """What one refund takes back: the lots and points, the spend refunded, the shortfall."""

    takes: tuple[tuple[str, int], ...]
    spend: int
    shortfall: int

    @property
    def points(self) -> int:
        """The points actually taken back."""
        return sum(points for _, points in self.takes)


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def plan_reversal(
    entries: Sequence[LedgerEntry], state: LedgerState, purchase_id: str, refunded: int | None
) -> Reversal | None:
    """Plan the reversal of a refund of ``refunded`` minor units (``None``: the rest) of the
    purchase ``purchase_id``; ``None`` when the purchase earned nothing or is fully refunded."""
    earned = [e for e in entries if e.kind is EntryKind.EARN and e.interaction_id == purchase_id]
    if not earned:
        return None
    prior = [e for e in entries if e.kind is EntryKind.REVERSE and e.reference == purchase_id]
    spend = max(e.spend for e in earned)
    points = sum(e.points for e in earned)
    before = sum(e.spend for e in prior)
    if spend <= 0 and prior:
        return None
    if spend <= 0:  # nothing measured in money: the first refund reverses everything
        after, target = 0, points
    else:
        after = spend if refunded is None else min(spend, before + max(refunded, 0))
        target = _ceil_div(points * after, spend)
    due = target - sum(e.points + e.shortfall for e in prior)
    if due <= 0 and after == before:
        return None
    own = {e.key for e in earned}
    lots = [lot for lot in state.open_lots(available_only=False) if lot.lot in own]
    lots += [lot for lot in state.open_lots() if lot.lot not in own]
    lots += [
        lot
        for lot in state.open_lots(available_only=False)
        if not lot.available and lot.lot not in own
    ]
    takes, left = take_oldest_first(lots, max(due, 0))
    return Reversal(tuple(takes), after - before, left)
