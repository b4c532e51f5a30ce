"""Bounded work on untrusted documents: the wrong container is refused at once, every list has
a limit checked before its items are read, and any document of up to 10 MB is answered (a
value or a ValidationError) within a second."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, get_origin

import attrs
import pytest
from hypothesis import Phase, find, settings
from hypothesis import strategies as st

from crmkit import (
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerId,
    Money,
    PhoneNumber,
    PostalAddress,
    TraitDefinition,
    TraitSchema,
)
from crmkit.domain.customers.customer import MAX_CONSENTS, MAX_EXTERNAL_IDS, MAX_OTHER_CONTACTS
from crmkit.domain.customers.traits import MAX_TRAITS
from crmkit.domain.lifecycle.model import MAX_PROGRESSION_RULES, MAX_TRANSITIONS
from crmkit.domain.lifecycle.presets import CUSTOMER_LIFECYCLE
from crmkit.domain.rules.conditions import MAX_CONDITIONS
from crmkit.domain.values.contact import MAX_ADDRESS_LINES
from crmkit.errors import FieldError, ValidationError
from crmkit.events import DomainEvent
from crmkit.lifecycle import DurationStats, Funnel, FunnelStep, LifecycleModel, Stay
from crmkit.segments import AllOf, AnyOf, Condition, TagCondition
from crmkit.serialization import (
    FIELD_LIMITS,
    event_from_dict,
    from_json,
    structure,
    to_json,
    unstructure,
)
from tests.strategies import T0, serialisable_types

#: Any document of up to this size is answered within `BOUND` seconds.
MAX_DOCUMENT = 10_000_000
BOUND = 1.0

KINDS = serialisable_types()
CLASSES = [kind for kind in KINDS if attrs.has(kind)]
_COLLECTIONS = (tuple, list, frozenset, set, Mapping, dict)


def collection_fields(kind: type) -> list[str]:
    """The fields of ``kind`` (by their name in a document) that hold a list, set or map."""
    attrs.resolve_types(kind)
    return [
        field.alias
        for field in attrs.fields(kind)
        if field.init and (get_origin(field.type) or field.type) in _COLLECTIONS
    ]


LIST_FIELDS = [(kind, name) for kind in CLASSES for name in collection_fields(kind)]


def _id(value: Any) -> str:
    return value.__name__ if isinstance(value, type) else str(value)


@cache
def document_of(kind: type) -> Any:
    """A valid document of ``kind``, drawn once, with its lists filled where it can be."""

    def full(value: Any) -> bool:
        data = unstructure(value)
        return not isinstance(data, dict) or all(v not in ([], {}) for v in data.values())

    quick = settings(database=None, max_examples=50, phases=[Phase.generate], derandomize=True)
    try:
        value = find(st.from_type(kind), full, settings=quick)
    except Exception:  # no draw fills every list: any valid value will do
        value = find(st.from_type(kind), lambda _: True, settings=quick)
    return unstructure(value)


def elapsed(kind: type, call: Any) -> float:
    """Seconds ``call`` took; a ValidationError is an answer, anything else fails."""
    started = time.perf_counter()
    with contextlib.suppress(ValidationError):
        call()
    return time.perf_counter() - started


class TestWrongContainers:
    """A text, bytes or an object where a list belongs is refused at once, as one problem."""

    def test_a_text_where_the_rules_belong_is_one_problem_found_at_once(self) -> None:
        """The reproduction: 100,000 letters were read as 100,000 rules (12 s, 480 MB)."""
        document = {**unstructure(CUSTOMER_LIFECYCLE), "rules": "x" * 100_000}
        started = time.perf_counter()
        with pytest.raises(ValidationError) as caught:
            structure(document, LifecycleModel)
        assert time.perf_counter() - started < 0.1
        assert caught.value.paths == ("rules",)

    @pytest.mark.parametrize(("kind", "name"), LIST_FIELDS, ids=_id)
    @pytest.mark.parametrize("wrong", ["abc", b"abc", 7, True], ids=["str", "bytes", "int", "bool"])
    def test_a_scalar_where_a_collection_belongs_is_refused_at_its_field(
        self, kind: type, name: str, wrong: Any
    ) -> None:
        """Every list, set and mapping field of every serialisable type, alike."""
        document = {**document_of(kind), name: wrong}
        with pytest.raises(ValidationError) as caught:
            structure(document, kind)
        assert len(caught.value.errors) == 1, caught.value
        assert caught.value.paths[0].startswith(name), caught.value.paths

    @pytest.mark.parametrize(("kind", "name"), LIST_FIELDS, ids=_id)
    def test_an_object_where_a_list_belongs_and_a_list_where_an_object_belongs_are_refused(
        self, kind: type, name: str
    ) -> None:
        """The other container is the wrong one: never read key by key or item by item."""
        document = document_of(kind)
        wrong = [["a", "b"]] if isinstance(document[name], dict) else {"a": "b", "c": "d"}
        with pytest.raises(ValidationError) as caught:
            structure({**document, name: wrong}, kind)
        assert len(caught.value.errors) == 1, caught.value


class TestLimits:
    """Every list has a documented limit, checked before its items are read."""

    @pytest.mark.parametrize(("kind", "name"), LIST_FIELDS, ids=_id)
    def test_every_list_field_of_every_serialisable_type_has_a_limit(
        self, kind: type, name: str
    ) -> None:
        """`FIELD_LIMITS` names every list, set and mapping field: none is unbounded."""
        assert name in FIELD_LIMITS.get(kind, {}), f"{kind.__name__}.{name} has no limit"

    @pytest.mark.parametrize(("kind", "name"), LIST_FIELDS, ids=_id)
    def test_a_field_over_its_limit_is_refused_before_any_item_is_read(
        self, kind: type, name: str
    ) -> None:
        """Items that are all bad give one problem, the length, not one per item."""
        limit = FIELD_LIMITS[kind][name]
        document = document_of(kind)
        if isinstance(document[name], dict):
            too_many: Any = {f"k{i}": {"bad": True} for i in range(limit + 1)}
        else:
            too_many = [{"bad": True}] * (limit + 1)
        with pytest.raises(ValidationError) as caught:
            structure({**document, name: too_many}, kind)
        assert caught.value.paths == (name,)
        assert f"at most {limit}" in str(caught.value)

    def test_the_domain_enforces_the_same_limits_when_objects_are_built_in_python(self) -> None:
        """Not only documents: a customer, an address, a schema, a combination and a model
        over a limit are refused when built."""
        phone = ContactPoint(PhoneNumber("+4930123456"))
        consent = ConsentRecord("marketing", None, "granted", T0, "form")
        built = [
            lambda: Customer(CustomerId("c1"), T0, T0, other_contacts=[phone] * 21),
            lambda: Customer(CustomerId("c1"), T0, T0, consents=[consent] * (MAX_CONSENTS + 1)),
            lambda: Customer(
                CustomerId("c1"),
                T0,
                T0,
                external_ids={f"s{i}": "x" for i in range(MAX_EXTERNAL_IDS + 1)},
            ),
            lambda: Customer(CustomerId("c1"), T0, T0, traits={f"t{i}": 1 for i in range(101)}),
            lambda: PostalAddress("DE", lines=["x"] * (MAX_ADDRESS_LINES + 1)),
            lambda: TraitSchema(
                {f"t{i}": TraitDefinition("string") for i in range(MAX_TRAITS + 1)}
            ),
            lambda: AllOf([TagCondition("x")] * (MAX_CONDITIONS + 1)),
            lambda: AnyOf([TagCondition("x")] * (MAX_CONDITIONS + 1)),
            lambda: attrs.evolve(
                CUSTOMER_LIFECYCLE,
                transitions=[CUSTOMER_LIFECYCLE.transitions[0]] * (MAX_TRANSITIONS + 1),
            ),
            lambda: attrs.evolve(
                CUSTOMER_LIFECYCLE,
                rules=[CUSTOMER_LIFECYCLE.rules[0]] * (MAX_PROGRESSION_RULES + 1),
            ),
        ]
        assert MAX_OTHER_CONTACTS == 20
        for build in built:
            with pytest.raises(ValidationError, match="at most"):
                build()


class TestDocumentCeilings:
    """Whatever the type, a document is refused by its size before any field is read."""

    def test_a_document_of_more_than_250000_values_is_refused(self) -> None:
        """Thirty leaves of 10,000 members each: every list within its limit, too much in all."""
        members = {"type": "members", "ids": [f"c{i}" for i in range(10_000)]}
        document = {"type": "any_of", "conditions": [members] * 30}
        with pytest.raises(ValidationError, match="over 250000 values"):
            structure(document, Condition)

    @pytest.mark.parametrize(
        "number", [10**5000, -(10**30), 2**64], ids=["5000 digits", "-1e30", "2**64"]
    )
    def test_an_integer_beyond_64_bits_is_refused_without_being_printed(self, number: int) -> None:
        """Python cannot even print an integer of 5,000 digits: its size is shown instead."""
        with pytest.raises(ValidationError) as caught:
            structure({"amount": number, "currency": "EUR"}, Money)
        assert caught.value.paths == ("amount",)
        assert "beyond a signed 64-bit integer" in str(caught.value)
        if number == 10**5000:
            assert "an integer of 5001 digits" in str(caught.value)

    @pytest.mark.parametrize("number", [float("nan"), float("inf")])
    def test_a_number_that_is_not_finite_is_refused(self, number: float) -> None:
        """NaN and infinities are not JSON, wherever they are."""
        with pytest.raises(ValidationError, match="finite"):
            structure({"cohort": 1, "steps": [{"reached": number}]}, Funnel)


def _paths(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every list and object in ``data`` (the root first)."""
    if isinstance(data, dict | list):
        yield path
        items = data.items() if isinstance(data, dict) else enumerate(data)
        for key, value in items:
            yield from _paths(value, (*path, key))


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = _replaced(data[path[0]], path[1:], value)
    return copy


