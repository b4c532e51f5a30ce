"""The Customer aggregate: identity, contact points, address, traits, consent and links.

A customer is changed only through its methods, which validate the change, stamp
``updated_at`` and collect domain events for the unit of work to publish after commit.
The ``version`` counts committed saves; repositories use it for optimistic concurrency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from crmkit.domain._checks import to_utc, utc, version_number
from crmkit.domain._filling import filling
from crmkit.domain._frozen import FrozenMap
from crmkit.domain._same import differing_fields, same_value
from crmkit.domain.accounts.account import AccountLink
from crmkit.domain.customers._fields import (
    MAX_CONSENTS,
    MAX_EXTERNAL_IDS,
    MAX_OTHER_CONTACTS,
    MAX_TAGS,
    check_consents,
    check_contacts,
    check_name,
    clean_name,
    convert_consents,
    convert_contacts,
    convert_external_ids,
    convert_locale,
    convert_traits,
    normalize_tag,
    normalize_tags,
    typed,
)
from crmkit.domain.customers.consent import ConsentRecord, deciding_consent, may_contact
from crmkit.domain.customers.traits import TraitSchema, TraitValue, validate_traits
from crmkit.domain.events import (
    ConsentChanged,
    CustomerProfileChanged,
    CustomerRegistered,
    DomainEvent,
)
from crmkit.domain.interactions.channels import Channel, channel_of
from crmkit.domain.values.contact import (
    ContactPoint,
    EmailAddress,
    PhoneNumber,
    PostalAddress,
)
from crmkit.domain.values.ids import CustomerId, check_id
from crmkit.errors import ValidationError

__all__ = [
    "MAX_CONSENTS",
    "MAX_EXTERNAL_IDS",
    "MAX_OTHER_CONTACTS",
    "MAX_TAGS",
    "PROFILE_FIELDS",
    "UNCHANGED",
    "Customer",
    "normalize_tag",
    "normalize_tags",
]


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


#: Give this as a field's value to `Customer.update_profile` to leave that field as it is.
UNCHANGED: Final[Any] = _Unchanged()

#: The fields `Customer.update_profile` may change.
PROFILE_FIELDS = (
    "given_name",
    "family_name",
    "email",
    "phone",
    "other_contacts",
    "address",
    "locale",
    "tags",
    "external_ids",
    "account",
)
_PROFILE = frozenset(PROFILE_FIELDS)


@attrs.define(eq=True)
class Customer:
    """A person the business knows: the aggregate at the centre of crmkit.

    Build a new one with `Customer.register`; change it with `update_profile`, `set_traits`,
    `record_consent`. ``traits`` and ``external_ids`` are immutable mappings; ``tags`` is a
    frozenset; ``consents`` is the append-only consent history, oldest first.
    """

    id: CustomerId = attrs.field(validator=lambda i, a, v: check_id("id", v))
    created_at: datetime = attrs.field(converter=to_utc, validator=utc)
    updated_at: datetime = attrs.field(converter=to_utc, validator=utc)
    given_name: str | None = attrs.field(default=None, converter=clean_name, validator=check_name)
    family_name: str | None = attrs.field(default=None, converter=clean_name, validator=check_name)
    email: EmailAddress | None = attrs.field(
        default=None, validator=typed(EmailAddress, "an EmailAddress")
    )
    phone: PhoneNumber | None = attrs.field(
        default=None, validator=typed(PhoneNumber, "a PhoneNumber")
    )
    other_contacts: tuple[ContactPoint, ...] = attrs.field(
        default=(), converter=convert_contacts, validator=check_contacts
    )
    address: PostalAddress | None = attrs.field(
        default=None, validator=typed(PostalAddress, "a PostalAddress")
    )
    locale: str | None = attrs.field(default=None, converter=convert_locale)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=normalize_tags)
    traits: Mapping[str, TraitValue] = attrs.field(factory=FrozenMap, converter=convert_traits)
    consents: tuple[ConsentRecord, ...] = attrs.field(
        default=(), converter=convert_consents, validator=check_consents
    )
    external_ids: Mapping[str, str] = attrs.field(factory=FrozenMap, converter=convert_external_ids)
    account: AccountLink | None = attrs.field(
        default=None, validator=typed(AccountLink, "an AccountLink")
    )
    version: int = attrs.field(default=0, validator=version_number)
    # A list, or a registration's pending event (see `_registered` and `_collected`).
    _events: Any = attrs.field(factory=list, init=False, repr=False, eq=False)

    @classmethod
    def register(
        cls,
        customer_id: CustomerId,
        *,
        at: datetime,
        schema: TraitSchema | None = None,
        traits: Mapping[str, Any] | None = None,
        consents: Iterable[ConsentRecord] = (),
        **profile: Any,
    ) -> Customer:
        """Create a customer, check its traits against ``schema``, record `CustomerRegistered`.

        ``profile`` takes any of `PROFILE_FIELDS`.
        """
        _refuse_unknown(profile)
        if cls is Customer and not traits and schema is None and consents == ():
            registered = _registered(customer_id, at, profile)
            if registered is not None:
                return registered
        checked = validate_traits(traits or {}, schema)
        customer = cls(
            id=customer_id,
            created_at=at,
            updated_at=at,
            traits=FrozenMap(checked),
            consents=tuple(consents),
            **profile,
        )
        customer._events.append(CustomerRegistered(customer.created_at, customer_id=customer.id))
        for record in customer.consents:
            customer._consent_event(record, customer.created_at)
        return customer

    @property
    def display_name(self) -> str:
        """A name fit for a greeting: full name, else email, else phone, else the id."""
        full = " ".join(p for p in (self.given_name, self.family_name) if p)
        return full or str(self.email or self.phone or self.id)

    def same_content(self, other: Customer) -> bool:
        """True when ``other`` holds the same data, whatever its version: every field the
        same value of the same type (`same_value`), so a trait ``1`` is not ``True``."""
        return not self.differing_fields(other)

    def differing_fields(self, other: Customer) -> tuple[str, ...]:
        """The names of the fields whose values differ from ``other``'s (`same_value`),
        leaving out the version: empty when ``other`` holds the same data."""
        return differing_fields(self, other, _CONTENT_FIELDS)

    def update_profile(self, *, at: datetime, **changes: Any) -> tuple[str, ...]:
        """Change profile fields (any of `PROFILE_FIELDS`); return the names that changed.

        Fields given the same value as before are not reported; nothing changed means no
        event. Emits `CustomerProfileChanged` otherwise.
        """
        _refuse_unknown(changes)
        changes = {k: v for k, v in changes.items() if v is not UNCHANGED}
        candidate = attrs.evolve(self, **changes)  # runs every converter and validator first
        changed = tuple(
            f for f in changes if not same_value(getattr(candidate, f), getattr(self, f))
        )
        for name in changed:
            setattr(self, name, getattr(candidate, name))
        return self._changed(changed, at)

    def set_traits(
        self,
        values: Mapping[str, Any],
        *,
        at: datetime,
        schema: TraitSchema | None = None,
        remove: Iterable[str] = (),
    ) -> tuple[str, ...]:
        """Set (merge) and remove traits, checked against ``schema``; return changed fields."""
        if not isinstance(values, Mapping):
            raise ValidationError.single("traits", values, "must map trait names to values")
        names = (remove,) if isinstance(remove, str) else remove
        if not isinstance(names, Iterable):
            raise ValidationError.single("remove", remove, "must be trait names")
        removed = set(names)
        if not all(isinstance(name, str) for name in removed):
            raise ValidationError.single("remove", remove, "must be trait names")
        merged = {k: v for k, v in self.traits.items() if k not in removed}
        merged.update(values)
        checked = FrozenMap(validate_traits(merged, schema))
        if same_value(checked, self.traits):  # True over 1 is a change: another trait type
            return ()
        self.traits = checked
        return self._changed(("traits",), at)

    def record_consent(self, record: ConsentRecord, *, at: datetime) -> None:
        """Append a consent decision to the history and record `ConsentChanged`."""
        if not isinstance(record, ConsentRecord):
            raise ValidationError.single("consent", record, "must be a ConsentRecord")
        self.consents = (*self.consents, record)
        self.updated_at = at
        self._consent_event(record, self.updated_at)

    def may_contact(self, channel: Channel | str, purpose: str, at: datetime) -> bool:
        """True when the consent history allows contact on ``channel`` for ``purpose`` at
        ``at``. The latest decision wins; at the same instant a withdrawal wins; no record
        means no."""
        return may_contact(self.consents, channel_of(channel), purpose, at)

    def consent_for(
        self, channel: Channel | str, purpose: str, at: datetime
    ) -> ConsentRecord | None:
        """The consent record that decides `may_contact`, for showing the evidence."""
        return deciding_consent(self.consents, channel_of(channel), purpose, at)

    def pull_events(self) -> list[DomainEvent]:
        """Hand over the events collected since the last call, and forget them."""
        events, self._events = self._collected(), []
        return events

    def peek_events(self) -> tuple[DomainEvent, ...]:
        """The events collected so far, without taking them."""
        return tuple(self._collected())

    def _collected(self) -> list[DomainEvent]:
        """The collected events, the registration's built now if it was left pending."""
        if type(self._events) is tuple:  # `_registered`: (at, customer_id), still to build
            at, customer_id = self._events
            self._events = [_registration(at, customer_id)]
        events: list[DomainEvent] = self._events
        return events

    def _changed(self, fields: tuple[str, ...], at: datetime) -> tuple[str, ...]:
        if fields:
            self.updated_at = at
            self._collected().append(
                CustomerProfileChanged(self.updated_at, customer_id=self.id, fields=fields)
            )
        return fields

    def _consent_event(self, record: ConsentRecord, at: datetime) -> None:
        self._collected().append(
            ConsentChanged(
                at,
                customer_id=self.id,
                purpose=record.purpose,
                channel=record.channel,
                status=record.status,
            )
        )


