"""Conditions: small predicates over a subject's facts, as of an explicit instant."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import (
    Account,
    AccountId,
    Channel,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    InteractionId,
)
from crmkit.domain import TimeInStage
from crmkit.domain.rules.conditions import MAX_CONDITION_DEPTH
from crmkit.errors import ValidationError
from crmkit.lifecycle import SubjectKind
from crmkit.segments import (
    AggregateCondition,
    AllOf,
    AnyOf,
    Condition,
    ConsentCondition,
    Facts,
    FieldCondition,
    Measure,
    Members,
    Not,
    Op,
    StageCondition,
    TagCondition,
    TraitCondition,
    Window,
    days,
    field,
    interactions,
    purchases,
    tagged,
    trait,
)
from crmkit.serialization import CONDITION_TYPES, from_json, structure, to_json, unstructure
from crmkit.testing import strategies as cs
from tests.strategies import T0, json_values, mutated


def interaction(
    at: datetime, kind: str = "purchase", channel: Channel = Channel.WEB, n: int = 0
) -> Interaction:
    """One interaction of customer ``c1``."""
    return Interaction(InteractionId(f"i{n}"), CustomerId("c1"), at, kind, channel)


def facts_with(*interactions: Interaction, as_of: datetime = T0, **parts: Any) -> Facts:
    """Facts as of ``as_of`` holding ``interactions``."""
    return Facts(as_of=as_of, interactions=interactions, **parts)


def leaf_values(condition: Condition, facts: Facts) -> bool:
    """The condition's value, evaluated by the textbook meaning of all / any / not."""
    if isinstance(condition, AllOf):
        return all(leaf_values(c, facts) for c in condition.conditions)
    if isinstance(condition, AnyOf):
        return any(leaf_values(c, facts) for c in condition.conditions)
    if isinstance(condition, Not):
        return not leaf_values(condition.condition, facts)
    return condition.holds(facts)


def nested(depth: int) -> Condition:
    """A chain of `Not` ``depth`` levels deep (1: just the leaf)."""
    condition: Condition = tagged("vip")
    for _ in range(depth - 1):
        condition = Not(condition)
    return condition


class TestFacts:
    """What a condition may look at."""

    def test_the_facts_of_a_customer_hold_their_profile_tags_and_traits(self) -> None:
        """`Facts.of_customer` copies the profile fields by name, the tags and the traits."""
        ada = Customer.register(
            CustomerId("c1"),
            at=T0,
            email=EmailAddress("ada@example.com"),
            tags={"vip"},
            traits={"plan": "pro"},
        )
        facts = Facts.of_customer(ada, [interaction(T0)], T0)
        assert facts.fields["email"] == ada.email
        assert facts.fields["phone"] is None
        assert facts.tags == {"vip"}
        assert facts.traits == {"plan": "pro"}
        assert len(facts.interactions) == 1

    def test_the_facts_of_an_account_hold_its_fields(self) -> None:
        """`Facts.of_account` names the account's fields, and has no tags or traits."""
        acme = Account.register(AccountId("a1"), name="Acme", at=T0, domain="acme.com")
        facts = Facts.of_account(acme, [], T0)
        assert facts.fields["domain"] == "acme.com"
        assert facts.tags == frozenset()

    def test_a_naive_as_of_is_refused(self) -> None:
        """The instant must be timezone-aware."""
        with pytest.raises(ValidationError):
            Facts(as_of=T0.replace(tzinfo=None))


def customer(**profile: Any) -> Customer:
    """Customer ``c1``, registered at ``T0`` with ``profile``."""
    return Customer.register(CustomerId("c1"), at=T0, **profile)


def of_customer(who: Customer) -> Facts:
    """The facts of ``who`` as of ``T0``, without interactions."""
    return Facts.of_customer(who, [], T0)


