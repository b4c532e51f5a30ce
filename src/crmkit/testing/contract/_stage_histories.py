"""The contract of the `StageHistoryRepository` (``uow.stage_histories``), tenancy included."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crmkit.domain import (
    Account,
    AccountId,
    DomainEvent,
    Facts,
    StageChange,
    StageChanged,
    StageHistory,
    SubjectKind,
)
from crmkit.errors import ConcurrencyConflict, NotFound, ValidationError
from crmkit.testing.contract._base import ContractBase
from crmkit.testing.contract._samples import (
    ADVOCACY,
    FUNNEL,
    OTHER,
    PIPELINE,
    T0,
    TENANT,
    OpenFor,
    _customer,
    _history,
)

__all__ = ["StageHistoryContract"]


class StageHistoryContract(ContractBase):
    """The `StageHistoryRepository` contract (``uow.stage_histories``), tenancy
    included."""

    def test_an_added_stage_history_reads_back_equal_at_version_1(self, uow: OpenFor) -> None:
        history = _history("c001", "customer")
        history.progress(FUNNEL, Facts(as_of=T0 + timedelta(days=9), tags={"quiet"}))
        assert history.changes[-1].rule == "went_quiet"
        with uow() as tx:
            tx.stage_histories.add(history)
            tx.commit()
        with uow() as tx:
            stored = tx.stage_histories.get("funnel", "c001")
        assert stored == history
        assert (stored.version, stored.current, len(stored.changes)) == (1, "lapsed", 3)

    def test_an_unknown_stage_history_is_not_found(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.stage_histories.add(_history("c001"))
            tx.commit()
        with uow() as tx:
            assert tx.stage_histories.find("funnel", "c002") is None
            assert tx.stage_histories.find("advocacy", "c001") is None
            assert (
                tx.stage_histories.find("funnel", "c001", subject_kind=SubjectKind.ACCOUNT) is None
            )
            with pytest.raises(NotFound):
                tx.stage_histories.get("funnel", "c002")
            with pytest.raises(NotFound):
                tx.stage_histories.update(_history("c002", "customer"))

    def test_a_stage_history_update_appends_changes_and_bumps_the_version(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            tx.stage_histories.add(_history("c001"))
            tx.commit()
        with uow() as tx:
            history = tx.stage_histories.get("funnel", "c001")
            history.move(FUNNEL, "customer", at=T0 + timedelta(days=1), actor="ada")
            tx.stage_histories.update(history)
            history.move(FUNNEL, "lapsed", at=T0 + timedelta(days=2), reason="quiet")
            tx.stage_histories.update(history)  # twice in one unit of work
            tx.commit()
        with uow() as tx:
            stored = tx.stage_histories.get("funnel", "c001")
            assert stored == history
            assert (stored.version, stored.current) == (3, "lapsed")
            stored.move(FUNNEL, "customer", at=T0 + timedelta(days=3))
            tx.stage_histories.update(stored)
            tx.commit()
        with uow() as tx:
            again = tx.stage_histories.get("funnel", "c001")
        assert again == stored
        assert [c.to_stage for c in again.changes] == ["lead", "customer", "lapsed", "customer"]
        assert again.version == 4

    def test_a_stale_stage_history_update_raises_a_retryable_conflict_and_changes_nothing(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            tx.stage_histories.add(_history("c001"))
            tx.commit()
        with uow(read_only=True) as reader, uow() as first:
            theirs = reader.stage_histories.get("funnel", "c001")
            mine = first.stage_histories.get("funnel", "c001")
            mine.move(FUNNEL, "customer", at=T0 + timedelta(days=1), actor="mine")
            first.stage_histories.update(mine)
            first.commit()
        with uow() as second:
            theirs.move(FUNNEL, "customer", at=T0 + timedelta(days=2), actor="theirs")
            with pytest.raises(ConcurrencyConflict) as caught:
                second.stage_histories.update(theirs)
                second.commit()
            assert caught.value.retryable
        with uow() as tx:
            stored = tx.stage_histories.get("funnel", "c001")
        assert stored == mine
        assert (stored.version, stored.changes[-1].actor) == (2, "mine")

    def test_an_update_that_rewrites_stage_history_is_refused_and_changes_nothing(
        self, uow: OpenFor
    ) -> None:
        original = _history("c001", "customer")
        with uow() as tx:
            tx.stage_histories.add(original)
            tx.commit()
        other_entry = StageChange(None, "customer", T0)
        with uow() as tx:
            rewritten = StageHistory(SubjectKind.CUSTOMER, "c001", "funnel", (other_entry,), 1)
            with pytest.raises(ValidationError):
                tx.stage_histories.update(rewritten)
            shortened = tx.stage_histories.get("funnel", "c001")
            shortened.changes = shortened.changes[:1]
            with pytest.raises(ValidationError):
                tx.stage_histories.update(shortened)
            assert tx.stage_histories.get("funnel", "c001") == original
            assert tx.stage_histories.count_by_stage("funnel") == {"customer": 1}
            tx.commit()
        with uow() as tx:
            stored = tx.stage_histories.get("funnel", "c001")
            assert tx.stage_histories.count_by_stage("funnel") == {"customer": 1}
        assert stored == original
        assert stored.version == 1

    def test_a_second_stage_history_for_the_same_key_conflicts(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.stage_histories.add(_history("c001", "customer"))
            tx.commit()
        with uow() as tx:
            with pytest.raises(ConcurrencyConflict):
                tx.stage_histories.add(_history("c001"))
            tx.stage_histories.add(_history("c001", model=ADVOCACY))  # another model is fine
            tx.stage_histories.add(_history("c001", model=PIPELINE))  # so is an account c001
            tx.commit()
        with uow() as tx:
            assert tx.stage_histories.get("funnel", "c001").current == "customer"
            assert len(tx.stage_histories.for_subject("c001")) == 2

    def test_racing_adds_of_one_stage_history_let_only_the_first_in(self, uow: OpenFor) -> None:
        with uow(read_only=True) as reader, uow() as first:
            assert reader.stage_histories.find("funnel", "c001") is None  # the loser looked
            first.stage_histories.add(_history("c001", "customer"))
            first.commit()
        with uow() as second:
            with pytest.raises(ConcurrencyConflict) as caught:
                second.stage_histories.add(_history("c001"))
                second.commit()
            assert caught.value.retryable
        with uow() as tx:
            stored = tx.stage_histories.get("funnel", "c001")
        assert (stored.current, stored.version) == ("customer", 1)

    def test_for_subject_returns_each_model_in_order_and_nothing_of_others(
        self, uow: OpenFor
    ) -> None:
        funnel = _history("c001", "customer")
        advocacy = _history("c001", "promoter", model=ADVOCACY)
        account = _history("c001", "won", model=PIPELINE)
        with uow() as tx:
            for history in (funnel, _history("c002"), account, advocacy, _history("c000")):
                tx.stage_histories.add(history)
            tx.commit()
        with uow() as tx:
            assert tx.stage_histories.for_subject("c001") == [advocacy, funnel]
            assert tx.stage_histories.for_subject("c001", subject_kind=SubjectKind.ACCOUNT) == [
                account
            ]
            assert tx.stage_histories.for_subject("c999") == []

    def test_positions_say_where_a_subject_stands_in_each_model(self, uow: OpenFor) -> None:
        funnel = _history("c001", "customer", "lapsed")
        advocacy = _history("c001", "promoter", model=ADVOCACY)
        with uow() as tx:
            for history in (funnel, advocacy, _history("c001", "won", model=PIPELINE)):
                tx.stage_histories.add(history)
            tx.commit()
        with uow(read_only=True) as tx:
            assert tx.stage_histories.positions("c001") == {
                advocacy.model: ("promoter", advocacy.entered_at),
                funnel.model: ("lapsed", funnel.entered_at),
            }
            assert list(tx.stage_histories.positions("c001")) == sorted([ADVOCACY.name, "funnel"])
            assert tx.stage_histories.positions("c999") == {}

    def test_streaming_stage_histories_orders_and_filters_by_stage(self, uow: OpenFor) -> None:
        made = {
            "c005": _history("c005", "customer"),
            "c001": _history("c001", "customer", "lapsed"),
            "c004": _history("c004"),
            "c002": _history("c002", "customer"),
            "c003": _history("c003", "customer", "lapsed", "customer"),
        }
        with uow() as tx:
            for history in made.values():
                tx.stage_histories.add(history)
            tx.stage_histories.add(_history("c000", "promoter", model=ADVOCACY))
            tx.commit()
        ordered = [made[k] for k in sorted(made)]
        with uow() as tx:
            assert list(tx.stage_histories.stream("funnel")) == ordered
            assert list(tx.stage_histories.stream("funnel", batch_size=2)) == ordered
            customers = list(tx.stage_histories.stream("funnel", stage="customer", batch_size=2))
            assert [h.subject_id for h in customers] == ["c002", "c003", "c005"]
            assert customers == [made["c002"], made["c003"], made["c005"]]
            assert [h.subject_id for h in tx.stage_histories.stream("advocacy")] == ["c000"]
            assert list(tx.stage_histories.stream("funnel", stage="nowhere")) == []
            assert list(tx.stage_histories.stream("unknown")) == []

    def test_counting_by_stage_counts_current_stages_only(self, uow: OpenFor) -> None:
        with uow() as tx:
            for n, moves in enumerate([(), ("customer",), ("customer", "lapsed"), ("customer",)]):
                tx.stage_histories.add(_history(f"c{n:03d}", *moves))
            tx.stage_histories.add(_history("a1", model=PIPELINE))
            tx.commit()
        with uow() as tx:
            assert tx.stage_histories.count_by_stage("funnel") == {
                "lead": 1,
                "customer": 2,
                "lapsed": 1,
            }
            assert tx.stage_histories.count_by_stage("pipeline") == {"new": 1}
            assert tx.stage_histories.count_by_stage("unknown") == {}

    def test_a_rolled_back_unit_of_work_leaves_no_stage_history(self, uow: OpenFor) -> None:
        original = _history("c001")
        with uow() as tx:
            tx.stage_histories.add(original)
            tx.commit()
        with pytest.raises(RuntimeError), uow() as tx:
            history = tx.stage_histories.get("funnel", "c001")
            history.move(FUNNEL, "customer", at=T0 + timedelta(days=1))
            tx.stage_histories.update(history)
            tx.stage_histories.add(_history("c002"))
            raise RuntimeError("boom")
        with uow() as tx:
            tx.stage_histories.add(_history("c003"))
        with uow() as tx:
            assert tx.stage_histories.get("funnel", "c001") == original
            assert tx.stage_histories.find("funnel", "c002") is None
            assert tx.stage_histories.find("funnel", "c003") is None
            assert tx.stage_histories.count_by_stage("funnel") == {"lead": 1}

    def test_stage_changes_are_published_after_commit_only(
        self, uow: OpenFor, published: list[DomainEvent]
    ) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.accounts.add(Account.register(AccountId("a1"), name="Acme", at=T0))
            tx.commit()
        published.clear()
        with uow() as tx:
            tx.stage_histories.add(_history("c001"))
        assert published == []
        with uow() as tx:
            tx.stage_histories.add(_history("c001"))
            tx.stage_histories.add(_history("a1", model=PIPELINE))
            tx.commit()
        entered = StageChanged(
            T0,
            subject_kind=SubjectKind.CUSTOMER,
            subject_id="c001",
            model="funnel",
            from_stage=None,
            to_stage="lead",
            reason="signed up",
            actor="web",
        )
        assert published[0] == entered
        assert published[1].aggregate_id == "a1"
        published.clear()
        with uow() as tx:
            history = tx.stage_histories.get("funnel", "c001")
            history.move(FUNNEL, "customer", at=T0 + timedelta(days=1), actor="ada")
            tx.stage_histories.update(history)
            assert published == []
            tx.commit()
        assert published == [
            StageChanged(
                T0 + timedelta(days=1),
                subject_kind=SubjectKind.CUSTOMER,
                subject_id="c001",
                model="funnel",
                from_stage="lead",
                to_stage="customer",
                actor="ada",
            )
        ]

    def test_no_stage_history_of_one_tenant_is_visible_to_another(self, uow: OpenFor) -> None:
        with uow(TENANT) as tx:
            tx.stage_histories.add(_history("c001", "customer"))
            tx.commit()
        with uow(OTHER) as tx:
            assert tx.stage_histories.find("funnel", "c001") is None
            assert tx.stage_histories.for_subject("c001") == []
            assert list(tx.stage_histories.stream("funnel")) == []
            assert tx.stage_histories.count_by_stage("funnel") == {}
            stolen = _history("c001", "customer")
            stolen.version = 1
            with pytest.raises(NotFound):
                tx.stage_histories.update(stolen)

    def test_tenants_may_reuse_stage_history_keys(self, uow: OpenFor) -> None:
        for tenant, moves in ((TENANT, ("customer",)), (OTHER, ())):
            with uow(tenant) as tx:
                tx.stage_histories.add(_history("c001", *moves))
                tx.commit()
        with uow(OTHER) as tx:
            history = tx.stage_histories.get("funnel", "c001")
            history.move(FUNNEL, "customer", at=T0 + timedelta(days=5))
            history.move(FUNNEL, "lapsed", at=T0 + timedelta(days=6))
            tx.stage_histories.update(history)
            tx.commit()
        with uow(TENANT) as tx:
            mine = tx.stage_histories.get("funnel", "c001")
            assert (mine.current, mine.version, len(mine.changes)) == ("customer", 1, 2)
            assert tx.stage_histories.count_by_stage("funnel") == {"customer": 1}
        with uow(OTHER) as tx:
            assert tx.stage_histories.get("funnel", "c001") == history
            assert tx.stage_histories.count_by_stage("funnel") == {"lapsed": 1}