def _refuse_unknown(fields: Mapping[str, Any]) -> None:
    if fields.keys() <= _PROFILE:
        return
    unknown = sorted(set(fields) - _PROFILE)
    if unknown:
        raise ValidationError.single(
            unknown[0], fields[unknown[0]], "is not a customer profile field"
        )


#: The fields that make a customer's data: all but its version (and the collected events).
_CONTENT_FIELDS = tuple(f.name for f in attrs.fields(Customer) if f.eq and f.name != "version")


# Registration's fast path: the common registration (a `Customer`, a UTC instant, no traits,
# schema or consents) built without attrs' generic ``__init__``. The fields left out take their
# defaults, converted and checked once here (each is immutable, so every customer shares it);
# each field given runs the same converter and validator as ``__init__`` does. Anything
# unusual, and any refusal, goes the ordinary way, so the errors are exactly the ordinary ones.

_NEW = object.__new__


def _field_check(attribute: attrs.Attribute[Any]) -> Any:
    convert: Any = attribute.converter  # Customer's converters are plain one-argument functions
    validate = attribute.validator

    def check(value: Any) -> Any:
        if convert is not None:
            value = convert(value)
        if validate is not None:
            validate(None, attribute, value)
        return value

    return check


def _name_check(attribute: attrs.Attribute[Any]) -> Any:
    generic = _field_check(attribute)

    def check(value: Any) -> Any:
        if type(value) is str:  # the common name: `clean_name`, then `check_name`'s ASCII case
            if value.isascii() and value.isalpha() and len(value) <= 200:
                return value  # one word of letters: nothing to collapse, nothing to refuse
            value = " ".join(value.split())
            if value and len(value) <= 200 and value.isascii() and "\x00" not in value:
                return value
        return generic(value)

    return check


