"""Lifecycle use cases through the `CRM` front door, on the in-memory and every SQL backend."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit import CRM, AccountId, AccountLink, Customer, CustomerId, FixedClock, UuidIds
from crmkit.domain import TimeInStage
from crmkit.errors import (
    ConcurrencyConflict,
    DuplicateCustomer,
    GuardFailed,
    IllegalTransition,
    NotFound,
    UsageError,
    ValidationError,
)
from crmkit.events import StageChanged
from crmkit.lifecycle import CUSTOMER_LIFECYCLE, DEAL_PIPELINE, LifecycleModel, ProgressionRule
from crmkit.segments import days, purchases
from tests.conftest import MakeCrm, crm_maker

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MODELS = (CUSTOMER_LIFECYCLE, DEAL_PIPELINE)
LIFECYCLE = CUSTOMER_LIFECYCLE.name


@pytest.fixture
def make_crm(any_store: object) -> MakeCrm:
    """Builds CRMs (one shared store per test) with a fixed clock and sequential ids."""
    return crm_maker(any_store, T0, lifecycles=MODELS)


@pytest.fixture
def crm(make_crm: MakeCrm) -> CRM:
    return make_crm()


def _clock(crm: CRM) -> FixedClock:
    assert isinstance(crm.settings.clock, FixedClock)
    return crm.settings.clock


def _buy(crm: CRM, customer_id: str, *, days: float = 0, kind: str = "purchase") -> None:
    _clock(crm).advance(timedelta(days=days))
    crm.interactions.record(customer_id, kind=kind, channel="web")


class TestRegistration:
    def test_a_new_customer_enters_each_customer_model_at_its_initial_stage(self, crm: CRM) -> None:
        """Registration puts the customer in the customer lifecycle, not the account one."""
        ada = crm.customers.register(email="ada@example.com")
        assert crm.lifecycle.stages_of(ada.id) == {LIFECYCLE: "subscriber"}
        history = crm.lifecycle.history(ada.id)
        assert [(c.from_stage, c.to_stage, c.reason) for c in history.changes] == [
            (None, "subscriber", "registered")
        ]
        assert history.version == 1

    def test_entering_is_announced_after_the_commit(self, crm: CRM) -> None:
        """A StageChanged event reaches subscribers and the outbox with the registration."""
        seen: list[StageChanged] = []
        crm.events.subscribe(StageChanged, seen.append)
        ada = crm.customers.register(email="ada@example.com")
        assert [(e.subject_id, e.from_stage, e.to_stage) for e in seen] == [
            (ada.id, None, "subscriber")
        ]
        types = [type(m.event).__name__ for m in crm.events.outbox().fetch(10)]
        assert types == ["CustomerRegistered", "StageChanged"]

    def test_a_refused_registration_leaves_no_history_behind(self, crm: CRM) -> None:
        """The entry commits with the registration or not at all."""
        crm.customers.register(email="ada@example.com", customer_id="first")
        with pytest.raises(DuplicateCustomer):
            crm.customers.register(email="ada@example.com", customer_id="second")
        assert crm.lifecycle.current_stage("second") is None
        assert crm.lifecycle.count_by_stage()["subscriber"] == 1

    def test_a_new_account_enters_the_account_pipeline(self, crm: CRM) -> None:
        """Account models track accounts, keyed apart from customers with the same id."""
        acme = crm.accounts.register(name="Acme", domain="acme.com", account_id="x1")
        assert crm.lifecycle.stages_of(acme.id, subject="account") == {"deal_pipeline": "new"}
        with pytest.raises(ValidationError, match="is an account"):  # no customer x1
            crm.lifecycle.stages_of(acme.id)
        crm.customers.register(email="ada@example.com", customer_id="x1")
        assert crm.lifecycle.stages_of("x1") == {"customer_lifecycle": "subscriber"}

    def test_a_crm_without_lifecycles_tracks_none(self, make_crm: MakeCrm) -> None:
        """Lifecycles are opt-in: the use cases say how to configure one."""
        crm = make_crm(lifecycles=())
        ada = crm.customers.register(email="ada@example.com")
        assert crm.lifecycle.stages_of(ada.id) == {}
        with pytest.raises(UsageError, match="lifecycles="):
            crm.lifecycle.move(ada.id, "lead")


class TestProgressionOnRecording:
    def test_a_first_purchase_makes_a_subscriber_a_customer(self, crm: CRM) -> None:
        """The rule that moved the customer is named in the history, signed by crmkit."""
        ada = crm.customers.register(email="ada@example.com")
        _buy(crm, ada.id, days=1)
        last = crm.lifecycle.history(ada.id).changes[-1]
        assert (last.from_stage, last.to_stage, last.rule, last.actor) == (
            "subscriber",
            "customer",
            "first_purchase",
            "crmkit",
        )
        assert last.at == T0 + timedelta(days=1)

    def test_a_second_purchase_within_a_year_makes_a_repeat_customer(self, crm: CRM) -> None:
        """Rules chain from the new stage on the next recording."""
        ada = crm.customers.register(email="ada@example.com")
        _buy(crm, ada.id, days=1)
        _buy(crm, ada.id, days=100)
        assert crm.lifecycle.current_stage(ada.id) == "repeat"

    def test_a_replayed_interaction_moves_nothing(self, crm: CRM) -> None:
        """An idempotent replay returns the stored interaction and changes no stage."""
        ada = crm.customers.register(email="ada@example.com")
        crm.interactions.record(ada.id, kind="purchase", channel="web", external_ref="o-1")
        before = crm.lifecycle.history(ada.id)
        crm.interactions.record(ada.id, kind="purchase", channel="web", external_ref="o-1")
        assert crm.lifecycle.history(ada.id) == before

    def test_a_contacts_meeting_moves_the_account_along(self, crm: CRM) -> None:
        """Account pipelines see the interactions of the account's contacts."""
        acme = crm.accounts.register(name="Acme", domain="acme.com")
        ada = crm.customers.register(email="ada@example.com")
        crm.accounts.link(ada.id, acme.id)
        _buy(crm, ada.id, kind="meeting")
        assert crm.lifecycle.stages_of(acme.id, subject="account") == {"deal_pipeline": "contacted"}

    def test_a_link_to_a_missing_account_does_not_stop_the_recording(self, crm: CRM) -> None:
        """Imports do not check account links: a contact of an account the tenant does not
        hold still gets its interactions recorded, and its own stages move."""
        linked = Customer.register(CustomerId("c1"), at=T0, account=AccountLink(AccountId("x")))
        crm.customers.import_many([linked])
        _buy(crm, linked.id)
        assert crm.lifecycle.current_stage(linked.id) == "customer"
        assert crm.lifecycle.stages_of("x", subject="account") == {}


