"""Private Hypothesis helpers for crmkit's own tests (the public ones live in
`crmkit.testing.strategies`)."""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from functools import cache
from types import ModuleType
from typing import Any

import attrs
from hypothesis import strategies as st

from crmkit import (
    Account,
    AccountLink,
    Channel,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    DoubleOptIn,
    EmailAddress,
    Interaction,
    Money,
    PhoneNumber,
    PostalAddress,
    TraitSchema,
)
from crmkit.testing import strategies as cs

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@cache
def customers() -> st.SearchStrategy[Customer]:
    """Customers like `crmkit.testing.strategies.customers`, from the same public parts.

    The public strategy builds its sub-strategies anew on every draw, which makes it about
    three times slower; this one builds them once, to keep the suite's properties fast.
    """
    names = st.none() | st.text(
        st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20
    )
    parts = {
        "id": cs.customer_ids(),
        "given_name": names,
        "family_name": names,
        "email": st.none() | cs.emails(),
        "phone": st.none() | cs.phone_numbers(),
        "other_contacts": st.lists(cs.contact_points(), max_size=2).map(tuple),
        "address": st.none() | cs.postal_addresses(),
        "locale": st.none() | st.sampled_from(["en", "en-GB", "de-DE", "zh-Hant-TW"]),
        "tags": st.frozensets(st.sampled_from(["vip", "b2b"]) | cs.slugs(), max_size=4),
        "traits": cs.traits(),
        "consents": st.lists(cs.consent_records(), max_size=3).map(tuple),
        "external_ids": st.dictionaries(cs.slugs(10), cs.ids(), max_size=2),
        "account": st.none() | cs.account_links(),
        "version": st.integers(0, 5),
    }
    times = st.tuples(cs.utc_datetimes(), cs.utc_datetimes()).map(sorted)
    return st.builds(
        lambda when, fields: Customer(created_at=when[0], updated_at=when[1], **fields),
        times,
        st.fixed_dictionaries(parts),
    )


#: Every type `crmkit.serialization.structure` builds, with a public strategy for it.
STRUCTURABLE: dict[type, st.SearchStrategy[Any]] = {
    Account: cs.accounts(),
    AccountLink: cs.account_links(),
    ConsentRecord: cs.consent_records(),
    ContactPoint: cs.contact_points(),
    Customer: customers(),
    EmailAddress: cs.emails(),
    Interaction: cs.interactions(),
    Money: cs.money(),
    PhoneNumber: cs.phone_numbers(),
    PostalAddress: cs.postal_addresses(),
    TraitSchema: cs.trait_schemas(),
}

STRUCTURABLE_TYPES = sorted(STRUCTURABLE, key=lambda t: t.__name__)


def surrogate_texts(max_size: int = 8) -> st.SearchStrategy[str]:
    """Text holding at least one lone surrogate (U+D800-U+DFFF): a Python ``str`` and a JSON
    ``"\\ud800"`` escape can, but no encoder or database can write it."""
    lone = st.integers(0xD800, 0xDFFF).map(chr)
    return st.builds(
        lambda head, middle, tail: head + middle + tail,
        st.text(max_size=max_size),
        st.lists(lone, min_size=1, max_size=3).map("".join),
        st.text(max_size=max_size),
    )


def huge_integers(*, past_the_text_limit: bool = True) -> st.SearchStrategy[int]:
    """Integers far beyond 64 bits; with ``past_the_text_limit``, also of more digits than
    Python turns into text (4,300), which no JSON text can hold but a Python caller can pass."""
    digits = [19, 20, 40, 4000, *([4300, 4301, 5000] if past_the_text_limit else [])]
    return st.builds(
        lambda sign, exponent, low: sign * (10**exponent + low),
        st.sampled_from([1, -1]),
        st.sampled_from(digits),
        st.integers(0, 10**6),
    )


#: The offsets a time zone can have: up to a day either side.
OFFSETS = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
)


def any_datetimes() -> st.SearchStrategy[datetime]:
    """Aware datetimes of the whole range (the years 1-9999) in zones of any offset, often at
    the very ends, where conversion to UTC may fall outside the range."""
    ends = st.sampled_from([datetime.min, datetime.max, datetime(1, 1, 2), datetime(9999, 12, 30)])
    local = st.datetimes() | ends
    return st.builds(lambda at, offset: at.replace(tzinfo=timezone(offset)), local, OFFSETS)


