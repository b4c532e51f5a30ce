"""The `CRM` front door: the use cases an application calls."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import (
    CRM,
    AccountLink,
    Channel,
    ConsentRecord,
    ConsentStatus,
    FixedClock,
    InteractionKind,
    Money,
    PhoneNumber,
    SequentialIds,
    Settings,
    TraitDefinition,
    TraitSchema,
)
from crmkit.domain import PROFILE_FIELDS
from crmkit.errors import (
    ConcurrencyConflict,
    DuplicateAccount,
    DuplicateCustomer,
    IdempotencyConflict,
    NotFound,
    ValidationError,
)
from crmkit.events import (
    ConsentChanged,
    CustomerProfileChanged,
    CustomerRegistered,
    DomainEvent,
    InteractionRecorded,
)
from tests.strategies import wrong_values

SCHEMA = TraitSchema(
    {
        "plan": TraitDefinition("string", required=True),
        "seats": TraitDefinition("integer"),
    }
)


@pytest.fixture
def schema_crm(crm_clock: FixedClock, crm_ids: SequentialIds) -> CRM:
    """An in-memory CRM that checks traits against `SCHEMA`."""
    return CRM.in_memory(Settings(clock=crm_clock, ids=crm_ids, trait_schema=SCHEMA))


class TestRegisterCustomer:
    """`CRM.register_customer` stores a new customer."""

    def test_a_registered_customer_reads_back_at_version_1(self, crm: CRM) -> None:
        """The customer gets the next id and the clock's time; text email is normalised."""
        ada = crm.customers.register(email="Ada@Example.com", given_name="Ada", tags={"vip"})
        assert (ada.id, ada.version, str(ada.email)) == ("id-000001", 1, "ada@example.com")
        assert ada.created_at == crm.settings.clock.now()
        assert crm.customers.get(ada.id) == ada

    def test_a_host_may_choose_the_id(self, crm: CRM) -> None:
        """``customer_id`` overrides the id source."""
        assert crm.customers.register(customer_id="cust-42").id == "cust-42"

    def test_a_national_phone_is_read_in_the_default_region(self, crm_clock: FixedClock) -> None:
        """``default_region`` applies to numbers written without ``+``."""
        german = CRM.in_memory(Settings(clock=crm_clock, default_region="DE"))
        assert german.customers.register(phone="030 123456").phone == PhoneNumber("+4930123456")

    def test_a_second_customer_with_the_same_email_is_refused(self, crm: CRM) -> None:
        """`DuplicateCustomer` names the field, the value and the owner; nothing is stored."""
        ada = crm.customers.register(email="ada@example.com")
        with pytest.raises(DuplicateCustomer) as caught:
            crm.customers.register(email="ADA@example.com ")
        assert (caught.value.field, caught.value.value) == ("email", "ada@example.com")
        assert caught.value.existing_id == ada.id
        assert [c.id for c in crm.customers.stream()] == [ada.id]

    def test_a_second_customer_with_the_same_external_id_is_refused(self, crm: CRM) -> None:
        """The field is ``external_ids.<source>``."""
        crm.customers.register(external_ids={"shop": "42"})
        with pytest.raises(DuplicateCustomer) as caught:
            crm.customers.register(external_ids={"shop": "42"})
        assert (caught.value.field, caught.value.value) == ("external_ids.shop", "42")

    def test_the_same_reference_of_another_source_is_fine(self, crm: CRM) -> None:
        """External ids are unique per source."""
        crm.customers.register(external_ids={"shop": "42"})
        crm.customers.register(external_ids={"erp": "42"})
        assert crm.customers.list().items[1].external_ids == {"erp": "42"}

    def test_a_bad_email_is_refused_before_anything_is_stored(self, crm: CRM) -> None:
        """Validation happens first; the error names the field."""
        with pytest.raises(ValidationError) as caught:
            crm.customers.register(email="not an address")
        assert caught.value.paths == ("email",)
        assert crm.customers.list().items == ()

    def test_linking_to_an_unknown_account_is_refused(self, crm: CRM) -> None:
        """An account link must point at an account of the tenant."""
        with pytest.raises(NotFound):
            crm.customers.register(account=AccountLink("nope"))


