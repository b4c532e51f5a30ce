"""The Customer aggregate: registration, profile changes, traits, consent and events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import (
    UNCHANGED,
    AccountId,
    AccountLink,
    Channel,
    ConsentRecord,
    ConsentStatus,
    Customer,
    CustomerId,
    EmailAddress,
    PhoneNumber,
    PostalAddress,
    TraitDefinition,
    TraitSchema,
)
from crmkit.domain import PROFILE_FIELDS, normalize_tags
from crmkit.domain.customers import customer as customer_module
from crmkit.errors import ValidationError
from crmkit.events import ConsentChanged, CustomerProfileChanged, CustomerRegistered
from crmkit.testing.strategies import (
    account_links,
    contact_points,
    customer_ids,
    customers,
    emails,
    ids,
    phone_numbers,
    postal_addresses,
    utc_datetimes,
)
from tests.strategies import T0

LATER = T0 + timedelta(days=1)


def ada(**profile: object) -> Customer:
    return Customer.register(
        CustomerId("c1"),
        at=T0,
        email=EmailAddress("ada@example.com"),
        **profile,  # type: ignore[arg-type]
    )


def grant(at: datetime = T0, channel: Channel | None = Channel.EMAIL) -> ConsentRecord:
    return ConsentRecord("marketing", channel, ConsentStatus.GRANTED, at, "form")


class TestRegister:
    """`Customer.register` creates a customer and records the facts as events."""

    def test_a_new_customer_is_at_version_0_with_one_event(self) -> None:
        """Registration records `CustomerRegistered` at the given instant."""
        customer = ada(given_name="Ada")
        assert customer.version == 0
        assert customer.created_at == customer.updated_at == T0
        assert customer.pull_events() == [CustomerRegistered(T0, customer_id=CustomerId("c1"))]

    def test_initial_consents_each_record_an_event(self) -> None:
        """Consents given at sign-up are part of the history and of the events."""
        customer = ada(consents=[grant()])
        assert customer.consents == (grant(),)
        assert [type(e) for e in customer.pull_events()] == [CustomerRegistered, ConsentChanged]

    def test_traits_are_checked_against_the_schema(self) -> None:
        """A trait the schema does not declare is refused at registration."""
        schema = TraitSchema({"plan": TraitDefinition("string")})
        with pytest.raises(ValidationError) as caught:
            ada(schema=schema, traits={"plan": "pro", "colour": "red"})
        assert caught.value.paths == ("traits.colour",)

    def test_an_unknown_profile_field_is_refused(self) -> None:
        """Typos in field names are errors, not silently ignored."""
        with pytest.raises(ValidationError) as caught:
            ada(nickname="Addy")
        assert caught.value.paths == ("nickname",)

    def test_a_naive_instant_is_refused(self) -> None:
        """Timestamps are timezone-aware UTC."""
        with pytest.raises(ValidationError) as caught:
            Customer.register(CustomerId("c1"), at=datetime(2024, 1, 1))
        assert caught.value.paths == ("created_at",)

    @pytest.mark.parametrize("customer_id", ["", "has space", "-leading", "x" * 65])
    def test_a_malformed_id_is_refused(self, customer_id: str) -> None:
        """Ids are 1-64 URL-safe characters."""
        with pytest.raises(ValidationError) as caught:
            Customer.register(CustomerId(customer_id), at=T0)
        assert caught.value.paths == ("id",)


class TestFields:
    """Field values are normalised and checked on every construction."""

    def test_tags_are_trimmed_lower_case_and_unique(self) -> None:
        """``" VIP "`` and ``"vip"`` are one tag."""
        assert ada(tags={" VIP ", "vip", "New  Lead"}).tags == {"vip", "new lead"}

    @pytest.mark.parametrize("tags", ["vip", [""], [3]])
    def test_bad_tags_are_refused(self, tags: object) -> None:
        """Tags are a collection of non-empty text, never one string."""
        with pytest.raises(ValidationError):
            normalize_tags(tags)

    def test_names_are_trimmed_and_blank_ones_dropped(self) -> None:
        """Whitespace-only names are no names."""
        customer = ada(given_name="  Ada  Byron ", family_name="   ")
        assert (customer.given_name, customer.family_name) == ("Ada Byron", None)

    def test_the_locale_is_normalised(self) -> None:
        """``de_de`` is stored as ``de-DE``."""
        assert ada(locale="de_de").locale == "de-DE"

    @pytest.mark.parametrize(
        ("external_ids", "path"),
        [({"Shop": "1"}, "external_ids.Shop"), ({"shop": ""}, "external_ids.shop")],
    )
    def test_external_ids_need_a_slug_source_and_a_reference(
        self, external_ids: dict[str, str], path: str
    ) -> None:
        """The path names the source at fault."""
        with pytest.raises(ValidationError) as caught:
            ada(external_ids=external_ids)
        assert caught.value.paths == (path,)

    def test_traits_and_external_ids_are_immutable(self) -> None:
        """Stored mappings cannot be changed in place, only replaced through methods."""
        customer = ada(traits={"plan": "pro"}, external_ids={"shop": "1"})
        with pytest.raises(TypeError):
            customer.traits["plan"] = "free"  # type: ignore[index]
        with pytest.raises(TypeError):
            customer.external_ids["shop"] = "2"  # type: ignore[index]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("email", "ada@example.com"),
            ("phone", "+4930123456"),
            ("address", {"country": "DE"}),
            ("account", "a1"),
        ],
    )
    def test_value_fields_want_their_value_types(self, field: str, value: object) -> None:
        """The aggregate takes values, not raw text (the CRM front door parses text)."""
        with pytest.raises(ValidationError) as caught:
            Customer(CustomerId("c1"), T0, T0, **{field: value})  # type: ignore[arg-type]
        assert caught.value.paths == (field,)


class TestDisplayName:
    """A name fit for a greeting."""

    def test_the_full_name_comes_first(self) -> None:
        """Given and family name together."""
        assert ada(given_name="Ada", family_name="Lovelace").display_name == "Ada Lovelace"

    def test_then_the_email_then_the_phone_then_the_id(self) -> None:
        """A customer without a name is greeted by how we reach them."""
        assert ada().display_name == "ada@example.com"
        phoned = Customer.register(CustomerId("c2"), at=T0, phone=PhoneNumber("+4930123456"))
        assert phoned.display_name == "+4930123456"
        assert Customer.register(CustomerId("c3"), at=T0).display_name == "c3"


class TestUpdateProfile:
    """`update_profile` changes fields and reports which changed."""

    def test_changed_fields_are_returned_and_recorded(self) -> None:
        """The event names exactly the changed fields, sorted, at the change's instant."""
        customer = ada()
        customer.pull_events()
        changed = customer.update_profile(at=LATER, given_name="Ada", tags={"vip"})
        assert set(changed) == {"given_name", "tags"}
        assert customer.updated_at == LATER
        assert customer.pull_events() == [
            CustomerProfileChanged(LATER, customer_id=customer.id, fields=("given_name", "tags"))
        ]

    def test_the_same_values_change_nothing_and_record_nothing(self) -> None:
        """Writing what is already there is no change."""
        customer = ada(given_name="Ada")
        customer.pull_events()
        assert customer.update_profile(at=LATER, given_name="Ada", email=customer.email) == ()
        assert customer.updated_at == T0
        assert customer.pull_events() == []

    def test_unchanged_leaves_a_field_alone(self) -> None:
        """`UNCHANGED` is the default of every field."""
        customer = ada(given_name="Ada")
        assert customer.update_profile(at=LATER, given_name=UNCHANGED, family_name="L") == (
            "family_name",
        )
        assert customer.given_name == "Ada"

    def test_a_bad_value_changes_nothing_at_all(self) -> None:
        """Every field is checked before any is applied."""
        customer = ada()
        with pytest.raises(ValidationError) as caught:
            customer.update_profile(at=LATER, given_name="Bob", email="not an address object")
        assert caught.value.paths == ("email",)
        assert customer.given_name is None

    def test_an_unknown_field_is_refused(self) -> None:
        """Only `PROFILE_FIELDS` may be changed this way."""
        with pytest.raises(ValidationError) as caught:
            ada().update_profile(at=LATER, version=7)
        assert caught.value.paths == ("version",)

    def test_linking_to_an_account_is_a_profile_change(self) -> None:
        """The account link is a field like the others."""
        customer = ada()
        link = AccountLink(AccountId("a1"), "billing")
        assert customer.update_profile(at=LATER, account=link) == ("account",)
        assert customer.account == link

    @given(
        st.none() | emails(),
        st.none() | postal_addresses(),
        st.none() | emails(),
        st.none() | postal_addresses(),
    )
    def test_the_reported_fields_are_exactly_those_that_differ(
        self,
        old_email: EmailAddress | None,
        old_address: PostalAddress | None,
        email: EmailAddress | None,
        address: PostalAddress | None,
    ) -> None:
        """A change reports a field iff its value differs, and repeating it reports nothing."""
        customer = Customer.register(CustomerId("c1"), at=T0, email=old_email, address=old_address)
        before = (customer.email, customer.address)
        changed = customer.update_profile(at=LATER, email=email, address=address)
        expected = {
            name
            for name, old, new in (("email", before[0], email), ("address", before[1], address))
            if old != new
        }
        assert set(changed) == expected
        assert customer.update_profile(at=LATER, email=email, address=address) == ()


