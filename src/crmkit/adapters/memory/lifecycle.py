"""The in-memory adapter's stage histories: `crmkit.ports.StageHistoryRepository`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from crmkit.adapters._arguments import check_batch
from crmkit.adapters.memory.tables import history_key
from crmkit.domain import StageHistory, SubjectKind
from crmkit.domain._arguments import instance_of
from crmkit.errors import ConcurrencyConflict, NotFound, ValidationError

if TYPE_CHECKING:
    from crmkit.adapters.memory.unit_of_work import InMemoryUnitOfWork

__all__ = ["StageHistories"]


class StageHistories:
    """`crmkit.ports.StageHistoryRepository` over an in-memory unit of work."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def add(self, history: StageHistory) -> None:
        instance_of(history, StageHistory, "history")
        uow = self._uow
        if history.version != 0:
            raise ValidationError.single("version", history.version, "a new history has version 0")
        if uow._history(history_key(history)) is not None:
            raise ConcurrencyConflict("stage history", history_key(history), 0, "it already exists")
        history.version = 1
        uow._stage_history(history, 0)
        uow._track(history)

    def update(self, history: StageHistory) -> None:
        instance_of(history, StageHistory, "history")
        uow = self._uow
        key = history_key(history)
        current = uow._history(key)
        if current is None:
            raise NotFound("stage history", key)
        if current.version != history.version:
            raise ConcurrencyConflict("stage history", key, history.version)
        if history.changes[: len(current.changes)] != current.changes:
            raise ValidationError.single("changes", history.changes, "are append-only")
        entry = uow._histories.get(key)
        base = entry[0] if entry is not None else current.version
        history.version += 1
        uow._stage_history(history, base)
        uow._track(history)

    def find(
        self, model: str, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> StageHistory | None:
        found = self._uow._history((model, SubjectKind(subject_kind), subject_id))
        return None if found is None else self._uow._handing_out(found)

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
        mine = [
            h
            for h in self._uow._all_histories()
            if h.subject_id == subject_id and h.subject_kind == subject_kind
        ]
        return [self._uow._handing_out(h) for h in sorted(mine, key=lambda h: h.model)]

    def positions(
        self, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> dict[str, tuple[str, datetime]]:
        return {
            h.model: (h.current, h.entered_at)
            for h in self.for_subject(subject_id, subject_kind=subject_kind)
        }

    def stream(
        self, model: str, *, stage: str | None = None, batch_size: int = 1000
    ) -> Iterator[StageHistory]:
        check_batch(batch_size)
        chosen = [
            h
            for h in self._uow._all_histories()
            if h.model == model and (stage is None or h.current == stage)
        ]
        for history in sorted(chosen, key=lambda h: (h.subject_kind.value, h.subject_id)):
            yield self._uow._handing_out(history)

    def count_by_stage(self, model: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for history in self._uow._all_histories():
            if history.model == model:
                counts[history.current] = counts.get(history.current, 0) + 1
        return counts
