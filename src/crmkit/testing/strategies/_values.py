"""Strategies for the value types: instants, ids, slugs, money, email, phone, addresses."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from functools import cache

from hypothesis import strategies as st

from crmkit.domain import (
    AccountId,
    ContactPoint,
    CustomerId,
    EmailAddress,
    Money,
    PhoneNumber,
    PostalAddress,
)
from crmkit.domain._iso import COUNTRIES, CURRENCY_EXPONENTS
from crmkit.domain.values.contact import MAX_EXTENSION
from crmkit.domain.values.money import MAX_MINOR

EARLIEST = datetime(1990, 1, 1)
LATEST = datetime(2090, 1, 1)

# Any text a database can hold, from every plane (emoji included): everything but U+0000 and
# lone surrogates, which crmkit refuses (naming exclude_characters alone lets Hypothesis draw
# surrogates; the utf-8 codec cannot encode them).
_STORABLE = st.characters(codec="utf-8", exclude_characters="\x00")
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
    """Valid E.164 phone numbers from every region phonenumbers knows, last digits varied;
    some with an extension."""
    return st.builds(
        PhoneNumber,
        st.builds(
            lambda base, tail: base[: -len(tail)] + tail if tail else base,
            st.sampled_from(_example_numbers()),
            st.text(string.digits, max_size=2),
        ).filter(_valid_phone),
        st.none() | st.text(string.digits, min_size=1, max_size=MAX_EXTENSION),
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


def _spaced(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``text``, often with spaces (or a tab) before or after it: stored keys and compared
    values must tell ``"X1"`` from ``"X1 "`` on every backend, as Python does."""
    pads = st.sampled_from(["", " ", "   ", "\t"])
    return text | st.builds(lambda lead, core, trail: lead + core + trail, pads, text, pads)