class TestFieldExists:
    """``field(name).exists()``: the subject has a value for a profile field."""

    def test_a_filled_field_holds(self) -> None:
        """Any non-empty value counts."""
        ada = customer(email=EmailAddress("ada@example.com"))
        assert field("email").exists().holds(of_customer(ada))

    def test_an_empty_or_missing_field_does_not_hold(self) -> None:
        """Empty text is stored as no value, so it is missing, as ``None`` is."""
        assert not field("given_name").exists().holds(of_customer(customer(given_name="")))
        assert not field("email").exists().holds(of_customer(customer()))
        assert not field("email").exists().holds(Facts(as_of=T0))

    def test_it_is_the_field_leaf_that_is_not_null(self) -> None:
        """The builder writes the one field leaf: `exists` is `is_not_null`."""
        assert field("email").exists() == FieldCondition("email", Op.IS_NOT_NULL)
        assert field("email").exists() == field("email").is_not_null()
        assert field("email").exists().describe() == "has field 'email'"

    def test_an_account_field_is_the_linked_accounts(self) -> None:
        """An account's fields are ``account.*``: its own in an account model's facts."""
        acme = Account.register(AccountId("a1"), name="Acme", at=T0, domain="acme.com")
        assert field("account.domain").exists().holds(Facts.of_account(acme, [], T0))
        bare = Account.register(AccountId("a2"), name="Bare", at=T0)
        assert not field("account.domain").exists().holds(Facts.of_account(bare, [], T0))

    def test_an_unknown_field_is_refused_naming_the_known_ones(self) -> None:
        """Only the catalogue's fields can be tested."""
        with pytest.raises(ValidationError, match="must be one of id, given_name") as caught:
            field("shoe_size").exists()
        assert caught.value.paths == ("field",)


class TestTaggedAndTraitExists:
    """``tagged(t)`` and ``trait(n).exists()``: membership tests."""

    def test_a_tag_holds_when_the_subject_carries_it(self) -> None:
        """Tags compare as stored: lower case."""
        facts = Facts(as_of=T0, tags={"vip"})
        assert tagged("vip").holds(facts)
        assert not tagged("b2b").holds(facts)

    def test_a_tag_is_read_in_the_stored_form_of_tags(self) -> None:
        """Tags are stored trimmed, collapsed and lower-case, so a rule's tag is too:
        ``"VIP"`` finds the customers tagged ``"vip"`` instead of nobody."""
        assert tagged(" VIP  Gold ").tag == "vip gold"
        assert tagged("VIP").holds(Facts(as_of=T0, tags={"vip"}))
        assert tagged("VIP") == TagCondition("vip")

    def test_a_tag_that_could_never_be_stored_is_refused(self) -> None:
        """A blank tag, or one of more than 100 characters, is no customer's tag."""
        for bad in ("", "   ", "x" * 101, 7):
            with pytest.raises(ValidationError) as caught:
                tagged(bad)  # type: ignore[arg-type]
            assert caught.value.paths == ("tag",)

    def test_a_trait_holds_whatever_its_value(self) -> None:
        """Even ``False`` is a value; without a type, a trait of any type counts."""
        facts = Facts(as_of=T0, traits={"trial": False})
        assert trait("trial").exists().holds(facts)
        assert not trait("plan").exists().holds(facts)
        assert trait("trial").exists() == TraitCondition("trial", None, Op.IS_NOT_NULL)
        assert trait("trial").exists().describe() == "has trait 'trial'"

    def test_a_trait_of_one_type_exists_only_in_that_type(self) -> None:
        """With a type, a trait of another type counts as missing, as in comparisons."""
        facts = Facts(as_of=T0, traits={"seats": "ten"})
        assert trait("seats", "string").exists().holds(facts)
        assert not trait("seats", "integer").exists().holds(facts)

    @pytest.mark.parametrize("op", [Op.EQ, Op.CONTAINS, Op.GE])
    def test_a_trait_of_any_type_only_exists_or_not(self, op: Op) -> None:
        """Only presence can be asked of a trait whose type is not given."""
        with pytest.raises(ValidationError) as caught:
            TraitCondition("plan", None, op, "pro")
        assert caught.value.paths == ("type",)


def count(rule: Condition, facts: Facts) -> int:
    """What the count aggregate ``rule`` measures over ``facts``."""
    assert isinstance(rule, AggregateCondition)
    assert rule.measure is Measure.COUNT
    measured: int = rule.measure_of(facts)
    return measured