class TestSetTraits:
    """`set_traits` merges, removes and checks traits."""

    def test_values_are_merged_and_removed(self) -> None:
        """Given traits are set, others kept, removed ones dropped."""
        customer = ada(traits={"plan": "free", "seats": 1, "trial": True})
        assert customer.set_traits({"plan": "pro"}, at=LATER, remove=["trial"]) == ("traits",)
        assert customer.traits == {"plan": "pro", "seats": 1}

    def test_setting_the_same_values_changes_nothing(self) -> None:
        """No change, no event."""
        customer = ada(traits={"plan": "pro"})
        customer.pull_events()
        assert customer.set_traits({"plan": "pro"}, at=LATER) == ()
        assert customer.pull_events() == []

    def test_a_schema_violation_changes_nothing(self) -> None:
        """A refused update leaves the traits as they were."""
        schema = TraitSchema({"seats": TraitDefinition("integer")})
        customer = ada(traits={"seats": 1})
        with pytest.raises(ValidationError) as caught:
            customer.set_traits({"seats": "two"}, at=LATER, schema=schema)
        assert caught.value.paths == ("traits.seats",)
        assert customer.traits == {"seats": 1}

    def test_removing_a_required_trait_is_refused(self) -> None:
        """A schema's required traits cannot be removed."""
        schema = TraitSchema({"plan": TraitDefinition("string", required=True)})
        customer = ada(schema=schema, traits={"plan": "pro"})
        with pytest.raises(ValidationError, match="required"):
            customer.set_traits({}, at=LATER, schema=schema, remove=["plan"])

    @pytest.mark.parametrize("values", ["plan", 5, None])
    def test_values_that_are_no_mapping_are_refused(self, values: object) -> None:
        """Traits are set from a mapping of name to value; anything else names ``traits``."""
        with pytest.raises(ValidationError) as caught:
            ada().set_traits(values, at=LATER)  # type: ignore[arg-type]
        assert caught.value.paths == ("traits",)

    def test_removing_one_name_given_as_text_is_not_silently_ignored(self) -> None:
        """``remove="plan"`` either removes ``plan`` or is refused; it never does nothing."""
        customer = ada(traits={"plan": "pro"})
        refused = False
        try:
            customer.set_traits({}, at=LATER, remove="plan")
        except ValidationError:
            refused = True
        assert refused or "plan" not in customer.traits


