"""crmkit: an embeddable customer-relationship-management domain library.

Start at `CRM`:

```python
from crmkit import CRM

crm = CRM.in_memory()
ada = crm.register_customer(email="ada@example.com", given_name="Ada")
```
"""

from crmkit.app import FixedClock, SequentialIds, SystemClock, UuidIds
from crmkit.domain import (
    DEFAULT_TENANT,
    UNCHANGED,
    Account,
    AccountChanged,
    AccountId,
    AccountLink,
    AccountRegistered,
    Channel,
    CompanySize,
    ConsentChanged,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerId,
    CustomerProfileChanged,
    CustomerRegistered,
    Direction,
    DomainEvent,
    DoubleOptIn,
    EmailAddress,
    Interaction,
    InteractionId,
    InteractionKind,
    InteractionRecorded,
    Money,
    PhoneNumber,
    PostalAddress,
    TenantId,
    TraitDefinition,
    TraitSchema,
    TraitType,
)
from crmkit.front import CRM
from crmkit.ports import Page

__version__ = "0.1.0.dev0"

__all__ = [
    "CRM",
    "DEFAULT_TENANT",
    "UNCHANGED",
    "Account",
    "AccountChanged",
    "AccountId",
    "AccountLink",
    "AccountRegistered",
    "Channel",
    "CompanySize",
    "ConsentChanged",
    "ConsentRecord",
    "ConsentStatus",
    "ContactPoint",
    "Customer",
    "CustomerId",
    "CustomerProfileChanged",
    "CustomerRegistered",
    "Direction",
    "DomainEvent",
    "DoubleOptIn",
    "EmailAddress",
    "FixedClock",
    "Interaction",
    "InteractionId",
    "InteractionKind",
    "InteractionRecorded",
    "Money",
    "Page",
    "PhoneNumber",
    "PostalAddress",
    "SequentialIds",
    "SystemClock",
    "TenantId",
    "TraitDefinition",
    "TraitSchema",
    "TraitType",
    "UuidIds",
    "__version__",
]
