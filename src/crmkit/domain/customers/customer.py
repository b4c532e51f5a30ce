"""The Customer aggregate: identity, contact points, address, traits, consent and links.

A customer is changed only through its methods, which validate the change, stamp
``updated_at`` and collect domain events for the unit of work to publish after commit.
The ``version`` counts committed saves; repositories use it for optimistic concurrency.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from crmkit._reprs import key_text
from crmkit.domain._checks import to_utc, utc, version_number
from crmkit.domain._frozen import FrozenMap
from crmkit.domain._same import differing_fields, same_value
from crmkit.domain.accounts.account import AccountLink
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
    normalize_locale,
)
from crmkit.domain.values.ids import CustomerId, check_id
from crmkit.domain.values.texts import ensure_text
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

_EXTERNAL = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_TAGS = 100
#: The most further contact points (``other_contacts``) a customer may have.
MAX_OTHER_CONTACTS = 20
#: The most consent records a customer's history may hold.
MAX_CONSENTS = 1000
#: The most host systems (``external_ids``) a customer may be known to.
MAX_EXTERNAL_IDS = 20


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


def normalize_tag(value: Any, path: str = "tag") -> str:
    """One tag in its stored form: trimmed, whitespace-collapsed, NFC, lower-case text of
    1-100 characters (``" VIP  Gold"`` is ``"vip gold"``); anything else raises
    `ValidationError`. Rules and lookups by tag put theirs in this form too."""
    if not isinstance(value, str):
        raise ValidationError.single(path, value, "a tag must be text")
    tag = unicodedata.normalize("NFC", " ".join(ensure_text(value, path).split()).lower())
    if not 0 < len(tag) <= 100:
        raise ValidationError.single(path, value, "a tag must be 1-100 characters")
    return tag


def normalize_tags(value: Any, path: str = "tags") -> frozenset[str]:
    """Tags are trimmed, whitespace-collapsed, NFC, lower-case text of 1-100 characters."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single(path, value, "must be a collection of text tags")
    tags = {normalize_tag(item, path) for item in value}
    if len(tags) > MAX_TAGS:
        raise ValidationError.single(path, len(tags), f"at most {MAX_TAGS} tags")
    return frozenset(tags)


def _name(value: Any) -> Any:
    if isinstance(value, str):
        value = " ".join(value.split())
        return value or None
    return value


def _check_name(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or len(value) > 200):
        raise ValidationError.single(attribute.name, value, "must be text (200 chars max) or None")
    if value is not None:
        ensure_text(value, attribute.name)


def _typed(kind: type | tuple[type, ...], label: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not isinstance(value, kind):
            raise ValidationError.single(attribute.name, value, f"must be {label} or None")

    return check


def _locale(value: Any) -> str | None:
    return None if value is None else normalize_locale(value)


def _contacts(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _check_contacts(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, tuple):
        raise ValidationError.single("other_contacts", value, "must be a sequence")
    if len(value) > MAX_OTHER_CONTACTS:
        raise ValidationError.single(
            "other_contacts", len(value), f"at most {MAX_OTHER_CONTACTS} contact points"
        )
    for i, item in enumerate(value):
        if not isinstance(item, ContactPoint):
            raise ValidationError.single(f"other_contacts[{i}]", item, "must be a ContactPoint")


def _external_ids(value: Any) -> FrozenMap[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationError.single("external_ids", value, "must map a source to an id")
    if len(value) > MAX_EXTERNAL_IDS:
        raise ValidationError.single(
            "external_ids", len(value), f"at most {MAX_EXTERNAL_IDS} external ids"
        )
    for source, ref in value.items():
        if not isinstance(source, str) or not _EXTERNAL.fullmatch(source):
            raise ValidationError.single(
                f"external_ids.{key_text(source)}", source, "a source must be a lower-case slug"
            )
        if not isinstance(ref, str) or not 0 < len(ref) <= 200:
            raise ValidationError.single(f"external_ids.{source}", ref, "must be 1-200 characters")
        ensure_text(ref, f"external_ids.{source}")
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


def _traits(value: Any) -> FrozenMap[str, TraitValue]:
    if isinstance(value, FrozenMap):
        return value
    return FrozenMap(validate_traits(value, None))


def _consents(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _check_consents(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, tuple):
        raise ValidationError.single("consents", value, "must be a sequence")
    if len(value) > MAX_CONSENTS:
        raise ValidationError.single("consents", len(value), f"at most {MAX_CONSENTS} records")
    for i, item in enumerate(value):
        if not isinstance(item, ConsentRecord):
            raise ValidationError.single(f"consents[{i}]", item, "must be a ConsentRecord")


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
    given_name: str | None = attrs.field(default=None, converter=_name, validator=_check_name)
    family_name: str | None = attrs.field(default=None, converter=_name, validator=_check_name)
    email: EmailAddress | None = attrs.field(
        default=None, validator=_typed(EmailAddress, "an EmailAddress")
    )
    phone: PhoneNumber | None = attrs.field(
        default=None, validator=_typed(PhoneNumber, "a PhoneNumber")
    )
    other_contacts: tuple[ContactPoint, ...] = attrs.field(
        default=(), converter=_contacts, validator=_check_contacts
    )
    address: PostalAddress | None = attrs.field(
        default=None, validator=_typed(PostalAddress, "a PostalAddress")
    )
    locale: str | None = attrs.field(default=None, converter=_locale)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=normalize_tags)
    traits: Mapping[str, TraitValue] = attrs.field(factory=FrozenMap, converter=_traits)
    consents: tuple[ConsentRecord, ...] = attrs.field(
        default=(), converter=_consents, validator=_check_consents
    )
    external_ids: Mapping[str, str] = attrs.field(factory=FrozenMap, converter=_external_ids)
    account: AccountLink | None = attrs.field(
        default=None, validator=_typed(AccountLink, "an AccountLink")
    )
    version: int = attrs.field(default=0, validator=version_number)
    _events: list[DomainEvent] = attrs.field(factory=list, init=False, repr=False, eq=False)

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
        events, self._events = self._events, []
        return events

    def peek_events(self) -> tuple[DomainEvent, ...]:
        """The events collected so far, without taking them."""
        return tuple(self._events)

    def _changed(self, fields: tuple[str, ...], at: datetime) -> tuple[str, ...]:
        if fields:
            self.updated_at = at
            self._events.append(
                CustomerProfileChanged(self.updated_at, customer_id=self.id, fields=fields)
            )
        return fields

    def _consent_event(self, record: ConsentRecord, at: datetime) -> None:
        self._events.append(
            ConsentChanged(
                at,
                customer_id=self.id,
                purpose=record.purpose,
                channel=record.channel,
                status=record.status,
            )
        )


def _refuse_unknown(fields: Mapping[str, Any]) -> None:
    unknown = sorted(set(fields) - set(PROFILE_FIELDS))
    if unknown:
        raise ValidationError.single(
            unknown[0], fields[unknown[0]], "is not a customer profile field"
        )


#: The fields that make a customer's data: all but its version (and the collected events).
_CONTENT_FIELDS = tuple(f.name for f in attrs.fields(Customer) if f.eq and f.name != "version")
