"""The public Hypothesis strategies: valid by construction, and registered for `st.from_type`."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import entry_points

import attrs
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import crmkit
from crmkit import (
    CRM,
    Account,
    AccountLink,
    Channel,
    ConsentRecord,
    ContactPoint,
    Customer,
    DomainEvent,
    EmailAddress,
    Interaction,
    Money,
    PhoneNumber,
    PostalAddress,
    TraitSchema,
)
from crmkit.domain import validate_traits
from crmkit.domain.ids import check_id
from crmkit.testing import strategies as cs

#: Drawing a whole customer with the public strategy is costly (it rebuilds its parts on every
#: draw): check registration on fewer examples than the profile asks for.
few = settings(max_examples=max(5, settings().max_examples // 8))

REGISTERED = [
    Account,
    AccountLink,
    ConsentRecord,
    ContactPoint,
    Customer,
    DomainEvent,
    EmailAddress,
    Interaction,
    Money,
    PhoneNumber,
    PostalAddress,
    TraitSchema,
]

PUBLIC_ATTRS_CLASSES = sorted(
    name
    for name in crmkit.__all__
    if isinstance(getattr(crmkit, name), type)
    and attrs.has(getattr(crmkit, name))
    and name != "Page"  # Page is generic, not a domain type
)


def revalidated(value: object) -> object:
    """``value`` rebuilt through its class's converters and validators."""
    return attrs.evolve(value)  # type: ignore[misc]


class TestEntryPoint:
    """Installing crmkit registers its strategies with Hypothesis."""

    def test_the_hypothesis_entry_point_names_the_hook(self) -> None:
        """The ``hypothesis`` entry point group points at the registration function."""
        (hook,) = [ep for ep in entry_points(group="hypothesis") if ep.name == "crmkit"]
        assert hook.value == "crmkit.testing._hypothesis_hook:register_strategies"

    @pytest.mark.parametrize("kind", REGISTERED, ids=lambda t: t.__name__)
    @few
    @given(data=st.data())
    def test_from_type_draws_valid_values(self, kind: type, data: st.DataObject) -> None:
        """``st.from_type`` works for every registered type and gives valid values."""
        value = data.draw(st.from_type(kind))
        assert isinstance(value, kind)
        assert revalidated(value) == value

    @pytest.mark.parametrize("name", PUBLIC_ATTRS_CLASSES)
    def test_every_public_type_resolves_through_from_type(self, name: str) -> None:
        """Every public attrs class of `crmkit` can be drawn with ``st.from_type``."""
        kind = getattr(crmkit, name)

        @settings(max_examples=5, database=None, phases=[Phase.generate])
        @given(st.from_type(kind))
        def draws(value: object) -> None:
            assert isinstance(value, kind)

        draws()


class TestStrategyOptions:
    """Each strategy honours its parameters."""

    @given(cs.money(currency="JPY", min_minor=-5, max_minor=5))
    def test_money_in_one_currency_and_range(self, value: Money) -> None:
        """Currency and bounds are respected."""
        assert value.currency == "JPY"
        assert -5 <= value.minor <= 5

    @given(
        cs.interactions(
            customer_id="c1",
            kinds=["purchase"],
            currency="EUR",
            min_time=datetime(2024, 1, 1),
            max_time=datetime(2024, 2, 1),
        )
    )
    def test_interactions_of_one_customer_kind_currency_and_period(self, made: Interaction) -> None:
        """Every option narrows what is drawn."""
        assert (made.customer_id, made.kind) == ("c1", "purchase")
        assert made.amount is None or made.amount.currency == "EUR"
        assert (
            datetime(2024, 1, 1, tzinfo=UTC) <= made.occurred_at <= datetime(2024, 2, 1, tzinfo=UTC)
        )

    @given(cs.consent_records(channel=Channel.SMS, purpose="surveys"))
    def test_consent_records_for_one_decision(self, record: ConsentRecord) -> None:
        """Channel and purpose can be fixed."""
        assert (record.channel, record.purpose) == (Channel.SMS, "surveys")

    @few
    @given(st.data(), cs.trait_schemas())
    def test_customers_with_a_fixed_id_and_schema(
        self, data: st.DataObject, schema: TraitSchema
    ) -> None:
        """Drawn customers have the asked id and traits valid for the schema."""
        customer = data.draw(cs.customers(customer_id="c-1", schema=schema))
        assert customer.id == "c-1"
        assert validate_traits(customer.traits, schema) == customer.traits
        assert customer.version == 0
        assert customer.created_at <= customer.updated_at
        assert customer.peek_events() == ()

    @given(cs.utc_datetimes())
    def test_datetimes_are_aware_utc(self, moment: datetime) -> None:
        """Never naive, always UTC."""
        assert moment.tzinfo is UTC

    @given(cs.ids())
    def test_ids_are_well_formed(self, value: str) -> None:
        """Ids pass the domain's id check."""
        assert check_id("id", value) == value

    @given(cs.tenants())
    def test_tenants_open_a_crm(self, tenant: str) -> None:
        """Every drawn tenant is accepted by the front door."""
        assert CRM.in_memory(tenant=tenant).tenant == tenant

    @given(cs.slugs(max_size=8))
    def test_slugs_are_short_lower_case_identifiers(self, slug: str) -> None:
        """Slugs start with a letter and respect the size bound."""
        assert slug[0].isalpha()
        assert slug == slug.lower()
        assert len(slug) <= 8

    @given(cs.domain_events())
    def test_events_name_their_aggregate(self, event: DomainEvent) -> None:
        """Every drawn event is a concrete event with an aggregate id."""
        assert event.aggregate_id
        assert revalidated(event) == event