@cache
def hostile_scalars() -> st.SearchStrategy[Any]:
    """Values a careless or hostile caller sends where text, numbers or instants belong."""
    return st.one_of(
        surrogate_texts(),
        huge_integers(),
        any_datetimes(),
        st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-14:00", "\x00"]),
    )


@cache
def json_scalars() -> st.SearchStrategy[Any]:
    """What a JSON document holds at its leaves (floats included: untrusted input has them)."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
        st.sampled_from(["", "EUR", "email", "granted", "2024-01-01T00:00:00+00:00", "1.50"]),
        surrogate_texts(),
        huge_integers(past_the_text_limit=False),
        st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-14:00"]),
    )


@cache
def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars, lists and objects, nested a few levels."""
    return st.recursive(
        json_scalars(),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


@cache
def wrong_values() -> st.SearchStrategy[Any]:
    """Values of every awkward type a host might pass by mistake."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=5),
        st.binary(max_size=3),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
        st.sampled_from([datetime(2024, 1, 1), T0, date(2024, 1, 1)]),
        st.decimals(),
        st.builds(object),
        hostile_scalars(),
    )


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """``document`` (JSON data) with one to three random edits: a key dropped, a value
    replaced by any JSON value (often of another type), an unknown key added."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        parent: Any = None
        node = document
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            keys = sorted(node) if isinstance(node, dict) else range(len(node))
            parent, node = node, node[draw(st.sampled_from(list(keys)))]
        if not isinstance(node, dict | list) or not node:
            node = parent if parent is not None else document
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            action = draw(st.sampled_from(["drop", "replace", "add"]))
            if action == "drop":
                del node[key]
            elif action == "replace":
                node[key] = draw(json_values(4))
            else:
                node[draw(st.text(min_size=1, max_size=8))] = draw(json_values(4))
        elif isinstance(node, list) and node:
            node[draw(st.integers(0, len(node) - 1))] = draw(json_values(4))
        else:
            document = draw(json_values(4))
    return document


def instants(days: int = 3) -> st.SearchStrategy[datetime]:
    """A few distinct instants near ``T0``, so that generated histories often tie."""
    return st.integers(0, days * 4).map(lambda n: T0 + timedelta(hours=6 * n))


def consent_histories(purpose: str = "marketing") -> st.SearchStrategy[list[ConsentRecord]]:
    """Consent records of one purpose over any channel (or all), at a few close instants."""
    record = st.builds(
        ConsentRecord,
        purpose=st.sampled_from([purpose, "other_purpose"]),
        channel=st.none() | st.sampled_from([Channel.EMAIL, Channel.SMS]),
        status=st.sampled_from(ConsentStatus),
        at=instants(),
        source=st.just("test"),
        double_opt_in=st.sampled_from(DoubleOptIn),
    )
    return st.lists(record, max_size=8)


#: Top-level modules of crmkit that are layers, not facades: a user reaches their public
#: classes through ``crmkit`` or a facade module (``crmkit.segments``, ``crmkit.ports``, …).
NOT_FACADES = frozenset({"adapters", "app", "cli", "domain", "front", "testing"})

#: The unions `structure` builds from a tag, though they are not attrs classes themselves (or
#: are only a base class): ``structure(data, Condition)`` picks the class from ``"type"``.
UNIONS = frozenset({"Condition", "DomainEvent"})

#: Public crmkit types that are deliberately not data, so have no JSON form:
#: - `Facts` holds arbitrary field values (even a whole customer) for evaluating a rule;
#: - `Page` is a generic container of other types (a page of customers, of interactions …);
#: - `OutboxMessage` is the outbox's own record: adapters store its event with
#:   `event_to_dict`, and `to_json` writes only the fields every event has (no ``"type"``).
NOT_SERIALISABLE = frozenset({"Facts", "OutboxMessage", "Page"})


def public_modules() -> list[ModuleType]:
    """``crmkit`` and each of its public facade modules (every top-level module but the
    private ones and `NOT_FACADES`), so that a new facade is walked the day it is born."""
    import crmkit

    names = sorted(
        info.name
        for info in pkgutil.iter_modules(crmkit.__path__)
        if not info.name.startswith("_") and info.name not in NOT_FACADES
    )
    return [crmkit, *(importlib.import_module(f"crmkit.{name}") for name in names)]


def public_types() -> dict[str, type]:
    """Every public class of crmkit that is data: the attrs classes, the enums and the
    `UNIONS` that ``crmkit`` and its facades export, by name (one name per class)."""
    found: dict[str, type] = {}
    for module in public_modules():
        for name in getattr(module, "__all__", ()):
            kind = getattr(module, name)
            if not isinstance(kind, type) or kind in found.values():
                continue
            if attrs.has(kind) or name in UNIONS or issubclass(kind, Enum):
                found[name] = kind
    return dict(sorted(found.items()))


def serialisable_types() -> list[type]:
    """Every public type of `public_types` that is an attrs class or a union, but those
    `NOT_SERIALISABLE`: each one `crmkit.serialization` writes and reads back."""
    return [
        kind
        for name, kind in public_types().items()
        if name not in NOT_SERIALISABLE and not issubclass(kind, Enum)
    ]


#: Values an attacker or a broken client puts where a valid one was (see `hostile_values`).
EDGE_DATETIMES = (
    # Finding 13 (helper `values`): the edge of the datetime range overflows when moved to UTC.
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
)


@cache
def hostile_values() -> st.SearchStrategy[Any]:
    """Hostile leaves: lone surrogates, integers of 5,000 digits, edge datetimes, NaN and
    infinities, huge exponents, wrong containers, control characters."""
    return st.one_of(
        # Finding 11 (helper `values`): lone surrogates, which no database can store.
        st.sampled_from(["\ud800", "a\udfffb", "\x00", "\u202e", "ǅ", "İ", " x "]),
        # Finding 12 (helper `values`): integers whose repr Python refuses (over 4,300 digits).
        st.sampled_from([10**5000, -(10**5000), 2**63, -(2**63) - 1, 2**31, 2**70]),
        st.sampled_from(EDGE_DATETIMES),
        st.sampled_from(["0001-01-01", "9999-12-31", "2024-02-30", "T", "P1D"]),
        st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 1e308]),
        st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("1E+999999999")]),
        st.sampled_from(["NaN", "-Infinity", "1e999999", "1E-999999", "0E-50", "-0"]),
        st.sampled_from(["", "[]", "{}", "null", "x" * 5_000, "é" * 2_001]),
        st.sampled_from([[], {}, [[]], [{}], {"": None}, {"type": None}]),
    )


