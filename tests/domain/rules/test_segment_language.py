"""The segment language: each leaf and operator, missing values, windows, and validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from crmkit import (
    Channel,
    ConsentRecord,
    ConsentStatus,
    Customer,
    CustomerId,
    Interaction,
    InteractionId,
    Money,
    PostalAddress,
    TraitDefinition,
    TraitSchema,
)
from crmkit.domain import TimeInStage
from crmkit.domain.rules.aggregates import Measure
from crmkit.domain.rules.leaves import Op
from crmkit.errors import ValidationError
from crmkit.lifecycle import LifecycleModel, Stage, SubjectKind, Transition
from crmkit.segments import (
    AggregateCondition,
    AllOf,
    AnyOf,
    ConsentCondition,
    Facts,
    FieldCondition,
    Members,
    Not,
    Segment,
    StageCondition,
    TraitCondition,
    Window,
    tagged,
)

AS_OF = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def customer(**profile: Any) -> Customer:
    """Customer ``c1``, registered well before `AS_OF`."""
    traits = profile.pop("traits", {})
    return Customer.register(
        CustomerId("c1"), at=AS_OF - timedelta(days=1000), traits=traits, **profile
    )


def bought(days_ago: float, amount: Money | None = None, n: int = 0, **parts: Any) -> Interaction:
    """A purchase ``days_ago`` days before `AS_OF`."""
    at = AS_OF - timedelta(days=days_ago)
    return Interaction(
        InteractionId(f"i{n}"),
        CustomerId("c1"),
        at,
        "purchase",
        Channel.WEB,
        amount=amount,
        **parts,
    )


def facts(who: Customer | None = None, *done: Interaction, **parts: Any) -> Facts:
    """The facts of ``who`` (a bare customer by default) as of `AS_OF`."""
    return Facts.of_customer(who or customer(), done, AS_OF, **parts)


class TestFieldConditions:
    """Customer fields compared with values."""

    def test_equality_is_case_sensitive_and_by_code_point(self) -> None:
        """``city eq "Köln"`` matches Köln, not köln."""
        koeln = facts(customer(address=PostalAddress(country="DE", city="Köln")))
        assert FieldCondition("city", Op.EQ, "Köln").holds(koeln)
        assert not FieldCondition("city", Op.EQ, "köln").holds(koeln)
        assert FieldCondition("country", Op.IN, ["FR", "DE"]).holds(koeln)
        assert FieldCondition("city", Op.STARTS_WITH, "Kö").holds(koeln)
        assert FieldCondition("city", Op.CONTAINS, "ö").holds(koeln)
        assert FieldCondition("city", Op.BETWEEN, ["K", "L"]).holds(koeln)

    def test_a_missing_value_fails_every_comparison_but_is_null(self) -> None:
        """No address: ``region ne "X"`` and ``region not_in [...]`` are false too."""
        nowhere = facts()
        for op, value in [(Op.EQ, "BY"), (Op.NE, "BY"), (Op.NOT_IN, ["BY"]), (Op.LT, "Z")]:
            assert not FieldCondition("region", op, value).holds(nowhere)
        assert FieldCondition("region", Op.IS_NULL).holds(nowhere)
        assert not FieldCondition("region", Op.IS_NOT_NULL).holds(nowhere)

    def test_the_negation_of_a_leaf_is_true_exactly_where_it_is_false(self) -> None:
        """``Not(region eq "BY")`` holds for a customer without a region."""
        assert Not(FieldCondition("region", Op.EQ, "BY")).holds(facts())

    def test_datetime_fields_compare_as_instants(self) -> None:
        """``created_at`` is compared with a timezone-aware datetime."""
        old = FieldCondition("created_at", Op.LT, AS_OF - timedelta(days=365))
        assert old.holds(facts())

    def test_an_unknown_field_is_refused(self) -> None:
        """Names come from a fixed catalogue: SQL fragments never pass."""
        with pytest.raises(ValidationError) as caught:
            FieldCondition("country; DROP TABLE customers", Op.EQ, "DE")
        assert caught.value.paths == ("field",)

    @pytest.mark.parametrize(
        ("name", "op", "value", "path"),
        [
            ("created_at", Op.EQ, "2024-01-01", "value"),
            ("created_at", Op.CONTAINS, "2024", "op"),
            ("country", Op.IN, [], "value"),
            ("country", Op.IN, ["DE"] * 1001, "value"),
            ("country", Op.BETWEEN, ["Z", "A"], "value[1]"),
            ("country", Op.IS_NULL, "DE", "value"),
            ("country", Op.EQ, None, "value"),
        ],
    )
    def test_a_bad_operand_is_refused_with_its_path(
        self, name: str, op: Op, value: Any, path: str
    ) -> None:
        """Type mismatches, empty or huge lists, reversed ranges and stray values."""
        with pytest.raises(ValidationError) as caught:
            FieldCondition(name, op, value)
        assert caught.value.paths == (path,)


class TestTraitConditions:
    """Typed custom traits."""

    def test_each_type_compares_its_own_values(self) -> None:
        """Integers order numerically, dates by day, lists by element."""
        who = facts(
            customer(
                traits={
                    "seats": 12,
                    "birthday": date(1990, 5, 1),
                    "interests": ("golf", "Jazz"),
                    "score": Decimal("1.50"),
                    "vip": True,
                }
            )
        )
        assert TraitCondition("seats", "integer", Op.GE, 10).holds(who)
        assert TraitCondition("birthday", "date", Op.LT, date(2000, 1, 1)).holds(who)
        assert TraitCondition("interests", "string_list", Op.CONTAINS, "Jazz").holds(who)
        assert not TraitCondition("interests", "string_list", Op.CONTAINS, "jazz").holds(who)
        assert TraitCondition("score", "decimal", Op.EQ, Decimal("1.5")).holds(who)
        assert TraitCondition("vip", "boolean", Op.EQ, True).holds(who)

    def test_a_trait_of_another_type_counts_as_missing(self) -> None:
        """A text "5" never equals the integer 5."""
        who = facts(customer(traits={"seats": "5"}))
        assert not TraitCondition("seats", "integer", Op.EQ, 5).holds(who)
        assert TraitCondition("seats", "integer", Op.IS_NULL).holds(who)

    def test_an_absent_trait_is_missing(self) -> None:
        """Only is_null holds."""
        assert TraitCondition("plan", "string", Op.IS_NULL).holds(facts())
        assert not TraitCondition("plan", "string", Op.NE, "pro").holds(facts())

    def test_a_date_trait_compared_with_text_is_refused(self) -> None:
        """The value must have the trait's type."""
        with pytest.raises(ValidationError) as caught:
            TraitCondition("birthday", "date", Op.EQ, "1990-05-01")
        assert caught.value.paths == ("value",)


