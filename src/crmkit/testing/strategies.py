"""Hypothesis strategies for every public crmkit type, valid by construction.

Use them directly (``customers()``, ``money(currency="EUR")``) or through
``st.from_type(Customer)``: installing crmkit registers them with Hypothesis through its
``hypothesis`` entry point. Every strategy shrinks towards small, plain values.
"""

from __future__ import annotations

import string
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st

from crmkit.domain import (
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
    TraitDefinition,
    TraitSchema,
    TraitType,
    TraitValue,
)
from crmkit.domain._iso import COUNTRIES, CURRENCY_EXPONENTS
from crmkit.domain.money import MAX_MINOR

__all__ = [
    "account_ids",
    "account_links",
    "accounts",
    "consent_records",
    "contact_points",
    "currencies",
    "customer_ids",
    "customers",
    "domain_events",
    "emails",
    "ids",
    "interactions",
    "money",
    "phone_numbers",
    "postal_addresses",
    "purposes",
    "slugs",
    "tenants",
    "trait_definitions",
    "trait_schemas",
    "trait_values",
    "traits",
    "utc_datetimes",
    "web_domains",
]

EARLIEST = datetime(1990, 1, 1)
LATEST = datetime(2090, 1, 1)

# Any text a database can hold: everything but U+0000 (and surrogates, which Hypothesis
# never draws for text anyway).
_STORABLE = st.characters(exclude_characters="\x00")
_ID_ALPHABET = string.ascii_letters + string.digits + "_-"
_LOCAL_ALPHABET = string.ascii_lowercase + string.digits + "!#$%&'*+/=?^_`{|}~-"


def utc_datetimes(
    min_value: datetime = EARLIEST, max_value: datetime = LATEST
) -> st.SearchStrategy[datetime]:
    """Timezone-aware UTC datetimes between two naive bounds (read as UTC)."""
    return st.datetimes(
        min_value=min_value.replace(tzinfo=None),
        max_value=max_value.replace(tzinfo=None),
        timezones=st.just(UTC),
    )


def ids() -> st.SearchStrategy[str]:
    """Well-formed ids: 1-24 URL-safe characters starting with a letter or digit."""
    return st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(string.ascii_letters + string.digits),
        st.text(_ID_ALPHABET, max_size=23),
    )


def customer_ids() -> st.SearchStrategy[CustomerId]:
    """Customer ids."""
    return ids().map(CustomerId)


def account_ids() -> st.SearchStrategy[AccountId]:
    """Account ids."""
    return ids().map(AccountId)


def tenants() -> st.SearchStrategy[str]:
    """Tenant ids: lower-case slugs."""
    return st.from_regex(r"[a-z0-9][a-z0-9_\-]{0,15}", fullmatch=True)


def slugs(max_size: int = 20) -> st.SearchStrategy[str]:
    """Lower-case slugs (purposes, trait names, roles, kinds)."""
    return st.from_regex(rf"[a-z][a-z0-9_]{{0,{max_size - 1}}}", fullmatch=True)


def purposes() -> st.SearchStrategy[str]:
    """Consent purposes: mostly the usual ones, sometimes any slug."""
    return st.sampled_from(["marketing", "newsletter", "profiling", "surveys"]) | slugs()


def currencies() -> st.SearchStrategy[str]:
    """Active ISO 4217 currency codes, shrinking towards EUR."""
    return st.sampled_from(["EUR", "USD", "JPY", "KWD", *sorted(CURRENCY_EXPONENTS)])


def money(
    currency: str | None = None, min_minor: int = -(10**12), max_minor: int = 10**12
) -> st.SearchStrategy[Money]:
    """Money in ``currency`` (any if ``None``), between two amounts of minor units."""
    codes = st.just(currency) if currency is not None else currencies()
    lo, hi = max(min_minor, -MAX_MINOR), min(max_minor, MAX_MINOR)
    return st.builds(Money, st.integers(lo, hi), codes)


def _label() -> st.SearchStrategy[str]:
    return st.from_regex(r"[a-z0-9]([a-z0-9\-]{0,6}[a-z0-9])?", fullmatch=True)


def web_domains() -> st.SearchStrategy[str]:
    """Normalised web domains such as ``ab-c.example``."""
    tld = st.from_regex(r"[a-z]{2,6}", fullmatch=True)
    return st.builds(
        lambda labels, top: ".".join([*labels, top]),
        st.lists(_label(), min_size=1, max_size=3),
        tld,
    )


def emails() -> st.SearchStrategy[EmailAddress]:
    """Valid email addresses (ASCII, with the special characters an address may hold)."""
    atom = st.text(_LOCAL_ALPHABET, min_size=1, max_size=10)
    local = st.lists(atom, min_size=1, max_size=3).map(".".join)
    return st.builds(lambda lp, d: EmailAddress(f"{lp}@{d}"), local, web_domains())


