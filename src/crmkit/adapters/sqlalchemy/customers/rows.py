"""Customers to rows of ``crmkit_customers`` and its child tables, and back.

Reading hydrates without re-validating (see `crmkit.adapters.sqlalchemy.rows`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from crmkit.adapters.sqlalchemy.rows import EPOCH, from_us, hydrate, slot_setters, to_us
from crmkit.domain import (
    AccountId,
    AccountLink,
    Channel,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    DoubleOptIn,
    EmailAddress,
    PhoneNumber,
    PostalAddress,
    TraitType,
    TraitValue,
    trait_type_of,
)
from crmkit.domain._filling import filling
from crmkit.domain._frozen import FrozenMap
from crmkit.domain.customers.traits import canonical_decimal

__all__ = [
    "CUSTOMER_COLUMNS",
    "STORED_COLUMNS",
    "consent_rows",
    "customer_from_row",
    "customer_from_values",
    "customer_row",
    "customer_values",
    "external_id_rows",
    "search_key",
    "tag_rows",
    "trait_rows",
]


def _email(value: str | None) -> EmailAddress | None:
    return None if value is None else hydrate(EmailAddress, value=value)


def _phone(value: str | None) -> PhoneNumber | None:
    """A contact point's phone from its stored text form (E.164, maybe ``;ext=``)."""
    if value is None:
        return None
    e164, _, extension = value.partition(";ext=")
    return hydrate(PhoneNumber, e164=e164, extension=extension or None)


_CHANNELS = Channel._value2member_map_


def customer_row(tenant: str, customer: Customer) -> dict[str, Any]:
    """The ``crmkit_customers`` row of a customer, by column name."""
    return dict(
        zip(STORED_COLUMNS, customer_values(tenant, customer, customer.version), strict=True)
    )


#: The ``crmkit_customers`` columns in the order of `customer_values` and
#: `customer_from_values` (select them in this order): all but the tenant (the query's) and
#: the search keys.
CUSTOMER_COLUMNS = (
    "id",
    "version",
    "created_at_us",
    "updated_at_us",
    "given_name",
    "family_name",
    "email",
    "phone",
    "phone_extension",
    "other_contacts",
    "address_country",
    "address_lines",
    "address_city",
    "address_region",
    "address_postal_code",
    "locale",
    "account_id",
    "account_role",
)

#: The columns written: the tenant, `CUSTOMER_COLUMNS`, then the search keys (see
#: `search_key`), which are never read back.
STORED_COLUMNS = ("tenant_id", *CUSTOMER_COLUMNS, "given_name_key", "family_name_key")


#: One microsecond: instants are whole multiples of it after `EPOCH` (``timedelta * int`` is
#: exact, and faster than ``timedelta(microseconds=...)``).
_MICROSECOND = timedelta(microseconds=1)


def search_key(text: str | None) -> str | None:
    """The stored search key of a name (``None`` stays ``None``): Python's ``str.lower``."""
    return None if text is None else text.lower()


def customer_values(tenant: str, customer: Customer, version: int) -> tuple[Any, ...]:
    """`customer_row` as a tuple in `STORED_COLUMNS` order, for a driver's executemany."""
    created_at = customer.created_at
    updated = customer.updated_at
    created_us = (created_at - EPOCH) // _MICROSECOND  # `to_us`, inlined: the hot path
    given, family = customer.given_name, customer.family_name
    email, phone = customer.email, customer.phone
    address, account = customer.address, customer.account
    return (
        tenant,
        customer.id,
        version,
        created_us,
        created_us if updated is created_at else (updated - EPOCH) // _MICROSECOND,
        given,
        family,
        None if email is None else email.value,
        None if phone is None else phone.e164,
        None if phone is None else phone.extension,
        _contacts_json(customer.other_contacts) if customer.other_contacts else None,
        None if address is None else address.country,
        None if address is None else json.dumps(list(address.lines)),
        None if address is None else address.city,
        None if address is None else address.region,
        None if address is None else address.postal_code,
        customer.locale,
        None if account is None else account.account_id,
        None if account is None else account.role,
        None if given is None else given.lower(),  # the search keys: see `search_key`
        None if family is None else family.lower(),
    )


