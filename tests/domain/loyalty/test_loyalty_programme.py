"""Loyalty programmes: earning rules, multipliers, caps and tiers, checked when built."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit.domain.interactions.channels import Channel
from crmkit.domain.interactions.interaction import Interaction
from crmkit.domain.loyalty import (
    Award,
    EventRule,
    Multiplier,
    Period,
    PeriodCap,
    Programme,
    Redemption,
    Reward,
    SpendRule,
    Tier,
    TierPolicy,
)
from crmkit.domain.rules.conditions import Facts
from crmkit.domain.values.ids import CustomerId, InteractionId
from crmkit.domain.values.money import Money
from crmkit.errors import ValidationError
from crmkit.segments import tagged

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
EUR = Money.of("1", "EUR")


def purchase(amount: str, *, when: datetime = T0, channel: str = "web") -> Interaction:
    return Interaction(
        id=InteractionId("p1"),
        customer_id=CustomerId("c1"),
        occurred_at=when,
        kind="purchase",
        channel=Channel(channel),
        amount=Money.of(amount, "EUR"),
    )


def programme(**more: object) -> Programme:
    return Programme("coffee", [SpendRule("per_euro", 1, EUR)], **more)  # type: ignore[arg-type]


class TestSpendRules:
    def test_points_per_unit_spent_round_down_by_default(self) -> None:
        """12.99 EUR at 1 point per euro earns 12 points: no point for money not spent."""
        assert programme().awards(purchase("12.99"), None) == (Award("per_euro", 12),)

    @pytest.mark.parametrize(
        ("mode", "points"), [(ROUND_DOWN, 12), (ROUND_HALF_UP, 13), (ROUND_UP, 13)]
    )
    def test_the_stated_rounding_mode_is_used(self, mode: str, points: int) -> None:
        """The exact quotient is rounded once with the rule's mode."""
        rule = SpendRule("per_euro", 1, EUR, rounding=mode)
        assert Programme("p", [rule]).awards(purchase("12.50"), None) == (
            Award("per_euro", points),
        )

    def test_another_currency_earns_nothing(self) -> None:
        """No exchange rate is guessed: a USD purchase earns nothing from a EUR rule."""
        usd = Interaction(
            id=InteractionId("p2"), customer_id=CustomerId("c1"), occurred_at=T0,
            kind="purchase", channel=Channel.WEB, amount=Money.of("50", "USD"),
        )  # fmt: skip
        assert programme().awards(usd, None) == ()

    def test_rules_apply_only_inside_their_validity_dates(self) -> None:
        """An interaction outside [valid_from, valid_until) earns nothing from the rule."""
        rule = SpendRule("promo", 1, EUR, valid_from=T0, valid_until=T0 + timedelta(days=1))
        p = Programme("p", [rule])
        assert p.awards(purchase("5", when=T0 - timedelta(seconds=1)), None) == ()
        assert p.awards(purchase("5", when=T0 + timedelta(days=1)), None) == ()
        assert p.awards(purchase("5"), None) == (Award("promo", 5),)

    @given(st.integers(1, 10**9), st.integers(1, 1000), st.integers(1, 10**4))
    def test_spend_points_never_exceed_the_exact_quotient_when_rounding_down(
        self, minor: int, points: int, per: int
    ) -> None:
        """With ROUND_DOWN, points * per <= amount * points-per-unit, and within one unit."""
        rule = SpendRule("r", points, Money(per, "EUR"))
        awarded = rule.base("purchase", Money(minor, "EUR"), T0)
        whole = int(awarded.to_integral_value(rounding=ROUND_DOWN))
        assert whole * per <= minor * points < (whole + 1) * per