class TestWrongTypes:
    """A wrong value given to the front door is a ValidationError, never a bare TypeError."""

    @given(st.sampled_from([f for f in PROFILE_FIELDS if f != "other_contacts"]), wrong_values())
    def test_any_value_for_a_profile_field_succeeds_or_is_a_validation_error(
        self, field: str, value: object
    ) -> None:
        """Registering with, or updating to, a wrong value is refused as bad input."""
        crm = CRM.in_memory()
        with contextlib.suppress(ValidationError):
            crm.customers.register(**{field: value})
        ada = crm.customers.register()
        with contextlib.suppress(ValidationError):
            crm.customers.update(ada.id, **{field: value})

    @pytest.mark.parametrize("value", [5, None])
    def test_other_contacts_that_are_no_sequence_are_refused(self, crm: CRM, value: object) -> None:
        """As at registration, the error names ``other_contacts``."""
        ada = crm.customers.register()
        with pytest.raises(ValidationError) as caught:
            crm.customers.update(ada.id, other_contacts=value)
        assert caught.value.paths == ("other_contacts",)


class TestFindCustomers:
    """Customers are found by id, email or external id."""

    def test_by_email_in_any_spelling(self, crm: CRM) -> None:
        """The email is normalised before the lookup."""
        ada = crm.customers.register(email="ada@example.com")
        assert crm.customers.find_by_email(" ADA@Example.com").id == ada.id  # type: ignore[union-attr]
        assert crm.customers.find_by_email("bob@example.com") is None

    def test_by_external_id(self, crm: CRM) -> None:
        """A host system's reference finds its customer."""
        ada = crm.customers.register(external_ids={"shop": "42"})
        assert crm.customers.find_by_external_id("shop", "42").id == ada.id  # type: ignore[union-attr]
        assert crm.customers.find_by_external_id("erp", "42") is None

    def test_an_unknown_id_raises_not_found(self, crm: CRM) -> None:
        """`NotFound` says what was looked for."""
        with pytest.raises(NotFound, match="customer not found: 'nobody'"):
            crm.customers.get("nobody")


class TestUpdateProfile:
    """`CRM.update_profile` changes fields, optionally checking the version."""

    def test_a_change_is_stored_with_a_new_version(self, crm: CRM, crm_clock: FixedClock) -> None:
        """The version counts saves; the clock stamps the change."""
        ada = crm.customers.register(email="ada@example.com")
        later = crm_clock.advance(timedelta(hours=1))
        changed = crm.customers.update(ada.id, given_name="Ada", email="ADA@example.org")
        assert (changed.version, changed.updated_at, str(changed.email)) == (
            2,
            later,
            "ada@example.org",
        )
        assert crm.customers.get(ada.id) == changed

    def test_no_change_is_no_save(self, crm: CRM) -> None:
        """Writing the same values keeps the version."""
        ada = crm.customers.register(email="ada@example.com", given_name="Ada")
        assert crm.customers.update(ada.id, given_name="Ada").version == 1

    def test_a_stale_expected_version_is_refused_and_changes_nothing(self, crm: CRM) -> None:
        """Somebody else saved meanwhile: `ConcurrencyConflict`, retryable."""
        ada = crm.customers.register(email="ada@example.com")
        crm.customers.update(ada.id, given_name="Ada")
        with pytest.raises(ConcurrencyConflict) as caught:
            crm.customers.update(ada.id, expected_version=1, given_name="Addy")
        assert caught.value.retryable
        assert caught.value.expected_version == 1
        assert crm.customers.get(ada.id).given_name == "Ada"

    def test_the_current_expected_version_passes(self, crm: CRM) -> None:
        """The version shown to the user is the version changed."""
        ada = crm.customers.register(email="ada@example.com")
        assert crm.customers.update(ada.id, expected_version=1, given_name="Ada").version == 2

    def test_taking_another_customers_email_is_refused(self, crm: CRM) -> None:
        """Uniqueness holds on update too."""
        ada = crm.customers.register(email="ada@example.com")
        bob = crm.customers.register(email="bob@example.com")
        with pytest.raises(DuplicateCustomer) as caught:
            crm.customers.update(bob.id, email="ada@example.com")
        assert caught.value.existing_id == ada.id
        assert str(crm.customers.get(bob.id).email) == "bob@example.com"

    def test_an_unknown_customer_raises_not_found(self, crm: CRM) -> None:
        """There is nothing to update."""
        with pytest.raises(NotFound):
            crm.customers.update("nobody", given_name="X")