class TestInteractionCounts:
    """``interactions(...).count()``: how many interactions in a window ending at ``as_of``."""

    def test_an_interaction_exactly_at_as_of_counts(self) -> None:
        """The window's end is included: what happened "now" counts."""
        rule = purchases(last=days(30)).count() >= 1
        assert count(rule, facts_with(interaction(T0))) == 1

    def test_an_interaction_exactly_at_the_window_start_does_not_count(self) -> None:
        """The window's start is excluded, so consecutive windows never overlap."""
        rule = purchases(last=days(30)).count() >= 1
        assert count(rule, facts_with(interaction(T0 - timedelta(days=30)))) == 0
        just_inside = T0 - timedelta(days=30) + timedelta(microseconds=1)
        assert count(rule, facts_with(interaction(just_inside))) == 1

    def test_an_interaction_after_as_of_never_counts(self) -> None:
        """The future is not a fact yet, with or without a window."""
        later = interaction(T0 + timedelta(microseconds=1))
        assert count(interactions().count() >= 1, facts_with(later)) == 0
        assert count(interactions(last=days(1)).count() >= 1, facts_with(later)) == 0

    def test_kinds_and_channels_filter_and_empty_means_any(self) -> None:
        """``kinds`` and ``channels`` narrow the count; left empty they allow everything."""
        facts = facts_with(
            interaction(T0, "purchase", Channel.WEB, 1),
            interaction(T0, "refund", Channel.WEB, 2),
            interaction(T0, "purchase", Channel.IN_PERSON, 3),
        )
        assert count(interactions().count() >= 0, facts) == 3
        assert count(purchases().count() >= 0, facts) == 2
        assert count(interactions(channels=["web"]).count() >= 0, facts) == 2
        in_person = purchases(channels=[Channel.IN_PERSON]).count() >= 0
        assert count(in_person, facts) == 1

    def test_no_purchase_in_a_window_is_a_count_of_zero(self) -> None:
        """``== 0`` reads "no ... in the last n days"."""
        lapsed = purchases(last=days(180)).count() == 0
        assert lapsed.holds(facts_with(interaction(T0 - timedelta(days=180))))
        assert not lapsed.holds(facts_with(interaction(T0 - timedelta(days=179))))
        assert lapsed.describe() == "count of purchase interactions eq 0"

    def test_both_bounds_are_inclusive(self) -> None:
        """``between(low, high)`` includes both; ``>=`` and ``<=`` include their values."""
        two = facts_with(interaction(T0, n=1), interaction(T0, n=2))
        assert interactions().count().between(2, 2).holds(two)
        assert not (interactions().count() >= 3).holds(two)
        assert not (interactions().count() <= 1).holds(two)

    def test_the_builder_writes_the_aggregate_leaf(self) -> None:
        """A count is the `AggregateCondition` of measure ``count`` over a `Window`."""
        rule = interactions(kinds=["meeting"], channels=["phone"], last=days(30)).count() >= 1
        assert rule == AggregateCondition(
            Measure.COUNT,
            Op.GE,
            1,
            window=Window(last_days=30),
            kinds={"meeting"},
            channels={Channel.PHONE},
        )

    @pytest.mark.parametrize(
        ("build", "path"),
        [
            (lambda: interactions().count().between(3, 2), "value"),
            (lambda: interactions().count() >= True, "value"),
            (lambda: interactions().count() >= -1, "value"),
            (lambda: interactions(last=0).count() >= 1, "last_days"),
            (lambda: interactions(kinds="purchase").count() >= 1, "kinds"),
            (lambda: interactions(kinds=["Purchase"]).count() >= 1, "kinds"),
            (lambda: interactions(kinds=[["purchase"]]).count() >= 1, "kinds"),  # type: ignore[list-item]
            (lambda: interactions(channels=["fax"]).count() >= 1, "channels"),
        ],
    )
    def test_bad_bounds_and_filters_are_refused_by_name(self, build: Any, path: str) -> None:
        """A count needs bounds in order, a positive window and slug kinds."""
        with pytest.raises(ValidationError) as caught:
            build()
        assert caught.value.paths == (path,)

    @given(
        cs.facts(),
        st.frozensets(st.sampled_from(["purchase", "refund", "meeting"]), max_size=2),
        st.frozensets(st.sampled_from(Channel), max_size=2),
        st.none() | st.integers(1, 400),
    )
    def test_the_count_is_the_matching_interactions_in_the_half_open_window(
        self,
        facts: Facts,
        kinds: frozenset[str],
        channels: frozenset[Channel],
        within: int | None,
    ) -> None:
        """The count equals a plain filter over ``(as_of - last, as_of]``."""
        rule = interactions(kinds=kinds, channels=channels, last=within).count() >= 0
        start = None if within is None else facts.as_of - timedelta(within)
        expected = [
            i
            for i in facts.interactions
            if i.occurred_at <= facts.as_of
            and (start is None or i.occurred_at > start)
            and (not kinds or i.kind in kinds)
            and (not channels or i.channel in channels)
        ]
        assert count(rule, facts) == len(expected)

    @given(cs.facts(), st.integers(1, 200), st.integers(1, 200))
    def test_consecutive_windows_add_up(self, facts: Facts, first: int, second: int) -> None:
        """Counting ``a + b`` days equals counting ``a`` days, plus ``b`` days before them."""
        whole = count(interactions(last=first + second).count() >= 0, facts)
        recent = count(interactions(last=first).count() >= 0, facts)
        earlier = Facts(as_of=facts.as_of - timedelta(days=first), interactions=facts.interactions)
        before = count(interactions(last=second).count() >= 0, earlier)
        assert whole == recent + before


