"""`due_rule`: one segment condition for the customers a lifecycle model has work for."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import assume, given
from hypothesis import strategies as st

from crmkit import Customer, CustomerId
from crmkit.domain import SubjectKind, TimeInStage
from crmkit.domain.lifecycle.due import due_rule
from crmkit.domain.segments.segment import SEGMENT_CONDITION_TYPES
from crmkit.lifecycle import (
    CUSTOMER_LIFECYCLE,
    DEAL_PIPELINE,
    LifecycleModel,
    ProgressionRule,
    StageHistory,
)
from crmkit.segments import Condition, Facts, purchases
from crmkit.testing import strategies as cs

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ADA = Customer(CustomerId("ada"), created_at=T0, updated_at=T0)
TRIAL = LifecycleModel(
    "trial",
    stages=["trial", "expired", "paying"],
    transitions=[("trial", "expired"), ("trial", "paying")],
    rules=[
        ProgressionRule("paid", "paying", purchases().count() >= 1),
        ProgressionRule("ended", "expired", TimeInStage(14)),
    ],
)


def situated(facts: Facts, model: LifecycleModel, history: StageHistory | None) -> Facts:
    """``facts`` with the subject's place in ``model`` as a store would give it."""
    stages = {k: v for k, v in facts.stages.items() if k != model.name}
    since = {k: v for k, v in facts.stages_entered_at.items() if k != model.name}
    if history is not None:
        stages[model.name] = history.current
        since[model.name] = history.entered_at
    return attrs.evolve(facts, stages=stages, stages_entered_at=since)


def _in_trial(as_of: datetime, entered: datetime = T0) -> Facts:
    return Facts.of_customer(
        ADA, [], as_of, stages={"trial": "trial"}, stages_entered_at={"trial": entered}
    )


class TestExamples:
    def test_time_in_the_stage_is_said_with_the_model_named(self) -> None:
        due = due_rule(TRIAL)
        assert due is not None
        assert not any(isinstance(leaf, TimeInStage) for leaf in due.leaves())
        assert not due.holds(_in_trial(T0 + timedelta(days=14) - timedelta(microseconds=1)))
        assert due.holds(_in_trial(T0 + timedelta(days=14)))

    def test_a_customer_outside_the_model_or_at_an_unknown_stage_is_due(self) -> None:
        due = due_rule(TRIAL)
        assert due is not None
        assert due.holds(Facts.of_customer(ADA, [], T0))
        assert due.holds(
            Facts.of_customer(
                ADA, [], T0, stages={"trial": "gone"}, stages_entered_at={"trial": T0}
            )
        )

    def test_a_customer_no_rule_moves_is_not_due(self) -> None:
        due = due_rule(TRIAL)
        assert due is not None
        paying = Facts.of_customer(
            ADA, [], T0, stages={"trial": "paying"}, stages_entered_at={"trial": T0}
        )
        assert not due.holds(paying)

    def test_the_presets_are_segment_rules(self) -> None:
        due = due_rule(CUSTOMER_LIFECYCLE)
        assert due is not None
        assert all(isinstance(leaf, SEGMENT_CONDITION_TYPES) for leaf in due.leaves())

    def test_an_account_model_or_a_host_condition_has_none(self) -> None:
        class Always(Condition):
            kind = "always"

            def holds(self, facts: Facts) -> bool:
                return True

            def describe(self) -> str:
                return "always"

        custom = LifecycleModel(
            "custom",
            stages=["a", "b"],
            transitions=[("a", "b")],
            rules=[ProgressionRule("go", "b", Always())],
        )
        assert due_rule(DEAL_PIPELINE) is None
        assert due_rule(custom) is None


@given(data=st.data())
def test_everyone_a_rule_moves_is_due(data: st.DataObject) -> None:
    """Moved by the rules ⇒ due; due ⇒ moved, unless the history's past forbids it (a change
    after the instant, a rule back to the stage it is in)."""
    model = data.draw(cs.lifecycle_models(subject=SubjectKind.CUSTOMER, min_rules=1))
    due = due_rule(model)
    assume(due is not None)
    assert due is not None
    history = data.draw(cs.stage_histories(model))
    facts = situated(data.draw(cs.segment_facts()), model, history)
    moves = copy.deepcopy(history).progress(model, facts)
    if moves:
        assert due.holds(facts)
    elif due.holds(facts):
        back = any(
            rule.target == history.current
            and (not rule.sources or history.current in rule.sources)
            and model.transition(history.current, history.current) is not None
            for rule in model.rules
        )
        assert facts.as_of <= history.entered_at or back


@given(data=st.data())
def test_a_customer_outside_the_model_is_always_due(data: st.DataObject) -> None:
    model = data.draw(cs.lifecycle_models(subject=SubjectKind.CUSTOMER))
    due = due_rule(model)
    assume(due is not None)
    assert due is not None
    assert due.holds(situated(data.draw(cs.segment_facts()), model, None))