class TestSetTraits:
    """`CRM.set_traits` checks traits against the CRM's trait schema."""

    def test_declared_traits_are_set_and_merged(self, schema_crm: CRM) -> None:
        """Setting one trait keeps the others."""
        ada = schema_crm.customers.register(traits={"plan": "free"})
        assert schema_crm.customers.set_traits(ada.id, {"seats": 3}).traits == {
            "plan": "free",
            "seats": 3,
        }

    def test_an_undeclared_trait_is_refused_by_path(self, schema_crm: CRM) -> None:
        """The schema catches typos."""
        ada = schema_crm.customers.register(traits={"plan": "free"})
        with pytest.raises(ValidationError) as caught:
            schema_crm.customers.set_traits(ada.id, {"pLan": "pro"})
        assert caught.value.paths == ("traits.pLan",)
        assert schema_crm.customers.get(ada.id).traits == {"plan": "free"}

    def test_a_required_trait_is_required_at_registration(self, schema_crm: CRM) -> None:
        """Registering without a required trait is refused."""
        with pytest.raises(ValidationError) as caught:
            schema_crm.customers.register(email="ada@example.com")
        assert caught.value.paths == ("traits.plan",)

    def test_removing_a_trait(self, crm: CRM) -> None:
        """``remove`` drops traits by name."""
        ada = crm.customers.register(traits={"plan": "pro", "seats": 2})
        assert crm.customers.set_traits(ada.id, {}, remove=["seats"]).traits == {"plan": "pro"}

    def test_a_schema_must_be_a_trait_schema(self) -> None:
        """Configuring the CRM with anything else is refused."""
        with pytest.raises(ValidationError) as caught:
            CRM.in_memory(Settings(trait_schema={"plan": "string"}))  # type: ignore[arg-type]
        assert caught.value.paths == ("trait_schema",)


class TestConsent:
    """`CRM.record_consent` and `CRM.may_contact`."""

    def test_a_grant_permits_contact(self, crm: CRM) -> None:
        """The recorded consent is returned and decides `may_contact`."""
        ada = crm.customers.register(email="ada@example.com")
        record = crm.consent.record(
            ada.id, purpose="newsletter", channel="email", status="granted", source="form"
        )
        assert record == ConsentRecord(
            "newsletter", Channel.EMAIL, "granted", crm.settings.clock.now(), "form"
        )
        assert crm.consent.may_contact(ada.id, "email", "newsletter")
        assert not crm.consent.may_contact(ada.id, "sms", "newsletter")

    def test_a_later_withdrawal_for_every_channel_stops_contact(
        self, crm: CRM, crm_clock: FixedClock
    ) -> None:
        """``channel=None`` covers every channel; the latest decision wins."""
        ada = crm.customers.register(email="ada@example.com")
        granted_at = crm_clock.now()
        crm.consent.record(ada.id, purpose="news", channel="email", status="granted", source="f")
        crm_clock.advance(timedelta(days=1))
        crm.consent.record(ada.id, purpose="news", channel=None, status="withdrawn", source="u")
        assert not crm.consent.may_contact(ada.id, Channel.EMAIL, "news")
        assert crm.consent.may_contact(ada.id, Channel.EMAIL, "news", as_of=granted_at)

    def test_a_pending_double_opt_in_does_not_permit_yet(self, crm: CRM) -> None:
        """Only a confirmed double opt-in permits."""
        ada = crm.customers.register(email="ada@example.com")
        crm.consent.record(
            ada.id,
            purpose="news",
            channel="email",
            status="granted",
            source="form",
            double_opt_in="pending",
        )
        assert not crm.consent.may_contact(ada.id, "email", "news")

    def test_a_decision_may_be_dated_in_the_past(self, crm: CRM, crm_clock: FixedClock) -> None:
        """``at`` records when the customer decided, e.g. on a paper form."""
        ada = crm.customers.register(email="ada@example.com")
        signed = crm_clock.now() - timedelta(days=30)
        record = crm.consent.record(
            ada.id, purpose="news", channel="post", status="granted", source="paper", at=signed
        )
        assert record.at == signed
        assert crm.customers.get(ada.id).consents == (record,)

    def test_a_bad_status_is_refused_by_name(self, crm: CRM) -> None:
        """Consent fields are checked like any other."""
        ada = crm.customers.register(email="ada@example.com")
        with pytest.raises(ValidationError) as caught:
            crm.consent.record(ada.id, purpose="news", channel="email", status="yes", source="f")
        assert caught.value.paths == ("status",)


