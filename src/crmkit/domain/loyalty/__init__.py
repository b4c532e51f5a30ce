"""Loyalty programmes: earning rules, tiers, expiry and redemption over a lot-tracked ledger.

A `Programme` is the configuration, checked when built; a `PointsLedger` is the append-only
record of one member's points under it, from which balance, pending points, lots, tier and a
statement are derived at any ``as_of``. A `Referral` tracks one customer bringing in another,
rewarded through the programme's `ReferralPolicy`.
"""

from __future__ import annotations

from crmkit.domain.loyalty.balance import PointsBalance, StatementLine
from crmkit.domain.loyalty.entries import EntryKind, LedgerEntry, LedgerState, LotState
from crmkit.domain.loyalty.events import PointsEarned, PointsExpired, PointsRedeemed, TierChanged
from crmkit.domain.loyalty.job import PointsJobReport
from crmkit.domain.loyalty.ledger import PointsLedger
from crmkit.domain.loyalty.programme import Award, EarningRule, Programme, Redemption, Reward
from crmkit.domain.loyalty.referrals import (
    Referral,
    ReferralChanged,
    ReferralPolicy,
    ReferralStatus,
)
from crmkit.domain.loyalty.refunds import Reversal, plan_reversal
from crmkit.domain.loyalty.rules import (
    CATEGORY,
    ROUNDING_MODES,
    EventRule,
    Multiplier,
    Period,
    PeriodCap,
    SpendRule,
)
from crmkit.domain.loyalty.tally import Tally, fold
from crmkit.domain.loyalty.tiers import Tier, TierBasis, TierPolicy

__all__ = [
    "PointsJobReport",
    "CATEGORY",
    "ROUNDING_MODES",
    "Award",
    "EarningRule",
    "EntryKind",
    "EventRule",
    "LedgerEntry",
    "LedgerState",
    "LotState",
    "Multiplier",
    "Period",
    "PeriodCap",
    "PointsBalance",
    "PointsEarned",
    "PointsExpired",
    "PointsLedger",
    "PointsRedeemed",
    "Programme",
    "Redemption",
    "Referral",
    "ReferralChanged",
    "ReferralPolicy",
    "ReferralStatus",
    "Reversal",
    "Reward",
    "SpendRule",
    "StatementLine",
    "Tally",
    "Tier",
    "TierBasis",
    "TierChanged",
    "TierPolicy",
    "fold",
    "plan_reversal",
]
