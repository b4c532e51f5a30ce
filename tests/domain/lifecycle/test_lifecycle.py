"""Lifecycle models: stages, allowed moves and progression rules, checked when built; and the
presets that ship with crmkit."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from crmkit import Customer, CustomerId, EmailAddress, Interaction, InteractionId, PhoneNumber
from crmkit.domain import PRESETS
from crmkit.errors import GuardFailed, IllegalTransition, ValidationError
from crmkit.lifecycle import (
    CUSTOMER_LIFECYCLE,
    DEAL_PIPELINE,
    HUBSPOT_LIFECYCLE,
    LifecycleModel,
    Outcome,
    ProgressionRule,
    Stage,
    StageHistory,
    SubjectKind,
    Transition,
)
from crmkit.segments import Facts, field, interactions, tagged
from crmkit.serialization import from_json, structure, to_json, unstructure
from crmkit.testing import strategies as cs
from tests.strategies import T0, json_values, mutated

#: A condition customers and accounts alike can meet.
ANYONE = interactions().count() >= 1

#: A stage name no generated model uses (the strategies draw names of at most 12 characters).
MISSING = "missing_stage_x"


def onboarding(**changes: Any) -> LifecycleModel:
    """A small model: signed_up -> activated -> paying, paying <-> paused, churned is final."""
    parts: dict[str, Any] = {
        "stages": [
            "signed_up",
            "activated",
            "paying",
            "paused",
            Stage("churned", terminal=True, outcome=Outcome.LOST),
        ],
        "transitions": [
            ("signed_up", "activated"),
            Transition("activated", "paying", guard=field("email").exists()),
            ("paying", "paused"),
            ("paused", "paying"),
            ("paused", "churned"),
        ],
    }
    parts.update(changes)
    return LifecycleModel("onboarding", **parts)


def problems(model: LifecycleModel, **changes: Any) -> ValidationError:
    """The ValidationError raised when ``model`` is rebuilt with ``changes``."""
    with pytest.raises(ValidationError) as caught:
        attrs.evolve(model, **changes)
    return caught.value


def purchase(at: datetime, n: int, kind: str = "purchase") -> Interaction:
    """An interaction of customer ``c1`` in the web shop."""
    return Interaction(InteractionId(f"i{n}"), CustomerId("c1"), at, kind, "web")


class TestBuildingAModel:
    """A model is given stages and moves in the shortest form that reads well."""

    def test_stages_may_be_names_and_transitions_pairs(self) -> None:
        """Names become `Stage`s and pairs unguarded `Transition`s; the first stage is initial."""
        model = onboarding()
        assert model.initial == "signed_up"
        assert model.stage("activated") == Stage("activated", label="Activated")
        assert model.transitions[0] == Transition("signed_up", "activated")

    def test_a_stage_label_defaults_to_its_name_in_words(self) -> None:
        """``sales_qualified`` shows as ``Sales qualified``."""
        assert Stage("sales_qualified").label == "Sales qualified"

    @pytest.mark.parametrize("name", ["Lead", "", "1st", None, 5])
    def test_a_stage_name_must_be_a_slug(self, name: Any) -> None:
        """Names are lower-case slugs, so they are safe as keys and in URLs."""
        with pytest.raises(ValidationError) as caught:
            Stage(name)
        assert caught.value.paths == ("name",)

    def test_the_stage_names_keep_model_order(self) -> None:
        """`stage_names` lists the stages as given."""
        assert onboarding().stage_names == ("signed_up", "activated", "paying", "paused", "churned")

    def test_an_unknown_stage_is_named_with_the_known_ones(self) -> None:
        """`stage` raises ValidationError listing the model's stages."""
        with pytest.raises(ValidationError, match="signed_up, activated"):
            onboarding().stage("trial")

    def test_the_model_draws_itself_as_mermaid(self) -> None:
        """`to_mermaid` gives a state diagram with the initial and final stages marked."""
        diagram = onboarding().to_mermaid()
        assert diagram.startswith("stateDiagram-v2\n    [*] --> signed_up")
        assert "    activated --> paying : guarded" in diagram
        assert diagram.endswith("    churned --> [*]")


