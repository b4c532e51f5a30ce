"""Everything about loyalty, in one import: the programme and its rules and tiers, the
ledger and what it adds up to, referrals, and the points job's report.

```python
from crmkit.loyalty import Programme, SpendRule
```

A CRM runs the programme of its settings (``Settings(loyalty=programme)``); ``crm.loyalty``
reads balances, redeems and runs the points job.
"""

from crmkit.domain import (
    Award,
    EntryKind,
    EventRule,
    LedgerEntry,
    LedgerState,
    LotState,
    Multiplier,
    Period,
    PeriodCap,
    PointsBalance,
    PointsJobReport,
    PointsLedger,
    Programme,
    Redemption,
    Referral,
    ReferralPolicy,
    ReferralStatus,
    Reward,
    SpendRule,
    StatementLine,
    Tier,
    TierBasis,
    TierPolicy,
)

__all__ = [
    "Award",
    "EntryKind",
    "EventRule",
    "LedgerEntry",
    "LedgerState",
    "LotState",
    "Multiplier",
    "Period",
    "PeriodCap",
    "PointsBalance",
    "PointsJobReport",
    "PointsLedger",
    "Programme",
    "Redemption",
    "Referral",
    "ReferralPolicy",
    "ReferralStatus",
    "Reward",
    "SpendRule",
    "StatementLine",
    "Tier",
    "TierBasis",
    "TierPolicy",
]