@cache
def _example_numbers() -> tuple[str, ...]:
    import phonenumbers

    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number_for_type(
            region, phonenumbers.PhoneNumberType.MOBILE
        ) or phonenumbers.example_number(region)
        if number is not None:
            found.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return tuple(found)


def _valid_phone(e164: str) -> bool:
    import phonenumbers

    return bool(phonenumbers.is_valid_number(phonenumbers.parse(e164, None)))


def phone_numbers() -> st.SearchStrategy[PhoneNumber]:
    """Valid E.164 phone numbers from every region phonenumbers knows, last digits varied."""
    return (
        st.builds(
            lambda base, tail: base[: -len(tail)] + tail if tail else base,
            st.sampled_from(_example_numbers()),
            st.text(string.digits, max_size=2),
        )
        .filter(_valid_phone)
        .map(PhoneNumber)
    )


def _text(max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(
        st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")),
        min_size=1,
        max_size=max_size,
    ).filter(lambda s: s.strip() != "")


def postal_addresses() -> st.SearchStrategy[PostalAddress]:
    """Postal addresses with any ISO country and optional lines, city, region, code."""
    return st.builds(
        PostalAddress,
        country=st.sampled_from(sorted(COUNTRIES)),
        lines=st.lists(_text(), max_size=3).map(tuple),
        city=st.none() | _text(),
        region=st.none() | _text(),
        postal_code=st.none() | st.from_regex(r"[0-9A-Z]{3,8}", fullmatch=True),
    )


def contact_points() -> st.SearchStrategy[ContactPoint]:
    """Further contact points, email or phone, with an optional label."""
    return st.builds(
        ContactPoint,
        st.one_of(emails(), phone_numbers()),
        st.none() | st.sampled_from(["work", "home", "assistant"]),
    )


def trait_values(kind: TraitType | None = None) -> st.SearchStrategy[TraitValue]:
    """Trait values of ``kind`` (any kind if ``None``)."""
    by_kind: dict[TraitType, st.SearchStrategy[Any]] = {
        TraitType.STRING: st.text(_STORABLE, max_size=40),
        TraitType.INTEGER: st.integers(-MAX_MINOR, MAX_MINOR),
        TraitType.DECIMAL: st.decimals(
            allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=4
        ).map(lambda d: d if d != 0 else Decimal(0)),
        TraitType.BOOLEAN: st.booleans(),
        TraitType.DATE: st.dates(date(1900, 1, 1), date(2100, 1, 1)),
        TraitType.DATETIME: utc_datetimes(),
        TraitType.STRING_LIST: st.lists(st.text(_STORABLE, max_size=15), max_size=4).map(tuple),
    }
    if kind is not None:
        return by_kind[kind]
    return st.one_of(*by_kind.values())


def trait_definitions(*, required: bool = False) -> st.SearchStrategy[TraitDefinition]:
    """Trait definitions of any type; ``required=True`` lets some be required."""
    return st.builds(
        TraitDefinition,
        st.sampled_from(list(TraitType)),
        st.booleans() if required else st.just(False),
        st.none() | _text(40),
    )


def trait_schemas() -> st.SearchStrategy[TraitSchema]:
    """Trait schemas declaring a few typed traits, none required."""
    definitions = st.dictionaries(slugs(12), trait_definitions(), max_size=5)
    return st.builds(TraitSchema, definitions, st.booleans())


def traits(schema: TraitSchema | None = None) -> st.SearchStrategy[dict[str, TraitValue]]:
    """Trait mappings; with ``schema``, only declared traits of the declared types."""
    if schema is None:
        return st.dictionaries(slugs(12), trait_values(), max_size=4)
    if not schema.traits:
        return st.just({})
    return st.fixed_dictionaries(
        {},
        optional={name: trait_values(d.type) for name, d in schema.traits.items()},
    )


def consent_records(
    *, channel: Channel | None = None, purpose: str | None = None
) -> st.SearchStrategy[ConsentRecord]:
    """Consent records; fix ``channel`` or ``purpose`` to focus on one decision."""
    return st.builds(
        ConsentRecord,
        purpose=st.just(purpose) if purpose is not None else purposes(),
        channel=st.just(channel) if channel is not None else st.none() | st.sampled_from(Channel),
        status=st.sampled_from(ConsentStatus),
        at=utc_datetimes(),
        source=st.sampled_from(["signup_form", "checkout", "call_centre", "import"]),
        method=st.none() | st.sampled_from(["checkbox", "verbal", "unsubscribe_link"]),
        evidence=st.none() | ids(),
        double_opt_in=st.sampled_from(DoubleOptIn),
    )


def account_links() -> st.SearchStrategy[AccountLink]:
    """Links from a customer to an account, with a role."""
    return st.builds(
        AccountLink, account_ids(), st.sampled_from(["contact", "billing", "decision_maker"])
    )


def customers(
    *, customer_id: str | None = None, schema: TraitSchema | None = None
) -> st.SearchStrategy[Customer]:
    """Customers as stored (version 0, no pending events), every field exercised."""
    # The parts are built once, not on every draw: composites re-created per example are slow.
    ident = st.just(CustomerId(customer_id)) if customer_id else customer_ids()
    name = st.none() | _text(20)
    locale = st.none() | st.sampled_from(["en", "en-GB", "de-DE", "fr-CA", "zh-Hant-TW"])
    tags = st.frozensets(st.sampled_from(["vip", "b2b", "newsletter"]) | slugs(), max_size=4)
    parts = {
        "given_name": name,
        "family_name": name,
        "email": st.none() | emails(),
        "phone": st.none() | phone_numbers(),
        "other_contacts": st.lists(contact_points(), max_size=2).map(tuple),
        "address": st.none() | postal_addresses(),
        "locale": locale,
        "tags": tags,
        "traits": traits(schema),
        "consents": st.lists(consent_records(), max_size=3).map(tuple),
        "external_ids": st.dictionaries(slugs(10), ids(), max_size=2),
        "account": st.none() | account_links(),
    }
    return st.builds(
        lambda created, later, fields: Customer(
            created_at=created, updated_at=max(created, later), **fields
        ),
        utc_datetimes(),
        utc_datetimes(),
        st.fixed_dictionaries({"id": ident, **parts}),
    )


def accounts() -> st.SearchStrategy[Account]:
    """Accounts as stored (version 0)."""
    return st.builds(
        lambda created, later, fields: Account(
            created_at=created, updated_at=max(created, later), **fields
        ),
        utc_datetimes(),
        utc_datetimes(),
        st.fixed_dictionaries(
            {
                "id": account_ids(),
                "name": _text(40),
                "domain": st.none() | web_domains(),
                "industry": st.none() | st.sampled_from(["retail", "software", "logistics"]),
                "size": st.none() | st.sampled_from(CompanySize),
            }
        ),
    )


def interactions(
    *,
    customer_id: str | None = None,
    kinds: list[str] | None = None,
    currency: str | None = None,
    min_time: datetime = EARLIEST,
    max_time: datetime = LATEST,
) -> st.SearchStrategy[Interaction]:
    """Interactions, optionally of one customer, some kinds, one currency, a time range."""
    kind = st.sampled_from(kinds) if kinds else st.sampled_from(InteractionKind) | slugs()
    metadata = st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        st.one_of(st.text(_STORABLE, max_size=20), st.integers(-(10**9), 10**9), st.booleans()),
        max_size=3,
    )
    return st.builds(
        Interaction,
        id=ids().map(InteractionId),
        customer_id=st.just(CustomerId(customer_id)) if customer_id else customer_ids(),
        occurred_at=utc_datetimes(min_time, max_time),
        kind=kind,
        channel=st.sampled_from(Channel),
        direction=st.sampled_from(Direction),
        amount=st.none() | money(currency),
        owner=st.none() | st.sampled_from(["alice", "bob"]),
        team=st.none() | st.sampled_from(["sales", "support"]),
        campaign=st.none() | st.sampled_from(["spring_sale", "welcome"]),
        metadata=metadata,
        external_ref=st.none() | ids(),
    )