def _longer(node: Any, size: int) -> Any:
    """``node`` (a list or an object) made about ``size`` bytes long with copies of its first
    item (or of a small text)."""
    if isinstance(node, dict):
        first = next(iter(node.values()), "x")
        count = max(2, size // (len(json.dumps(first, default=str)) + 12))
        return {f"key{i}": first for i in range(min(count, 20_000))}
    first = node[0] if node else "x"
    return [first] * max(2, size // (len(json.dumps(first, default=str)) + 2))


def oversized(document: Any) -> Iterator[tuple[str, Any]]:
    """Hostile versions of ``document``: each of its (first six) lists grown to 10 MB (objects
    to 20,000 keys), and to the 10,000 items of the document ceiling; every text 100,000
    long; nesting 100,000 deep; 20,000 unknown keys."""
    for path in list(_paths(document))[:6]:
        node = document
        for part in path:
            node = node[part]
        yield f"{path} at 10 MB", _replaced(document, path, _longer(node, MAX_DOCUMENT - 1000))
        if isinstance(node, list):
            first = node[0] if node else "x"
            yield f"{path} at 10,000 items", _replaced(document, path, [first] * 10_000)

    def long_texts(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: long_texts(value) for key, value in node.items()}
        if isinstance(node, list):
            return [long_texts(value) for value in node]
        return "é" * 100_000 if isinstance(node, str) else node

    yield "every text 100,000 long", long_texts(document)
    deep: Any = document
    for _ in range(100_000):
        deep = [deep]
    yield "nested 100,000 deep", deep
    if isinstance(document, dict):
        yield "20,000 unknown keys", {**document, **{f"k{i}": 0 for i in range(20_000)}}


class TestBoundedTime:
    """Any document of up to 10 MB is accepted or refused within a second."""

    @pytest.mark.parametrize("kind", KINDS, ids=_id)
    def test_every_oversized_document_is_answered_within_a_second(self, kind: type) -> None:
        """Long lists in every list, long texts, deep nesting and many keys, as data."""
        for label, document in oversized(document_of(kind)):
            took = elapsed(kind, lambda d=document: structure(d, kind))
            assert took < BOUND, f"{kind.__name__}, {label}: {took:.2f} s"

    @pytest.mark.parametrize("kind", [Customer, LifecycleModel, DomainEvent], ids=_id)
    def test_a_10_mb_json_text_is_answered_within_a_second(self, kind: type) -> None:
        """Through `from_json`, parsing included: the longest list of each document."""
        document = document_of(kind)
        grown = [(label, hostile) for label, hostile in oversized(document) if "MB" in label]
        for label, hostile in grown[:3]:
            text = json.dumps(hostile, default=str)
            if len(text.encode()) > MAX_DOCUMENT:
                continue
            took = elapsed(kind, lambda t=text: from_json(t, kind))
            assert took < BOUND, f"{kind.__name__}, {label}: {took:.2f} s"


WRONG_SHAPES = ['"CustomerRegistered"', '""', "0", "-1", "12.5", "[]", "[{}]", "null", "true"]


class TestTopLevelShapes:
    """A JSON value of the wrong shape for the whole document is a ValidationError."""

    @pytest.mark.parametrize("text", WRONG_SHAPES)
    def test_a_bare_string_or_any_scalar_is_no_event(self, text: str) -> None:
        """The reproduction: ``from_json('"CustomerRegistered"', DomainEvent)`` raised
        AttributeError."""
        with pytest.raises(ValidationError) as caught:
            from_json(text, DomainEvent)
        assert caught.value.paths == ("type",)
        with pytest.raises(ValidationError):
            event_from_dict(json.loads(text))

    @pytest.mark.parametrize("kind", KINDS, ids=_id)
    @pytest.mark.parametrize("text", WRONG_SHAPES)
    def test_every_type_refuses_a_document_of_the_wrong_shape(self, kind: type, text: str) -> None:
        """Strings, numbers, lists, null and booleans, for every serialisable type."""
        with pytest.raises(ValidationError):
            from_json(text, kind)


class TestErrorMessages:
    """One message never spells out thousands of problems."""

    def test_a_message_lists_twenty_problems_and_counts_the_rest(self) -> None:
        """Every problem stays in ``errors``; the text says how many more there were."""
        error = ValidationError([FieldError(f"f{i}", i, "is bad") for i in range(1_000)])
        assert len(error.errors) == 1_000
        assert str(error).count("is bad") == ValidationError.MAX_REPORTED
        assert str(error).endswith("and 980 more problems")

    def test_a_document_with_a_thousand_bad_items_gives_a_short_message(self) -> None:
        """All of them reported, the message bounded."""
        document = {**unstructure(Customer(CustomerId("c1"), T0, T0)), "consents": [{}] * 1000}
        with pytest.raises(ValidationError) as caught:
            structure(document, Customer)
        assert len(caught.value.errors) > 1_000
        assert len(str(caught.value)) < 5_000
        assert "more problems" in str(caught.value)


class TestStorableValues:
    """What is accepted can be stored and written back."""

    @pytest.mark.parametrize("version", [2**70, 2**63, 2**31])
    def test_a_version_beyond_an_integer_column_is_refused(self, version: int) -> None:
        """Versions are INTEGER columns: ``2**70`` (or ``2**31``) cannot be stored."""
        document = {**unstructure(Customer(CustomerId("c1"), T0, T0)), "version": version}
        with pytest.raises(ValidationError) as caught:
            structure(document, Customer)
        assert caught.value.paths == ("version",)
        with pytest.raises(ValidationError):
            Customer(CustomerId("c1"), T0, T0, version=version)

    def test_duration_stats_round_trip_as_exact_seconds(self) -> None:
        """Durations are text of seconds to the microsecond, never floats."""
        week = timedelta(days=7, microseconds=1)
        stats = DurationStats(1, week, week, week, week, week, week)
        assert unstructure(stats)["total"] == "604800.000001"
        assert from_json(to_json(stats), DurationStats) == stats

    @pytest.mark.parametrize("total", ["1.0000001", "-1", "NaN", "1e999999", 86400])
    def test_a_bad_duration_is_refused(self, total: Any) -> None:
        """Below a microsecond, negative, not a number or not text."""
        week = timedelta(days=7)
        document = unstructure(DurationStats(1, week, week, week, week, week, week))
        with pytest.raises(ValidationError) as caught:
            structure({**document, "total": total}, DurationStats)
        assert caught.value.paths == ("total",)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("conversion_from_previous", float("nan")),
            ("conversion_from_start", float("inf")),
            ("conversion_from_start", -0.5),
            ("reached", -1),
            ("dropped", -3),
        ],
    )
    def test_a_funnel_step_with_nan_or_a_negative_count_is_refused(
        self, field: str, value: Any
    ) -> None:
        """They could not round-trip (NaN is not equal to itself), so they are refused."""
        good = {
            "stage": "lead",
            "reached": 3,
            "conversion_from_previous": 0.5,
            "conversion_from_start": 0.5,
            "dropped": 3,
        }
        with pytest.raises(ValidationError):
            FunnelStep(**{**good, field: value})
        with pytest.raises(ValidationError):
            structure({**good, field: value}, FunnelStep)

    def test_a_stay_with_a_naive_datetime_is_refused(self) -> None:
        """Like every other timestamp in crmkit."""
        with pytest.raises(ValidationError, match="naive"):
            Stay("lead", datetime(2024, 1, 1), None)
        assert Stay("lead", datetime(2024, 1, 1, tzinfo=UTC), None).left_at is None