def _nested(depth: int) -> Any:
    deep: Any = {"type": "tag", "tag": "x"}
    for _ in range(depth):
        deep = {"type": "not", "condition": deep}
    return deep


def _printable(node: Any) -> bool:
    """Whether ``json.dumps`` can write ``node`` (not an integer of thousands of digits)."""
    if isinstance(node, int):
        return node.bit_length() < 10_000
    if isinstance(node, dict):
        return all(_printable(v) for v in node.values())
    if isinstance(node, list):
        return all(_printable(v) for v in node)
    return True


def _replacement(draw: st.DrawFn, how: str, node: Any) -> Any:
    if how == "value":
        # A copy: a later edit may go inside it, and the strategy's lists and objects are
        # shared by every draw (editing them would change what later examples draw).
        return copy.deepcopy(draw(hostile_values()))
    if how == "text":
        return "x" * draw(st.sampled_from([1, 100, 100_000]))
    if how == "object":
        return {"0": node}
    if how == "list":
        return [node]
    if how == "repeated":  # past the 10,000 items any list may hold; small, to stay cheap
        small = _printable(node) and len(json.dumps(node, default=str)) < 200
        return [node if small else 0] * 12_000
    return _nested(60)


@st.composite
def hostilely_mutated(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one to three random nodes replaced by something hostile: a value of
    `hostile_values`, the node in the wrong container (a text, an object, a list), a list of
    12,000 copies of it, or nesting 60 levels deep. (Later edits never go inside a list of
    copies, so that a document stays a few megabytes at most.)"""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        parent: Any = None
        key: Any = None
        node = document
        while isinstance(node, dict | list) and 0 < len(node) < 12_000 and draw(st.booleans()):
            keys = sorted(node) if isinstance(node, dict) else range(len(node))
            key = draw(st.sampled_from(list(keys)))
            parent, node = node, node[key]
        how = draw(st.sampled_from(["value", "text", "object", "list", "repeated", "deep"]))
        replacement = _replacement(draw, how, node)
        if parent is None:
            document = replacement
        else:
            parent[key] = replacement
    return document