class TestRecordInteraction:
    """`CRM.record_interaction` appends to the log, idempotently by external reference."""

    def test_an_interaction_is_recorded_at_now(self, crm: CRM) -> None:
        """Without ``occurred_at`` the clock says when."""
        ada = crm.customers.register(email="ada@example.com")
        made = crm.interactions.record(
            ada.id, kind="purchase", channel="web", amount=Money.of("49.90", "EUR")
        )
        assert made.occurred_at == crm.settings.clock.now()
        assert crm.interactions.get(made.id) == made
        assert crm.interactions.timeline(ada.id) == [made]

    def test_a_replay_returns_the_stored_interaction_and_emits_once(
        self, crm: CRM, crm_clock: FixedClock
    ) -> None:
        """A replay without ``occurred_at`` later matches the stored instant."""
        ada = crm.customers.register(email="ada@example.com")
        heard: list[InteractionRecorded] = []
        crm.events.subscribe(InteractionRecorded, heard.append)
        first = crm.interactions.record(ada.id, kind="purchase", channel="web", external_ref="o-1")
        crm_clock.advance(timedelta(hours=2))
        again = crm.interactions.record(ada.id, kind="purchase", channel="web", external_ref="o-1")
        assert again == first
        assert len(crm.interactions.timeline(ada.id)) == 1
        assert [e.interaction_id for e in heard] == [first.id]

    def test_a_replay_with_different_content_is_refused(self, crm: CRM) -> None:
        """`IdempotencyConflict` names the reference and the stored interaction."""
        ada = crm.customers.register(email="ada@example.com")
        first = crm.interactions.record(ada.id, kind="purchase", channel="web", external_ref="o-1")
        with pytest.raises(IdempotencyConflict) as caught:
            crm.interactions.record(ada.id, kind="refund", channel="web", external_ref="o-1")
        assert (caught.value.field, caught.value.value) == ("external_ref", "o-1")
        assert caught.value.existing_id == first.id
        assert crm.interactions.timeline(ada.id) == [first]

    def test_a_replay_with_another_explicit_instant_is_refused(self, crm: CRM) -> None:
        """An explicit ``occurred_at`` is part of the content."""
        ada = crm.customers.register(email="ada@example.com")
        crm.interactions.record(ada.id, kind="note", channel="phone", external_ref="call-1")
        with pytest.raises(IdempotencyConflict):
            crm.interactions.record(
                ada.id,
                kind="note",
                channel="phone",
                external_ref="call-1",
                occurred_at=crm.settings.clock.now() - timedelta(days=1),
            )

    def test_without_a_reference_every_call_records(self, crm: CRM) -> None:
        """No external reference, no idempotency."""
        ada = crm.customers.register(email="ada@example.com")
        for _ in range(2):
            crm.interactions.record(ada.id, kind="note", channel="phone")
        assert len(crm.interactions.timeline(ada.id)) == 2

    def test_an_unknown_customer_raises_not_found(self, crm: CRM) -> None:
        """Interactions belong to a known customer."""
        with pytest.raises(NotFound):
            crm.interactions.record("nobody", kind="note", channel="web")