class TestEventRulesAndMultipliers:
    def test_an_event_rule_awards_fixed_points_for_its_kind(self) -> None:
        """A review earns the review rule's points, a purchase does not."""
        p = Programme("p", [EventRule("review_bonus", "review", 50)])
        review = Interaction(
            id=InteractionId("r1"), customer_id=CustomerId("c1"), occurred_at=T0,
            kind="review", channel=Channel.WEB,
        )  # fmt: skip
        assert p.awards(review, None) == (Award("review_bonus", 50),)
        assert p.awards(purchase("10"), None) == ()

    def test_multipliers_by_tier_channel_and_segment_multiply_together(self) -> None:
        """Tier benefit x channel multiplier x segment multiplier, rounded once."""
        p = programme(
            tiers=[Tier("gold", 100, multiplier=Decimal("1.5"))],
            multipliers=[
                Multiplier("app_double", Decimal(2), channels={"app"}),
                Multiplier("vip", Decimal("1.1"), segment=tagged("vip")),
            ],
        )
        facts = Facts(as_of=T0, tags={"vip"})
        assert p.awards(purchase("10", channel="app"), "gold", facts) == (Award("per_euro", 33),)
        assert p.awards(purchase("10", channel="app"), "gold") == (Award("per_euro", 30),)
        assert p.awards(purchase("10"), None, facts) == (Award("per_euro", 11),)

    def test_a_multiplier_for_a_date_range_applies_only_then(self) -> None:
        """Double points weekend: only interactions inside the range are doubled."""
        p = programme(
            multipliers=[
                Multiplier("weekend", Decimal(2), valid_from=T0, valid_until=T0 + timedelta(days=2))
            ]
        )
        assert p.awards(purchase("10"), None) == (Award("per_euro", 20),)
        assert p.awards(purchase("10", when=T0 + timedelta(days=3)), None) == (
            Award("per_euro", 10),
        )

    def test_the_event_cap_cuts_the_later_rules_first(self) -> None:
        """With a cap of 15 per event, 10 + 10 becomes 10 + 5."""
        p = Programme("p", [SpendRule("a", 1, EUR), SpendRule("b", 1, EUR)], event_cap=15)
        assert p.awards(purchase("10"), None) == (Award("a", 10), Award("b", 5))


class TestValidation:
    def test_overlapping_tiers_are_refused_with_a_path(self) -> None:
        """Two tiers reached at the same threshold overlap."""
        with pytest.raises(ValidationError) as error:
            programme(tiers=[Tier("silver", 100), Tier("gold", 100)])
        assert error.value.paths == ("tiers[1].threshold",)

    def test_negative_rates_are_refused(self) -> None:
        """Negative points, amounts or factors never build."""
        with pytest.raises(ValidationError) as error:
            SpendRule("r", -1, EUR)
        assert error.value.paths == ("points",)
        with pytest.raises(ValidationError):
            SpendRule("r", 1, Money(-100, "EUR"))
        with pytest.raises(ValidationError):
            Multiplier("m", Decimal("-2"))
        with pytest.raises(ValidationError):
            Tier("gold", 10, multiplier=Decimal(0))

    def test_unknown_kinds_are_refused_unless_declared(self) -> None:
        """An event rule's kind must be standard or a declared custom kind."""
        with pytest.raises(ValidationError) as error:
            Programme("p", [EventRule("bday", "birthday", 100)])
        assert error.value.paths == ("rules[0].kind",)
        Programme("p", [EventRule("bday", "birthday", 100)], custom_kinds={"birthday"})

    def test_multipliers_naming_unknown_tiers_are_refused(self) -> None:
        """A multiplier for a tier the programme lacks is an error at its path."""
        with pytest.raises(ValidationError) as error:
            programme(multipliers=[Multiplier("m", Decimal(2), tier="platinum")])
        assert error.value.paths == ("multipliers[0].tier",)

    def test_duplicate_rule_names_are_refused(self) -> None:
        """Ledger entries name their rule, so names must be unique."""
        with pytest.raises(ValidationError) as error:
            Programme("p", [SpendRule("r", 1, EUR), EventRule("r", "review", 5)])
        assert error.value.paths == ("rules[1].name",)

    def test_every_problem_is_reported_at_once(self) -> None:
        """Several problems give one error listing each path."""
        with pytest.raises(ValidationError) as error:
            Programme(
                "p",
                [EventRule("x", "nope", 1)],
                tiers=[Tier("a", 1), Tier("b", 1)],
                multipliers=[Multiplier("m", Decimal(2), tier="z")],
            )
        assert set(error.value.paths) == {
            "rules[0].kind",
            "tiers[1].threshold",
            "multipliers[0].tier",
        }

    def test_bad_values_in_parts_are_refused(self) -> None:
        """Validity windows, periods, rounding modes and caps are checked."""
        with pytest.raises(ValidationError):
            SpendRule("r", 1, EUR, valid_from=T0, valid_until=T0)
        with pytest.raises(ValidationError):
            SpendRule("r", 1, EUR, rounding="ROUND_SIDEWAYS")
        with pytest.raises(ValidationError):
            PeriodCap("fortnight", 10)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            TierPolicy(window_days=0)
        with pytest.raises(ValidationError) as error:
            Programme("p", [object()])  # type: ignore[list-item]
        assert error.value.paths == ("rules[0]",)


