"""The front door: `CRM(store, settings)`, one `Settings` object, services as attributes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import CRM, FixedClock, Money, SequentialIds, Settings
from crmkit.adapters.memory import InMemoryStore
from crmkit.app.reactions import (
    LifecycleProgression,
    LoyaltyEarning,
    SegmentTracking,
    reactions_for,
)
from crmkit.errors import ConfigurationError, UsageError, ValidationError
from crmkit.events import CustomerRegistered, raise_handler_errors
from crmkit.lifecycle import CUSTOMER_LIFECYCLE
from crmkit.loyalty import Programme, SpendRule
from crmkit.segments import Segment, field

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def settings(**changes: object) -> Settings:
    return attrs.evolve(Settings(clock=FixedClock(T0), ids=SequentialIds()), **changes)


class TestSettings:
    def test_defaults_run_one_tenant_on_the_system_clock(self) -> None:
        """Settings() is enough: the default tenant, the system clock, random ids."""
        crm = CRM.in_memory()
        assert crm.tenant == "default"
        assert crm.settings == Settings(clock=crm.settings.clock, ids=crm.settings.ids)

    def test_settings_are_frozen(self) -> None:
        """A CRM's settings cannot change under it."""
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            settings().tenant = "other"  # type: ignore[misc]

    def test_for_tenant_is_an_evolve(self) -> None:
        """for_tenant keeps every other setting."""
        base = settings(lifecycles=[CUSTOMER_LIFECYCLE])
        other = base.for_tenant("beta")
        assert other.tenant == "beta"
        assert attrs.evolve(other, tenant=base.tenant) == base

    def test_lists_become_tuples(self) -> None:
        """Models and segments given as lists are kept as tuples."""
        assert settings(lifecycles=[CUSTOMER_LIFECYCLE]).lifecycles == (CUSTOMER_LIFECYCLE,)

    @pytest.mark.parametrize(
        ("changes", "path"),
        [
            ({"tenant": ""}, "tenant"),
            ({"clock": datetime.now}, "clock"),
            ({"clock": T0}, "clock"),
            ({"ids": "id"}, "ids"),
            ({"trait_schema": {}}, "trait_schema"),
            ({"default_region": "Germany"}, "default_region"),
            ({"lifecycles": CUSTOMER_LIFECYCLE}, "lifecycles"),
            ({"lifecycles": [CUSTOMER_LIFECYCLE, CUSTOMER_LIFECYCLE]}, "lifecycles[1]"),
            ({"segments": ["vip"]}, "segments[0]"),
            ({"loyalty": "points"}, "loyalty"),
        ],
    )
    def test_bad_settings_are_refused_naming_the_setting(
        self, changes: dict[str, object], path: str
    ) -> None:
        """Every part is checked when the settings are built, before any storage."""
        with pytest.raises(ValidationError) as refused:
            settings(**changes)
        assert refused.value.errors[0].path == path

    def test_a_tracked_segment_naming_an_unknown_stage_is_refused(self) -> None:
        """Rules are checked against the settings' own models."""
        from crmkit.segments import stage

        with pytest.raises(ValidationError) as refused:
            settings(
                lifecycles=[CUSTOMER_LIFECYCLE],
                segments=[Segment("x", stage(CUSTOMER_LIFECYCLE.name) == "nope")],
            )
        assert refused.value.errors[0].path.startswith("segments[0].rule")

    def test_the_crm_refuses_something_that_is_no_settings(self) -> None:
        with pytest.raises(ValidationError) as refused:
            CRM(InMemoryStore(), {"tenant": "x"})  # type: ignore[arg-type]
        assert refused.value.errors[0].path == "settings"

    def test_the_crm_refuses_something_that_is_no_store(self) -> None:
        with pytest.raises(ValidationError) as refused:
            CRM("sqlite:///x.db", settings())  # type: ignore[arg-type]
        assert refused.value.errors[0].path == "store"

    def test_no_programme_means_no_loyalty(self) -> None:
        """The loyalty service says how to configure a programme."""
        with pytest.raises(UsageError, match="Settings\\(loyalty="):
            CRM.in_memory(settings()).loyalty.balance("x")


class _CustomersOnly:
    """A store that declares it holds customers and interactions only."""

    capabilities = frozenset({"customers", "interactions"})

    def __init__(self) -> None:
        self._inner = InMemoryStore()
        self.unit_of_work = self._inner.unit_of_work
        self.outbox = self._inner.outbox