class TestModelValidation:
    """A model is checked when built; every problem is reported at once, with its path."""

    def test_a_duplicate_stage_is_named(self) -> None:
        """The second stage of a name is the duplicate."""
        error = problems(onboarding(), stages=[*onboarding().stages, Stage("paying")])
        assert error.paths == ("stages[5].name",)

    def test_an_unknown_initial_stage_is_named(self) -> None:
        """The initial stage must be one of the stages."""
        assert problems(onboarding(), initial="trial").paths == ("initial",)

    def test_a_transition_to_nowhere_is_named(self) -> None:
        """Its target is not a stage."""
        moves = [("signed_up", "activated"), ("activated", "payed")]
        error = problems(onboarding(), stages=["signed_up", "activated"], transitions=moves)
        assert error.paths == ("transitions[1].target",)
        assert "leads nowhere" in str(error)

    def test_a_transition_from_an_unknown_stage_is_named(self) -> None:
        """Its source is not a stage."""
        moves = [*onboarding().transitions, ("trial", "paying")]
        assert problems(onboarding(), transitions=moves).paths == ("transitions[5].source",)

    def test_a_transition_out_of_a_terminal_stage_is_named(self) -> None:
        """Nothing may leave a final stage."""
        moves = [*onboarding().transitions, ("churned", "paying")]
        error = problems(onboarding(), transitions=moves)
        assert error.paths == ("transitions[5].source",)
        assert "terminal" in str(error)

    def test_a_transition_that_stays_put_or_repeats_is_refused(self) -> None:
        """A move must change the stage, and be given once."""
        moves = [*onboarding().transitions, ("paying", "paying"), ("paying", "paused")]
        assert problems(onboarding(), transitions=moves).paths == (
            "transitions[5]",
            "transitions[6]",
        )

    def test_an_unreachable_stage_is_named(self) -> None:
        """Every stage must be reachable from the initial one."""
        error = problems(onboarding(), stages=[*onboarding().stages, "trial"])
        assert error.paths == ("stages[5].name",)
        assert "cannot be reached from 'signed_up'" in str(error)

    def test_a_rule_to_an_unknown_stage_is_named(self) -> None:
        """A rule's target must be a stage."""
        rule = ProgressionRule("upgrade", "premium", tagged("vip"))
        assert problems(onboarding(), rules=[rule]).paths == ("rules[0].target",)

    def test_a_rule_from_an_unknown_stage_is_named(self) -> None:
        """Each of a rule's sources must be a stage."""
        rule = ProgressionRule("resume", "paying", tagged("vip"), sources={"trial"})
        assert problems(onboarding(), rules=[rule]).paths == ("rules[0].sources",)

    def test_a_rule_from_a_stage_with_no_move_to_its_target_is_named(self) -> None:
        """Rules move subjects along transitions, never around them."""
        rule = ProgressionRule("skip", "paying", tagged("vip"), sources={"signed_up"})
        error = problems(onboarding(), rules=[rule])
        assert error.paths == ("rules[0].sources",)
        assert "has no transition to 'paying'" in str(error)

    def test_a_rule_to_a_stage_nothing_leads_to_is_named(self) -> None:
        """A rule without sources needs some transition into its target."""
        rule = ProgressionRule("restart", "signed_up", tagged("vip"))
        assert problems(onboarding(), rules=[rule]).paths == ("rules[0].target",)

    def test_a_duplicate_rule_is_named(self) -> None:
        """Rule names are unique: histories record them."""
        rule = ProgressionRule("resume", "paying", tagged("vip"))
        assert problems(onboarding(), rules=[rule, rule]).paths == ("rules[1].name",)

    def test_a_condition_on_a_customer_field_in_an_account_model_is_named(self) -> None:
        """A guard an account could never meet is a mistake (an account's own fields are
        ``account.*``; in a customer model, those are the linked account's)."""
        moves = [
            *onboarding().transitions[:1],
            Transition("activated", "paying", guard=field("email").exists()),
        ]
        error = problems(
            onboarding(), subject="account", transitions=[*moves, *onboarding().transitions[2:]]
        )
        assert error.paths == ("transitions[1].guard",)
        assert "only customers meet it" in str(error)

    def test_a_tag_condition_in_an_account_model_is_named(self) -> None:
        """Accounts have no tags or traits."""
        rule = ProgressionRule("vip", "paying", tagged("vip") | field("account.domain").exists())
        moves = [
            *onboarding().transitions[:1],
            ("activated", "paying"),
            *onboarding().transitions[2:],
        ]
        error = problems(onboarding(), subject="account", transitions=moves, rules=[rule])
        assert error.paths == ("rules[0].when",)
        assert "accounts have no tags or traits" in str(error)

    def test_every_problem_is_reported_at_once(self) -> None:
        """One ValidationError lists them all, so a host fixes its model in one go."""
        error = problems(
            onboarding(),
            stages=[*onboarding().stages, "paying", "trial"],
            transitions=[*onboarding().transitions, ("paused", "gone")],
            rules=[ProgressionRule("upgrade", "premium", tagged("vip"))],
        )
        assert set(error.paths) == {
            "stages[5].name",
            "transitions[5].target",
            "stages[6].name",
            "rules[0].target",
        }

    @pytest.mark.parametrize(
        ("changes", "path"),
        [
            ({"stages": []}, "stages"),
            ({"stages": "signed_up"}, "stages"),
            ({"stages": ["signed_up", 3]}, "stages[1]"),
            ({"transitions": [("signed_up",)]}, "transitions[0]"),
            ({"transitions": [("signed_up", "Activated")]}, "transitions[0].target"),
            ({"rules": ["upgrade"]}, "rules[0]"),
            ({"initial": ["signed_up"]}, "initial"),
            ({"subject": "robot"}, "subject"),
        ],
    )
    def test_ill_formed_parts_are_refused_by_path(self, changes: dict[str, Any], path: str) -> None:
        """Parts of the wrong type or shape raise ValidationError too, never a TypeError."""
        assert problems(onboarding(), **changes).paths == (path,)

    @given(cs.lifecycle_models(), st.data())
    def test_a_duplicate_stage_is_always_named(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """Repeating any stage reports the copy's path."""
        copy = data.draw(st.sampled_from(model.stages))
        error = problems(model, stages=[*model.stages, copy])
        assert f"stages[{len(model.stages)}].name" in error.paths

    @given(cs.lifecycle_models())
    def test_an_unknown_initial_stage_is_always_named(self, model: LifecycleModel) -> None:
        """An initial stage that is not in the model is reported on ``initial``."""
        assert problems(model, initial=MISSING).paths == ("initial",)

    @given(cs.lifecycle_models(), st.data())
    def test_a_transition_to_nowhere_is_always_named(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """Adding a move to an unknown stage reports its target."""
        sources = [s.name for s in model.stages if not s.terminal]
        assume(sources)
        move = Transition(data.draw(st.sampled_from(sources)), MISSING)
        error = problems(model, transitions=[*model.transitions, move])
        assert error.paths == (f"transitions[{len(model.transitions)}].target",)

    @given(cs.lifecycle_models(), st.data())
    def test_a_transition_from_an_unknown_stage_is_always_named(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """Adding a move from an unknown stage reports its source."""
        move = Transition(MISSING, data.draw(st.sampled_from(model.stage_names)))
        error = problems(model, transitions=[*model.transitions, move])
        assert error.paths == (f"transitions[{len(model.transitions)}].source",)

    @given(cs.lifecycle_models(), st.data())
    def test_a_move_out_of_a_terminal_stage_is_always_named(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """A move out of a terminal stage (reachable, but final) reports its source."""
        assume(not model.stage(model.initial).terminal)
        final = Stage(MISSING, terminal=True)
        target = data.draw(st.sampled_from(model.stage_names))
        moves = [*model.transitions, (model.initial, MISSING), (MISSING, target)]
        error = problems(model, stages=[*model.stages, final], transitions=moves)
        assert error.paths == (f"transitions[{len(model.transitions) + 1}].source",)
        assert "terminal" in str(error)

    @given(cs.lifecycle_models(), st.data())
    def test_making_a_stage_with_a_way_out_terminal_names_each_way_out(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """Marking a stage final reports every transition that leaves it."""
        assume(model.transitions)
        source = data.draw(st.sampled_from(model.transitions)).source
        stages = [attrs.evolve(s, terminal=s.name == source or s.terminal) for s in model.stages]
        leaving = {
            f"transitions[{i}].source"
            for i, t in enumerate(model.transitions)
            if t.source == source
        }
        assert set(problems(model, stages=stages).paths) == leaving

    @given(cs.lifecycle_models())
    def test_an_unreachable_stage_is_always_named(self, model: LifecycleModel) -> None:
        """A stage no transition reaches is reported by its index."""
        error = problems(model, stages=[*model.stages, Stage(MISSING)])
        assert error.paths == (f"stages[{len(model.stages)}].name",)

    @given(cs.lifecycle_models())
    def test_a_rule_to_an_unknown_stage_is_always_named(self, model: LifecycleModel) -> None:
        """A rule whose target is not a stage is reported on its target."""
        rule = ProgressionRule("missing_rule_x", MISSING, ANYONE)
        error = problems(model, rules=[*model.rules, rule])
        assert error.paths == (f"rules[{len(model.rules)}].target",)

    @given(cs.lifecycle_models(), st.data())
    def test_a_rule_from_an_unknown_stage_is_always_named(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """A rule with a source that is not a stage is reported on its sources."""
        assume(model.transitions)
        target = data.draw(st.sampled_from(model.transitions)).target
        rule = ProgressionRule("missing_rule_x", target, ANYONE, sources={MISSING})
        error = problems(model, rules=[*model.rules, rule])
        assert error.paths == (f"rules[{len(model.rules)}].sources",)

    @given(cs.lifecycle_models(), st.data())
    def test_a_rule_from_a_stage_with_no_move_to_its_target_is_always_named(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """A rule whose source has no transition to its target is reported on its sources."""
        pairs = [
            (a, b)
            for a in model.stage_names
            for b in model.stage_names
            if a != b and model.transition(a, b) is None
        ]
        assume(pairs)
        source, target = data.draw(st.sampled_from(pairs))
        rule = ProgressionRule("missing_rule_x", target, ANYONE, sources={source})
        error = problems(model, rules=[*model.rules, rule])
        assert f"rules[{len(model.rules)}].sources" in error.paths
        assert set(error.paths) <= {
            f"rules[{len(model.rules)}].sources",
            f"rules[{len(model.rules)}].target",
        }

    @given(cs.lifecycle_models(min_rules=1), st.data())
    def test_a_duplicate_rule_is_always_named(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """Repeating a rule reports the copy's name."""
        copy = data.draw(st.sampled_from(model.rules))
        error = problems(model, rules=[*model.rules, copy])
        assert error.paths == (f"rules[{len(model.rules)}].name",)


class TestMoves:
    """What a model allows next, and why it refuses a move."""

    def test_the_allowed_next_stages_keep_model_order(self) -> None:
        """`allowed_from` lists the targets of the transitions leaving a stage."""
        assert onboarding().allowed_from("paused") == ("paying", "churned")
        assert onboarding().allowed_from("churned") == ()

    def test_an_illegal_move_names_the_allowed_stages(self) -> None:
        """`check_move` raises IllegalTransition carrying the allowed next stages."""
        with pytest.raises(IllegalTransition, match="allowed next: paying, churned") as caught:
            onboarding().check_move("paused", "signed_up", None)
        assert caught.value.allowed == ("paying", "churned")
        assert (caught.value.current, caught.value.requested) == ("paused", "signed_up")

    def test_a_move_out_of_a_final_stage_says_so(self) -> None:
        """From a terminal stage nothing is allowed."""
        with pytest.raises(IllegalTransition, match="final stage") as caught:
            onboarding().check_move("churned", "paying", None)
        assert caught.value.allowed == ()

    def test_a_guarded_move_needs_its_guard_to_hold(self) -> None:
        """GuardFailed says what is required; a guarded move without facts is refused too."""
        no_email = Facts(as_of=T0)
        with pytest.raises(GuardFailed, match="requires: has field 'email'") as caught:
            onboarding().check_move("activated", "paying", no_email)
        assert caught.value.requirement == "has field 'email'"
        with pytest.raises(GuardFailed):
            onboarding().check_move("activated", "paying", None)
        ada = Customer.register(CustomerId("c1"), at=T0, email=EmailAddress("ada@example.com"))
        with_email = Facts.of_customer(ada, [], T0)
        assert onboarding().check_move("activated", "paying", with_email).target == "paying"

    def test_a_path_follows_the_transitions(self) -> None:
        """`is_path` accepts walks along transitions and nothing else."""
        model = onboarding()
        assert model.is_path(["signed_up", "activated", "paying", "paused", "paying"])
        assert not model.is_path(["signed_up", "paying"])
        assert not model.is_path(["signed_up", "trial"])

    @given(cs.lifecycle_models(), st.data())
    def test_every_refused_move_names_exactly_the_allowed_stages(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """For any stage and any target it has no transition to, IllegalTransition lists
        ``allowed_from(stage)``."""
        source = data.draw(st.sampled_from(model.stage_names))
        target = data.draw(st.sampled_from([*model.stage_names, MISSING]))
        assume(model.transition(source, target) is None)
        with pytest.raises(IllegalTransition) as caught:
            model.check_move(source, target, None)
        assert caught.value.allowed == model.allowed_from(source)


class TestModelJson:
    """Models round-trip losslessly through JSON, so hosts can store and edit them."""

    def test_a_model_is_plain_data_without_its_lookup_tables(self) -> None:
        """Only the public fields appear; guards are tagged conditions."""
        document = unstructure(onboarding())
        assert set(document) == {
            "name",
            "stages",
            "transitions",
            "initial",
            "rules",
            "subject",
            "description",
        }
        assert document["transitions"][1] == {
            "source": "activated",
            "target": "paying",
            "guard": {"type": "field", "field": "email", "op": "is_not_null", "value": None},
        }
        assert document["stages"][4] == {
            "name": "churned",
            "label": "Churned",
            "terminal": True,
            "outcome": "lost",
            "description": None,
        }

    def test_rule_sources_are_a_sorted_list(self) -> None:
        """Sets become sorted lists, so equal models give equal JSON."""
        rule = unstructure(CUSTOMER_LIFECYCLE)["rules"][0]
        assert rule["sources"] == ["lead", "qualified", "subscriber"]

    def test_a_problem_in_a_document_is_named_by_its_path(self) -> None:
        """The model's own checks run on structured documents, with the same paths."""
        document = unstructure(onboarding())
        document["transitions"][3]["target"] = "payng"
        document["rules"] = [{"name": "x", "target": "paying", "when": {"type": "nope"}}]
        with pytest.raises(ValidationError) as caught:
            structure(document, LifecycleModel)
        assert caught.value.paths == ("rules[0].when.type",)
        document["rules"] = []
        with pytest.raises(ValidationError) as caught:
            structure(document, LifecycleModel)
        assert caught.value.paths == ("transitions[3].target",)

    def test_rule_sources_given_as_text_are_refused(self) -> None:
        """``"sources": "lead"`` is not the set of its letters."""
        document = unstructure(CUSTOMER_LIFECYCLE)
        document["rules"][0]["sources"] = "lead"
        with pytest.raises(ValidationError) as caught:
            structure(document, LifecycleModel)
        assert caught.value.paths == ("rules[0].sources",)

    def test_a_stage_with_no_label_round_trips(self) -> None:
        """An explicit ``label=None`` (which the domain accepts) survives as ``null``."""
        stage = Stage("lead", label=None)  # type: ignore[arg-type]
        assert unstructure(stage)["label"] is None
        assert from_json(to_json(stage), Stage) == stage

    @given(cs.lifecycle_models())
    def test_every_model_survives_data_and_json(self, model: LifecycleModel) -> None:
        """``structure(unstructure(m), LifecycleModel) == m``, through JSON text as well."""
        document = unstructure(model)
        assert json.loads(json.dumps(document)) == document
        back = structure(document, LifecycleModel)
        assert back == model
        assert back.allowed_from(back.initial) == model.allowed_from(model.initial)
        assert from_json(to_json(model), LifecycleModel) == model

    @given(st.one_of(cs.stages(), cs.transitions(), cs.progression_rules()))
    def test_every_part_survives_json(self, part: Stage | Transition | ProgressionRule) -> None:
        """Stages, transitions and rules round-trip on their own."""
        assert from_json(to_json(part), type(part)) == part

    @given(st.data())
    def test_from_type_draws_valid_models_and_parts(self, data: st.DataObject) -> None:
        """``st.from_type`` works for the model and each part, and draws valid values."""
        for kind in (LifecycleModel, Stage, Transition, ProgressionRule):
            value = data.draw(st.from_type(kind))
            assert isinstance(value, kind)
            assert attrs.evolve(value) == value

    @given(json_values())
    def test_any_json_value_structures_or_raises_validation_error(self, document: Any) -> None:
        """Random JSON never escapes as a KeyError, TypeError or cattrs error."""
        with contextlib.suppress(ValidationError):
            structure(document, LifecycleModel)

    @given(st.data())
    def test_a_mutated_model_structures_or_raises_validation_error(
        self, data: st.DataObject
    ) -> None:
        """Dropped keys, wrong types and unknown keys end in ValidationError only."""
        document = data.draw(mutated(unstructure(data.draw(cs.lifecycle_models()))))
        with contextlib.suppress(ValidationError):
            structure(document, LifecycleModel)


class TestPresets:
    """The models that ship with crmkit are valid, round-trip, and do what they say."""

    @pytest.mark.parametrize("model", list(PRESETS.values()), ids=list(PRESETS))
    def test_each_preset_is_valid_and_round_trips(self, model: LifecycleModel) -> None:
        """Rebuilding a preset passes every check; its JSON gives it back equal."""
        assert attrs.evolve(model) == model
        assert from_json(to_json(model), LifecycleModel) == model
        assert structure(unstructure(model), LifecycleModel) == model
        assert to_json(from_json(to_json(model), LifecycleModel)) == to_json(model)

    def test_presets_are_listed_by_name(self) -> None:
        """`PRESETS` maps each model's name to it."""
        assert dict(PRESETS) == {
            "customer_lifecycle": CUSTOMER_LIFECYCLE,
            "hubspot_lifecycle": HUBSPOT_LIFECYCLE,
            "deal_pipeline": DEAL_PIPELINE,
        }

    def test_a_first_purchase_makes_a_customer(self) -> None:
        """A subscriber who buys becomes a customer, by rule ``first_purchase``."""
        history = StageHistory.enter(CUSTOMER_LIFECYCLE, "c1", at=T0)
        (move,) = history.progress(
            CUSTOMER_LIFECYCLE, Facts(as_of=T0, interactions=[purchase(T0, 1)])
        )
        assert (move.from_stage, move.to_stage) == ("subscriber", "customer")
        assert (move.rule, move.reason, move.actor) == (
            "first_purchase",
            "made a first purchase",
            "crmkit",
        )

    def test_two_purchases_within_a_year_make_a_repeat_customer(self) -> None:
        """A second purchase within 365 days moves a customer to ``repeat``."""
        history = StageHistory.enter(CUSTOMER_LIFECYCLE, "c1", at=T0, stage="customer")
        later = T0 + timedelta(days=364)
        bought = [purchase(T0, 1), purchase(later, 2)]
        (move,) = history.progress(CUSTOMER_LIFECYCLE, Facts(as_of=later, interactions=bought))
        assert (move.to_stage, move.rule) == ("repeat", "repeat_purchase")

    def test_two_purchases_more_than_a_year_apart_do_not(self) -> None:
        """The window is 365 days, ending at ``as_of``."""
        history = StageHistory.enter(CUSTOMER_LIFECYCLE, "c1", at=T0, stage="customer")
        later = T0 + timedelta(days=365)
        bought = [purchase(T0, 1), purchase(later, 2)]
        assert history.progress(CUSTOMER_LIFECYCLE, Facts(as_of=later, interactions=bought)) == []

    def test_no_purchase_for_180_days_lapses_a_customer(self) -> None:
        """179 days after the last purchase a customer is still a customer; at 180, lapsed."""
        history = StageHistory.enter(CUSTOMER_LIFECYCLE, "c1", at=T0, stage="customer")
        bought = [purchase(T0, 1)]
        day_179 = Facts(as_of=T0 + timedelta(days=179), interactions=bought)
        assert history.progress(CUSTOMER_LIFECYCLE, day_179) == []
        day_180 = Facts(as_of=T0 + timedelta(days=180), interactions=bought)
        (move,) = history.progress(CUSTOMER_LIFECYCLE, day_180)
        assert (move.to_stage, move.rule) == ("lapsed", "lapsed")

    def test_a_year_without_purchase_churns_a_customer(self) -> None:
        """Lapsing and churning happen in one evaluation when both are due."""
        history = StageHistory.enter(CUSTOMER_LIFECYCLE, "c1", at=T0, stage="customer")
        facts = Facts(as_of=T0 + timedelta(days=365), interactions=[purchase(T0, 1)])
        moves = history.progress(CUSTOMER_LIFECYCLE, facts)
        assert [m.to_stage for m in moves] == ["lapsed", "churned"]

    def test_a_purchase_after_lapsing_makes_a_customer_again(self) -> None:
        """A lapsed customer who buys again is reactivated."""
        history = StageHistory.enter(CUSTOMER_LIFECYCLE, "c1", at=T0, stage="customer")
        bought = [purchase(T0, 1)]
        history.progress(
            CUSTOMER_LIFECYCLE, Facts(as_of=T0 + timedelta(days=200), interactions=bought)
        )
        assert history.current == "lapsed"
        back = T0 + timedelta(days=400)
        bought.append(purchase(back, 2))
        (move,) = history.progress(CUSTOMER_LIFECYCLE, Facts(as_of=back, interactions=bought))
        assert (move.from_stage, move.to_stage, move.rule) == ("lapsed", "customer", "reactivated")

    def test_a_lead_needs_an_email_or_a_phone_to_be_qualified(self) -> None:
        """The move lead -> qualified is guarded: we must be able to reach them."""
        history = StageHistory.enter(CUSTOMER_LIFECYCLE, "c1", at=T0, stage="lead")
        nameless = Customer.register(CustomerId("c1"), at=T0, given_name="Ada")
        with pytest.raises(GuardFailed, match=r"'email'.*'phone'"):
            history.move(
                CUSTOMER_LIFECYCLE, "qualified", at=T0, facts=Facts.of_customer(nameless, [], T0)
            )
        assert history.current == "lead"
        for contact in (
            {"email": EmailAddress("ada@example.com")},
            {"phone": PhoneNumber("+4930123456")},
        ):
            reachable = Customer.register(CustomerId("c1"), at=T0, **contact)
            entered = StageHistory.enter(CUSTOMER_LIFECYCLE, "c1", at=T0, stage="lead")
            facts = Facts.of_customer(reachable, [], T0)
            assert entered.move(CUSTOMER_LIFECYCLE, "qualified", at=T0, facts=facts) is not None

    def test_hubspot_stages_only_move_forward(self) -> None:
        """Every HubSpot transition goes to a later stage (or to ``other``)."""
        order = HUBSPOT_LIFECYCLE.stage_names
        for move in HUBSPOT_LIFECYCLE.transitions:
            assert move.target == "other" or order.index(move.source) < order.index(move.target)
        assert HUBSPOT_LIFECYCLE.stage("customer").outcome is Outcome.WON

    def test_the_deal_pipeline_tracks_accounts_to_won_or_lost(self) -> None:
        """Won is final; lost deals may be re-engaged; a quiet deal is lost after 90 days."""
        assert DEAL_PIPELINE.subject is SubjectKind.ACCOUNT
        assert DEAL_PIPELINE.stage("won").terminal
        assert DEAL_PIPELINE.stage("won").outcome is Outcome.WON
        assert DEAL_PIPELINE.stage("lost").outcome is Outcome.LOST
        assert DEAL_PIPELINE.allowed_from("lost") == ("contacted",)
        history = StageHistory.enter(DEAL_PIPELINE, "a1", at=T0, stage="proposal")
        quiet = Facts(as_of=T0 + timedelta(days=90))
        assert [m.to_stage for m in history.progress(DEAL_PIPELINE, quiet)] == ["lost"]
