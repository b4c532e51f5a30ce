"""crmkit's pure domain model: values, aggregates, events. attrs and the standard library only.

Nothing here reads a clock, draws randomness or touches I/O: time and ids come in as arguments,
so every behaviour is deterministic and testable.
"""

from crmkit.domain.account import Account, AccountLink, CompanySize, normalize_web_domain
from crmkit.domain.channels import Channel, Direction, InteractionKind, SubjectKind
from crmkit.domain.conditions import (
    ACCOUNT_FIELDS,
    CUSTOMER_FIELDS,
    AllOf,
    AnyOf,
    Condition,
    Facts,
    HasField,
    HasTag,
    HasTrait,
    InteractionCount,
    Not,
)
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
    StageChanged,
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
from crmkit.domain.lifecycle import LifecycleModel, Outcome, ProgressionRule, Stage, Transition
from crmkit.domain.lifecycle_presets import (
    CUSTOMER_LIFECYCLE,
    DEAL_PIPELINE,
    HUBSPOT_LIFECYCLE,
    PRESETS,
)
from crmkit.domain.money import Money, currency_exponent
from crmkit.domain.stage_analytics import (
    DurationStats,
    Funnel,
    FunnelStep,
    StageFlow,
    funnel,
    stage_conversion,
    stage_durations,
)
from crmkit.domain.stage_history import StageChange, StageHistory, Stay
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
    "ACCOUNT_FIELDS",
    "CUSTOMER_FIELDS",
    "CUSTOMER_LIFECYCLE",
    "DEAL_PIPELINE",
    "DEFAULT_TENANT",
    "HUBSPOT_LIFECYCLE",
    "PRESETS",
    "PROFILE_FIELDS",
    "UNCHANGED",
    "Account",
    "AccountChanged",
    "AccountId",
    "AccountLink",
    "AccountRegistered",
    "AllOf",
    "AnyOf",
    "Channel",
    "CompanySize",
    "Condition",
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
    "DurationStats",
    "EmailAddress",
    "EventId",
    "Facts",
    "Funnel",
    "FunnelStep",
    "HasField",
    "HasTag",
    "HasTrait",
    "Interaction",
    "InteractionCount",
    "InteractionId",
    "InteractionKind",
    "InteractionRecorded",
    "LifecycleModel",
    "MetadataValue",
    "Money",
    "Not",
    "Outcome",
    "PhoneNumber",
    "PostalAddress",
    "ProgressionRule",
    "Stage",
    "StageChange",
    "StageChanged",
    "StageFlow",
    "StageHistory",
    "Stay",
    "SubjectKind",
    "TenantId",
    "TraitDefinition",
    "TraitSchema",
    "TraitType",
    "TraitValue",
    "Transition",
    "currency_exponent",
    "deciding_consent",
    "ensure_utc",
    "funnel",
    "may_contact",
    "normalize_email",
    "normalize_locale",
    "normalize_tags",
    "normalize_web_domain",
    "stage_conversion",
    "stage_durations",
    "trait_type_of",
    "validate_traits",
]
