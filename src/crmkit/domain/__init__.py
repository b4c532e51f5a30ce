"""crmkit's pure domain model: values, aggregates, events. attrs and the standard library only.

Nothing here reads a clock, draws randomness or touches I/O: time and ids come in as arguments,
so every behaviour is deterministic and testable.
"""

from crmkit.domain.account import Account, AccountLink, CompanySize, normalize_web_domain
from crmkit.domain.channels import Channel, Direction, InteractionKind
from crmkit.domain.consent import (
    ConsentRecord,
    ConsentStatus,
    DoubleOptIn,
    deciding_consent,
    may_contact,
)
from crmkit.domain.contact import (
    ContactPoint,
    EmailAddress,
    PhoneNumber,
    PostalAddress,
    normalize_email,
    normalize_locale,
)
from crmkit.domain.customer import PROFILE_FIELDS, UNCHANGED, Customer, normalize_tags
from crmkit.domain.events import (
    AccountChanged,
    AccountRegistered,
    ConsentChanged,
    CustomerProfileChanged,
    CustomerRegistered,
    DomainEvent,
    InteractionRecorded,
)
from crmkit.domain.ids import (
    DEFAULT_TENANT,
    AccountId,
    CustomerId,
    EventId,
    InteractionId,
    TenantId,
)
from crmkit.domain.interaction import Interaction, MetadataValue
from crmkit.domain.money import Money, currency_exponent
from crmkit.domain.timestamps import ensure_utc
from crmkit.domain.traits import (
    TraitDefinition,
    TraitSchema,
    TraitType,
    TraitValue,
    trait_type_of,
    validate_traits,
)

__all__ = [
    "DEFAULT_TENANT",
    "PROFILE_FIELDS",
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
    "EventId",
    "Interaction",
    "InteractionId",
    "InteractionKind",
    "InteractionRecorded",
    "MetadataValue",
    "Money",
    "PhoneNumber",
    "PostalAddress",
    "TenantId",
    "TraitDefinition",
    "TraitSchema",
    "TraitType",
    "TraitValue",
    "currency_exponent",
    "deciding_consent",
    "ensure_utc",
    "may_contact",
    "normalize_email",
    "normalize_locale",
    "normalize_tags",
    "normalize_web_domain",
    "trait_type_of",
    "validate_traits",
]
