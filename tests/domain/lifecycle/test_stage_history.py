"""Stage histories: where a subject stands in a lifecycle model, and every move that led there."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import Account, AccountId, CustomerId, Interaction, InteractionId
from crmkit.domain import PRESETS
from crmkit.errors import GuardFailed, IllegalTransition, ValidationError
from crmkit.events import DomainEvent, StageChanged
from crmkit.lifecycle import (
    CUSTOMER_LIFECYCLE,
    LifecycleModel,
    StageChange,
    StageHistory,
    SubjectKind,
    Transition,
)
from crmkit.segments import Facts, field
from crmkit.serialization import EVENT_TYPES, from_json, structure, to_json, unstructure
from crmkit.testing import strategies as cs
from tests.strategies import T0, json_values, mutated

DAY = timedelta(days=1)

#: Random models, and the presets (whose rules fire often on purchases and referrals).
MODELS = st.sampled_from(list(PRESETS.values())) | cs.lifecycle_models()
MODELS_WITH_RULES = st.sampled_from(list(PRESETS.values())) | cs.lifecycle_models(min_rules=1)
#: Gaps between instants: often none (ties), else up to about a year and a half.
GAPS = st.just(timedelta(0)) | st.integers(1, 500 * 86_400).map(lambda s: timedelta(seconds=s))


def facts_at(as_of: datetime, model: LifecycleModel) -> st.SearchStrategy[Facts]:
    """Facts about one of ``model``'s subjects as of ``as_of``, whose interactions are
    mostly the kinds the presets count."""
    kinds = ["purchase", "purchase", "referral", "meeting", "note"]
    return cs.facts(as_of=as_of, kinds=kinds, subject=model.subject)


def pipeline() -> LifecycleModel:
    """An account pipeline: new -> contacted -> (qualified, needs a web domain) -> won;
    any open stage -> lost."""
    return LifecycleModel(
        "pipeline",
        subject="account",
        stages=["new", "contacted", "qualified", "won", "lost"],
        transitions=[
            ("new", "contacted"),
            Transition("contacted", "qualified", guard=field("account.domain").exists()),
            ("qualified", "won"),
            ("new", "lost"),
            ("contacted", "lost"),
            ("qualified", "lost"),
        ],
    )


def entered(model: LifecycleModel | None = None, **options: Any) -> StageHistory:
    """A subject just entered into ``model`` (the pipeline by default) at ``T0``."""
    return StageHistory.enter(model or pipeline(), "s1", at=T0, **options)


class TestEnter:
    """`StageHistory.enter` puts a subject into a model."""

    def test_a_subject_enters_at_the_initial_stage(self) -> None:
        """The first change comes from no stage, and is announced."""
        history = entered(reason="signed up", actor="web")
        assert history.current == "new"
        assert history.changes == (StageChange(None, "new", T0, reason="signed up", actor="web"),)
        assert history.started_at == history.entered_at == T0
        assert history.peek_events() == (
            StageChanged(
                T0,
                subject_kind=SubjectKind.ACCOUNT,
                subject_id="s1",
                model="pipeline",
                from_stage=None,
                to_stage="new",
                reason="signed up",
                actor="web",
            ),
        )

    def test_a_subject_may_enter_at_another_stage(self) -> None:
        """Bringing in someone who is already further along."""
        assert entered(stage="qualified").current == "qualified"

    def test_entering_at_an_unknown_stage_is_refused(self) -> None:
        """The stage must be one of the model's."""
        with pytest.raises(ValidationError, match="not a stage of pipeline"):
            entered(stage="closed")

    def test_the_history_records_what_the_model_tracks(self) -> None:
        """Customers or accounts, as the model's ``subject`` says."""
        assert entered().subject_kind is SubjectKind.ACCOUNT
        assert entered(CUSTOMER_LIFECYCLE).subject_kind is SubjectKind.CUSTOMER

    @pytest.mark.parametrize(
        ("changes", "path"),
        [
            ((), "changes"),
            ((StageChange("new", "won", T0),), "changes[0].from_stage"),
            (
                (StageChange(None, "new", T0), StageChange("lost", "won", T0)),
                "changes[1].from_stage",
            ),
            (
                (StageChange(None, "new", T0), StageChange("new", "lost", T0 - DAY)),
                "changes[1].at",
            ),
        ],
    )
    def test_a_history_must_chain_its_changes_in_time_order(
        self, changes: tuple[StageChange, ...], path: str
    ) -> None:
        """Each change leaves the stage the one before entered, no earlier than it."""
        with pytest.raises(ValidationError) as caught:
            StageHistory(SubjectKind.CUSTOMER, "s1", "pipeline", changes)
        assert caught.value.paths == (path,)


