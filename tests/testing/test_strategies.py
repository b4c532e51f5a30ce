"""The public Hypothesis strategies: valid by construction, and registered for `st.from_type`."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import entry_points

import attrs
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from crmkit import CRM, Channel, ConsentRecord, Interaction, Money, Settings, TraitSchema, TraitType
from crmkit.domain import validate_traits
from crmkit.domain._checks import SLUG
from crmkit.domain.loyalty import (
    EventRule,
    PointsBalance,
    PointsEarned,
    PointsExpired,
    PointsLedger,
    PointsRedeemed,
    Programme,
    Referral,
    ReferralChanged,
    ReferralStatus,
    TierChanged,
)
from crmkit.domain.values.ids import check_id
from crmkit.events import DomainEvent
from crmkit.testing import strategies as cs

#: Drawing a whole customer with the public strategy is costly (it rebuilds its parts on every
#: draw): check registration on fewer examples than the profile asks for.
few = settings(max_examples=max(5, settings().max_examples // 8))

LOYALTY_EVENTS = [PointsEarned, PointsRedeemed, PointsExpired, TierChanged, ReferralChanged]


def revalidated(value: object) -> object:
    """``value`` rebuilt through its class's converters and validators."""
    return attrs.evolve(value)  # type: ignore[misc]


class TestEntryPoint:
    """Installing crmkit registers its strategies with Hypothesis."""

    def test_the_hypothesis_entry_point_names_the_hook(self) -> None:
        """The ``hypothesis`` entry point group points at the registration function."""
        (hook,) = [ep for ep in entry_points(group="hypothesis") if ep.name == "crmkit"]
        assert hook.value == "crmkit.testing._hypothesis_hook:register_strategies"

    # What `st.from_type` draws for every public type, and its round trip through JSON, are
    # checked in tests/testing/test_public_types.py.


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
        assert CRM.in_memory(Settings(tenant=tenant)).tenant == tenant

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


def check_referral(referral: Referral) -> None:
    """What every stored referral satisfies: two customers, and the timestamps its status
    reached (each at or after the one before), none it has not."""
    assert referral.referrer_id != referral.referee_id
    assert SLUG.fullmatch(referral.programme)
    reached = list(ReferralStatus).index(referral.status)
    assert (referral.qualified_at is not None) == (reached >= 1)
    assert (referral.qualifying_interaction_id is not None) == (reached >= 1)
    assert (referral.rewarded_at is not None) == (reached >= 2)
    if referral.qualified_at is not None:
        assert referral.created_at <= referral.qualified_at
    if referral.rewarded_at is not None:
        assert referral.qualified_at is not None
        assert referral.qualified_at <= referral.rewarded_at


def check_balance(value: PointsBalance) -> None:
    """What a ledger's summary satisfies."""
    assert min(value.available, value.pending, value.entries, value.version) >= 0
    if value.entries == 0:
        assert (value.available, value.pending, value.tier) == (0, 0, None)
        assert value.last_at is None
    else:
        assert value.last_at is not None
    if value.pending:
        assert value.next_due_at is not None  # pending points mature some day
    if not value.available and not value.pending:
        assert value.next_due_at is None  # nothing left to mature or expire


class TestDrawnTextIsStorable:
    """The strategies draw only text crmkit accepts: no lone surrogate, no U+0000."""

    def test_no_trait_text_holds_a_surrogate(self) -> None:
        """A search for a trait text with a lone surrogate finds none (naming only
        ``exclude_characters`` would let Hypothesis draw them)."""

        def unstorable(value: object) -> bool:
            texts = value if isinstance(value, tuple) else (value,)
            return any(
                isinstance(t, str) and any(0xD800 <= ord(c) <= 0xDFFF or c == "\0" for c in t)
                for t in texts
            )

        with pytest.raises(NoSuchExample):
            find(
                cs.trait_values(TraitType.STRING_LIST) | cs.trait_values(TraitType.STRING),
                unstorable,
                settings=settings(max_examples=2000, database=None),
            )


