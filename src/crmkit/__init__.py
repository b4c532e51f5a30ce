"""crmkit: an embeddable customer-relationship-management domain library.

Start at `CRM`, configured by one `Settings` object:

```python
from crmkit import CRM

crm = CRM.in_memory()
ada = crm.customers.register(email="ada@example.com", given_name="Ada")
```

This namespace holds the front door, its settings, clocks and ids, the value types and the
records the services return. Each capability has one public module for the rest:
`crmkit.segments` (the rule language), `crmkit.lifecycle`, `crmkit.loyalty`,
`crmkit.events`, `crmkit.serialization`, `crmkit.errors`, `crmkit.ports` and
`crmkit.testing`.
"""

from crmkit.app.clocks import FixedClock, SequentialIds, SystemClock, UuidIds
from crmkit.app.settings import Settings
from crmkit.domain import (
    DEFAULT_TENANT,
    UNCHANGED,
    Account,
    AccountId,
    AccountLink,
    Channel,
    CompanySize,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerId,
    Direction,
    DoubleOptIn,
    EmailAddress,
    Interaction,
    InteractionId,
    InteractionKind,
    Money,
    PhoneNumber,
    PostalAddress,
    TenantId,
    TraitDefinition,
    TraitSchema,
    TraitType,
)
from crmkit.front import CRM
from crmkit.ports import ImportResult, OnExisting, Page

__version__ = "0.1.0.dev0"

__all__ = [
    "CRM",
    "DEFAULT_TENANT",
    "UNCHANGED",
    "Account",
    "AccountId",
    "AccountLink",
    "Channel",
    "CompanySize",
    "ConsentRecord",
    "ConsentStatus",
    "ContactPoint",
    "Customer",
    "CustomerId",
    "Direction",
    "DoubleOptIn",
    "EmailAddress",
    "FixedClock",
    "ImportResult",
    "Interaction",
    "InteractionId",
    "InteractionKind",
    "Money",
    "OnExisting",
    "Page",
    "PhoneNumber",
    "PostalAddress",
    "SequentialIds",
    "Settings",
    "SystemClock",
    "TenantId",
    "TraitDefinition",
    "TraitSchema",
    "TraitType",
    "UuidIds",
    "__version__",
]