class TestMove:
    """`StageHistory.move` moves a subject by hand, as the model allows."""

    def test_a_legal_move_appends_a_change_and_announces_it(self) -> None:
        """The change is returned, recorded, and a StageChanged is collected."""
        history = entered()
        history.pull_events()
        change = history.move(pipeline(), "contacted", at=T0 + DAY, reason="called", actor="bob")
        assert change == StageChange("new", "contacted", T0 + DAY, reason="called", actor="bob")
        assert history.changes[-1] == change
        assert history.current == "contacted"
        (event,) = history.pull_events()
        assert isinstance(event, StageChanged)
        assert (event.from_stage, event.to_stage, event.actor) == ("new", "contacted", "bob")
        assert event.aggregate_id == "s1"

    def test_an_illegal_move_names_the_allowed_stages(self) -> None:
        """IllegalTransition lists where the subject may go from here."""
        history = entered()
        with pytest.raises(IllegalTransition, match="allowed next: contacted, lost") as caught:
            history.move(pipeline(), "won", at=T0)
        assert caught.value.allowed == ("contacted", "lost")
        assert history.current == "new"

    def test_a_failing_guard_changes_nothing(self) -> None:
        """GuardFailed leaves the history and its events as they were."""
        history = entered(stage="contacted")
        before, events = history.changes, history.peek_events()
        with pytest.raises(GuardFailed, match=r"has field 'account\.domain'"):
            history.move(pipeline(), "qualified", at=T0, facts=Facts(as_of=T0))
        assert history.changes == before
        assert history.peek_events() == events

    def test_a_passing_guard_lets_the_move_through(self) -> None:
        """With the facts that satisfy the guard, the move is made."""
        history = entered(stage="contacted")
        acme = Account.register(AccountId("a1"), name="Acme", at=T0, domain="acme.com")
        facts = Facts.of_account(acme, [], T0)
        assert history.move(pipeline(), "qualified", at=T0, facts=facts) is not None

    def test_moving_to_the_current_stage_changes_nothing(self) -> None:
        """It returns None and records nothing."""
        history = entered()
        assert history.move(pipeline(), "new", at=T0 + DAY) is None
        assert len(history.changes) == 1

    def test_a_move_before_the_last_change_is_refused(self) -> None:
        """History is not rewritten: a move cannot take effect before the last one."""
        history = entered()
        with pytest.raises(ValidationError) as caught:
            history.move(pipeline(), "contacted", at=T0 - DAY)
        assert caught.value.paths == ("at",)
        assert history.current == "new"

    def test_a_history_only_moves_in_its_own_model(self) -> None:
        """Another model, even with the same stages, is refused."""
        history = entered()
        other = LifecycleModel(
            "other", ["new", "contacted"], [("new", "contacted")], subject="account"
        )
        with pytest.raises(ValidationError) as caught:
            history.move(other, "contacted", at=T0)
        assert caught.value.paths == ("model",)

    @given(MODELS, st.data())
    def test_every_move_is_made_or_refused_as_the_model_says(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """Random moves, legal or not, with or without facts, sometimes back in time: each
        one is made, or refused with the error the model predicts, and changes nothing then.
        """
        history = data.draw(cs.stage_histories(model, max_moves=3))
        at = history.entered_at
        for _ in range(data.draw(st.integers(1, 6))):
            at += data.draw(GAPS)
            when = at - data.draw(st.sampled_from([timedelta(0), timedelta(0), DAY]))
            target = data.draw(st.sampled_from(model.stage_names))
            facts = data.draw(st.none() | facts_at(when, model))
            current, before = history.current, history.changes
            transition = model.transition(current, target)
            if target == current:
                assert history.move(model, target, at=when, facts=facts) is None
            elif transition is None:
                with pytest.raises(IllegalTransition) as caught:
                    history.move(model, target, at=when, facts=facts)
                assert caught.value.allowed == model.allowed_from(current)
            elif transition.guard is not None and (
                facts is None
                or not transition.guard.holds(facts.in_stage_since(history.entered_at))
            ):
                with pytest.raises(GuardFailed):
                    history.move(model, target, at=when, facts=facts)
            elif when < history.entered_at:
                with pytest.raises(ValidationError):
                    history.move(model, target, at=when, facts=facts)
            else:
                change = history.move(model, target, at=when, facts=facts)
                assert change == StageChange(current, target, when)
                assert history.changes == (*before, change)
                (event,) = history.pull_events()
                assert isinstance(event, StageChanged)
                assert (event.from_stage, event.to_stage, event.at) == (current, target, when)
                continue
            assert history.changes == before
            assert history.peek_events() == ()


class TestProgress:
    """`StageHistory.progress` applies the model's rules as of an instant."""

    def test_rules_move_the_subject_and_sign_the_change(self) -> None:
        """Each move names its rule, the rule's description and the automatic actor."""
        history = entered(CUSTOMER_LIFECYCLE)
        history.pull_events()
        purchase = Interaction(InteractionId("i1"), CustomerId("s1"), T0, "purchase", "web")
        facts = Facts(as_of=T0 + DAY, interactions=[purchase])
        (move,) = history.progress(CUSTOMER_LIFECYCLE, facts, actor="nightly_job")
        assert (move.rule, move.actor) == ("first_purchase", "nightly_job")
        (event,) = history.pull_events()
        assert isinstance(event, StageChanged)
        assert event.rule == "first_purchase"

    def test_facts_from_before_the_last_change_are_ignored(self) -> None:
        """A history is never moved into its own past."""
        history = entered(CUSTOMER_LIFECYCLE, stage="customer")
        assert history.progress(CUSTOMER_LIFECYCLE, Facts(as_of=T0 - DAY)) == []

    def test_a_model_without_rules_never_moves_anyone(self) -> None:
        """Progress is only what the rules say."""
        history = entered()
        assert history.progress(pipeline(), Facts(as_of=T0 + DAY)) == []

    @given(MODELS, st.data())
    def test_whatever_is_attempted_the_history_stays_a_path_of_the_model(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """Any mix of attempted moves (legal or not) and rule evaluations leaves a walk
        along the model's transitions, whose last stage is the current one."""
        history = data.draw(cs.stage_histories(model, max_moves=3))
        at = history.entered_at
        for _ in range(data.draw(st.integers(1, 8))):
            at += data.draw(GAPS)
            facts = data.draw(facts_at(at, model))
            if data.draw(st.booleans()):
                target = data.draw(st.sampled_from(model.stage_names))
                with contextlib.suppress(IllegalTransition, GuardFailed):
                    history.move(model, target, at=at, facts=data.draw(st.none() | st.just(facts)))
            else:
                for move in history.progress(model, facts):
                    assert move.at == at
                    assert move.rule in {rule.name for rule in model.rules}
            stages = [change.to_stage for change in history.changes]
            assert model.is_path(stages)
            assert history.current == history.changes[-1].to_stage == stages[-1]
            times = [change.at for change in history.changes]
            assert times == sorted(times)

    @given(MODELS_WITH_RULES, st.data())
    def test_progressing_twice_at_the_same_instant_changes_nothing_more(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """With the same facts, a second evaluation returns [] and leaves the history as it
        was: no change, no event."""
        history = data.draw(cs.stage_histories(model, max_moves=3))
        facts = data.draw(facts_at(history.entered_at + data.draw(GAPS), model))
        history.progress(model, facts)
        changes = history.changes
        history.pull_events()
        assert history.progress(model, facts) == []
        assert history.changes == changes
        assert history.peek_events() == ()

    @given(MODELS_WITH_RULES, st.data())
    def test_each_rule_move_follows_a_transition_whose_guard_holds(
        self, model: LifecycleModel, data: st.DataObject
    ) -> None:
        """A rule only moves a subject where a guarded move by hand could go too: along a
        transition whose guard holds, when the rule's condition holds, from one of its
        sources (conditions seeing when the subject entered the stage it leaves)."""
        history = data.draw(cs.stage_histories(model, max_moves=3))
        facts = data.draw(facts_at(history.entered_at + data.draw(GAPS), model))
        entered = history.entered_at
        for move in history.progress(model, facts):
            assert move.from_stage is not None
            situated = facts.in_stage_since(entered)
            transition = model.check_move(move.from_stage, move.to_stage, situated)
            rule = next(r for r in model.rules if r.name == move.rule)
            assert rule.target == transition.target
            assert rule.when.holds(situated)
            assert not rule.sources or move.from_stage in rule.sources
            entered = move.at


class TestTimeInStages:
    """`time_in_stages`, `stays` and `stage_at` read the history over time."""

    def history(self) -> StageHistory:
        """new for a day, contacted for two, then new again from ``T0 + 3 days``."""
        model = LifecycleModel(
            "loop", ["new", "contacted"], [("new", "contacted"), ("contacted", "new")]
        )
        history = StageHistory.enter(model, "s1", at=T0)
        history.move(model, "contacted", at=T0 + DAY)
        history.move(model, "new", at=T0 + 3 * DAY)
        return history

    def test_time_in_each_stage_adds_up_visits(self) -> None:
        """A stage visited twice counts both stays; the ongoing one runs to ``as_of``."""
        totals = self.history().time_in_stages(T0 + 5 * DAY)
        assert totals == {"new": 3 * DAY, "contacted": 2 * DAY}

    def test_time_before_as_of_only(self) -> None:
        """Stays are cut at ``as_of``; nothing is counted before the entry."""
        assert self.history().time_in_stages(T0 + 2 * DAY) == {"new": DAY, "contacted": DAY}
        assert self.history().time_in_stages(T0) == {}

    def test_the_stays_are_the_stretches_between_changes(self) -> None:
        """Each stay ends when the next begins; the last is ongoing."""
        stays = list(self.history().stays())
        assert [(s.stage, s.entered_at, s.left_at) for s in stays] == [
            ("new", T0, T0 + DAY),
            ("contacted", T0 + DAY, T0 + 3 * DAY),
            ("new", T0 + 3 * DAY, None),
        ]
        assert stays[-1].duration(T0 + 4 * DAY) == DAY

    def test_the_stage_at_an_instant(self) -> None:
        """`stage_at` is ``None`` before the entry, then the stage entered last."""
        history = self.history()
        assert history.stage_at(T0 - timedelta(microseconds=1)) is None
        assert history.stage_at(T0) == "new"
        assert history.stage_at(T0 + DAY) == "contacted"
        assert history.stage_at(T0 + 3 * DAY - timedelta(microseconds=1)) == "contacted"
        assert history.stage_at(T0 + 10 * DAY) == "new"

    @given(cs.stage_histories(), GAPS, st.data())
    def test_the_times_in_stages_sum_to_the_time_since_entry(
        self, history: StageHistory, gap: timedelta, data: st.DataObject
    ) -> None:
        """For any ``as_of`` from the entry on, the durations sum exactly to
        ``as_of - started_at``."""
        start = data.draw(st.sampled_from([c.at for c in history.changes]))
        as_of = start + gap
        totals = history.time_in_stages(as_of)
        assert sum(totals.values(), timedelta(0)) == as_of - history.started_at
        assert set(totals) <= {c.to_stage for c in history.changes}
        assert all(duration >= timedelta(0) for duration in totals.values())

    @given(cs.stage_histories(), st.data())
    def test_the_stage_at_an_instant_is_the_last_one_entered_by_then(
        self, history: StageHistory, data: st.DataObject
    ) -> None:
        """`stage_at` agrees with the changes: the last one at or before the instant."""
        base = data.draw(st.sampled_from([c.at for c in history.changes]))
        at = base + data.draw(
            st.sampled_from([-DAY, -timedelta(microseconds=1), timedelta(0), DAY])
        )
        entered_by_then = [c.to_stage for c in history.changes if c.at <= at]
        assert history.stage_at(at) == (entered_by_then[-1] if entered_by_then else None)

    @given(cs.stage_histories())
    def test_the_stays_cover_the_history_without_gaps(self, history: StageHistory) -> None:
        """One stay per change, each ending where the next starts."""
        stays = list(history.stays())
        assert [s.stage for s in stays] == [c.to_stage for c in history.changes]
        assert all(a.left_at == b.entered_at for a, b in pairwise(stays))
        assert stays[-1].left_at is None


class TestHistoryJson:
    """Histories, changes and StageChanged events round-trip losslessly."""

    def test_a_history_is_plain_data_without_its_pending_events(self) -> None:
        """The version is kept; collected events are not part of the stored aggregate."""
        history = entered()
        history.move(pipeline(), "contacted", at=T0 + DAY, reason="called")
        history.version = 2
        document = unstructure(history)
        assert set(document) == {"subject_kind", "subject_id", "model", "changes", "version"}
        assert document["version"] == 2
        assert document["changes"][1] == {
            "from_stage": "new",
            "to_stage": "contacted",
            "at": "2024-01-02T00:00:00+00:00",
            "reason": "called",
            "actor": None,
            "rule": None,
        }
        back = from_json(to_json(history), StageHistory)
        assert back == history
        assert back.peek_events() == ()

    def test_a_broken_chain_in_a_document_is_named(self) -> None:
        """The aggregate's own checks run on documents, with paths."""
        document = unstructure(entered())
        document["changes"].append(
            {"from_stage": "lost", "to_stage": "won", "at": "2024-01-02T00:00:00+00:00"}
        )
        with pytest.raises(ValidationError) as caught:
            structure(document, StageHistory)
        assert caught.value.paths == ("changes[1].from_stage",)

    def test_stage_changed_is_a_registered_event(self) -> None:
        """The outbox can store it under its class name."""
        assert EVENT_TYPES["StageChanged"] is StageChanged
        (event,) = entered().pull_events()
        document = unstructure(event)
        assert document["type"] == "StageChanged"
        assert document["subject_kind"] == "account"
        assert structure(document, DomainEvent) == event

    @given(cs.stage_histories(), st.integers(0, 10))
    def test_every_history_survives_data_and_json(
        self, history: StageHistory, version: int
    ) -> None:
        """``structure(unstructure(h), StageHistory) == h``, version included."""
        history.version = version
        assert structure(unstructure(history), StageHistory) == history
        back = from_json(to_json(history), StageHistory)
        assert back == history
        assert back.version == version

    @given(cs.stage_changes())
    def test_every_stage_change_survives_json(self, change: StageChange) -> None:
        """Single changes round-trip too."""
        assert from_json(to_json(change), StageChange) == change

    @given(cs.domain_events(StageChanged))
    def test_every_stage_changed_event_survives_json(self, event: DomainEvent) -> None:
        """Through JSON text, as its own class and as any DomainEvent."""
        assert isinstance(event, StageChanged)
        assert from_json(to_json(event), StageChanged) == event
        assert from_json(to_json(event), DomainEvent) == event

    @given(st.data())
    def test_from_type_draws_valid_histories_changes_and_events(self, data: st.DataObject) -> None:
        """``st.from_type`` works for each stage-history type."""
        for kind in (StageHistory, StageChange, StageChanged):
            assert isinstance(data.draw(st.from_type(kind)), kind)

    @given(st.sampled_from([StageHistory, StageChange]), json_values())
    def test_any_json_value_structures_or_raises_validation_error(
        self, kind: type, document: Any
    ) -> None:
        """Random JSON never escapes as a KeyError, TypeError or cattrs error."""
        with contextlib.suppress(ValidationError):
            structure(document, kind)

    @given(st.data())
    def test_a_mutated_history_structures_or_raises_validation_error(
        self, data: st.DataObject
    ) -> None:
        """Dropped keys, wrong types and unknown keys end in ValidationError only."""
        document = data.draw(mutated(unstructure(data.draw(cs.stage_histories()))))
        with contextlib.suppress(ValidationError):
            structure(document, StageHistory)
