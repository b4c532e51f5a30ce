"""Explicit mapping between domain objects and rows of the ``crmkit_`` tables.

Writing goes through the domain's validated objects. Reading *hydrates* objects from rows
without running attrs converters and validators again: the rows were validated when they were
written, and re-validating a million customers would cost more than reading them. Hosts that
edit the tables by hand must keep to the same rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from crmkit.domain import (
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
    EntryKind,
    Interaction,
    InteractionId,
    InteractionKind,
    LedgerEntry,
    Money,
    PhoneNumber,
    PointsBalance,
    PointsLedger,
    PostalAddress,
    Referral,
    ReferralStatus,
    StageChange,
    StageHistory,
    SubjectKind,
    TraitType,
    TraitValue,
    trait_type_of,
)
from crmkit.domain._frozen import FrozenMap
from crmkit.domain.customers.traits import canonical_decimal

__all__ = [
    "account_from_row",
    "account_row",
    "consent_rows",
    "CUSTOMER_COLUMNS",
    "customer_from_values",
    "customer_row",
    "customer_values",
    "external_id_rows",
    "from_us",
    "interaction_from_row",
    "interaction_row",
    "points_balance_from_row",
    "points_balance_row",
    "at_or_none",
    "points_entry_from_row",
    "points_entry_rows",
    "referral_from_row",
    "referral_row",
    "stage_change_from_row",
    "stage_change_rows",
    "stage_history_from_rows",
    "stage_history_row",
    "tag_rows",
    "to_us",
    "trait_rows",
]

T = TypeVar("T")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_SET = object.__setattr__


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch, exact."""
    return (moment - EPOCH) // _MICRO


def from_us(micros: int) -> datetime:
    """The UTC datetime ``micros`` microseconds after the Unix epoch."""
    return EPOCH + timedelta(microseconds=micros)


def _hydrate(cls: type[T], **fields: Any) -> T:
    obj = cls.__new__(cls)
    for name, value in fields.items():
        _SET(obj, name, value)
    return obj


def _email(value: str | None) -> EmailAddress | None:
    return None if value is None else _hydrate(EmailAddress, value=value)


def _phone(value: str | None) -> PhoneNumber | None:
    """A contact point's phone from its stored text form (E.164, maybe ``;ext=``)."""
    if value is None:
        return None
    e164, _, extension = value.partition(";ext=")
    return _hydrate(PhoneNumber, e164=e164, extension=extension or None)


_CHANNELS = Channel._value2member_map_
_KINDS = InteractionKind._value2member_map_
_DIRECTIONS = Direction._value2member_map_


# Customers


def customer_row(tenant: str, customer: Customer) -> dict[str, Any]:
    """The ``crmkit_customers`` row of a customer, by column name."""
    return dict(
        zip(CUSTOMER_COLUMNS, customer_values(tenant, customer, customer.version), strict=True)
    )