class TestCapabilities:
    def test_a_store_holding_what_the_settings_need_is_accepted(self) -> None:
        crm = CRM(_CustomersOnly(), settings())  # type: ignore[arg-type]
        assert crm.customers.register(email="ada@example.com").version == 1

    @pytest.mark.parametrize(
        ("changes", "missing"),
        [
            ({"lifecycles": [CUSTOMER_LIFECYCLE]}, "lifecycle"),
            ({"segments": [Segment("de", field("country") == "DE")]}, "segments"),
            ({"loyalty": Programme("p", [SpendRule("s", 1, Money.of("1.00", "EUR"))])}, "loyalty"),
        ],
    )
    def test_settings_enabling_a_capability_the_store_lacks_are_refused(
        self, changes: dict[str, object], missing: str
    ) -> None:
        """The CRM is refused when built, not at the first interaction."""
        with pytest.raises(ConfigurationError, match=missing):
            CRM(_CustomersOnly(), settings(**changes))  # type: ignore[arg-type]


class TestReactions:
    def test_no_settings_no_reactions(self) -> None:
        assert reactions_for(settings()) == ()

    def test_reactions_run_earning_then_progression_then_segments(self) -> None:
        """The order is fixed: a tier earned is visible to rules, stages to segments."""
        programme = Programme("p", [SpendRule("s", 1, Money.of("1.00", "EUR"))])
        tracked = Segment("de", field("country") == "DE")
        kinds = [
            type(r)
            for r in reactions_for(
                settings(loyalty=programme, lifecycles=[CUSTOMER_LIFECYCLE], segments=[tracked])
            )
        ]
        assert kinds == [LoyaltyEarning, LifecycleProgression, SegmentTracking]


class TestServices:
    def test_later_capabilities_are_built_on_first_use(self) -> None:
        """Lifecycle, segments and loyalty cost nothing until a host reaches for them."""
        crm = CRM.in_memory(settings())
        assert "loyalty" not in vars(crm)
        assert crm.loyalty is crm.loyalty
        assert "loyalty" in vars(crm)

    def test_the_crm_has_no_use_case_of_its_own(self) -> None:
        """Every use case lives on a service; the CRM only builds and binds them."""
        crm = CRM.in_memory(settings())
        public = {name for name in dir(crm) if not name.startswith("_")}
        assert public == {
            "accounts",
            "consent",
            "customers",
            "events",
            "for_tenant",
            "from_url",
            "in_memory",
            "interactions",
            "lifecycle",
            "loyalty",
            "segments",
            "settings",
            "sqlite",
            "store",
            "tenant",
            "unit_of_work",
        }

    def test_a_typo_in_a_profile_field_is_a_type_error(self) -> None:
        """Explicit keyword parameters: a misspelt field never reaches storage."""
        crm = CRM.in_memory(settings())
        with pytest.raises(TypeError, match="givn_name"):
            crm.customers.register(givn_name="Ada")  # type: ignore[call-arg]

    def test_finding_by_no_email_is_a_validation_error(self) -> None:
        crm = CRM.in_memory(settings())
        with pytest.raises(ValidationError) as refused:
            crm.customers.find_by_email(None)  # type: ignore[arg-type]
        assert refused.value.errors[0].path == "email"

    def test_a_bad_page_size_names_the_callers_parameter(self) -> None:
        """segments.members(limit=0) is about ``limit``, never an internal batch size."""
        crm = CRM.in_memory(settings())
        with pytest.raises(ValidationError) as refused:
            crm.segments.members(field("country") == "DE", limit=0)
        assert refused.value.errors[0].path == "limit"

    def test_for_tenant_shares_the_store_but_not_the_data(self) -> None:
        crm = CRM.in_memory(settings())
        crm.customers.register(email="ada@example.com")
        other = crm.for_tenant("beta")
        assert other.store is crm.store
        assert other.customers.count() == 0
        assert crm.customers.count() == 1


class TestStreams:
    def test_a_stream_holds_no_transaction_between_pages(self) -> None:
        """Customers stream page by page: the caller may write between items."""
        crm = CRM.in_memory(settings())
        for n in range(5):
            crm.customers.register(email=f"c{n}@example.com", customer_id=f"c{n}")
        seen = []
        for customer in crm.customers.stream(batch_size=2):
            seen.append(customer.id)
            crm.customers.update(customer.id, given_name="Seen")
        assert seen == [f"c{n}" for n in range(5)]
        assert {c.given_name for c in crm.customers.stream()} == {"Seen"}

    def test_a_segment_stream_checks_its_rule_before_the_first_item(self) -> None:
        crm = CRM.in_memory(settings())
        with pytest.raises(ValidationError):
            crm.segments.stream("country == DE")  # type: ignore[arg-type]

    @given(st.integers(min_value=1, max_value=7), st.integers(min_value=0, max_value=12))
    def test_streaming_in_pages_yields_every_match_once(self, size: int, count: int) -> None:
        """Whatever the page size, every matching customer comes once, in id order."""
        crm = CRM.in_memory(settings())
        for n in range(count):
            crm.customers.register(given_name="Ada" if n % 2 else "Bob", customer_id=f"c{n:02}")
        rule = field("given_name") == "Ada"
        expected = [f"c{n:02}" for n in range(count) if n % 2]
        assert [c.id for c in crm.segments.stream(rule, batch_size=size)] == expected
        assert [c.id for c in crm.customers.stream(batch_size=size)] == sorted(
            f"c{n:02}" for n in range(count)
        )