class TestTimeInStage:
    """`TimeInStage`: how long the subject has been in its current stage."""

    def test_it_holds_from_the_given_number_of_days_on(self) -> None:
        """Exactly ``at_least_days`` after entering the stage, it holds; a moment before, not."""
        trial_over = TimeInStage(14)
        entered = T0 - timedelta(days=14)
        assert trial_over.holds(Facts(as_of=T0, stage_entered_at=entered))
        later = entered + timedelta(microseconds=1)
        assert not trial_over.holds(Facts(as_of=T0, stage_entered_at=later))

    def test_it_never_holds_where_no_stage_is_known(self) -> None:
        """Outside a lifecycle model's guards and rules there is no current stage."""
        assert not TimeInStage(0).holds(Facts(as_of=T0))

    def test_a_history_tells_it_when_the_stage_was_entered(self) -> None:
        """`Facts.in_stage_since` gives the same facts, situated in a stage."""
        facts = Facts(as_of=T0).in_stage_since(T0 - timedelta(days=3))
        assert TimeInStage(3).holds(facts)
        assert not TimeInStage(4).holds(facts)

    @pytest.mark.parametrize("days", [-1, True, 1.5, "3"])
    def test_a_bad_number_of_days_is_refused(self, days: Any) -> None:
        """Whole days from zero on."""
        with pytest.raises(ValidationError) as caught:
            TimeInStage(days)
        assert caught.value.paths == ("at_least_days",)