class TestMoveStage:
    def test_a_legal_move_is_stored_with_its_reason_and_actor(self, crm: CRM) -> None:
        """Moves by hand carry who and why, and no rule."""
        ada = crm.customers.register(email="ada@example.com")
        history = crm.lifecycle.move(ada.id, "lead", reason="asked for a demo", actor="u-7")
        assert history.current == "lead"
        stored = crm.lifecycle.history(ada.id)
        assert stored == history
        last = stored.changes[-1]
        assert (last.reason, last.actor, last.rule) == ("asked for a demo", "u-7", None)

    def test_an_illegal_move_names_the_allowed_stages_and_stores_nothing(self, crm: CRM) -> None:
        """The error lists where the customer may go from here."""
        ada = crm.customers.register(email="ada@example.com")
        with pytest.raises(IllegalTransition) as raised:
            crm.lifecycle.move(ada.id, "loyal")
        assert raised.value.allowed == ("lead", "customer")
        assert "lead, customer" in str(raised.value)
        assert crm.lifecycle.history(ada.id).version == 1

    def test_a_failing_guard_refuses_the_move(self, crm: CRM) -> None:
        """lead -> qualified needs an email or a phone number."""
        anon = crm.customers.register(given_name="Anon")
        crm.lifecycle.move(anon.id, "lead")
        with pytest.raises(GuardFailed, match="email"):
            crm.lifecycle.move(anon.id, "qualified")
        assert crm.lifecycle.current_stage(anon.id) == "lead"
        crm.customers.update(anon.id, email="anon@example.com")
        assert crm.lifecycle.move(anon.id, "qualified").current == "qualified"

    def test_moving_to_the_current_stage_changes_nothing(self, crm: CRM) -> None:
        """No new entry, no version bump, no event."""
        ada = crm.customers.register(email="ada@example.com")
        pending = crm.events.outbox().pending()
        assert crm.lifecycle.move(ada.id, "subscriber").version == 1
        assert crm.events.outbox().pending() == pending

    def test_a_stale_expected_version_is_a_conflict(self, crm: CRM) -> None:
        """Hosts that showed a stage can refuse to overwrite a newer one."""
        ada = crm.customers.register(email="ada@example.com")
        crm.lifecycle.move(ada.id, "lead", expected_version=1)
        with pytest.raises(ConcurrencyConflict):
            crm.lifecycle.move(ada.id, "qualified", expected_version=1)
        assert crm.lifecycle.current_stage(ada.id) == "lead"

    def test_moving_an_unknown_customer_is_not_found(self, crm: CRM) -> None:
        """No history is created for a subject that does not exist."""
        with pytest.raises(NotFound):
            crm.lifecycle.move("ghost", "lead")
        assert crm.lifecycle.current_stage("ghost") is None

    def test_an_unknown_model_is_a_validation_error(self, crm: CRM) -> None:
        """The error names the CRM's models."""
        ada = crm.customers.register(email="ada@example.com")
        with pytest.raises(ValidationError, match="customer_lifecycle"):
            crm.lifecycle.move(ada.id, "lead", model="nope")

    def test_several_customer_models_must_be_named(self, make_crm: MakeCrm) -> None:
        """With two customer lifecycles the model argument is required."""
        other = LifecycleModel("onboarding", stages=["new", "done"], transitions=[("new", "done")])
        crm = make_crm(lifecycles=(CUSTOMER_LIFECYCLE, other))
        ada = crm.customers.register(email="ada@example.com")
        assert crm.lifecycle.stages_of(ada.id) == {LIFECYCLE: "subscriber", "onboarding": "new"}
        with pytest.raises(UsageError, match="onboarding"):
            crm.lifecycle.move(ada.id, "done")
        assert crm.lifecycle.move(ada.id, "done", model="onboarding").current == "done"

    def test_a_move_before_the_last_change_is_refused(self, crm: CRM) -> None:
        """A history never goes back in time."""
        ada = crm.customers.register(email="ada@example.com")
        with pytest.raises(ValidationError):
            crm.lifecycle.move(ada.id, "lead", at=T0 - timedelta(days=1))