class TestHandlerErrors:
    def test_the_plugin_makes_a_failing_handler_fail_the_test(self) -> None:
        """Under pytest (crmkit's plugin), the commit that published the event raises."""
        crm = CRM.in_memory(settings())

        def broken(event: CustomerRegistered) -> None:
            raise RuntimeError("handler bug")

        crm.events.subscribe(CustomerRegistered, broken)
        with pytest.raises(RuntimeError, match="handler bug"):
            crm.customers.register(email="ada@example.com")
        assert crm.customers.count() == 1  # the data was committed before the handler ran

    def test_in_production_a_failing_handler_is_logged_and_swallowed(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        crm = CRM.in_memory(settings())
        calls: list[str] = []

        def broken(event: CustomerRegistered) -> None:
            raise RuntimeError("handler bug")

        crm.events.subscribe(CustomerRegistered, broken)
        crm.events.subscribe(CustomerRegistered, lambda e: calls.append(e.customer_id))
        previous = raise_handler_errors(False)
        try:
            with caplog.at_level(logging.ERROR, logger="crmkit.events"):
                ada = crm.customers.register(email="ada@example.com")
        finally:
            raise_handler_errors(previous)
        assert calls == [ada.id]
        assert "event handler" in caplog.text

    def test_subscribing_something_that_is_no_event_type_is_refused(self) -> None:
        crm = CRM.in_memory(settings())
        with pytest.raises(ValidationError) as refused:
            crm.events.subscribe("CustomerRegistered", print)  # type: ignore[arg-type]
        assert refused.value.errors[0].path == "event_type"


class TestAccounts:
    def test_accounts_are_listed_and_streamed_in_id_order(self) -> None:
        """The same verbs as customers: list pages, stream reads page by page."""
        crm = CRM.in_memory(settings())
        for name in ("b", "a", "c"):
            crm.accounts.register(name=name.upper(), account_id=name)
        first = crm.accounts.list(limit=2)
        assert [a.id for a in first.items] == ["a", "b"]
        rest = crm.accounts.list(limit=2, cursor=first.next_cursor)
        assert [a.id for a in rest.items] == ["c"]
        assert [a.id for a in crm.accounts.stream(batch_size=1)] == ["a", "b", "c"]

    def test_a_bad_page_size_names_the_parameter(self) -> None:
        crm = CRM.in_memory(settings())
        with pytest.raises(ValidationError) as refused:
            list(crm.accounts.stream(batch_size=0))
        assert refused.value.errors[0].path == "batch_size"


class TestSignatures:
    def test_as_of_is_keyword_only_everywhere(self) -> None:
        """``crm.segments.count(rule, moment)`` would read as a second rule: always name it."""
        import inspect

        from tests.front_door import public_methods

        positional = [
            path
            for path, function in public_methods()
            for name, parameter in inspect.signature(function).parameters.items()
            if name == "as_of" and parameter.kind is not inspect.Parameter.KEYWORD_ONLY
        ]
        assert positional == []

    def test_no_parameter_is_typed_as_anything(self) -> None:
        """Signatures say what they take (``Condition | Segment``, ``PhoneNumber | str``)."""
        import inspect

        from tests.front_door import public_methods

        vague = [
            f"{path}({name})"
            for path, function in public_methods()
            for name, parameter in inspect.signature(function).parameters.items()
            if parameter.annotation in ("Any", "object")
        ]
        assert vague == []


class TestSnapshotStreams:
    def test_the_caller_may_write_while_an_interaction_stream_is_open(self, tmp_path: Path) -> None:
        """``interactions.stream`` reads one snapshot in one read-only transaction: on a
        SQLite file the caller records meanwhile, and the stream does not see it."""
        crm = CRM.sqlite(tmp_path / "crm.db", settings())
        ada = crm.customers.register(email="ada@example.com")
        for n in range(5):
            crm.interactions.record(ada.id, kind="note", channel="email", external_ref=f"n{n}")
        seen = []
        for interaction in crm.interactions.stream(batch_size=2):
            seen.append(interaction.external_ref)
            crm.interactions.record(ada.id, kind="note", channel="email")
        assert seen == [f"n{n}" for n in range(5)]
        assert len(crm.interactions.timeline(ada.id)) == 10
