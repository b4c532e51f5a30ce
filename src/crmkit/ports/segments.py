"""The segment capability: stored membership of tracked segments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from crmkit.domain import (
    CustomerId,
    SegmentSnapshot,
)

__all__ = ["SegmentMembershipRepository", "SegmentStorage"]


class SegmentMembershipRepository(Protocol):
    """The stored membership of the tenant's tracked segments: per segment, a snapshot (its
    version, member count and the ``as_of`` of its last full evaluation) and its members."""

    def find(self, segment: str) -> SegmentSnapshot | None:
        """The snapshot of ``segment``, or ``None`` if it was never stored."""
        ...

    def add(self, snapshot: SegmentSnapshot) -> None:
        """Store a new snapshot (version 0) and its pending members; it becomes version 1.
        Raises `ConcurrencyConflict` if the segment already has one."""
        ...

    def update(self, snapshot: SegmentSnapshot) -> None:
        """Store the members a snapshot's pending changes add and remove (removals first)
        and its new ``as_of`` and count, if its stored version is still
        ``snapshot.version``, then bump it; raises `ConcurrencyConflict` if another writer
        got there first, `NotFound` if it was never added."""
        ...

    def members(
        self, segment: str, *, batch_size: int = 1000, after: str | None = None
    ) -> Iterator[CustomerId]:
        """The stored members of ``segment`` in id order (those above ``after`` when given),
        fetched in batches so memory stays bounded; nothing for an unknown segment."""
        ...

    def contains(self, segment: str, customer_id: CustomerId) -> bool:
        """True when ``customer_id`` is a stored member of ``segment``."""
        ...


class SegmentStorage(Protocol):
    """The segment capability of a unit of work."""

    @property
    def segment_memberships(self) -> SegmentMembershipRepository:
        """The stored membership of the tenant's tracked segments."""
        ...