# A customer, its email and its phone are filled (`crmkit.domain._filling`: plain slot
# stores, then the real class).
_CUSTOMER = filling(Customer)
_EMAIL = filling(EmailAddress)
_PHONE = filling(PhoneNumber)
_C = slot_setters(Customer)  # for the children, set after the customer is whole
_set_tags, _set_traits = _C["tags"], _C["traits"]
_set_consents, _set_external_ids = _C["consents"], _C["external_ids"]
_NEW = object.__new__
_NO_TAGS: frozenset[str] = frozenset()
_NO_ITEMS: FrozenMap[str, Any] = FrozenMap()  # immutable: one instance serves every customer


def customer_from_values(
    row: Sequence[Any],
    tags: Iterable[str] | None = None,
    traits: Iterable[Mapping[Any, Any]] | None = None,
    external_ids: Iterable[Mapping[Any, Any]] | None = None,
    consents: Iterable[Mapping[Any, Any]] | None = None,
) -> Customer:
    """The customer of a row of `CUSTOMER_COLUMNS` values in that order (a tuple or a
    SQLAlchemy ``Row``) and its children's rows."""
    customer = customer_from_row(row)
    if tags:
        _set_tags(customer, frozenset(tags))
    if traits:
        _set_traits(
            customer,
            FrozenMap(
                {
                    t["name"]: _trait_value(t["type"], t["value_text"], t["value_int"])
                    for t in traits
                }
            ),
        )
    if consents:
        _set_consents(customer, tuple(_consent(c) for c in consents))
    if external_ids:
        _set_external_ids(
            customer, FrozenMap({e["source"]: e["external_id"] for e in external_ids})
        )
    return customer


def customer_from_row(row: Sequence[Any]) -> Customer:
    """The customer of a row of `CUSTOMER_COLUMNS` values, without tags, traits, consents or
    external ids: the hot path of streaming and listing."""
    (
        customer_id,
        version,
        created_us,
        updated_us,
        given_name,
        family_name,
        email,
        phone,
        phone_extension,
        other_contacts,
        country,
        address_lines,
        city,
        region,
        postal_code,
        locale,
        account_id,
        account_role,
    ) = row
    customer = _NEW(_CUSTOMER)
    customer.id = customer_id
    customer.created_at = created_at = EPOCH + _MICROSECOND * created_us
    customer.updated_at = (
        created_at if updated_us == created_us else EPOCH + _MICROSECOND * updated_us
    )
    customer.given_name = given_name
    customer.family_name = family_name
    if email is not None:
        email_address = _NEW(_EMAIL)
        email_address.value = email
        email_address.__class__ = EmailAddress
        email = email_address
    customer.email = email
    if phone is not None:
        phone_number = _NEW(_PHONE)
        phone_number.e164 = phone
        phone_number.extension = phone_extension
        phone_number.__class__ = PhoneNumber
        phone = phone_number
    customer.phone = phone
    customer.other_contacts = _contacts(other_contacts) if other_contacts else ()
    customer.address = (
        None
        if not country
        else hydrate(
            PostalAddress,
            country=country,
            lines=tuple(json.loads(address_lines or "[]")),
            city=city,
            region=region,
            postal_code=postal_code,
        )
    )
    customer.locale = locale
    customer.tags = _NO_TAGS
    customer.traits = customer.external_ids = _NO_ITEMS
    customer.consents = ()
    customer.account = (
        hydrate(AccountLink, account_id=AccountId(account_id), role=account_role)
        if account_id
        else None
    )
    customer.version = version
    customer._events = []
    customer.__class__ = Customer
    return customer  # type: ignore[no-any-return]


def _contacts_json(points: Sequence[ContactPoint]) -> str | None:
    if not points:
        return None
    return json.dumps(
        [
            {
                "email" if isinstance(p.value, EmailAddress) else "phone": str(p.value),
                "label": p.label,
            }
            for p in points
        ]
    )