class TestRedemptionAndRewards:
    def test_redemption_minimum_and_step(self) -> None:
        """Below the minimum or off-step amounts are refused, with the reason."""
        rules = Redemption(minimum=100, step=50)
        assert rules.problem(150) is None
        assert rules.problem(50) == "must be at least 100"
        assert rules.problem(120) == "must be a multiple of 50"

    def test_rewards_are_found_by_name(self) -> None:
        """The catalogue gives a reward's price; an unknown reward is a ValidationError."""
        p = programme(rewards=[Reward("free_coffee", 100)])
        assert p.reward("free_coffee").price == 100
        with pytest.raises(ValidationError):
            p.reward("free_car")

    def test_period_keys_split_days_iso_weeks_and_months(self) -> None:
        """Monday starts a new week; the first of the month a new month."""
        sunday, monday = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
        assert Period.WEEK.key(sunday) != Period.WEEK.key(monday)
        assert Period.MONTH.key(sunday) == Period.MONTH.key(monday)
        assert Period.DAY.key(monday) != Period.DAY.key(sunday)


class TestWholeNumberFactors:
    def test_a_whole_number_multiplier_is_an_exact_decimal(self) -> None:
        """Tier benefits and multipliers may be written as ints; floats and bools are refused."""
        from decimal import Decimal

        from crmkit.domain.loyalty import Multiplier, Tier
        from crmkit.errors import ValidationError

        assert Tier("gold", 500, multiplier=2).multiplier == Decimal(2)
        assert Multiplier("double", 2).factor == Decimal(2)
        for bad in (2.5, True, 0):
            with pytest.raises(ValidationError):
                Tier("gold", 500, multiplier=bad)


class TestCategoryMultipliers:
    def test_a_category_multiplier_applies_to_purchases_naming_that_category(self) -> None:
        from crmkit.domain.loyalty import CATEGORY

        programme = Programme(
            "shop",
            [SpendRule("per_euro", 1, Money.of("1", "EUR"))],
            multipliers=[Multiplier("coffee_week", 3, categories={"coffee"})],
        )
        beans = attrs.evolve(purchase("10"), metadata={CATEGORY: "coffee"})
        mugs = attrs.evolve(purchase("10"), metadata={CATEGORY: "mugs"})
        assert [a.points for a in programme.awards(beans, None)] == [30]
        assert [a.points for a in programme.awards(mugs, None)] == [10]
        assert [a.points for a in programme.awards(purchase("10"), None)] == [10]

    def test_categories_must_be_text(self) -> None:
        with pytest.raises(ValidationError):
            Multiplier("m", 2, categories="coffee")
        with pytest.raises(ValidationError):
            Multiplier("m", 2, categories={""})


def test_a_reward_priced_against_the_redemption_rule_is_refused_when_built() -> None:
    with pytest.raises(ValidationError, match=r"rewards\[0\]\.price"):
        Programme(
            "shop",
            [SpendRule("per_euro", 1, Money.of("1", "EUR"))],
            redemption=Redemption(minimum=9, step=9),
            rewards=[Reward("coffee", 10)],
        )
