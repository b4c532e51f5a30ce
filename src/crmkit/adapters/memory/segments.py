"""The in-memory adapter's tracked segments: `crmkit.ports.SegmentMembershipRepository`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from crmkit.adapters._arguments import check_batch, check_page
from crmkit.domain import CustomerId, SegmentSnapshot
from crmkit.domain._arguments import instance_of
from crmkit.errors import ConcurrencyConflict, NotFound, ValidationError

if TYPE_CHECKING:
    from crmkit.adapters.memory.unit_of_work import InMemoryUnitOfWork

__all__ = ["SegmentMemberships", "snapshot_copy"]


def snapshot_copy(snapshot: SegmentSnapshot) -> SegmentSnapshot:
    """A copy of ``snapshot`` as stored."""
    # A fresh object: no pending changes or events of the original.
    return SegmentSnapshot(snapshot.segment, snapshot.as_of, snapshot.members, snapshot.version)


class SegmentMemberships:
    """`crmkit.ports.SegmentMembershipRepository` over an in-memory unit of work."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def find(self, segment: str) -> SegmentSnapshot | None:
        found = self._uow._snapshot(segment)
        return None if found is None else snapshot_copy(found)

    def add(self, snapshot: SegmentSnapshot) -> None:
        instance_of(snapshot, SegmentSnapshot, "snapshot")
        uow = self._uow
        if snapshot.version != 0:
            raise ValidationError.single(
                "version", snapshot.version, "a new snapshot has version 0"
            )
        if uow._snapshot(snapshot.segment) is not None:
            raise ConcurrencyConflict("segment snapshot", snapshot.segment, 0, "it already exists")
        snapshot.version = 1
        uow._stage_snapshot(snapshot, 0)
        snapshot.saved()
        uow._track(snapshot)

    def update(self, snapshot: SegmentSnapshot) -> None:
        instance_of(snapshot, SegmentSnapshot, "snapshot")
        uow = self._uow
        current = uow._snapshot(snapshot.segment)
        if current is None:
            raise NotFound("segment snapshot", snapshot.segment)
        if current.version != snapshot.version:
            raise ConcurrencyConflict("segment snapshot", snapshot.segment, snapshot.version)
        entry = uow._snapshots.get(snapshot.segment)
        base = entry[0] if entry is not None else current.version
        snapshot.version += 1
        uow._stage_snapshot(snapshot, base)
        snapshot.saved()
        uow._track(snapshot)

    def members(
        self, segment: str, *, batch_size: int = 1000, after: str | None = None
    ) -> Iterator[CustomerId]:
        check_batch(batch_size)
        check_page(1, after)
        for customer_id in self._uow._segment_members(segment):
            if after is None or customer_id > after:
                yield customer_id

    def contains(self, segment: str, customer_id: CustomerId) -> bool:
        uow = self._uow
        uow._require_open()
        added, removed = uow._members.get(segment, ({}, set()))
        if customer_id in added:
            return True
        if customer_id in removed:
            return False
        with uow._store.lock:
            return customer_id in uow._tables.members.get(segment, {})