class TestEnterLifecycle:
    def test_imported_customers_enter_where_the_host_says(self, crm: CRM) -> None:
        """Bulk imports record no events and enter no model; enter_lifecycle places them."""
        crm.customers.import_many([Customer.register(CustomerId("old-1"), at=T0)])
        assert crm.lifecycle.current_stage("old-1") is None
        history = crm.lifecycle.enter("old-1", stage="customer", reason="migrated")
        assert [(c.from_stage, c.to_stage) for c in history.changes] == [(None, "customer")]

    def test_entering_twice_is_refused(self, crm: CRM) -> None:
        """A subject already in the model must be moved instead."""
        ada = crm.customers.register(email="ada@example.com")
        with pytest.raises(ValidationError, match=r"lifecycle\.move"):
            crm.lifecycle.enter(ada.id)


class TestReevaluateAll:
    def test_time_alone_lapses_a_customer(self, crm: CRM) -> None:
        """No purchase for 180 days moves a customer to lapsed in the batch run."""
        ada = crm.customers.register(email="ada@example.com")
        _buy(crm, ada.id)
        report = crm.lifecycle.reevaluate_all(as_of=T0 + timedelta(days=181))
        assert (report.examined, report.moved) == (1, 1)
        assert [c.to_stage for c in report.changes] == ["lapsed"]
        assert crm.lifecycle.current_stage(ada.id) == "lapsed"

    def test_running_twice_at_the_same_instant_changes_nothing(self, crm: CRM) -> None:
        """The second run makes no move and stores nothing new."""
        for n in range(3):
            crm.customers.register(email=f"c{n}@example.com")
            _buy(crm, f"alpha-{2 * n + 1:06d}")
        as_of = T0 + timedelta(days=400)
        first = crm.lifecycle.reevaluate_all(as_of=as_of, batch_size=1)
        histories = list(crm.lifecycle.stream_histories())
        second = crm.lifecycle.reevaluate_all(as_of=as_of, batch_size=1)
        assert first.moved == 3
        assert (second.examined, second.moved, second.changes) == (3, 0, ())
        assert list(crm.lifecycle.stream_histories()) == histories

    def test_customers_without_a_history_enter_first(self, crm: CRM) -> None:
        """Imported customers join the models, then the rules place them."""
        crm.customers.import_many(
            [Customer.register(CustomerId(f"old-{n}"), at=T0) for n in range(3)]
        )
        report = crm.lifecycle.reevaluate_all(batch_size=2)
        assert (report.examined, report.entered) == (3, 3)
        assert crm.lifecycle.count_by_stage()["subscriber"] == 3

    def test_evaluating_one_customer_twice_moves_it_once(self, crm: CRM) -> None:
        """evaluate_progression is idempotent at a fixed as_of."""
        ada = crm.customers.register(email="ada@example.com")
        _buy(crm, ada.id)
        later = T0 + timedelta(days=400)
        assert [c.to_stage for c in crm.lifecycle.evaluate(ada.id, as_of=later)] == [
            "lapsed",
            "churned",
        ]
        assert crm.lifecycle.evaluate(ada.id, as_of=later) == []