#: The ``crmkit_customers`` columns in the order of `customer_values` and
#: `customer_from_values` (select them in this order).
CUSTOMER_COLUMNS = (
    "tenant_id",
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


def customer_values(tenant: str, customer: Customer, version: int) -> tuple[Any, ...]:
    """`customer_row` as a tuple in `CUSTOMER_COLUMNS` order, for a driver's executemany."""
    address = customer.address
    account = customer.account
    created_us = to_us(customer.created_at)
    updated = customer.updated_at
    return (
        tenant,
        customer.id,
        version,
        created_us,
        created_us if updated is customer.created_at else to_us(updated),
        customer.given_name,
        customer.family_name,
        customer.email.value if customer.email is not None else None,
        customer.phone.e164 if customer.phone is not None else None,
        customer.phone.extension if customer.phone is not None else None,
        _contacts_json(customer.other_contacts) if customer.other_contacts else None,
        address.country if address is not None else None,
        json.dumps(list(address.lines)) if address is not None else None,
        address.city if address is not None else None,
        address.region if address is not None else None,
        address.postal_code if address is not None else None,
        customer.locale,
        account.account_id if account is not None else None,
        account.role if account is not None else None,
    )


def _slot_setters(cls: type) -> dict[str, Any]:
    """Each field's slot setter: stores a value without attrs' on-setattr converters and
    validators, about twice as fast as ``object.__setattr__``."""
    return {a.name: cls.__dict__[a.name].__set__ for a in attrs.fields(cls)}


_C = _slot_setters(Customer)
_set_id, _set_created_at, _set_updated_at = _C["id"], _C["created_at"], _C["updated_at"]
_set_given_name, _set_family_name = _C["given_name"], _C["family_name"]
_set_email, _set_phone, _set_other_contacts = _C["email"], _C["phone"], _C["other_contacts"]
_set_address, _set_locale, _set_tags = _C["address"], _C["locale"], _C["tags"]
_set_traits, _set_consents = _C["traits"], _C["consents"]
_set_external_ids, _set_account = _C["external_ids"], _C["account"]
_set_version, _set_events = _C["version"], _C["_events"]
_set_email_value = _slot_setters(EmailAddress)["value"]
_set_phone_e164 = _slot_setters(PhoneNumber)["e164"]
_set_phone_extension = _slot_setters(PhoneNumber)["extension"]
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
    """`customer_from_rows` for a row of `CUSTOMER_COLUMNS` values in that order (a tuple or
    a SQLAlchemy ``Row``): the hot path of streaming and listing."""
    (
        _tenant,
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
    customer = _NEW(Customer)
    _set_id(customer, customer_id)
    created_at = EPOCH + timedelta(0, 0, created_us)
    _set_created_at(customer, created_at)
    _set_updated_at(
        customer,
        created_at if updated_us == created_us else EPOCH + timedelta(0, 0, updated_us),
    )
    _set_given_name(customer, given_name)
    _set_family_name(customer, family_name)
    if email is not None:
        email_address = _NEW(EmailAddress)
        _set_email_value(email_address, email)
        email = email_address
    _set_email(customer, email)
    if phone is not None:
        phone_number = _NEW(PhoneNumber)
        _set_phone_e164(phone_number, phone)
        _set_phone_extension(phone_number, phone_extension)
        phone = phone_number
    _set_phone(customer, phone)
    _set_other_contacts(customer, _contacts(other_contacts))
    _set_address(
        customer,
        None
        if not country
        else _hydrate(
            PostalAddress,
            country=country,
            lines=tuple(json.loads(address_lines or "[]")),
            city=city,
            region=region,
            postal_code=postal_code,
        ),
    )
    _set_locale(customer, locale)
    _set_tags(customer, frozenset(tags) if tags else _NO_TAGS)
    _set_traits(
        customer,
        FrozenMap(
            {t["name"]: _trait_value(t["type"], t["value_text"], t["value_int"]) for t in traits}
        )
        if traits
        else _NO_ITEMS,
    )
    _set_consents(customer, tuple(_consent(c) for c in consents) if consents else ())
    _set_external_ids(
        customer,
        FrozenMap({e["source"]: e["external_id"] for e in external_ids})
        if external_ids
        else _NO_ITEMS,
    )
    _set_account(
        customer,
        _hydrate(AccountLink, account_id=AccountId(account_id), role=account_role)
        if account_id
        else None,
    )
    _set_version(customer, version)
    _set_events(customer, [])
    return customer


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
        points.append(_hydrate(ContactPoint, value=value, label=item["label"]))
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
    return _hydrate(
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


# Accounts


def account_row(tenant: str, account: Account) -> dict[str, Any]:
    """The ``crmkit_accounts`` row of an account."""
    return {
        "tenant_id": tenant,
        "id": account.id,
        "version": account.version,
        "name": account.name,
        "domain": account.domain,
        "industry": account.industry,
        "size": account.size.value if account.size else None,
        "created_at_us": to_us(account.created_at),
        "updated_at_us": to_us(account.updated_at),
    }


def account_from_row(row: Mapping[Any, Any]) -> Account:
    """An account from its row."""
    return _hydrate(
        Account,
        id=AccountId(row["id"]),
        name=row["name"],
        created_at=from_us(row["created_at_us"]),
        updated_at=from_us(row["updated_at_us"]),
        domain=row["domain"],
        industry=row["industry"],
        size=CompanySize(row["size"]) if row["size"] else None,
        version=row["version"],
        _events=[],
    )


# Interactions


def interaction_row(tenant: str, interaction: Interaction) -> dict[str, Any]:
    """The ``crmkit_interactions`` row of an interaction."""
    amount = interaction.amount
    return {
        "tenant_id": tenant,
        "id": interaction.id,
        "customer_id": interaction.customer_id,
        "occurred_at_us": to_us(interaction.occurred_at),
        "kind": str(interaction.kind),
        "channel": interaction.channel.value,
        "direction": interaction.direction.value,
        "amount_minor": None if amount is None else amount.minor,
        "currency": None if amount is None else amount.currency,
        "owner": interaction.owner,
        "team": interaction.team,
        "campaign": interaction.campaign,
        "metadata": json.dumps(dict(interaction.metadata)) if interaction.metadata else None,
        "external_ref": interaction.external_ref,
    }


def interaction_from_row(row: Mapping[Any, Any]) -> Interaction:
    """An interaction from its row."""
    minor = row["amount_minor"]
    kind = row["kind"]
    return _hydrate(
        Interaction,
        id=InteractionId(row["id"]),
        customer_id=CustomerId(row["customer_id"]),
        occurred_at=from_us(row["occurred_at_us"]),
        kind=_KINDS.get(kind, kind),
        channel=_CHANNELS[row["channel"]],
        direction=_DIRECTIONS[row["direction"]],
        amount=None if minor is None else _hydrate(Money, minor=minor, currency=row["currency"]),
        owner=row["owner"],
        team=row["team"],
        campaign=row["campaign"],
        metadata=FrozenMap(json.loads(row["metadata"])) if row["metadata"] else FrozenMap(),
        external_ref=row["external_ref"],
        _events=[],
    )


# Stage histories


def stage_history_row(tenant: str, history: StageHistory, version: int) -> dict[str, Any]:
    """The ``crmkit_stage_histories`` row of a history, stored at ``version``."""
    return {
        "tenant_id": tenant,
        "model": history.model,
        "subject_kind": history.subject_kind.value,
        "subject_id": history.subject_id,
        "version": version,
        "stage": history.current,
        "entered_at_us": to_us(history.entered_at),
        "started_at_us": to_us(history.started_at),
    }


def stage_change_rows(
    tenant: str, history: StageHistory, first_seq: int = 0
) -> list[dict[str, Any]]:
    """The ``crmkit_stage_changes`` rows of a history's changes from position ``first_seq``."""
    return [
        {
            "tenant_id": tenant,
            "model": history.model,
            "subject_kind": history.subject_kind.value,
            "subject_id": history.subject_id,
            "seq": seq,
            "from_stage": change.from_stage,
            "to_stage": change.to_stage,
            "at_us": to_us(change.at),
            "reason": change.reason,
            "actor": change.actor,
            "rule": change.rule,
        }
        for seq, change in enumerate(history.changes[first_seq:], first_seq)
    ]


def stage_change_from_row(row: Mapping[Any, Any]) -> StageChange:
    """A stage change from its ``crmkit_stage_changes`` row."""
    return _hydrate(
        StageChange,
        from_stage=row["from_stage"],
        to_stage=row["to_stage"],
        at=from_us(row["at_us"]),
        reason=row["reason"],
        actor=row["actor"],
        rule=row["rule"],
    )


_SUBJECT_KINDS = SubjectKind._value2member_map_


def stage_history_from_rows(
    row: Mapping[Any, Any], changes: Iterable[Mapping[Any, Any]]
) -> StageHistory:
    """A history from its ``crmkit_stage_histories`` row and its change rows in ``seq`` order."""
    return _hydrate(
        StageHistory,
        subject_kind=_SUBJECT_KINDS[row["subject_kind"]],
        subject_id=row["subject_id"],
        model=row["model"],
        changes=tuple(stage_change_from_row(c) for c in changes),
        version=row["version"],
        _events=[],
    )


# Points ledgers


def _us_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else to_us(moment)


def at_or_none(micros: int | None) -> datetime | None:
    """The UTC datetime of a nullable microsecond column."""
    return None if micros is None else from_us(micros)


def points_entry_rows(
    tenant: str, ledger: PointsLedger, first_seq: int = 0
) -> list[dict[str, Any]]:
    """The ``crmkit_points_entries`` rows of a ledger's entries from position ``first_seq``."""
    programme, customer_id = ledger.programme.name, ledger.customer_id
    return [
        {
            "tenant_id": tenant,
            "programme": programme,
            "customer_id": customer_id,
            "seq": seq,
            "kind": entry.kind.value,
            "points": entry.points,
            "at_us": to_us(entry.at),
            "key": entry.key,
            "rule": entry.rule,
            "interaction_id": entry.interaction_id,
            "reference": entry.reference,
            "lot": entry.lot,
            "takes": json.dumps([[lot, points] for lot, points in entry.takes])
            if entry.takes
            else None,
            "spend": entry.spend,
            "occurred_at_us": _us_or_none(entry.occurred_at),
            "available_from_us": _us_or_none(entry.available_from),
            "expires_at_us": _us_or_none(entry.expires_at),
            "shortfall": entry.shortfall,
        }
        for seq, entry in enumerate(ledger.entries[first_seq:], first_seq)
    ]


_ENTRY_KINDS = EntryKind._value2member_map_


def points_entry_from_row(row: Mapping[Any, Any]) -> LedgerEntry:
    """A ledger entry from its ``crmkit_points_entries`` row."""
    # Ledgers are read whole on every booking: build entries without re-validating them.
    takes = row["takes"]
    entry = _NEW_ENTRY(LedgerEntry)
    _SET(entry, "seq", row["seq"])
    _SET(entry, "kind", _ENTRY_KINDS[row["kind"]])
    _SET(entry, "points", int(row["points"]))
    _SET(entry, "at", from_us(row["at_us"]))
    _SET(entry, "key", row["key"])
    _SET(entry, "rule", row["rule"])
    _SET(entry, "interaction_id", row["interaction_id"])
    _SET(entry, "reference", row["reference"])
    _SET(entry, "lot", row["lot"])
    _SET(
        entry,
        "takes",
        () if takes is None else tuple((lot, int(n)) for lot, n in json.loads(takes)),
    )
    _SET(entry, "spend", int(row["spend"]))
    _SET(entry, "occurred_at", at_or_none(row["occurred_at_us"]))
    _SET(entry, "available_from", at_or_none(row["available_from_us"]))
    _SET(entry, "expires_at", at_or_none(row["expires_at_us"]))
    _SET(entry, "shortfall", int(row["shortfall"]))
    return entry


_NEW_ENTRY = object.__new__


def points_balance_row(tenant: str, balance: PointsBalance, version: int) -> dict[str, Any]:
    """The ``crmkit_points_balances`` row of a ledger's summary, stored at ``version``."""
    return {
        "tenant_id": tenant,
        "programme": balance.programme,
        "customer_id": balance.customer_id,
        "available": balance.available,
        "pending": balance.pending,
        "tier": balance.tier,
        "entries": balance.entries,
        "last_at_us": _us_or_none(balance.last_at),
        "next_due_at_us": _us_or_none(balance.next_due_at),
        "version": version,
    }


def points_balance_from_row(row: Mapping[Any, Any]) -> PointsBalance:
    """A ledger's stored summary from its ``crmkit_points_balances`` row."""
    return _hydrate(
        PointsBalance,
        customer_id=row["customer_id"],
        programme=row["programme"],
        available=int(row["available"]),
        pending=int(row["pending"]),
        tier=row["tier"],
        entries=int(row["entries"]),
        last_at=at_or_none(row["last_at_us"]),
        next_due_at=at_or_none(row["next_due_at_us"]),
        version=int(row["version"]),
    )


# Referrals


def referral_row(tenant: str, referral: Referral, version: int) -> dict[str, Any]:
    """The ``crmkit_referrals`` row of a referral, stored at ``version``."""
    return {
        "tenant_id": tenant,
        "id": referral.id,
        "programme": referral.programme,
        "referrer_id": referral.referrer_id,
        "referee_id": referral.referee_id,
        "code": referral.code,
        "created_at_us": to_us(referral.created_at),
        "status": referral.status.value,
        "qualified_at_us": _us_or_none(referral.qualified_at),
        "qualifying_interaction_id": referral.qualifying_interaction_id,
        "rewarded_at_us": _us_or_none(referral.rewarded_at),
        "version": version,
    }


_REFERRAL_STATUSES = ReferralStatus._value2member_map_


def referral_from_row(row: Mapping[Any, Any]) -> Referral:
    """A referral from its ``crmkit_referrals`` row."""
    return _hydrate(
        Referral,
        id=row["id"],
        programme=row["programme"],
        referrer_id=row["referrer_id"],
        referee_id=row["referee_id"],
        created_at=from_us(row["created_at_us"]),
        code=row["code"],
        status=_REFERRAL_STATUSES[row["status"]],
        qualified_at=at_or_none(row["qualified_at_us"]),
        qualifying_interaction_id=row["qualifying_interaction_id"],
        rewarded_at=at_or_none(row["rewarded_at_us"]),
        version=int(row["version"]),
        _events=[],
    )