class TestRecordConsent:
    """`record_consent` appends to the history."""

    def test_a_record_is_appended_and_recorded_as_an_event(self) -> None:
        """The history grows; `ConsentChanged` names purpose, channel and status."""
        customer = ada()
        customer.pull_events()
        customer.record_consent(grant(), at=LATER)
        assert customer.consents == (grant(),)
        assert customer.updated_at == LATER
        assert customer.pull_events() == [
            ConsentChanged(
                LATER,
                customer_id=customer.id,
                purpose="marketing",
                channel=Channel.EMAIL,
                status=ConsentStatus.GRANTED,
            )
        ]

    def test_anything_but_a_record_is_refused(self) -> None:
        """The history holds `ConsentRecord` values only."""
        with pytest.raises(ValidationError) as caught:
            ada().record_consent({"purpose": "marketing"}, at=LATER)  # type: ignore[arg-type]
        assert caught.value.paths == ("consent",)

    def test_may_contact_reads_the_history(self) -> None:
        """The customer answers from its own consent records; text channels are accepted."""
        customer = ada(consents=[grant()])
        assert customer.may_contact("email", "marketing", LATER)
        assert not customer.may_contact(Channel.SMS, "marketing", LATER)
        assert customer.consent_for("email", "marketing", LATER) == grant()


class TestEvents:
    """Aggregates collect events until the unit of work takes them."""

    def test_peek_leaves_the_events_and_pull_takes_them(self) -> None:
        """Peeking twice shows the same; pulling empties the list."""
        customer = ada()
        assert customer.peek_events() == customer.peek_events()
        assert len(customer.pull_events()) == 1
        assert customer.peek_events() == ()

    def test_events_do_not_count_for_equality(self) -> None:
        """Two customers with the same fields are equal, whatever events they hold."""
        first, second = ada(), ada()
        second.pull_events()
        assert first == second


def _profile_values() -> dict[str, st.SearchStrategy[object]]:
    """Each profile field: valid values (of every shape), and values it refuses."""
    junk = st.none() | st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2)
    names = st.text(max_size=210) | st.sampled_from(["Ada", " Ada  Lovelace ", "é", "x" * 201])
    return {
        "given_name": names | junk,
        "family_name": names | junk,
        "email": emails() | junk,
        "phone": phone_numbers() | junk,
        "other_contacts": st.lists(contact_points(), max_size=2) | junk,
        "address": postal_addresses() | junk,
        "locale": st.sampled_from(["en", "de-DE", "EN_gb", "!"]) | junk,
        "tags": st.frozensets(st.sampled_from(["vip", " B2B ", "", "x" * 101]), max_size=2) | junk,
        "external_ids": st.dictionaries(st.sampled_from(["shop", "Bad"]), ids(), max_size=2) | junk,
        "account": account_links() | junk,
    }