class TestReports:
    def test_counts_list_every_stage_in_model_order(self, crm: CRM) -> None:
        """Empty stages show as 0, so a dashboard never misses a column."""
        crm.customers.register(email="a@example.com")
        counts = crm.lifecycle.count_by_stage()
        assert list(counts) == list(CUSTOMER_LIFECYCLE.stage_names)
        assert counts["subscriber"] == 1
        assert sum(counts.values()) == 1

    def test_tenants_never_see_each_others_stages(self, make_crm: MakeCrm) -> None:
        """Counts, streams and histories are bound to the CRM's tenant."""
        alpha, beta = make_crm("alpha"), make_crm("beta")
        ada = alpha.customers.register(email="ada@example.com", customer_id="same")
        beta.customers.register(email="bob@example.com", customer_id="same")
        beta.lifecycle.move("same", "lead")
        assert alpha.lifecycle.current_stage(ada.id) == "subscriber"
        assert alpha.lifecycle.count_by_stage()["lead"] == 0
        assert [h.current for h in alpha.lifecycle.stream_histories()] == ["subscriber"]
        assert beta.lifecycle.reevaluate_all().examined == 1

    def test_the_funnel_follows_the_cohort_through_the_stages(self, crm: CRM) -> None:
        """Two subscribers, one buys: half the cohort reached customer."""
        ada = crm.customers.register(email="ada@example.com")
        crm.customers.register(email="bob@example.com")
        _buy(crm, ada.id, days=1)
        result = crm.lifecycle.funnel(["subscriber", "customer"])
        assert result.cohort == 2
        assert [s.reached for s in result.steps] == [2, 1]

    def test_stage_durations_measure_completed_stays(self, crm: CRM) -> None:
        """Ada spent ten days as a subscriber."""
        ada = crm.customers.register(email="ada@example.com")
        _buy(crm, ada.id, days=10)
        stats = crm.lifecycle.durations(as_of=T0 + timedelta(days=20))
        assert stats["subscriber"].count == 1
        assert stats["subscriber"].total == timedelta(days=10)


class TestConcurrentRecording:
    def test_parallel_purchases_by_one_customer_all_land_on_a_valid_path(
        self, make_crm: MakeCrm
    ) -> None:
        """Progression races on one history are retried: every interaction is stored once,
        and the history stays a path through the model."""
        crm = make_crm()
        ada = crm.customers.register(email="ada@example.com")
        errors: list[BaseException] = []

        def buy(worker: int) -> None:
            mine = make_crm(ids=UuidIds())
            for n in range(4):
                try:
                    mine.interactions.record(
                        ada.id, kind="purchase", channel="web", external_ref=f"w{worker}-{n}"
                    )
                except ConcurrencyConflict:
                    continue  # a retryable refusal under contention: the host would retry
                except BaseException as error:  # pragma: no cover - reported below
                    errors.append(error)

        threads = [threading.Thread(target=buy, args=(w,)) for w in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        history = crm.lifecycle.history(ada.id)
        assert CUSTOMER_LIFECYCLE.is_path([c.to_stage for c in history.changes])
        assert history.current in {"customer", "repeat", "loyal"}
        assert len(history.changes) == len({c.to_stage for c in history.changes})


class TestIdempotence:
    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        gaps=st.lists(st.integers(0, 400), min_size=1, max_size=6),
        kinds=st.lists(st.sampled_from(["purchase", "referral", "note"]), min_size=6, max_size=6),
        later=st.integers(0, 800),
    )
    def test_reevaluating_at_the_same_instant_is_idempotent(
        self, make_crm: MakeCrm, gaps: list[int], kinds: list[str], later: int
    ) -> None:
        """Whatever the interactions, a second run at the same as_of changes nothing, and the
        history is always a path through the model."""
        tenant = f"t{abs(hash((tuple(gaps), tuple(kinds), later))) % 10**9}"
        crm = make_crm(tenant)
        ada = crm.customers.register(email="ada@example.com")
        for gap, kind in zip(gaps, kinds, strict=False):
            _buy(crm, ada.id, days=gap, kind=kind)
        as_of = _clock(crm).now() + timedelta(days=later)
        crm.lifecycle.reevaluate_all(as_of=as_of)
        history = crm.lifecycle.history(ada.id)
        assert crm.lifecycle.reevaluate_all(as_of=as_of).changes == ()
        assert crm.lifecycle.history(ada.id) == history
        assert CUSTOMER_LIFECYCLE.is_path([c.to_stage for c in history.changes])