class TestLoyaltyStrategies:
    """Programmes with referral policies, referrals, balances and the loyalty events."""

    @given(cs.referrals())
    def test_every_drawn_referral_is_valid(self, referral: Referral) -> None:
        """Valid for the class, consistent with its status, and with no pending events."""
        assert revalidated(referral) == referral
        check_referral(referral)
        assert referral.pull_events() == []

    @given(cs.referrals())
    def test_a_drawn_referral_is_what_its_moves_make(self, referral: Referral) -> None:
        """Recording, qualifying and rewarding at its instants rebuilds it exactly."""
        made = Referral.record(
            referral.id,
            referral.programme,
            referral.referrer_id,
            referral.referee_id,
            referral.created_at,
            code=referral.code,
        )
        if referral.qualified_at is not None:
            made.qualify(str(referral.qualifying_interaction_id), referral.qualified_at)
        if referral.rewarded_at is not None:
            made.reward(referral.rewarded_at)
        made.version = referral.version
        assert made == referral

    @pytest.mark.parametrize("status", list(ReferralStatus))
    @given(data=st.data())
    def test_referrals_of_one_programme_and_status(
        self, status: ReferralStatus, data: st.DataObject
    ) -> None:
        """Both options narrow what is drawn; the status may be given as its value."""
        referral = data.draw(cs.referrals(programme="coffee", status=status.value))
        assert (referral.programme, referral.status) == ("coffee", status)
        check_referral(referral)

    @given(cs.points_balances())
    def test_every_drawn_balance_holds_together(self, value: PointsBalance) -> None:
        """Counts never negative, instants only where there are entries and points."""
        check_balance(value)

    @given(cs.points_balances(programme="coffee"))
    def test_balances_of_one_programme(self, value: PointsBalance) -> None:
        """The programme can be fixed."""
        assert value.programme == "coffee"

    @few
    @given(st.from_type(PointsLedger))
    def test_a_ledgers_summary_holds_together_like_a_drawn_balance(
        self, ledger: PointsLedger
    ) -> None:
        """The rules `points_balances` follows are those of real summaries."""
        check_balance(ledger.summary())
        assert ledger.pull_events() == []

    @given(cs.loyalty_programmes())
    def test_a_drawn_referral_policy_is_rewarded_by_event_rules(self, programme: Programme) -> None:
        """Each kind the policy names has an event rule, so the programme is valid."""
        assert revalidated(programme) == programme
        if programme.referrals is not None:
            events = {rule.kind for rule in programme.rules if isinstance(rule, EventRule)}
            named = {programme.referrals.referrer_kind, programme.referrals.referee_kind}
            assert named - {None} <= events

    def test_programmes_sometimes_reward_referrals(self) -> None:
        """Policies for the referrer, the referee and both are all drawn."""
        quick = settings(database=None, max_examples=500, phases=[Phase.generate])

        def sides(programme: Programme) -> tuple[bool, bool] | None:
            policy = programme.referrals
            if policy is None:
                return None
            return (policy.referrer_kind is not None, policy.referee_kind is not None)

        for wanted in [(True, False), (False, True), (True, True)]:
            find(cs.loyalty_programmes(), lambda p, w=wanted: sides(p) == w, settings=quick)

    @pytest.mark.parametrize("cls", LOYALTY_EVENTS, ids=lambda cls: cls.__name__)
    def test_domain_events_draw_the_loyalty_events(self, cls: type[DomainEvent]) -> None:
        """`domain_events()` draws every loyalty event, not only the customer ones."""
        quick = settings(database=None, max_examples=1_000, phases=[Phase.generate])
        find(cs.domain_events(), lambda event: isinstance(event, cls), settings=quick)

    @pytest.mark.parametrize("cls", LOYALTY_EVENTS, ids=lambda cls: cls.__name__)
    @given(data=st.data())
    def test_loyalty_events_through_from_type(
        self, cls: type[DomainEvent], data: st.DataObject
    ) -> None:
        """Each loyalty event class resolves, and its events are valid."""
        event = data.draw(st.from_type(cls))
        assert isinstance(event, cls)
        assert revalidated(event) == event
        if isinstance(event, TierChanged):
            assert event.from_tier != event.to_tier
        if isinstance(event, ReferralChanged):
            assert event.referrer_id != event.referee_id

    def test_the_new_strategies_are_public(self) -> None:
        """Exported and documented."""
        for name in ("referrals", "points_balances", "loyalty_programmes", "domain_events"):
            assert name in cs.__all__
            assert getattr(cs, name).__doc__