class TestTimeline:
    """`CRM.timeline` lists a customer's interactions, filtered."""

    @pytest.fixture
    def ada(self, crm: CRM, crm_clock: FixedClock) -> str:
        """A customer with a purchase (web, t+1h), a note (phone, t+2h), a refund (web, t+3h)."""
        ada = crm.customers.register(email="ada@example.com").id
        bob = crm.customers.register(email="bob@example.com").id
        start = crm_clock.now()
        for hours, kind, channel in [
            (3, "refund", "web"),
            (1, "purchase", "web"),
            (2, "note", "phone"),
        ]:
            crm.interactions.record(
                ada, kind=kind, channel=channel, occurred_at=start + timedelta(hours=hours)
            )
        crm.interactions.record(bob, kind="purchase", channel="web")
        return ada

    def kinds(self, crm: CRM, ada: str, **filters: object) -> list[str]:
        return [i.kind for i in crm.interactions.timeline(ada, **filters)]  # type: ignore[arg-type]

    def test_oldest_first_by_default(self, crm: CRM, ada: str) -> None:
        """Time order, whatever the recording order; other customers excluded."""
        assert self.kinds(crm, ada) == ["purchase", "note", "refund"]

    def test_newest_first_with_a_limit(self, crm: CRM, ada: str) -> None:
        """The latest ones first, as many as asked."""
        assert self.kinds(crm, ada, newest_first=True, limit=2) == ["refund", "note"]

    def test_filtered_by_channel_and_kind(self, crm: CRM, ada: str) -> None:
        """Channels may be given as text; kinds as slugs or enum members."""
        assert self.kinds(crm, ada, channels=["web"]) == ["purchase", "refund"]
        assert self.kinds(crm, ada, kinds={InteractionKind.NOTE}) == ["note"]

    def test_the_window_is_half_open(self, crm: CRM, ada: str, crm_clock: FixedClock) -> None:
        """``since <= occurred_at < until``."""
        start = crm_clock.now()
        window = {"since": start + timedelta(hours=1), "until": start + timedelta(hours=3)}
        assert self.kinds(crm, ada, **window) == ["purchase", "note"]

    def test_an_unknown_channel_is_refused(self, crm: CRM, ada: str) -> None:
        """The filter is checked like input."""
        with pytest.raises(ValidationError) as caught:
            crm.interactions.timeline(ada, channels=["fax"])
        assert caught.value.paths == ("channels",)

    def test_an_unknown_customer_raises_not_found(self, crm: CRM) -> None:
        """An empty list would hide a wrong id."""
        with pytest.raises(NotFound):
            crm.interactions.timeline("nobody")


class TestAccounts:
    """B2B accounts and their contacts."""

    def test_an_account_is_registered_with_a_normal_domain(self, crm: CRM) -> None:
        """It reads back equal, at version 1."""
        acme = crm.accounts.register(name="Acme", domain="https://www.Acme.com/", size="10-49")
        assert (acme.domain, acme.version) == ("acme.com", 1)
        assert crm.accounts.get(acme.id) == acme

    def test_a_second_account_with_the_same_domain_is_refused(self, crm: CRM) -> None:
        """`DuplicateAccount` names the field and the owner."""
        acme = crm.accounts.register(name="Acme", domain="acme.com")
        with pytest.raises(DuplicateAccount) as caught:
            crm.accounts.register(name="Acme again", domain="ACME.com")
        assert (caught.value.field, caught.value.value, caught.value.existing_id) == (
            "domain",
            "acme.com",
            acme.id,
        )

    def test_updating_to_a_taken_domain_is_refused(self, crm: CRM) -> None:
        """Uniqueness holds on update too; nothing changes."""
        crm.accounts.register(name="Acme", domain="acme.com")
        globex = crm.accounts.register(name="Globex", domain="globex.com")
        with pytest.raises(DuplicateAccount):
            crm.accounts.update(globex.id, domain="acme.com")
        assert crm.accounts.get(globex.id).domain == "globex.com"

    def test_an_update_checks_the_expected_version(self, crm: CRM) -> None:
        """A stale version is refused; the current one passes and bumps it."""
        acme = crm.accounts.register(name="Acme")
        with pytest.raises(ConcurrencyConflict):
            crm.accounts.update(acme.id, expected_version=7, name="Acme Corp")
        assert crm.accounts.update(acme.id, expected_version=1, name="Acme Corp").version == 2

    def test_contacts_are_linked_and_unlinked(self, crm: CRM) -> None:
        """Linking gives the customer a role in the account; unlinking removes it."""
        acme = crm.accounts.register(name="Acme")
        ada = crm.customers.register(email="ada@example.com")
        bob = crm.customers.register(email="bob@example.com")
        crm.accounts.link(bob.id, acme.id)
        linked = crm.accounts.link(ada.id, acme.id, role="billing")
        assert linked.account == AccountLink(acme.id, "billing")
        assert [c.id for c in crm.accounts.contacts(acme.id)] == [ada.id, bob.id]
        assert crm.accounts.unlink(ada.id).account is None
        assert [c.id for c in crm.accounts.contacts(acme.id)] == [bob.id]

    def test_linking_to_an_unknown_account_is_refused(self, crm: CRM) -> None:
        """The account must exist in this tenant."""
        ada = crm.customers.register(email="ada@example.com")
        with pytest.raises(NotFound):
            crm.accounts.link(ada.id, "nope")
        assert crm.customers.get(ada.id).account is None

    def test_contacts_of_an_unknown_account_raise_not_found(self, crm: CRM) -> None:
        """An empty list would hide a wrong id."""
        with pytest.raises(NotFound):
            crm.accounts.contacts("nope")