def _ordinary_register(*args: Any, **kwargs: Any) -> Customer | Exception:
    with patch.object(customer_module, "_registered", lambda *_: None):
        return _register(*args, **kwargs)


def _register(*args: Any, **kwargs: Any) -> Customer | Exception:
    try:
        return Customer.register(*args, **kwargs)
    except Exception as error:  # compared below: the same refusal either way
        return error


class TestRegisterFastPath:
    """The common registration (no traits, schema or consents) skips attrs' generic
    ``__init__``; it must make exactly the customer, events and errors the ordinary way does."""

    @given(
        customer_id=customer_ids() | st.text(max_size=70) | st.none(),
        at=utc_datetimes()
        | st.datetimes(timezones=st.just(timezone(timedelta(hours=2))))
        | st.datetimes(),
        profile=st.fixed_dictionaries({}, optional=_profile_values()),
    )
    def test_it_makes_what_the_ordinary_way_makes(
        self, customer_id: object, at: datetime, profile: dict[str, object]
    ) -> None:
        """Same fields (same values of the same types), same events, or the same refusal."""
        fast = _register(customer_id, at=at, **profile)
        ordinary = _ordinary_register(customer_id, at=at, **profile)
        if isinstance(ordinary, Exception):
            assert type(fast) is type(ordinary)
            assert str(fast) == str(ordinary)
            if isinstance(ordinary, ValidationError):
                assert fast.errors == ordinary.errors  # type: ignore[union-attr]
            return
        assert isinstance(fast, Customer)
        assert type(fast) is Customer
        assert fast.same_content(ordinary)
        assert fast.version == ordinary.version == 0
        assert fast.peek_events() == ordinary.peek_events()
        assert [type(e) for e in fast.peek_events()] == [CustomerRegistered]

    @given(customer=customers())
    def test_a_valid_profile_registers_alike(self, customer: Customer) -> None:
        """Every profile field given, valid, as stored customers hold them."""
        profile = {name: getattr(customer, name) for name in PROFILE_FIELDS}
        fast = Customer.register(customer.id, at=customer.created_at, **profile)
        ordinary = _ordinary_register(customer.id, at=customer.created_at, **profile)
        assert isinstance(ordinary, Customer)
        assert fast.same_content(ordinary)
        assert fast.peek_events() == ordinary.peek_events()

    def test_it_is_taken_by_a_plain_registration(self) -> None:
        """A registration with only profile fields goes the fast way (and the result is an
        ordinary, mutable, validated customer)."""
        with patch.object(customer_module, "validate_traits", side_effect=AssertionError):
            customer = Customer.register(CustomerId("c1"), at=T0, given_name="Ada")
        assert type(customer) is Customer
        assert customer.given_name == "Ada"
        with pytest.raises(ValidationError):
            customer.given_name = 5  # type: ignore[assignment]
        customer.given_name = "  Grace "
        assert customer.given_name == "Grace"

    def test_the_registration_event_comes_first_and_is_handed_over_once(self) -> None:
        """Left pending by the fast path, `CustomerRegistered` is built when first needed:
        before a later change's event, the same on every look, gone once pulled."""
        customer = Customer.register(CustomerId("c1"), at=T0, given_name="Ada")
        customer.update_profile(at=LATER, family_name="Lovelace")
        registered = CustomerRegistered(T0, customer_id=CustomerId("c1"))
        assert customer.peek_events()[0] == registered
        assert customer.peek_events() == tuple(customer.pull_events())
        assert [type(e) for e in _ordinary_events()] == [CustomerRegistered, CustomerProfileChanged]
        assert customer.pull_events() == []

    def test_traits_consents_or_a_schema_take_the_ordinary_way(self) -> None:
        """Trait checks run whenever there are traits or a schema."""
        schema = TraitSchema({"plan": TraitDefinition("string", required=True)})
        with pytest.raises(ValidationError) as caught:
            Customer.register(CustomerId("c1"), at=T0, schema=schema)
        assert caught.value.paths == ("traits.plan",)
        assert ada(traits={"plan": "pro"}).traits == {"plan": "pro"}


def _ordinary_events() -> list[object]:
    customer = _ordinary_register(CustomerId("c1"), at=T0, given_name="Ada")
    assert isinstance(customer, Customer)
    customer.update_profile(at=LATER, family_name="Lovelace")
    return list(customer.pull_events())