class TestChangedModels:
    def test_a_stage_the_model_no_longer_has_is_skipped_not_fatal(self, make_crm: MakeCrm) -> None:
        """After a host removed a stage, progression leaves those histories alone, reports
        them, and recording interactions still works; counts list the stored stage last."""
        old = LifecycleModel(
            "trial",
            stages=["new", "legacy", "paying"],
            transitions=[("new", "legacy"), ("new", "paying"), ("legacy", "paying")],
        )
        before = make_crm(lifecycles=(old,))
        ada = before.customers.register(email="ada@example.com")
        before.lifecycle.move(ada.id, "legacy")
        bob = before.customers.register(email="bob@example.com")

        new = LifecycleModel(
            "trial",
            stages=["new", "paying"],
            transitions=[("new", "paying")],
            rules=[ProgressionRule("paid", "paying", purchases().count() >= 1)],
        )
        after = make_crm(lifecycles=(new,))
        after.interactions.record(ada.id, kind="purchase", channel="web")
        after.interactions.record(bob.id, kind="purchase", channel="web")
        assert after.lifecycle.current_stage(ada.id) == "legacy"
        assert after.lifecycle.current_stage(bob.id) == "paying"
        report = after.lifecycle.reevaluate_all()
        assert report.skipped == (("trial", ada.id),)
        assert after.lifecycle.count_by_stage() == {"new": 0, "paying": 1, "legacy": 1}
        with pytest.raises(ValidationError, match="model changed"):
            after.lifecycle.move(ada.id, "paying")


TRIAL = LifecycleModel(
    "trial",
    stages=["trial", "expired", "paying", "quiet"],
    transitions=[("trial", "expired"), ("trial", "paying"), ("paying", "quiet")],
    rules=[
        ProgressionRule("paid", "paying", purchases().count() >= 1),
        ProgressionRule("ended", "expired", TimeInStage(14)),
        ProgressionRule(
            "went_quiet",
            "quiet",
            (purchases(last=days(30)).count() == 0) & TimeInStage(30),
        ),
    ],
)


class TestTimeInStage:
    def test_a_trial_ends_fourteen_days_after_it_starts(self, make_crm: MakeCrm) -> None:
        """Time alone moves a subject on, measured from when it entered the stage."""
        crm = make_crm(lifecycles=(TRIAL,))
        ada = crm.customers.register(email="ada@example.com")
        almost = T0 + timedelta(days=14) - timedelta(microseconds=1)
        assert crm.lifecycle.evaluate(ada.id, as_of=almost) == []
        moves = crm.lifecycle.evaluate(ada.id, as_of=T0 + timedelta(days=14))
        assert [(m.from_stage, m.to_stage, m.rule) for m in moves] == [
            ("trial", "expired", "ended")
        ]

    def test_an_inactivity_rule_waits_for_the_stage_to_be_old_enough(
        self, make_crm: MakeCrm
    ) -> None:
        """A new arrival in a stage is not "inactive" the moment it arrives: the clock of
        TimeInStage starts at the move, so a chained rule cannot fire in the same instant."""
        crm = make_crm(lifecycles=(TRIAL,))
        ada = crm.customers.register(email="ada@example.com")
        imported = T0 - timedelta(days=90)
        crm.interactions.record(ada.id, kind="purchase", channel="web", occurred_at=imported)
        assert crm.lifecycle.current_stage(ada.id) == "paying"  # not straight on to "quiet"
        later = T0 + timedelta(days=30)
        assert [m.to_stage for m in crm.lifecycle.evaluate(ada.id, as_of=later)] == ["quiet"]