class TestCombinators:
    """`AllOf`, `AnyOf` and `Not` combine conditions, and nest a bounded number of levels."""

    def test_all_of_needs_every_condition(self) -> None:
        """All must hold."""
        facts = Facts(as_of=T0, tags={"vip"})
        assert AllOf([tagged("vip")]).holds(facts)
        assert not AllOf([tagged("vip"), tagged("b2b")]).holds(facts)

    def test_any_of_needs_one_condition(self) -> None:
        """One is enough."""
        facts = Facts(as_of=T0, tags={"vip"})
        assert AnyOf([tagged("b2b"), tagged("vip")]).holds(facts)
        assert not AnyOf([tagged("b2b")]).holds(facts)

    def test_not_inverts(self) -> None:
        """``Not(c)`` holds exactly when ``c`` does not."""
        assert Not(tagged("vip")).holds(Facts(as_of=T0))

    def test_operators_build_the_combinators(self) -> None:
        """``&``, ``|`` and ``~`` read like the rule they build."""
        email, phone = field("email").exists(), field("phone").exists()
        assert email & phone == AllOf((email, phone))
        assert email | phone == AnyOf((email, phone))
        assert ~email == Not(email)

    def test_the_description_reads_like_the_rule(self) -> None:
        """`describe` spells the tree out for error messages."""
        rule = field("email").exists() | ~tagged("vip")
        assert rule.describe() == "(has field 'email') or (not (has tag 'vip'))"

    @pytest.mark.parametrize("kind", [AllOf, AnyOf])
    def test_an_empty_combination_is_refused(self, kind: type[AllOf] | type[AnyOf]) -> None:
        """``all of nothing`` is almost always a mistake."""
        with pytest.raises(ValidationError, match="at least one"):
            kind([])

    def test_something_that_is_no_condition_is_refused_by_index(self) -> None:
        """Each member must be a Condition."""
        with pytest.raises(ValidationError) as caught:
            AllOf([tagged("vip"), "email"])
        assert caught.value.paths == ("conditions[1]",)

    def test_nesting_up_to_the_limit_is_allowed(self) -> None:
        """Trees as deep as `MAX_CONDITION_DEPTH` are fine."""
        assert nested(MAX_CONDITION_DEPTH).depth == MAX_CONDITION_DEPTH

    def test_nesting_deeper_than_the_limit_is_refused(self) -> None:
        """One more level raises ValidationError, so hostile trees stay small."""
        with pytest.raises(ValidationError, match="nest at most"):
            Not(nested(MAX_CONDITION_DEPTH))
        with pytest.raises(ValidationError, match="nest at most"):
            AllOf([nested(MAX_CONDITION_DEPTH)])

    @given(cs.conditions(4), cs.facts())
    def test_combinators_mean_all_any_and_not(self, condition: Condition, facts: Facts) -> None:
        """Any tree evaluates like Python's ``all``, ``any`` and ``not`` over its leaves."""
        assert condition.holds(facts) == leaf_values(condition, facts)
        assert Not(condition).holds(facts) is not condition.holds(facts)

    @given(cs.conditions(4))
    def test_generated_trees_respect_the_depth_bound(self, condition: Condition) -> None:
        """The strategy's trees are valid: rebuilding them passes every check."""
        assert 1 <= condition.depth <= 4
        assert structure(unstructure(condition), Condition) == condition


#: A count aggregate's document, less its value.
COUNT = {"type": "aggregate", "measure": "count", "op": "ge"}