class TestOtherLeaves:
    """Tags, consent, stages and explicit members."""

    def test_consent_is_decided_as_of_the_evaluation(self) -> None:
        """A later withdrawal does not count yet."""
        granted = ConsentRecord(
            "newsletter", Channel.EMAIL, ConsentStatus.GRANTED, AS_OF - timedelta(days=1), "form"
        )
        withdrawn = ConsentRecord(
            "newsletter", Channel.EMAIL, ConsentStatus.WITHDRAWN, AS_OF + timedelta(days=1), "form"
        )
        who = customer(consents=[granted, withdrawn])
        assert ConsentCondition("email", "newsletter").holds(facts(who))
        assert not ConsentCondition("sms", "newsletter").holds(facts(who))

    def test_a_stage_is_per_model(self) -> None:
        """A customer who never entered the model is in no stage of it."""
        rule = StageCondition("customer_lifecycle", ["customer", "repeat"])
        assert rule.holds(facts(stages={"customer_lifecycle": "repeat"}))
        assert not rule.holds(facts(stages={"pipeline": "customer"}))

    def test_members_lists_customers_by_id(self) -> None:
        """A static segment."""
        assert Members(["c1", "c9"]).holds(facts())
        assert not Members(["c2"]).holds(facts())


class TestAggregates:
    """Measures of interactions in windows relative to ``as_of``."""

    def test_the_last_n_days_exclude_the_start_and_include_as_of(self) -> None:
        """``(as_of - 90 days, as_of]``: exactly 90 days ago is out, ``as_of`` itself in."""
        rule = AggregateCondition(Measure.COUNT, Op.GE, 1, window=Window(last_days=90))
        assert not rule.holds(facts(None, bought(90)))
        assert rule.holds(facts(None, bought(89.99999)))
        assert rule.holds(facts(None, bought(0)))
        assert not rule.holds(facts(None, bought(-0.00001)))

    def test_since_is_included_and_until_excluded(self) -> None:
        """``since <= t < until``."""
        since, until = AS_OF - timedelta(days=10), AS_OF - timedelta(days=5)
        rule = AggregateCondition(Measure.COUNT, Op.EQ, 1, window=Window(since, until))
        assert rule.holds(facts(None, bought(10)))
        assert not rule.holds(facts(None, bought(5)))

    def test_a_window_that_ends_before_it_starts_is_refused(self) -> None:
        """``until`` must be after ``since``."""
        with pytest.raises(ValidationError) as caught:
            Window(AS_OF, AS_OF - timedelta(days=1))
        assert caught.value.paths == ("until",)

    def test_a_customer_without_interactions_counts_zero_and_has_no_last_purchase(self) -> None:
        """Empty aggregates: count 0, sum 0, min/max missing."""
        none = facts()
        assert AggregateCondition(Measure.COUNT, Op.EQ, 0).holds(none)
        zero = Money.of("0", "EUR")
        assert AggregateCondition(Measure.SUM, Op.EQ, zero, currency="EUR").holds(none)
        assert AggregateCondition(Measure.MAX_AT, Op.IS_NULL).holds(none)
        assert not AggregateCondition(Measure.MAX_AT, Op.LT, AS_OF).holds(none)

    def test_a_sum_adds_one_currency_only(self) -> None:
        """Amounts in other currencies, and no amount, add nothing; negatives (of a host's
        own kind: a purchase's amount is never negative) subtract."""
        correction = Interaction(
            InteractionId("i2"),
            CustomerId("c1"),
            AS_OF - timedelta(days=2),
            "correction",
            Channel.WEB,
            amount=Money.of("-50.50", "EUR"),
        )
        done = [
            bought(1, Money.of("400", "EUR"), 1),
            correction,
            bought(3, Money.of("9999", "USD"), 3),
            bought(4, None, 4),
            bought(5, Money.of("200", "EUR"), 5),
        ]
        over = AggregateCondition(
            Measure.SUM, Op.GT, Money.of("500", "EUR"), currency="EUR", kinds=["purchase"]
        )
        assert over.holds(facts(None, *done))
        exact = AggregateCondition(Measure.SUM, Op.EQ, Money.of("549.50", "EUR"), currency="EUR")
        assert exact.holds(facts(None, *done))

    def test_a_sum_needs_money_in_its_currency(self) -> None:
        """Comparing a EUR sum with USD is a mistake."""
        with pytest.raises(ValidationError) as caught:
            AggregateCondition(Measure.SUM, Op.GT, Money.of("5", "USD"), currency="EUR")
        assert caught.value.paths == ("currency",)

    def test_distinct_days_and_filters(self) -> None:
        """Two purchases on one UTC day count once; filters narrow by campaign."""
        done = [bought(1, n=1, campaign="spring"), bought(1.01, n=2), bought(3, n=3)]
        assert AggregateCondition(Measure.DISTINCT_DAYS, Op.EQ, 2).holds(facts(None, *done))
        spring = AggregateCondition(Measure.COUNT, Op.EQ, 1, campaigns=["spring"])
        assert spring.holds(facts(None, *done))


