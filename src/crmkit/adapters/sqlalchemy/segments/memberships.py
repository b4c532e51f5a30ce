"""The SQL segment-membership repository: ``crmkit_segment_snapshots`` and
``crmkit_segment_members``.

A snapshot is one row (the ``as_of`` of the last full evaluation, its version and member
count) plus one row per member. Saving a snapshot deletes the members that left and inserts
those that entered (executemany), after the versioned UPDATE of its row, all in the unit of
work's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import delete, exc, insert, select, update

from crmkit.adapters._arguments import check_batch, check_page
from crmkit.adapters.sqlalchemy.rows import from_us, to_us
from crmkit.adapters.sqlalchemy.segments.tables import segment_members, segment_snapshots
from crmkit.adapters.sqlalchemy.session import Session
from crmkit.domain import CustomerId, SegmentSnapshot
from crmkit.domain._arguments import instance_of
from crmkit.errors import ConcurrencyConflict, NotFound, ValidationError

__all__ = ["SqlSegmentMemberships"]

_S = segment_snapshots.c
_M = segment_members.c

#: How many member ids one DELETE … IN names.
_DELETE_BATCH = 500


class SqlSegmentMemberships:
    """Tracked segment memberships in ``crmkit_segment_snapshots`` and
    ``crmkit_segment_members``."""

    def __init__(self, session: Session) -> None:
        self._s = session

    @property
    def _tenant(self) -> str:
        return self._s.tenant

    def find(self, segment: str) -> SegmentSnapshot | None:
        row = (
            self._s.connection.execute(
                select(segment_snapshots).where(_S.tenant_id == self._tenant, _S.segment == segment)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return SegmentSnapshot(
            row["segment"], from_us(row["as_of_us"]), int(row["members"]), int(row["version"])
        )

    def add(self, snapshot: SegmentSnapshot) -> None:
        instance_of(snapshot, SegmentSnapshot, "snapshot")
        if snapshot.version != 0:
            raise ValidationError.single(
                "version", snapshot.version, "a new snapshot has version 0"
            )
        segment = snapshot.segment
        # Asked first, so the usual refusal leaves the transaction usable on PostgreSQL too;
        # the primary key still catches a writer that committed the same key meanwhile.
        if self._version(segment) is not None:
            raise ConcurrencyConflict("segment snapshot", segment, 0, "it already exists")
        try:
            self._s.connection.execute(
                insert(segment_snapshots),
                [
                    {
                        "tenant_id": self._tenant,
                        "segment": segment,
                        "as_of_us": to_us(snapshot.as_of),
                        "version": 1,
                        "members": snapshot.members,
                    }
                ],
            )
        except exc.IntegrityError:
            raise ConcurrencyConflict("segment snapshot", segment, 0, "it already exists") from None
        self._write_members(snapshot)
        snapshot.version = 1
        snapshot.saved()
        self._s._track(snapshot)

    def update(self, snapshot: SegmentSnapshot) -> None:
        instance_of(snapshot, SegmentSnapshot, "snapshot")
        segment, version = snapshot.segment, snapshot.version
        result = self._s.connection.execute(
            update(segment_snapshots)
            .where(_S.tenant_id == self._tenant, _S.segment == segment, _S.version == version)
            .values(
                version=version + 1,
                as_of_us=to_us(snapshot.as_of),
                members=snapshot.members,
            )
        )
        if result.rowcount != 1:
            if self._version(segment) is None:
                raise NotFound("segment snapshot", segment)
            raise ConcurrencyConflict("segment snapshot", segment, version)
        self._write_members(snapshot)
        snapshot.version += 1
        snapshot.saved()
        self._s._track(snapshot)

    def _write_members(self, snapshot: SegmentSnapshot) -> None:
        entered, left = snapshot.pending
        connection, segment = self._s.connection, snapshot.segment
        gone = sorted(left)
        for start in range(0, len(gone), _DELETE_BATCH):
            chunk = gone[start : start + _DELETE_BATCH]
            connection.execute(
                delete(segment_members).where(
                    _M.tenant_id == self._tenant,
                    _M.segment == segment,
                    _M.customer_id.in_(chunk),
                )
            )
        if entered:
            rows = [
                {
                    "tenant_id": self._tenant,
                    "segment": segment,
                    "customer_id": customer_id,
                    "since_us": to_us(since),
                }
                for customer_id, since in sorted(entered.items())
            ]
            try:
                connection.execute(insert(segment_members), rows)
            except exc.IntegrityError:
                # Only when the snapshot was read after this transaction's snapshot was taken
                # and another writer stored those members: retrying from a fresh read works.
                raise ConcurrencyConflict("segment snapshot", segment, snapshot.version) from None

    def _version(self, segment: str) -> int | None:
        found = self._s.connection.execute(
            select(_S.version).where(_S.tenant_id == self._tenant, _S.segment == segment)
        ).scalar()
        return None if found is None else int(found)

    def members(
        self, segment: str, *, batch_size: int = 1000, after: str | None = None
    ) -> Iterator[CustomerId]:
        check_batch(batch_size)
        check_page(1, after)
        last = after
        while True:
            query: Any = select(_M.customer_id).where(
                _M.tenant_id == self._tenant, _M.segment == segment
            )
            if last is not None:
                query = query.where(_M.customer_id > last)
            query = query.order_by(_M.customer_id).limit(batch_size)
            ids = self._s.connection.execute(query).scalars().all()
            yield from (CustomerId(i) for i in ids)
            if len(ids) < batch_size:
                return
            last = ids[-1]

    def contains(self, segment: str, customer_id: CustomerId) -> bool:
        found = self._s.connection.execute(
            select(_M.customer_id).where(
                _M.tenant_id == self._tenant,
                _M.segment == segment,
                _M.customer_id == customer_id,
            )
        ).first()
        return found is not None