class TestEvents:
    """Hosts subscribe to the events of committed changes."""

    def test_subscribers_hear_the_events_of_their_type(self, crm: CRM) -> None:
        """A base class subscription hears every subclass."""
        everything: list[DomainEvent] = []
        consents: list[ConsentChanged] = []
        crm.events.subscribe(DomainEvent, everything.append)
        crm.events.subscribe(ConsentChanged, consents.append)
        ada = crm.customers.register(email="ada@example.com")
        crm.consent.record(ada.id, purpose="news", channel="email", status="granted", source="f")
        crm.customers.update(ada.id, given_name="Ada")
        assert [type(e) for e in everything] == [
            CustomerRegistered,
            ConsentChanged,
            CustomerProfileChanged,
        ]
        assert [c.status for c in consents] == [ConsentStatus.GRANTED]

    def test_an_unsubscribed_handler_hears_nothing_more(self, crm: CRM) -> None:
        """`subscribe` returns the function that ends the subscription (safe to call twice)."""
        heard: list[DomainEvent] = []
        unsubscribe = crm.events.subscribe(DomainEvent, heard.append)
        crm.customers.register(email="ada@example.com")
        unsubscribe()
        unsubscribe()
        crm.customers.register(email="bob@example.com")
        assert len(heard) == 1

    @pytest.mark.usefixtures("production_handlers")
    def test_a_failing_handler_is_logged_and_does_not_break_the_call(
        self, crm: CRM, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The change is stored, later handlers still run, the failure is on the log."""

        def broken(event: DomainEvent) -> None:
            raise RuntimeError("handler bug")

        heard: list[DomainEvent] = []
        crm.events.subscribe(DomainEvent, broken)
        crm.events.subscribe(DomainEvent, heard.append)
        with caplog.at_level(logging.ERROR, logger="crmkit.events"):
            ada = crm.customers.register(email="ada@example.com")
        assert crm.customers.get(ada.id) == ada
        assert len(heard) == 1
        (logged,) = caplog.records
        assert logged.name == "crmkit.events"
        assert logged.exc_info is not None
        assert "handler bug" in str(logged.exc_info[1])

    def test_a_refused_change_publishes_nothing(self, crm: CRM) -> None:
        """Only committed changes are announced."""
        crm.customers.register(email="ada@example.com")
        heard: list[DomainEvent] = []
        crm.events.subscribe(DomainEvent, heard.append)
        with pytest.raises(DuplicateCustomer):
            crm.customers.register(email="ada@example.com")
        assert heard == []


class TestListing:
    """Listing pages through customers; streaming yields them all."""

    @given(st.integers(0, 12), st.integers(1, 5))
    def test_pages_cover_every_customer_once_in_id_order(self, count: int, limit: int) -> None:
        """Following ``next_cursor`` visits each customer exactly once."""
        crm = CRM.in_memory(Settings(ids=SequentialIds()))
        ids = [crm.customers.register().id for _ in range(count)]
        seen: list[str] = []
        cursor = None
        while True:
            page = crm.customers.list(limit=limit, cursor=cursor)
            assert len(page.items) <= limit
            seen.extend(c.id for c in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == ids
        assert [c.id for c in crm.customers.stream(batch_size=limit)] == ids

    def test_customers_are_listed_by_tag_and_account(self, crm: CRM) -> None:
        """Filters narrow the listing."""
        acme = crm.accounts.register(name="Acme")
        ada = crm.customers.register(tags={"vip"})
        crm.customers.register()
        crm.accounts.link(ada.id, acme.id)
        assert [c.id for c in crm.customers.list(tag="vip").items] == [ada.id]
        assert [c.id for c in crm.customers.list(account_id=acme.id).items] == [ada.id]

    @pytest.mark.parametrize("limit", [0, -1, 10_001])
    def test_a_bad_limit_is_refused(self, crm: CRM, limit: int) -> None:
        """Pages hold 1 to 10000 customers."""
        with pytest.raises(ValidationError) as caught:
            crm.customers.list(limit=limit)
        assert caught.value.paths == ("limit",)


class TestForTenant:
    """`CRM.for_tenant` opens the same storage for another tenant."""

    def test_it_shares_clock_ids_and_settings(self, schema_crm: CRM) -> None:
        """Only the tenant (and the subscribers) differ."""
        other = schema_crm.for_tenant("shop_2")
        assert (
            other.tenant,
            other.settings.clock,
            other.settings.ids,
            other.settings.trait_schema,
        ) == (
            "shop_2",
            schema_crm.settings.clock,
            schema_crm.settings.ids,
            SCHEMA,
        )

    def test_its_data_is_its_own(self, crm: CRM) -> None:
        """Customers of one tenant are invisible to the other."""
        ada = crm.customers.register(email="ada@example.com")
        other = crm.for_tenant("shop_2")
        assert other.customers.find_by_email("ada@example.com") is None
        assert other.customers.register(email="ada@example.com").id != ada.id


class TestIdsAndFiltersOfTheWrongType:
    """Use cases check ids and filters before any storage sees them."""

    @pytest.mark.parametrize("bad", [123, None, "", "has space", ["x"]])
    def test_a_malformed_customer_id_is_a_validation_error(self, crm: CRM, bad: object) -> None:
        """Every use case taking a customer id refuses a malformed one by name."""
        for call in (
            lambda: crm.customers.get(bad),  # type: ignore[arg-type]
            lambda: crm.interactions.timeline(bad),  # type: ignore[arg-type]
            lambda: crm.customers.update(bad, given_name="x"),  # type: ignore[arg-type]
            lambda: crm.interactions.record(bad, kind="note", channel="web"),  # type: ignore[arg-type]
        ):
            with pytest.raises(ValidationError) as caught:
                call()
            assert caught.value.paths == ("customer_id",)

    def test_kinds_given_as_one_text_are_refused(self, crm: CRM) -> None:
        """kinds="purchase" would otherwise match by substring in one adapter and by
        character in another."""
        ada = crm.customers.register(email="ada@example.com")
        with pytest.raises(ValidationError, match="kinds"):
            crm.interactions.timeline(ada.id, kinds="purchase")
        with pytest.raises(ValidationError, match="kinds"):
            crm.interactions.timeline(ada.id, kinds=[1])  # type: ignore[list-item]
        with pytest.raises(ValidationError, match="channels"):
            crm.interactions.timeline(ada.id, channels="web")

    def test_external_id_lookups_need_text(self, crm: CRM) -> None:
        """A non-text source or external id is a validation error, not a storage error."""
        with pytest.raises(ValidationError, match="external_id"):
            crm.customers.find_by_external_id("shop", 42)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="tag"):
            crm.customers.list(tag=["vip"])  # type: ignore[arg-type]