class TestSegment:
    """A named rule, checked when built and against a trait schema."""

    def test_a_segment_evaluates_its_rule(self) -> None:
        """``holds`` and the compiled ``matcher`` agree."""
        segment = Segment("buyers", AggregateCondition(Measure.COUNT, Op.GE, 1))
        assert segment.holds(facts(None, bought(1)))
        assert segment.matcher()(facts(None, bought(1)))
        assert not segment.matcher()(facts())

    def test_the_name_must_be_a_slug(self) -> None:
        """Names are identifiers."""
        with pytest.raises(ValidationError) as caught:
            Segment("VIP DE", tagged("vip"))
        assert caught.value.paths == ("name",)

    def test_time_in_stage_is_no_segment_condition(self) -> None:
        """It looks at a lifecycle's current stage, which a segment has not."""
        with pytest.raises(ValidationError) as caught:
            Segment("s", AnyOf([tagged("vip"), Not(TimeInStage(3))]))
        assert caught.value.paths == ("rule.conditions[1].condition",)

    def test_traits_are_checked_against_the_schema_with_paths(self) -> None:
        """Undeclared traits and type mismatches are named by the path of their node."""
        schema = TraitSchema({"plan": TraitDefinition("string")})
        segment = Segment(
            "s",
            AllOf(
                [
                    TraitCondition("plan", "string", Op.EQ, "pro"),
                    TraitCondition("seats", "integer", Op.GT, 3),
                    Not(TraitCondition("plan", "integer", Op.EQ, 3)),
                ]
            ),
        )
        with pytest.raises(ValidationError) as caught:
            segment.check(schema)
        assert caught.value.paths == (
            "rule.conditions[1].name",
            "rule.conditions[2].condition.type",
        )
        segment.check(None)
        Segment("s", TraitCondition("plan", "string", Op.EQ, "pro")).check(schema)

    def test_an_empty_any_is_refused(self) -> None:
        """``any()`` of nothing is a mistake."""
        with pytest.raises(ValidationError):
            Segment("s", AnyOf([]))


class TestLifecycleModelsShareTheLanguage:
    """Segment leaves are conditions: lifecycle models may use them."""

    def test_an_account_model_refuses_customer_only_leaves(self) -> None:
        """Accounts have no address, traits, consent or stages; ``account.*`` fields are fine."""
        stages = [Stage("new"), Stage("won")]
        customer_only = TraitCondition("plan", "string", Op.EQ, "pro")
        with pytest.raises(ValidationError) as caught:
            LifecycleModel(
                "deals",
                stages=stages,
                transitions=[Transition("new", "won", guard=customer_only)],
                subject=SubjectKind.ACCOUNT,
            )
        assert caught.value.paths == ("transitions[0].guard",)
        fine = FieldCondition("account.industry", Op.EQ, "retail")
        LifecycleModel(
            "deals",
            stages=stages,
            transitions=[Transition("new", "won", guard=fine)],
            subject=SubjectKind.ACCOUNT,
        )