def _type_check(attribute: attrs.Attribute[Any], kind: type) -> Any:
    generic = _field_check(attribute)

    def check(value: Any) -> Any:
        return value if value is None or type(value) is kind else generic(value)

    return check


_ATTRIBUTES = attrs.fields_dict(Customer)
_CHECKS = {name: _field_check(_ATTRIBUTES[name]) for name in PROFILE_FIELDS}
_CHECKS.update(
    given_name=_name_check(_ATTRIBUTES["given_name"]),
    family_name=_name_check(_ATTRIBUTES["family_name"]),
    email=_type_check(_ATTRIBUTES["email"], EmailAddress),
    phone=_type_check(_ATTRIBUTES["phone"], PhoneNumber),
)
_NO_TAGS: frozenset[str] = frozenset()
_NO_ITEMS: FrozenMap[str, Any] = FrozenMap()
_CUSTOMER = filling(Customer)
_REGISTERED = filling(CustomerRegistered)


def _registration(at: datetime, customer_id: str) -> CustomerRegistered:
    """`CustomerRegistered` of checked values, filled like the customer."""
    event = _NEW(_REGISTERED)
    event.at = at
    event.customer_id = customer_id
    event.__class__ = CustomerRegistered
    return event  # type: ignore[no-any-return]


def _registered(customer_id: Any, at: Any, profile: Mapping[str, Any]) -> Customer | None:
    """The customer `Customer.register` makes of these, or ``None``: take the ordinary way."""
    if type(at) is not datetime or at.tzinfo is not UTC:
        return None
    customer = _NEW(_CUSTOMER)
    customer.id = customer_id
    customer.created_at = customer.updated_at = at
    customer.given_name = customer.family_name = customer.email = customer.phone = None
    customer.other_contacts = customer.consents = ()
    customer.address = customer.locale = customer.account = None
    customer.tags = _NO_TAGS
    customer.traits = customer.external_ids = _NO_ITEMS
    customer.version = 0
    # Its `CustomerRegistered` is left pending as a tuple of two values (`_collected` builds
    # it): a bulk import holds thousands of new customers at once, and two objects fewer
    # each for the garbage collector to walk shortened imports measurably.
    customer._events = (at, customer_id)
    try:
        check_id("id", customer_id)
        for name, value in profile.items():
            setattr(customer, name, _CHECKS[name](value))
    except ValidationError:
        return None  # the half-filled instance is dropped
    customer.__class__ = Customer
    return customer  # type: ignore[no-any-return]
