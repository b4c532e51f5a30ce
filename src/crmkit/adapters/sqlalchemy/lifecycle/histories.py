"""The SQL stage-history repository: ``crmkit_stage_histories`` and ``crmkit_stage_changes``.

A history is one row (its version, and the current stage with when it was entered, so counts
and segments by stage read only that row's index) plus one row per change, numbered from 0.
Changes are append-only: an update inserts only the changes after the stored ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exc, func, insert, select, update

from crmkit.adapters._arguments import check_batch
from crmkit.adapters.sqlalchemy.lifecycle import rows as m
from crmkit.adapters.sqlalchemy.lifecycle.tables import stage_changes, stage_histories
from crmkit.adapters.sqlalchemy.lists import any_of, key_in
from crmkit.adapters.sqlalchemy.rows import from_us, to_us
from crmkit.adapters.sqlalchemy.session import Session
from crmkit.domain import StageHistory, SubjectKind
from crmkit.domain._arguments import instance_of
from crmkit.errors import ConcurrencyConflict, NotFound, ValidationError

__all__ = ["SqlStageHistories"]

_H = stage_histories.c
_C = stage_changes.c

#: (model, subject kind, subject id): the key of a history, as the in-memory adapter has it.
_Key = tuple[str, SubjectKind, str]
_Row = Mapping[Any, Any]


def _key(history: StageHistory) -> _Key:
    return (history.model, history.subject_kind, history.subject_id)


class SqlStageHistories:
    """Lifecycle stage histories in ``crmkit_stage_histories`` and ``crmkit_stage_changes``."""

    def __init__(self, session: Session) -> None:
        self._s = session

    @property
    def _tenant(self) -> str:
        return self._s.tenant

    def _where(self, table: Any, key: _Key) -> Any:
        model, kind, subject_id = key
        return and_(
            table.c.tenant_id == self._tenant,
            table.c.model == model,
            table.c.subject_kind == kind.value,
            table.c.subject_id == subject_id,
        )

    def add(self, history: StageHistory) -> None:
        instance_of(history, StageHistory, "history")
        if history.version != 0:
            raise ValidationError.single("version", history.version, "a new history has version 0")
        key = _key(history)
        # Asked first, so the usual refusal leaves the transaction usable on PostgreSQL too;
        # the primary key still catches a writer that committed the same key meanwhile.
        if self._version(key) is not None:
            raise ConcurrencyConflict("stage history", key, 0, "it already exists")
        connection = self._s.connection
        try:
            connection.execute(
                insert(stage_histories), [m.stage_history_row(self._tenant, history, 1)]
            )
        except exc.IntegrityError:
            raise ConcurrencyConflict("stage history", key, 0, "it already exists") from None
        connection.execute(insert(stage_changes), m.stage_change_rows(self._tenant, history))
        history.version = 1
        self._s._track(history)

    def update(self, history: StageHistory) -> None:
        instance_of(history, StageHistory, "history")
        # The versioned UPDATE goes first, so a stale copy is reported as stale whatever else
        # is wrong with it (as in memory; under snapshot isolation only a write can tell).
        key, version = _key(history), history.version
        connection = self._s.connection
        row = m.stage_history_row(self._tenant, history, version + 1)
        result = connection.execute(
            update(stage_histories)
            .where(self._where(stage_histories, key), _H.version == version)
            .values(
                version=row["version"],
                stage=row["stage"],
                entered_at_us=row["entered_at_us"],
                started_at_us=row["started_at_us"],
            )
        )
        if result.rowcount != 1:
            if self._version(key) is None:
                raise NotFound("stage history", key)
            raise ConcurrencyConflict("stage history", key, version)
        stored = tuple(m.stage_change_from_row(r) for r in self._change_rows(key))
        if history.changes[: len(stored)] != stored:
            self._restore(key, version, stored)
            raise ValidationError.single("changes", history.changes, "are append-only")
        appended = m.stage_change_rows(self._tenant, history, len(stored))
        if appended:
            try:
                connection.execute(insert(stage_changes), appended)
            except exc.IntegrityError:
                # Only when ``history`` was read after this transaction's snapshot was taken
                # and another writer stored those positions: retrying from a fresh read works.
                raise ConcurrencyConflict("stage history", key, version) from None
        history.version += 1
        self._s._track(history)

    def _restore(self, key: _Key, version: int, stored: Sequence[Any]) -> None:
        """Undo this update's UPDATE of the history row (nothing else was written)."""
        self._s.connection.execute(
            update(stage_histories)
            .where(self._where(stage_histories, key))
            .values(
                version=version,
                stage=stored[-1].to_stage,
                entered_at_us=to_us(stored[-1].at),
                started_at_us=to_us(stored[0].at),
            )
        )

    def _version(self, key: _Key) -> int | None:
        found = self._s.connection.execute(
            select(_H.version).where(self._where(stage_histories, key))
        ).scalar()
        return None if found is None else int(found)

    def _change_rows(self, key: _Key) -> Sequence[_Row]:
        query = select(stage_changes).where(self._where(stage_changes, key)).order_by(_C.seq)
        return self._s.connection.execute(query).mappings().all()

    def find(
        self, model: str, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> StageHistory | None:
        key = (model, SubjectKind(subject_kind), subject_id)
        row = (
            self._s.connection.execute(
                select(stage_histories).where(self._where(stage_histories, key))
            )
            .mappings()
            .first()
        )
        return None if row is None else m.stage_history_from_rows(row, self._change_rows(key))

    def get(
        self, model: str, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> StageHistory:
        found = self.find(model, subject_id, subject_kind=subject_kind)
        if found is None:
            raise NotFound("stage history", (model, subject_kind, subject_id))
        return found

    def for_subject(
        self, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> list[StageHistory]:
        kind = SubjectKind(subject_kind).value
        rows = (
            self._s.connection.execute(
                select(stage_histories).where(
                    _H.tenant_id == self._tenant,
                    _H.subject_kind == kind,
                    _H.subject_id == subject_id,
                )
            )
            .mappings()
            .all()
        )
        # Sorted here, not by ORDER BY model: that clause tempts planners into walking the
        # tenant's by-stage index (model first) instead of the subject's own index.
        return self._assemble(sorted(rows, key=lambda row: row["model"]))

    def positions(
        self, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> dict[str, tuple[str, datetime]]:
        kind = SubjectKind(subject_kind).value
        found = self._s.connection.execute(
            select(_H.model, _H.stage, _H.entered_at_us).where(
                _H.tenant_id == self._tenant,
                _H.subject_kind == kind,
                _H.subject_id == subject_id,
            )
        )
        return {model: (stage, from_us(at)) for model, stage, at in sorted(found)}

    def stream(
        self, model: str, *, stage: str | None = None, batch_size: int = 1000
    ) -> Iterator[StageHistory]:
        check_batch(batch_size)
        last: tuple[str, str] | None = None
        while True:
            query = select(stage_histories).where(_H.tenant_id == self._tenant, _H.model == model)
            if stage is not None:
                query = query.where(_H.stage == stage)
            if last is not None:
                query = query.where(
                    (_H.subject_kind > last[0])
                    | ((_H.subject_kind == last[0]) & (_H.subject_id > last[1]))
                )
            query = query.order_by(_H.subject_kind, _H.subject_id).limit(batch_size)
            rows = self._s.connection.execute(query).mappings().all()
            yield from self._assemble(rows)
            if len(rows) < batch_size:
                return
            last = (rows[-1]["subject_kind"], rows[-1]["subject_id"])

    def _assemble(self, rows: Sequence[_Row]) -> list[StageHistory]:
        """The histories of ``rows`` (in their order), their changes loaded in one query."""
        if not rows:
            return []
        # Grouped by model and subject kind, each group one IN list on the changes' key.
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for row in rows:
            groups[(row["model"], row["subject_kind"])].append(row["subject_id"])
        dialect = self._s.connection.dialect.name
        chosen = any_of(
            and_(_C.model == model, _C.subject_kind == kind, key_in(dialect, _C.subject_id, ids))
            for (model, kind), ids in groups.items()
        )
        query = (
            select(stage_changes)
            .where(_C.tenant_id == self._tenant, chosen)
            .order_by(_C.model, _C.subject_kind, _C.subject_id, _C.seq)
        )
        changes: dict[tuple[str, str, str], list[_Row]] = defaultdict(list)
        for change in self._s.connection.execute(query).mappings():
            changes[(change["model"], change["subject_kind"], change["subject_id"])].append(change)
        return [
            m.stage_history_from_rows(
                row, changes[(row["model"], row["subject_kind"], row["subject_id"])]
            )
            for row in rows
        ]

    def count_by_stage(self, model: str) -> dict[str, int]:
        query = (
            select(_H.stage, func.count())
            .where(_H.tenant_id == self._tenant, _H.model == model)
            .group_by(_H.stage)
            .order_by(_H.stage)
        )
        return {stage: int(n) for stage, n in self._s.connection.execute(query).all()}
