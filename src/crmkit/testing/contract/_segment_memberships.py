"""The contract of the `SegmentMembershipRepository` (``uow.segment_memberships``), tenancy
included."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crmkit.domain import (
    CustomerId,
    DomainEvent,
    EnteredSegment,
    LeftSegment,
    MembershipChange,
    SegmentSnapshot,
)
from crmkit.errors import ConcurrencyConflict, NotFound
from crmkit.testing.contract._base import ContractBase
from crmkit.testing.contract._samples import OTHER, T0, TENANT, OpenFor, _snapshot

__all__ = ["SegmentMembershipContract"]


class SegmentMembershipContract(ContractBase):
    """The `SegmentMembershipRepository` contract (``uow.segment_memberships``), tenancy
    included."""

    def test_an_added_snapshot_reads_back_with_its_members_in_id_order(self, uow: OpenFor) -> None:
        snapshot = _snapshot("vip", ["c003", "c001", "c002"])
        with uow() as tx:
            assert tx.segment_memberships.find("vip") is None
            tx.segment_memberships.add(snapshot)
            assert snapshot.version == 1
            assert list(tx.segment_memberships.members("vip")) == ["c001", "c002", "c003"]
            tx.commit()
        with uow() as tx:
            assert tx.segment_memberships.find("vip") == SegmentSnapshot("vip", T0, 3, 1)
            assert list(tx.segment_memberships.members("vip", batch_size=2)) == [
                "c001",
                "c002",
                "c003",
            ]
            assert list(tx.segment_memberships.members("vip", after="c001")) == ["c002", "c003"]
            assert tx.segment_memberships.contains("vip", CustomerId("c002"))
            assert not tx.segment_memberships.contains("vip", CustomerId("c004"))
            assert not tx.segment_memberships.contains("other", CustomerId("c002"))
            assert list(tx.segment_memberships.members("other")) == []

    def test_an_update_removes_the_left_and_adds_the_entered_and_bumps_the_version(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            tx.segment_memberships.add(_snapshot("vip", ["c001", "c002"]))
            tx.commit()
        later = T0 + timedelta(days=1)
        with uow() as tx:
            stored = tx.segment_memberships.find("vip")
            assert stored is not None
            stored.refresh(MembershipChange("vip", later, ["c003"], ["c001"], members=2))
            tx.segment_memberships.update(stored)
            stored.leave(CustomerId("c003"), at=later)  # twice in one unit of work
            stored.enter(CustomerId("c001"), at=later)
            tx.segment_memberships.update(stored)
            assert list(tx.segment_memberships.members("vip")) == ["c001", "c002"]
            tx.commit()
        with uow() as tx:
            assert tx.segment_memberships.find("vip") == SegmentSnapshot("vip", later, 2, 3)
            assert list(tx.segment_memberships.members("vip")) == ["c001", "c002"]

    def test_a_stale_snapshot_update_conflicts_and_changes_nothing(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.segment_memberships.add(_snapshot("vip", ["c001"]))
            tx.commit()
        later = T0 + timedelta(hours=1)
        with uow(read_only=True) as reader, uow() as first:
            theirs = reader.segment_memberships.find("vip")
            mine = first.segment_memberships.find("vip")
            assert mine is not None
            assert theirs is not None
            mine.enter(CustomerId("c002"), at=later)
            first.segment_memberships.update(mine)
            first.commit()
        with uow() as second:
            theirs.enter(CustomerId("c003"), at=later)
            with pytest.raises(ConcurrencyConflict) as raised:
                second.segment_memberships.update(theirs)
                second.commit()
            assert raised.value.retryable
        with uow() as tx:
            assert list(tx.segment_memberships.members("vip")) == ["c001", "c002"]
            assert tx.segment_memberships.find("vip") == SegmentSnapshot("vip", T0, 2, 2)
            with pytest.raises(NotFound):
                tx.segment_memberships.update(_snapshot("unknown", [], version=1))
            with pytest.raises(ConcurrencyConflict):
                tx.segment_memberships.add(_snapshot("vip", []))

    def test_membership_events_are_published_after_commit_only(
        self, uow: OpenFor, published: list[DomainEvent]
    ) -> None:
        with uow() as tx:
            tx.segment_memberships.add(_snapshot("vip", ["c001"]))
        assert published == []
        with uow() as tx:
            assert tx.segment_memberships.find("vip") is None  # rolled back
            tx.segment_memberships.add(_snapshot("vip", ["c002", "c001"]))
            tx.commit()
        assert published == [
            EnteredSegment(T0, customer_id=CustomerId("c001"), segment="vip"),
            EnteredSegment(T0, customer_id=CustomerId("c002"), segment="vip"),
        ]
        with uow() as tx:
            stored = tx.segment_memberships.find("vip")
            assert stored is not None
            stored.leave(CustomerId("c001"), at=T0)
            tx.segment_memberships.update(stored)
            tx.commit()
        assert published[-1] == LeftSegment(T0, customer_id=CustomerId("c001"), segment="vip")

    def test_no_membership_of_one_tenant_is_visible_to_another(self, uow: OpenFor) -> None:
        with uow(TENANT) as tx:
            tx.segment_memberships.add(_snapshot("vip", ["c001"]))
            tx.commit()
        with uow(OTHER) as tx:
            assert tx.segment_memberships.find("vip") is None
            assert list(tx.segment_memberships.members("vip")) == []
            assert not tx.segment_memberships.contains("vip", CustomerId("c001"))
            with pytest.raises(NotFound):
                tx.segment_memberships.update(_snapshot("vip", [], version=1))
