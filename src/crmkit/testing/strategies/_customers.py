"""Strategies for customers and their parts: traits, trait schemas, consent records."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from crmkit.domain import (
    Channel,
    ConsentRecord,
    ConsentStatus,
    Customer,
    CustomerId,
    DoubleOptIn,
    TraitDefinition,
    TraitSchema,
    TraitType,
    TraitValue,
)
from crmkit.domain.values.money import MAX_MINOR
from crmkit.testing.strategies._accounts import account_links
from crmkit.testing.strategies._values import (
    _STORABLE,
    _spaced,
    _text,
    contact_points,
    customer_ids,
    emails,
    ids,
    phone_numbers,
    postal_addresses,
    purposes,
    slugs,
    utc_datetimes,
)

#: Decimals equal to simpler ones, which a database comparing text could tell apart.
_EDGE_DECIMALS = tuple(
    Decimal(text)
    for text in (
        *("1." + "0" * 40, "0E-50", "-0", "-0.000", "0E+30", "2." + "0" * 25, "1E+2"),
        *("1E+30", "-1E-30", "9.99E+30", "1.0000000000000000000000000000001", "-12.50"),
    )
)


def _with_zeros(value: Decimal, zeros: int) -> Decimal:
    """``value`` written with ``zeros`` more trailing zeros (an equal decimal)."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, (*digits, *(0,) * zeros), exponent - zeros))


def _decimal_traits() -> st.SearchStrategy[Decimal]:
    """Decimal traits: plain ones, ones of any magnitude a trait allows (``1e±30``), the same
    with up to 40 trailing zeros, zeros of any exponent and sign, and the edge cases."""
    plain = st.decimals(
        allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=4
    )
    scaled = st.builds(
        lambda digits, exponent: Decimal(digits).scaleb(exponent),
        st.integers(-(10**6), 10**6),
        st.integers(-30, 24),
    )
    padded = st.builds(_with_zeros, plain | scaled, st.integers(0, 40))
    return plain | scaled | padded | st.sampled_from(_EDGE_DECIMALS)


def trait_values(kind: TraitType | None = None) -> st.SearchStrategy[TraitValue]:
    """Trait values of ``kind`` (any kind if ``None``)."""
    by_kind: dict[TraitType, st.SearchStrategy[Any]] = {
        TraitType.STRING: _spaced(st.text(_STORABLE, max_size=40)),
        TraitType.INTEGER: st.integers(-MAX_MINOR, MAX_MINOR),
        TraitType.DECIMAL: _decimal_traits(),
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
        "external_ids": st.dictionaries(slugs(10), _spaced(ids()), max_size=2),
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
