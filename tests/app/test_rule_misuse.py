"""Rules cannot be silently wrong: Python's `and`/`or`/`not`, chained comparisons and a
single text where a list is meant are refused where they are written."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import Channel
from crmkit.domain import TimeInStage
from crmkit.domain.loyalty.programme import Programme
from crmkit.domain.loyalty.rules import Multiplier, SpendRule
from crmkit.domain.rules.aggregates import Measure
from crmkit.domain.rules.leaves import Op, TagCondition
from crmkit.domain.values.money import Money
from crmkit.errors import UsageError, ValidationError
from crmkit.segments import (
    AggregateCondition,
    AllOf,
    AnyOf,
    Condition,
    ConsentCondition,
    Facts,
    FieldCondition,
    Members,
    Not,
    StageCondition,
    TraitCondition,
    field,
    interactions,
    members,
    purchases,
    stage,
    tagged,
    trait,
)
from crmkit.testing import strategies as cs

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)

#: One condition of every class there is, built directly.
EVERY_CONDITION: dict[str, Condition] = {
    "field": FieldCondition("country", "eq", "DE"),
    "trait": TraitCondition("plan", "string", "eq", "pro"),
    "consent": ConsentCondition(Channel.EMAIL, "newsletter"),
    "stage": StageCondition("customer_lifecycle", ["lead"]),
    "members": Members(["c1"]),
    "aggregate": AggregateCondition(Measure.COUNT, Op.GE, 3),
    "tag": TagCondition("vip"),
    "trait of any type": TraitCondition("plan", None, "is_not_null"),
    "time_in_stage": TimeInStage(30),
    "all_of": AllOf([tagged("vip"), tagged("new")]),
    "any_of": AnyOf([tagged("vip"), tagged("new")]),
    "not": Not(tagged("vip")),
}

#: The ways Python asks a value for its truth.
TRUTH_TESTS: dict[str, Callable[[Any], object]] = {
    "bool": bool,
    "and": lambda c: c and tagged("vip"),
    "or": lambda c: c or tagged("vip"),
    "not": lambda c: not c,
    "if": lambda c: 1 if c else 0,
}


def says_use_the_operators(error: pytest.ExceptionInfo[UsageError]) -> None:
    message = str(error.value)
    for operator_ in ("&", "|", "~"):
        assert operator_ in message


class TestConditionsHaveNoTruthValue:
    """`a and b` would keep only `b`, `a or b` only `a`: a condition refuses to be true."""

    @pytest.mark.parametrize("test", TRUTH_TESTS.values(), ids=TRUTH_TESTS.keys())
    @pytest.mark.parametrize("condition", EVERY_CONDITION.values(), ids=EVERY_CONDITION.keys())
    def test_every_condition_refuses_a_truth_test(
        self, condition: Condition, test: Callable[[Any], object]
    ) -> None:
        with pytest.raises(UsageError) as error:
            test(condition)
        says_use_the_operators(error)

    def test_and_between_two_built_conditions_is_refused(self) -> None:
        with pytest.raises(UsageError, match="combine conditions with &"):
            _ = (field("country") == "DE") and tagged("vip")

    def test_or_between_two_built_conditions_is_refused(self) -> None:
        with pytest.raises(UsageError, match=r"\| \(or\)"):
            _ = (field("country") == "DE") or tagged("vip")

    def test_not_of_a_built_condition_is_refused(self) -> None:
        with pytest.raises(UsageError, match=r"~ \(not\)"):
            _ = not tagged("vip")

    def test_a_chained_range_is_refused_and_between_is_suggested(self) -> None:
        with pytest.raises(UsageError, match=r"between\(low, high\)"):
            _ = 1 < trait("seats") < 3  # type: ignore[operator]

    def test_a_chained_equality_is_refused(self) -> None:
        with pytest.raises(UsageError):
            _ = field("country") == "DE" == "DE"

    def test_a_chained_aggregate_comparison_is_refused(self) -> None:
        with pytest.raises(UsageError):
            _ = 1 <= purchases().count() <= 3  # type: ignore[operator]

    def test_the_operators_still_combine(self) -> None:
        rule = (field("country") == "DE") & tagged("vip") | ~tagged("new")
        assert isinstance(rule, AnyOf)
        assert rule.holds(Facts(as_of=AS_OF, tags={"vip"})) is True

    def test_conditions_still_compare_equal_and_hash(self) -> None:
        assert FieldCondition("country", "eq", "DE") == FieldCondition("country", "eq", "DE")
        assert FieldCondition("country", "eq", "DE") in {FieldCondition("country", "eq", "DE")}
        assert tagged("vip") in [tagged("new"), tagged("vip")]

    @given(cs.conditions(max_depth=3) | cs.segment_rules(max_depth=3))
    def test_no_generated_condition_has_a_truth_value(self, condition: Condition) -> None:
        with pytest.raises(UsageError):
            bool(condition)


BUILDERS: dict[str, object] = {
    "field": field("country"),
    "trait": trait("plan"),
    "typed_trait": trait("plan", "string"),
    "stage": stage("customer_lifecycle"),
    "interactions": interactions(kinds=["purchase"]),
    "aggregate": purchases().count(),
    "sum": purchases().sum("EUR"),
}


class TestBuildersHaveNoTruthValue:
    """`field("vip") and ...` or `if stage("m"):` is a mistake: a builder is not a rule."""

    @pytest.mark.parametrize("test", TRUTH_TESTS.values(), ids=TRUTH_TESTS.keys())
    @pytest.mark.parametrize("builder", BUILDERS.values(), ids=BUILDERS.keys())
    def test_every_builder_refuses_a_truth_test(
        self, builder: object, test: Callable[[Any], object]
    ) -> None:
        with pytest.raises(UsageError) as error:
            test(builder)
        says_use_the_operators(error)

    def test_the_message_says_to_compare_a_field(self) -> None:
        with pytest.raises(UsageError, match=r"field\('email'\) \(compare it"):
            bool(field("email"))


A_TEXT = "purchase"

#: Every parameter that takes a list of texts, given one text instead.
ONE_TEXT_FOR_A_LIST: dict[str, tuple[Callable[[], object], str]] = {
    "interactions kinds": (lambda: interactions(kinds=A_TEXT), "kinds"),
    "interactions channels": (lambda: interactions(channels="web"), "channels"),
    "interactions directions": (lambda: interactions(directions="inbound"), "directions"),
    "interactions campaigns": (lambda: interactions(campaigns="xmas"), "campaigns"),
    "purchases channels": (lambda: purchases(channels="web"), "channels"),
    "purchases campaigns": (lambda: purchases(campaigns="xmas"), "campaigns"),
    "field is_in": (lambda: field("country").is_in("DE"), "values"),
    "field not_in": (lambda: field("country").not_in("DE"), "values"),
    "trait is_in": (lambda: trait("plan").is_in("pro"), "values"),
    "stage is_in": (lambda: stage("customer_lifecycle").is_in("lead"), "names"),
    "stage not_in": (lambda: stage("customer_lifecycle").not_in("lead"), "names"),
    "members": (lambda: members("c1"), "ids"),
    "FieldCondition in": (lambda: FieldCondition("country", "in", "DE"), "value"),
    "StageCondition": (lambda: StageCondition("customer_lifecycle", "lead"), "stages"),
    "Members": (lambda: Members("c1"), "ids"),
    "AggregateCondition kinds": (
        lambda: AggregateCondition(Measure.COUNT, Op.GE, 1, kinds=A_TEXT),
        "kinds",
    ),
    "AggregateCondition campaigns": (
        lambda: AggregateCondition(Measure.COUNT, Op.GE, 1, campaigns="xmas"),
        "campaigns",
    ),
    "AggregateCondition channels": (
        lambda: AggregateCondition(Measure.COUNT, Op.GE, 1, channels="web"),
        "channels",
    ),
    "Facts tags": (lambda: Facts(as_of=AS_OF, tags="vip"), "tags"),
    "SpendRule kinds": (
        lambda: SpendRule("spend", 1, Money.of(1, "EUR"), kinds=A_TEXT),
        "kinds",
    ),
    "Multiplier channels": (lambda: Multiplier("app", 2, channels="app"), "channels"),
    "Multiplier categories": (lambda: Multiplier("books", 2, categories="books"), "categories"),
    "Programme custom_kinds": (
        lambda: Programme("p", [SpendRule("spend", 1, Money.of(1, "EUR"))], custom_kinds="x"),
        "custom_kinds",
    ),
}


class TestOneTextIsNotAList:
    """A text is iterable, so ``kinds="purchase"`` would be the set of its letters."""

    @pytest.mark.parametrize(
        ("build", "parameter"), ONE_TEXT_FOR_A_LIST.values(), ids=ONE_TEXT_FOR_A_LIST.keys()
    )
    def test_a_single_text_is_refused_naming_the_parameter(
        self, build: Callable[[], object], parameter: str
    ) -> None:
        with pytest.raises(ValidationError, match="not a single text") as error:
            build()
        assert [e.path for e in error.value.errors] == [parameter]

    def test_interactions_refuses_a_text_when_built_not_when_measured(self) -> None:
        with pytest.raises(ValidationError) as error:
            interactions(kinds="purchase")  # never compared: refused all the same
        assert error.value.errors[0].value == "purchase"

    def test_a_mapping_is_not_a_list_either(self) -> None:
        with pytest.raises(ValidationError, match="kinds"):
            interactions(kinds={"purchase": True})

    def test_bytes_are_not_a_list_of_texts(self) -> None:
        with pytest.raises(ValidationError, match="not a single text"):
            interactions(kinds=b"purchase")

    @pytest.mark.parametrize("collection", [["purchase"], ("purchase",), {"purchase"}])
    def test_any_collection_of_texts_is_accepted(self, collection: Any) -> None:
        selection = interactions(kinds=collection, channels=iter(["web"]))
        assert selection.filters["kinds"] == frozenset({"purchase"})
        assert selection.filters["channels"] == frozenset({Channel.WEB})
        assert SpendRule("s", 1, Money.of(1, "EUR"), kinds=collection).kinds == {"purchase"}

    def test_a_spend_rule_kind_must_be_a_slug(self) -> None:
        with pytest.raises(ValidationError, match="interaction kind"):
            SpendRule("s", 1, Money.of(1, "EUR"), kinds=[1])

    @given(st.text(min_size=1, max_size=12))
    def test_no_text_is_ever_taken_for_a_list(self, text: str) -> None:
        for build in (
            lambda: interactions(kinds=text),
            lambda: field("city").is_in(text),
            lambda: members(text),
        ):
            with pytest.raises(ValidationError, match="not a single text"):
                build()


def test_comparisons_made_by_the_operator_module_still_build_conditions() -> None:
    """The refusal is of truth tests only: ``operator.ge`` builds a condition as ``>=`` does."""
    assert operator.ge(purchases().count(), 3) == (purchases().count() >= 3)
