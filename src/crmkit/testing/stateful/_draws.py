"""The strategies the rules draw their arguments from: mostly cheap, often colliding values."""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle

from crmkit.domain import (
    AccountId,
    AccountLink,
    Channel,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    InteractionId,
    InteractionKind,
    Money,
)
from crmkit.testing import strategies
from crmkit.testing.stateful._config import (
    LIFECYCLE_KINDS,
    LOYALTY_KINDS,
    MEMBERS,
    START,
    TAGS,
    TENANTS,
    _Key,
)
from crmkit.testing.stateful._model import T


def _rarely() -> st.SearchStrategy[bool]:
    """True about one time in five; shrinks to False."""
    return st.integers(0, 4).map(lambda n: n == 4)


def _usually() -> st.SearchStrategy[bool]:
    """True about four times in five; shrinks to True."""
    return st.integers(0, 4).map(lambda n: n != 4)


def _sometimes(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """``None`` four times in five, else a value of ``strategy``."""
    return _rarely().flatmap(lambda yes: strategy if yes else st.none())


def _mostly(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """A value of ``strategy`` four times in five, else ``None``."""
    return _rarely().flatmap(lambda no: st.none() if no else strategy)


def _names() -> st.SearchStrategy[str | None]:
    letters = st.characters(codec="utf-8", categories=("L", "N", "P", "Zs"))
    return st.none() | st.text(letters, min_size=1, max_size=20)


def _account_links(account_ids: Bundle[AccountId]) -> st.SearchStrategy[AccountLink]:
    return st.builds(AccountLink, account_ids, st.sampled_from(["contact", "billing"]))


def _profile_changes(
    emails: Bundle[EmailAddress],
    external_keys: Bundle[tuple[str, str]],
    account_ids: Bundle[AccountId],
    *,
    keys: bool = True,
) -> st.SearchStrategy[dict[str, Any]]:
    """Changes for `Customer.update_profile`; with ``keys``, also of email and external ids
    (drawn from small pools, so they are often taken)."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "given_name": _names(),
        "family_name": _names(),
        "locale": st.none() | st.sampled_from(["en", "de-DE", "fr-CA"]),
        "tags": st.frozensets(st.sampled_from(TAGS)),
        "phone": st.none() | strategies.phone_numbers(),
        "address": st.none() | strategies.postal_addresses(),
        "account": st.none() | _account_links(account_ids),
    }
    if keys:
        optional["email"] = st.none() | emails
        optional["external_ids"] = st.lists(external_keys, max_size=2).map(dict)
    return st.fixed_dictionaries({}, optional=optional)


def _plain_customers() -> st.SearchStrategy[Customer]:
    """Customers with a few plain fields: cheap to draw, so that runs can be long."""
    return st.builds(
        functools.partial(Customer, id=CustomerId("template"), created_at=START, updated_at=START),
        given_name=st.none() | st.sampled_from(["Ada", "Grace", "Émilie"]),
        tags=st.frozensets(st.sampled_from(TAGS)),
        consents=st.lists(strategies.consent_records(), max_size=1),
    )


def _customer_templates() -> st.SearchStrategy[Customer]:
    """Mostly plain customers; one time in five, one with every field exercised
    (`strategies.customers`), to hold the adapter's mapping of each field to the model's."""
    return _rarely().flatmap(lambda rich: strategies.customers() if rich else _plain_customers())


def _plain_interactions() -> st.SearchStrategy[Interaction]:
    """Interactions with only the required fields: cheap to draw."""
    return st.builds(
        Interaction,
        id=strategies.ids().map(InteractionId),
        customer_id=st.just(CustomerId("c1")),
        occurred_at=st.just(START),
        kind=st.sampled_from(InteractionKind),
        channel=st.sampled_from(Channel),
    )


def _kinds() -> st.SearchStrategy[str | None]:
    """``None`` (the template's kind, any), or a kind the lifecycle rules or the loyalty
    programme count."""
    return st.none() | st.sampled_from(LIFECYCLE_KINDS) | st.sampled_from(LOYALTY_KINDS)


def _euros() -> st.SearchStrategy[Money | None]:
    """What a purchase spends, four times in five: up to 300 EUR (so that it earns up to
    300 points, more with the multipliers); else ``None``, the template's amount."""
    return _mostly(st.builds(Money, st.integers(0, 30_000), st.just("EUR")))


def _members(customer_keys: Bundle[_Key]) -> st.SearchStrategy[_Key]:
    """A customer registered, or one of `MEMBERS` (registered or not) in either tenant."""
    return customer_keys | st.tuples(st.sampled_from(TENANTS), st.sampled_from(MEMBERS))