def domain_events(of: type[DomainEvent] = DomainEvent) -> st.SearchStrategy[DomainEvent]:
    """Domain events: any kind, or only those of class ``of`` (e.g. `CustomerRegistered`)."""
    at = utc_datetimes()
    cid = customer_ids()
    fields = st.lists(
        st.sampled_from(["email", "tags", "traits", "address"]), min_size=1, unique=True
    )
    by_class: dict[type[DomainEvent], st.SearchStrategy[DomainEvent]] = {
        CustomerRegistered: st.builds(CustomerRegistered, at, customer_id=cid),
        CustomerProfileChanged: st.builds(
            CustomerProfileChanged, at, customer_id=cid, fields=fields.map(tuple)
        ),
        ConsentChanged: st.builds(
            ConsentChanged,
            at,
            customer_id=cid,
            purpose=purposes(),
            channel=st.none() | st.sampled_from(Channel),
            status=st.sampled_from(ConsentStatus),
        ),
        InteractionRecorded: st.builds(
            InteractionRecorded,
            at,
            customer_id=cid,
            interaction_id=ids().map(InteractionId),
            kind=st.sampled_from(InteractionKind),
            channel=st.sampled_from(Channel),
            occurred_at=utc_datetimes(),
        ),
        AccountRegistered: st.builds(AccountRegistered, at, account_id=account_ids()),
        AccountChanged: st.builds(
            AccountChanged, at, account_id=account_ids(), fields=st.just(("name",))
        ),
    }
    chosen = [strategy for cls, strategy in by_class.items() if issubclass(cls, of)]
    return st.one_of(*chosen)
