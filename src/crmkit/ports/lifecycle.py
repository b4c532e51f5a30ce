"""The lifecycle capability: stage histories."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from crmkit.domain import (
    StageHistory,
    SubjectKind,
)

__all__ = ["LifecycleStorage", "StageHistoryRepository"]


class StageHistoryRepository(Protocol):
    """Where each customer and account stands in each lifecycle model, with its history.

    A history is keyed by (model, subject kind, subject id); its changes are append-only.
    """

    def add(self, history: StageHistory) -> None:
        """Store a new history (version 0); it becomes version 1. Raises
        `ConcurrencyConflict` if the subject already has a history in that model."""
        ...

    def update(self, history: StageHistory) -> None:
        """Save the changes appended to a history whose stored version is still
        ``history.version``, then bump it; raises `ConcurrencyConflict` if another writer
        got there first, `NotFound` if it was never added."""
        ...

    def find(
        self, model: str, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> StageHistory | None:
        """The subject's history in ``model``, or ``None`` if it never entered it."""
        ...

    def get(
        self, model: str, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> StageHistory:
        """The subject's history in ``model``; raises `NotFound`."""
        ...

    def for_subject(
        self, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> list[StageHistory]:
        """Every history of one subject, one per model, ordered by model name."""
        ...

    def positions(
        self, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> dict[str, tuple[str, datetime]]:
        """Where one subject stands in each model it entered: model name -> (current stage,
        when it was entered). What conditions look at, read without the changes."""
        ...

    def stream(
        self, model: str, *, stage: str | None = None, batch_size: int = 1000
    ) -> Iterator[StageHistory]:
        """Every history in ``model`` (only those now in ``stage``, if given), ordered by
        (subject kind, subject id), fetched in batches so memory stays bounded."""
        ...

    def count_by_stage(self, model: str) -> dict[str, int]:
        """How many subjects are in each stage of ``model`` now (stages with none omitted)."""
        ...


class LifecycleStorage(Protocol):
    """The lifecycle capability of a unit of work."""

    @property
    def stage_histories(self) -> StageHistoryRepository:
        """The tenant's lifecycle stage histories."""
        ...
