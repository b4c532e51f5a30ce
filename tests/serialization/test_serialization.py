"""Lossless conversion between crmkit's types and JSON, and strictness with untrusted input."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import (
    Account,
    AccountLink,
    Channel,
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    Money,
    PhoneNumber,
    PostalAddress,
    TraitDefinition,
    TraitSchema,
)
from crmkit.errors import ValidationError
from crmkit.events import CustomerRegistered, DomainEvent
from crmkit.serialization import (
    EVENT_TYPES,
    event_from_dict,
    event_to_dict,
    from_json,
    structure,
    to_json,
    unstructure,
)
from crmkit.testing.strategies import domain_events
from tests.strategies import STRUCTURABLE, STRUCTURABLE_TYPES, T0, json_values, mutated

JSON_SCALARS = (str, int, bool, type(None))


def is_plain_json(data: Any) -> bool:
    """True when ``data`` is made of dicts with text keys, lists and JSON scalars only."""
    if isinstance(data, dict):
        return all(isinstance(k, str) and is_plain_json(v) for k, v in data.items())
    if isinstance(data, list):
        return all(is_plain_json(v) for v in data)
    return isinstance(data, JSON_SCALARS)


def ada() -> Customer:
    return Customer.register(
        CustomerId("c1"),
        at=T0,
        email=EmailAddress("ada@example.com"),
        tags={"vip", "b2b"},
        traits={
            "plan": "pro",
            "seats": 12,
            "score": Decimal("1.50"),
            "trial": False,
            "renews": date(2024, 5, 1),
            "seen_at": T0,
            "langs": ("de", "en"),
        },
        consents=[ConsentRecord("marketing", Channel.EMAIL, "granted", T0, "form")],
        address=PostalAddress("DE", lines=["Main St 1"], city="Berlin"),
        other_contacts=[ContactPoint(PhoneNumber("+4930123456"), "work")],
    )


class TestRoundTrip:
    """``structure(unstructure(x), type(x)) == x`` for every public type."""

    @pytest.mark.parametrize("kind", STRUCTURABLE_TYPES, ids=lambda t: t.__name__)
    @given(data=st.data())
    def test_every_type_survives_data_and_json(self, kind: type, data: st.DataObject) -> None:
        """Through plain data and through JSON text, each value comes back equal."""
        value = data.draw(STRUCTURABLE[kind])
        document = unstructure(value)
        assert is_plain_json(document)
        assert structure(document, kind) == value
        assert from_json(to_json(value), kind) == value

    @given(domain_events())
    def test_every_event_survives_its_tagged_dict_and_json(self, event: DomainEvent) -> None:
        """Events are tagged with their class name and come back as the same class."""
        document = event_to_dict(event)
        assert document["type"] == type(event).__name__
        assert event_from_dict(document) == event
        assert event_from_dict(json.loads(json.dumps(document))) == event
        assert event_from_dict(json.loads(to_json(event))) == event

    @pytest.mark.parametrize("cls", sorted(EVENT_TYPES.values(), key=lambda c: c.__name__))
    @given(data=st.data())
    def test_events_of_every_registered_class_are_drawn_and_round_trip(
        self, cls: type[DomainEvent], data: st.DataObject
    ) -> None:
        """`domain_events` draws each class of `EVENT_TYPES` (loyalty and referral events
        included), and each comes back equal through JSON."""
        event = data.draw(domain_events(cls))
        assert type(event) is cls
        assert from_json(to_json(event), DomainEvent) == event

    def test_a_customer_with_every_field_round_trips(self) -> None:
        """A fully populated customer survives JSON, traits keeping their exact types."""
        customer = ada()
        back = from_json(to_json(customer), Customer)
        assert back == customer
        assert type(back.traits["score"]) is Decimal
        assert type(back.traits["renews"]) is date
        assert back.traits["seen_at"] == T0

    @pytest.mark.parametrize(
        "value",
        [
            Money.of("12.50", "EUR"),
            EmailAddress("ada@example.com"),
            PhoneNumber("+4930123456"),
            AccountLink("a1", "billing"),
            TraitSchema({"plan": TraitDefinition("string", required=True)}),
        ],
        ids=lambda v: type(v).__name__,
    )
    def test_small_values_round_trip(self, value: object) -> None:
        """Values round-trip through JSON text."""
        assert from_json(to_json(value), type(value)) == value


class TestFormat:
    """The JSON form keeps exact types exact and readable."""

    def test_money_is_an_amount_string_and_a_currency(self) -> None:
        """Never a float: ``{"amount": "12.50", "currency": "EUR"}``."""
        assert unstructure(Money.of("12.50", "EUR")) == {"amount": "12.50", "currency": "EUR"}

    def test_datetimes_are_iso_8601_in_utc(self) -> None:
        """Timestamps carry their offset."""
        assert unstructure(ada())["created_at"] == "2024-01-01T00:00:00+00:00"

    def test_traits_carry_their_type(self) -> None:
        """A date and a text stay distinct; decimals are strings, in canonical form."""
        traits = unstructure(ada())["traits"]
        assert traits["renews"] == {"type": "date", "value": "2024-05-01"}
        assert traits["score"] == {"type": "decimal", "value": "1.5"}  # given as 1.50
        assert traits["langs"] == {"type": "string_list", "value": ["de", "en"]}

    def test_tags_are_a_sorted_list(self) -> None:
        """Sets become sorted lists, so the JSON of equal customers is equal."""
        assert unstructure(ada())["tags"] == ["b2b", "vip"]

    def test_contact_points_say_what_they_are(self) -> None:
        """A contact point is ``{"phone": …}`` or ``{"email": …}`` with its label."""
        assert unstructure(ada())["other_contacts"] == [{"phone": "+4930123456", "label": "work"}]

    def test_events_are_tagged_with_their_class(self) -> None:
        """The ``type`` key names the event class."""
        assert event_to_dict(CustomerRegistered(T0, customer_id=CustomerId("c1"))) == {
            "type": "CustomerRegistered",
            "at": "2024-01-01T00:00:00+00:00",
            "customer_id": "c1",
        }
        assert set(EVENT_TYPES) == {cls.__name__ for cls in DomainEvent.__subclasses__()}


class TestStrictness:
    """Untrusted data structures cleanly or raises one ValidationError listing every path."""

    def test_a_float_amount_is_refused(self) -> None:
        """Money amounts are text (or ints), never floats."""
        with pytest.raises(ValidationError, match="never a float"):
            structure({"amount": 12.5, "currency": "EUR"}, Money)

    def test_a_float_amount_is_reported_on_the_amount_field(self) -> None:
        """Like a bad currency, a bad amount names its own field and value."""
        with pytest.raises(ValidationError) as caught:
            structure({"amount": 12.5, "currency": "EUR"}, Money)
        assert caught.value.paths == ("amount",)
        assert caught.value.errors[0].value == 12.5

    def test_an_ordinary_json_number_with_a_fraction_is_never_a_float(self) -> None:
        """JSON text is read with exact decimals, so no float sneaks in through parsing."""
        assert from_json('{"amount": "0.10", "currency": "EUR"}', Money) == Money(10, "EUR")

    def test_every_bad_field_is_listed_with_its_path(self) -> None:
        """Nested paths use dots and list indexes."""
        document = unstructure(ada())
        document["address"]["country"] = "XX"
        document["consents"][0]["at"] = "2024-01-01T00:00:00"
        document["other_contacts"][0] = {"email": "nope"}
        with pytest.raises(ValidationError) as caught:
            structure(document, Customer)
        assert set(caught.value.paths) == {
            "address.country",
            "consents[0].at",
            "other_contacts[0].email",
        }

    def test_a_trait_with_the_wrong_value_type_is_named(self) -> None:
        """``traits.<name>`` points at the bad trait."""
        document = unstructure(ada())
        document["traits"]["seats"] = {"type": "integer", "value": "12"}
        with pytest.raises(ValidationError) as caught:
            structure(document, Customer)
        assert caught.value.paths == ("traits.seats",)

    def test_a_missing_field_is_named(self) -> None:
        """Required fields must be present."""
        document = unstructure(ada())
        del document["id"]
        with pytest.raises(ValidationError, match="required") as caught:
            structure(document, Customer)
        assert "id" in caught.value.paths

    def test_an_unknown_field_is_refused_by_name(self) -> None:
        """Extra keys are typos or tampering, so they are refused."""
        document = {**unstructure(ada()), "is_admin": True}
        with pytest.raises(ValidationError, match="unknown fields: is_admin"):
            structure(document, Customer)

    @pytest.mark.parametrize("text", ["{", "", "[1,", b"\xff"])
    def test_text_that_is_no_json_is_refused(self, text: str | bytes) -> None:
        """Invalid JSON raises ValidationError, not a json error."""
        with pytest.raises(ValidationError, match="not valid JSON"):
            from_json(text, Money)

    def test_deeply_nested_input_is_refused(self) -> None:
        """Nesting is bounded, so hostile input cannot exhaust the stack."""
        deep: Any = 1
        for _ in range(100):
            deep = [deep]
        with pytest.raises(ValidationError, match="deeper"):
            structure(deep, Customer)
        with pytest.raises(ValidationError):
            from_json("[" * 100_000, Customer)

    @pytest.mark.parametrize("data", [{"type": "Nope"}, None, [], {"at": "x"}])
    def test_an_unknown_event_type_is_refused(self, data: Any) -> None:
        """The tag must name a known event class."""
        with pytest.raises(ValidationError) as caught:
            event_from_dict(data)
        assert caught.value.paths == ("type",)

    @pytest.mark.parametrize("tag", [[], {}, ["CustomerRegistered"]])
    def test_an_unhashable_event_type_is_refused(self, tag: Any) -> None:
        """A list or object as the tag is bad input like any other."""
        with pytest.raises(ValidationError):
            event_from_dict({"type": tag, "at": "2024-01-01T00:00:00+00:00"})


class TestFuzzedInput:
    """Whatever the input, the converter raises crmkit's ValidationError and nothing else."""

    @given(st.sampled_from(STRUCTURABLE_TYPES), json_values())
    def test_any_json_value_structures_or_raises_validation_error(
        self, kind: type, document: Any
    ) -> None:
        """Random JSON, given as any type, never escapes as a cattrs, Key or Type error."""
        with contextlib.suppress(ValidationError):
            structure(document, kind)

    @pytest.mark.parametrize("kind", STRUCTURABLE_TYPES, ids=lambda t: t.__name__)
    @given(data=st.data())
    def test_a_mutated_valid_document_structures_or_raises_validation_error(
        self, kind: type, data: st.DataObject
    ) -> None:
        """Dropped keys, values of the wrong type and unknown keys are all handled."""
        document = data.draw(mutated(unstructure(data.draw(STRUCTURABLE[kind]))))
        with contextlib.suppress(ValidationError):
            structure(document, kind)

    @given(json_values())
    def test_any_json_value_as_an_event_structures_or_raises_validation_error(
        self, document: Any
    ) -> None:
        """Random data given to `event_from_dict` is refused cleanly."""
        with contextlib.suppress(ValidationError):
            event_from_dict(document)

    @given(st.data())
    def test_a_mutated_event_document_structures_or_raises_validation_error(
        self, data: st.DataObject
    ) -> None:
        """Mutations of a valid event's fields are refused cleanly."""
        document = data.draw(mutated(event_to_dict(data.draw(domain_events()))))
        with contextlib.suppress(ValidationError):
            event_from_dict(document)

    @given(st.sampled_from(STRUCTURABLE_TYPES), st.text(max_size=40))
    def test_any_text_into_from_json_raises_only_validation_errors(
        self, kind: type, text: str
    ) -> None:
        """Even garbage JSON text ends in a ValidationError."""
        with contextlib.suppress(ValidationError):
            from_json(text, kind)


