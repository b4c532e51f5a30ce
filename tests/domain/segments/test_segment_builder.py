"""The segment builder writes the condition classes as Python expressions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from crmkit import Money
from crmkit.domain.rules.aggregates import Measure
from crmkit.domain.rules.leaves import ConsentCondition, FieldCondition, Op, TraitCondition
from crmkit.domain.rules.stage_leaves import Members, StageCondition
from crmkit.errors import ValidationError
from crmkit.segments import (
    AggregateCondition,
    AllOf,
    AnyOf,
    Not,
    TagCondition,
    Window,
    consent,
    days,
    field,
    interactions,
    members,
    purchases,
    stage,
    tagged,
    trait,
)

SINCE = datetime(2024, 1, 1, tzinfo=UTC)


class TestFields:
    """``field(name)`` with operators and methods."""

    def test_each_operator_builds_its_field_condition(self) -> None:
        """``==``, ``!=``, ordering and the named methods."""
        assert (field("country") == "DE") == FieldCondition("country", Op.EQ, "DE")
        assert (field("country") != "DE") == FieldCondition("country", Op.NE, "DE")
        assert (field("city") < "M") == FieldCondition("city", Op.LT, "M")
        assert (field("city") >= "M") == FieldCondition("city", Op.GE, "M")
        assert field("email").starts_with("ada") == FieldCondition("email", Op.STARTS_WITH, "ada")
        assert field("email").contains("@") == FieldCondition("email", Op.CONTAINS, "@")
        assert field("city").is_in(["Berlin", "Köln"]) == FieldCondition(
            "city", Op.IN, ("Berlin", "Köln")
        )
        assert field("city").not_in(["Berlin"]) == FieldCondition("city", Op.NOT_IN, ("Berlin",))
        assert field("region").is_null() == FieldCondition("region", Op.IS_NULL)
        assert field("region").is_not_null() == FieldCondition("region", Op.IS_NOT_NULL)
        assert field("postal_code").between("10000", "19999") == FieldCondition(
            "postal_code", Op.BETWEEN, ("10000", "19999")
        )

    def test_builders_cannot_be_hashed(self) -> None:
        """``==`` builds a condition, so a builder is no dictionary key."""
        with pytest.raises(TypeError):
            hash(field("country"))

    def test_an_unknown_field_fails_when_compared(self) -> None:
        """The catalogue check runs when the condition is built."""
        with pytest.raises(ValidationError):
            _ = field("shoe_size") == "42"


class TestTraits:
    """``trait(name[, type])``."""

    def test_the_type_is_inferred_from_the_value(self) -> None:
        """A str is a string trait, an int an integer, a date a date."""
        assert (trait("plan") == "pro") == TraitCondition("plan", "string", Op.EQ, "pro")
        assert (trait("seats") > 10) == TraitCondition("seats", "integer", Op.GT, 10)
        assert (trait("vip") == True) == TraitCondition("vip", "boolean", Op.EQ, True)  # noqa: E712
        assert trait("birthday").between(date(1990, 1, 1), date(1999, 12, 31)).type == "date"
        assert trait("plan").is_in(["pro", "team"]).type == "string"

    def test_the_type_may_be_given(self) -> None:
        """Needed where the value does not tell: null checks and contains."""
        assert trait("plan", "string").is_null() == TraitCondition("plan", "string", Op.IS_NULL)
        assert trait("tags", "string_list").contains("golf") == TraitCondition(
            "tags", "string_list", Op.CONTAINS, "golf"
        )
        with pytest.raises(ValidationError, match="give the type"):
            trait("plan").is_null()
        with pytest.raises(ValidationError, match="give the type"):
            trait("tags").contains("golf")


class TestOtherLeaves:
    """Tags, consent, stages and members."""

    def test_tags_consent_and_members(self) -> None:
        """Each helper returns its condition class."""
        assert tagged("vip") == TagCondition("vip")
        assert consent("email", "newsletter") == ConsentCondition("email", "newsletter")
        assert members(["c1", "c2"]) == Members(["c1", "c2"])

    def test_stages(self) -> None:
        """``stage(model)`` compares the current stage of one model."""
        lifecycle = stage("customer_lifecycle")
        assert lifecycle.is_in(["customer", "repeat"]) == StageCondition(
            "customer_lifecycle", ["customer", "repeat"]
        )
        assert (lifecycle == "lead") == StageCondition("customer_lifecycle", ["lead"])
        assert (lifecycle != "lead") == Not(StageCondition("customer_lifecycle", ["lead"]))
        assert lifecycle.not_in(["lead"]) == Not(StageCondition("customer_lifecycle", ["lead"]))


class TestInteractions:
    """``interactions(...)`` and ``purchases(...)`` measured and compared."""

    def test_three_purchases_in_the_last_90_days(self) -> None:
        """The issue's example."""
        rule = purchases(last=days(90)).count() >= 3
        assert rule == AggregateCondition(
            Measure.COUNT, Op.GE, 3, window=Window(last_days=90), kinds=["purchase"]
        )
        assert (purchases(last=days(90)).count() >= 3) == rule

    def test_a_sum_compares_with_money_or_plain_amounts(self) -> None:
        """Plain amounts are read as money in the sum's currency."""
        total = interactions(since=SINCE).sum("EUR")
        rule = total > Money.of("500", "EUR")
        assert rule == AggregateCondition(
            Measure.SUM, Op.GT, Money.of("500", "EUR"), currency="EUR", window=Window(SINCE)
        )
        assert (total > 500) == rule
        assert total.between("10", "20").value == (Money.of("10", "EUR"), Money.of("20", "EUR"))

    def test_times_and_days(self) -> None:
        """``first_at``, ``last_at``, ``distinct_days``, ``exist``."""
        web = interactions(channels=["web"], directions=["inbound"])
        assert (web.last_at() < SINCE).measure is Measure.MAX_AT
        assert web.first_at().is_null().op is Op.IS_NULL
        assert (web.distinct_days() >= 2).measure is Measure.DISTINCT_DAYS
        assert web.exist() == (web.count() >= 1)

    def test_a_window_takes_last_or_since_until(self) -> None:
        """Both at once is a mistake, as are fractional days."""
        with pytest.raises(ValidationError) as caught:
            interactions(last=days(3), since=SINCE)
        assert caught.value.paths == ("last",)
        with pytest.raises(ValidationError):
            interactions(last=days(1) / 2)


class TestCombining:
    """``&``, ``|`` and ``~``."""

    def test_operators_build_the_combinators(self) -> None:
        """The issue's example reads as written."""
        rule = (field("country") == "DE") & (purchases(last=days(90)).count() >= 3)
        assert isinstance(rule, AllOf)
        assert isinstance(tagged("vip") | tagged("b2b"), AnyOf)
        assert ~tagged("vip") == Not(TagCondition("vip"))
