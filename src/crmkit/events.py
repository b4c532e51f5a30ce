"""Everything about crmkit's domain events, in one import: the event types a host subscribes
to (``crm.events.subscribe(CustomerRegistered, handler)``), the outbox they are also written
to, and the switch that makes failing handlers raise in tests.

```python
from crmkit.events import CustomerRegistered

seen = []
crm.events.subscribe(CustomerRegistered, seen.append)
```
"""

from crmkit.app.bus import raise_handler_errors
from crmkit.domain import (
    AccountChanged,
    AccountRegistered,
    ConsentChanged,
    CustomerProfileChanged,
    CustomerRegistered,
    DomainEvent,
    EnteredSegment,
    InteractionRecorded,
    LeftSegment,
    PointsEarned,
    PointsExpired,
    PointsRedeemed,
    ReferralChanged,
    StageChanged,
    TierChanged,
)
from crmkit.ports import Outbox, OutboxMessage

__all__ = [
    "AccountChanged",
    "AccountRegistered",
    "ConsentChanged",
    "CustomerProfileChanged",
    "CustomerRegistered",
    "DomainEvent",
    "EnteredSegment",
    "InteractionRecorded",
    "LeftSegment",
    "Outbox",
    "OutboxMessage",
    "PointsEarned",
    "PointsExpired",
    "PointsRedeemed",
    "ReferralChanged",
    "StageChanged",
    "TierChanged",
    "raise_handler_errors",
]