class TestStructuredValuesAreValid:
    """What comes out of the converter passes the domain's own checks."""

    @given(st.data())
    def test_a_structured_interaction_is_a_valid_interaction(self, data: st.DataObject) -> None:
        """Surviving the converter means passing every validator."""
        original = data.draw(STRUCTURABLE[Interaction])
        document = data.draw(mutated(unstructure(original)))
        try:
            made = structure(document, Interaction)
        except ValidationError:
            return
        assert attrs.evolve(made) == made  # every converter and validator runs again

    def test_an_account_document_with_a_raw_domain_is_normalised(self) -> None:
        """Structuring runs the same converters as construction."""
        document = unstructure(Account("a1", "Acme", T0, T0))
        document["domain"] = "https://www.Acme.com/"
        assert structure(document, Account).domain == "acme.com"

    def test_a_naive_timestamp_in_a_document_is_refused(self) -> None:
        """Datetimes in documents need an offset."""
        document = unstructure(ConsentRecord("marketing", None, "granted", T0, "form"))
        document["at"] = datetime(2024, 1, 1, tzinfo=UTC).replace(tzinfo=None).isoformat()
        with pytest.raises(ValidationError, match="naive") as caught:
            structure(document, ConsentRecord)
        assert caught.value.paths == ("at",)