def _contacts(text: str | None) -> tuple[ContactPoint, ...]:
    if not text:
        return ()
    points = []
    for item in json.loads(text):
        value = _email(item["email"]) if "email" in item else _phone(item["phone"])
        points.append(hydrate(ContactPoint, value=value, label=item["label"]))
    return tuple(points)


def tag_rows(tenant: str, customer: Customer) -> list[dict[str, Any]]:
    """The ``crmkit_customer_tags`` rows of a customer."""
    return [
        {"tenant_id": tenant, "customer_id": customer.id, "tag": t} for t in sorted(customer.tags)
    ]


def external_id_rows(tenant: str, customer: Customer) -> list[dict[str, Any]]:
    """The ``crmkit_customer_external_ids`` rows of a customer."""
    return [
        {"tenant_id": tenant, "source": s, "external_id": e, "customer_id": customer.id}
        for s, e in customer.external_ids.items()
    ]


def trait_rows(tenant: str, customer: Customer) -> list[dict[str, Any]]:
    """The ``crmkit_customer_traits`` rows of a customer, one typed value each."""
    rows = []
    for name, value in customer.traits.items():
        kind = trait_type_of(value)
        assert kind is not None
        text, number = _trait_columns(kind, value)
        rows.append(
            {
                "tenant_id": tenant,
                "customer_id": customer.id,
                "name": name,
                "type": kind.value,
                "value_text": text,
                "value_int": number,
            }
        )
    return rows


def _trait_columns(kind: TraitType, value: TraitValue) -> tuple[str | None, int | None]:
    if kind is TraitType.STRING:
        return value, None  # type: ignore[return-value]
    if kind is TraitType.INTEGER or kind is TraitType.BOOLEAN:
        return None, int(value)  # type: ignore[arg-type]
    if kind is TraitType.DECIMAL:  # one text per value, so SQL equality is decimal equality
        return str(canonical_decimal(value)), None  # type: ignore[arg-type]
    if kind is TraitType.DATE:
        return value.isoformat(), None  # type: ignore[union-attr]
    if kind is TraitType.DATETIME:
        return None, to_us(value)  # type: ignore[arg-type]
    return json.dumps(list(value)), None  # type: ignore[arg-type]


def _trait_value(kind: str, text: str | None, number: int | None) -> TraitValue:
    if kind == "string":
        return text or ""
    if kind == "integer":
        return int(number or 0)
    if kind == "boolean":
        return bool(number)
    if kind == "decimal":
        return Decimal(text or "0")
    if kind == "date":
        return date.fromisoformat(text or "")
    if kind == "datetime":
        return from_us(int(number or 0))
    return tuple(json.loads(text or "[]"))


def consent_rows(
    tenant: str, customer_id: str, records: Iterable[ConsentRecord], first_seq: int = 0
) -> list[dict[str, Any]]:
    """The ``crmkit_consents`` rows of consent records, numbered from ``first_seq``."""
    return [
        {
            "tenant_id": tenant,
            "customer_id": customer_id,
            "seq": first_seq + n,
            "purpose": r.purpose,
            "channel": r.channel.value if r.channel else None,
            "status": r.status.value,
            "at_us": to_us(r.at),
            "source": r.source,
            "method": r.method,
            "evidence": r.evidence,
            "double_opt_in": r.double_opt_in.value,
        }
        for n, r in enumerate(records)
    ]


def _consent(row: Mapping[Any, Any]) -> ConsentRecord:
    return hydrate(
        ConsentRecord,
        purpose=row["purpose"],
        channel=_CHANNELS[row["channel"]] if row["channel"] else None,
        status=ConsentStatus(row["status"]),
        at=from_us(row["at_us"]),
        source=row["source"],
        method=row["method"],
        evidence=row["evidence"],
        double_opt_in=DoubleOptIn(row["double_opt_in"]),
    )