class TestConditionJson:
    """Conditions are a tagged union in JSON, and round-trip losslessly."""

    def test_a_condition_is_tagged_with_its_kind(self) -> None:
        """``{"type": <kind>, ...fields}``; sets become sorted lists."""
        rule = interactions(kinds={"refund", "purchase"}, channels=["web"], last=90).count() >= 3
        assert unstructure(rule) == {
            "type": "aggregate",
            "measure": "count",
            "op": "ge",
            "value": 3,
            "window": {"last_days": 90, "since": None, "until": None},
            "kinds": ["purchase", "refund"],
            "channels": ["web"],
            "directions": [],
            "campaigns": [],
            "metadata": {},
            "currency": None,
        }

    def test_nested_conditions_are_tagged_too(self) -> None:
        """Combinators hold tagged conditions."""
        assert unstructure(~tagged("vip")) == {
            "type": "not",
            "condition": {"type": "tag", "tag": "vip"},
        }

    def test_every_kind_is_registered(self) -> None:
        """`CONDITION_TYPES` knows each concrete condition by its ``kind``."""
        assert {cls.kind for cls in CONDITION_TYPES.values()} == set(CONDITION_TYPES)
        assert set(CONDITION_TYPES.values()) == {
            AllOf,
            AnyOf,
            Not,
            TimeInStage,
            AggregateCondition,
            ConsentCondition,
            FieldCondition,
            Members,
            StageCondition,
            TagCondition,
            TraitCondition,
        }

    def test_an_unknown_tag_names_the_allowed_ones(self) -> None:
        """The error lists every tag the converter knows."""
        with pytest.raises(ValidationError) as caught:
            structure({"type": "has_shoe", "size": 42}, Condition)
        assert caught.value.paths == ("type",)
        assert (
            "aggregate, all_of, any_of, consent, field, members, not, stage, tag, "
            "time_in_stage, trait"
        ) in str(caught.value)

    @pytest.mark.parametrize("document", [{"tag": "vip"}, {"type": ["tag"], "tag": "vip"}])
    def test_a_missing_or_unhashable_tag_is_refused(self, document: Any) -> None:
        """The tag is required, and must be text."""
        with pytest.raises(ValidationError) as caught:
            structure(document, Condition)
        assert caught.value.paths == ("type",)

    def test_a_condition_of_another_class_is_refused(self) -> None:
        """Asking for one class only accepts its own tag."""
        with pytest.raises(ValidationError, match="must be one of field"):
            structure({"type": "tag", "tag": "vip"}, FieldCondition)
        assert structure({"type": "tag", "tag": "vip"}, TagCondition) == tagged("vip")

    def test_a_bad_nested_leaf_is_named_by_its_path(self) -> None:
        """Paths run through the combinators' fields and indexes."""
        document = {
            "type": "any_of",
            "conditions": [
                {"type": "tag", "tag": "vip"},
                {
                    "type": "not",
                    "condition": {
                        "type": "aggregate",
                        "measure": "count",
                        "op": "ge",
                        "value": "1",
                    },
                },
            ],
        }
        with pytest.raises(ValidationError) as caught:
            structure(document, Condition)
        assert caught.value.paths == ("conditions[1].condition.value",)

    def test_a_single_kind_given_as_text_is_refused(self) -> None:
        """``"kinds": "purchase"`` is not read as the set of its letters."""
        with pytest.raises(ValidationError) as caught:
            structure(
                {
                    "type": "aggregate",
                    "measure": "count",
                    "op": "ge",
                    "value": 1,
                    "kinds": "purchase",
                },
                Condition,
            )
        assert caught.value.paths == ("kinds",)

    def test_too_deep_a_tree_is_refused(self) -> None:
        """The domain's depth limit applies to documents too."""
        document = unstructure(nested(MAX_CONDITION_DEPTH))
        assert structure(document, Condition) == nested(MAX_CONDITION_DEPTH)
        with pytest.raises(ValidationError, match="nest at most"):
            structure({"type": "not", "condition": document}, Condition)

    @given(cs.conditions(4))
    def test_every_condition_survives_data_and_json(self, condition: Condition) -> None:
        """``structure(unstructure(c), Condition) == c``, through JSON text as well."""
        assert structure(unstructure(condition), Condition) == condition
        assert structure(unstructure(condition), type(condition)) == condition
        assert from_json(to_json(condition), Condition) == condition

    @given(st.sampled_from(SubjectKind), st.data())
    def test_conditions_for_a_subject_are_ones_it_can_meet(
        self, subject: SubjectKind, data: st.DataObject
    ) -> None:
        """``conditions(subject=...)`` draws only ``account.*`` fields for accounts, and no
        tags or traits."""
        condition = data.draw(cs.conditions(3, subject=subject))
        for leaf in condition.leaves():
            if subject is SubjectKind.ACCOUNT:
                assert not isinstance(leaf, TagCondition | TraitCondition)
                if isinstance(leaf, FieldCondition):
                    assert leaf.field.startswith("account.")

    @given(st.data())
    def test_from_type_draws_conditions(self, data: st.DataObject) -> None:
        """``st.from_type`` works for the base class and for each concrete condition."""
        assert isinstance(data.draw(st.from_type(Condition)), Condition)
        for cls in CONDITION_TYPES.values():
            assert isinstance(data.draw(st.from_type(cls)), cls)

    @given(json_values())
    def test_any_json_value_structures_or_raises_validation_error(self, document: Any) -> None:
        """Random JSON never escapes as a KeyError, TypeError or cattrs error."""
        with contextlib.suppress(ValidationError):
            structure(document, Condition)

    @given(st.data())
    def test_a_mutated_condition_structures_or_raises_validation_error(
        self, data: st.DataObject
    ) -> None:
        """Dropped keys, wrong types and unknown keys end in ValidationError only."""
        document = data.draw(mutated(unstructure(data.draw(cs.conditions(3)))))
        with contextlib.suppress(ValidationError):
            structure(document, Condition)
