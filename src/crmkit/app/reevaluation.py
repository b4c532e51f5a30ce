"""The batch re-evaluation of lifecycle models: every subject of a tenant, page by page.

For customers the store is asked set-wise which of them the models have work for (each
model's `due_rule`, one segment query: compiled to SQL on the SQL stores), and only those are
progressed one by one; a model the segment language cannot say (an account model, a rule
with a host's own condition) falls back to asking every subject in turn. Both ways run the
same `progress_subject`, so the outcome is the same; the set-wise one reads only the subjects
that change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from crmkit.app.progression import Progress, progress_subject
from crmkit.app.retries import retry_conflicts
from crmkit.domain import (
    LifecycleModel,
    ProgressionReport,
    StageChanged,
    SubjectKind,
)
from crmkit.domain.lifecycle.due import due_rule
from crmkit.domain.rules.conditions import AnyOf, Condition
from crmkit.errors import ValidationError
from crmkit.ports import UnitOfWork

__all__ = ["reevaluate"]

OpenUnit = Callable[..., UnitOfWork]
# (ids of the page, the next cursor, the outcome per id)
PageResult = tuple[list[str], str | None, list[Progress]]


def reevaluate(
    open_unit_of_work: OpenUnit,
    kind: SubjectKind,
    models: tuple[LifecycleModel, ...],
    as_of: datetime,
    batch_size: int,
) -> ProgressionReport:
    """Apply ``models``' rules to every subject of ``kind`` as of ``as_of``, one page of
    ``batch_size`` per unit of work (retried on a conflict), and report what moved."""
    due = _due(models) if kind is SubjectKind.CUSTOMER else None
    examined = entered = moved = 0
    changes: list[StageChanged] = []
    skipped: list[tuple[str, str]] = []
    if due is not None:
        with open_unit_of_work(read_only=True) as uow:
            examined = uow.customers.count()  # the store looks at every one of them
    cursor: str | None = None
    while models:
        pick = (
            functools.partial(_subject_page, kind=kind, cursor=cursor, limit=batch_size)
            if due is None
            else _due_ids(due, as_of, cursor, batch_size)
        )
        ids, cursor, outcomes = _page(open_unit_of_work, pick, models, as_of)
        if due is None:
            examined += len(ids)
        for subject_id, outcome in zip(ids, outcomes, strict=True):
            entered += bool(outcome.entered)
            moved += bool(outcome.moves)
            changes.extend(outcome.moves)
            skipped.extend((model, subject_id) for model in outcome.skipped)
        if cursor is None:
            break
    return ProgressionReport(as_of, examined, entered, moved, tuple(changes), tuple(skipped))


def _due(models: tuple[LifecycleModel, ...]) -> Condition | None:
    """Who any of ``models`` has work for, or ``None`` when one of them cannot say."""
    rules = [due_rule(model) for model in models]
    if not rules or any(rule is None for rule in rules):
        return None
    known = [rule for rule in rules if rule is not None]
    try:
        return known[0] if len(known) == 1 else AnyOf(known)
    except ValidationError:  # too deep to combine: ask one by one
        return None


def _page(
    open_unit_of_work: OpenUnit,
    pick: Callable[[UnitOfWork], tuple[list[str], str | None]],
    models: tuple[LifecycleModel, ...],
    as_of: datetime,
) -> PageResult:
    """Progress the subjects ``pick`` chooses in one unit of work, retried on a conflict."""

    def attempt() -> PageResult:
        with open_unit_of_work() as uow:
            ids, next_cursor = pick(uow)
            outcomes = [progress_subject(uow, models, i, as_of=as_of) for i in ids]
            if any(o.moves or o.entered for o in outcomes):
                uow.commit()
        return ids, next_cursor, outcomes

    return retry_conflicts(attempt)


def _due_ids(
    due: Condition, as_of: datetime, cursor: str | None, limit: int
) -> Callable[[UnitOfWork], tuple[list[str], str | None]]:
    def pick(uow: UnitOfWork) -> tuple[list[str], str | None]:
        page = uow.customers.matching_ids(due, as_of=as_of, limit=limit, cursor=cursor)
        return list(page.items), page.next_cursor

    return pick


def _subject_page(
    uow: UnitOfWork, *, kind: SubjectKind, cursor: str | None, limit: int
) -> tuple[list[str], str | None]:
    if kind is SubjectKind.CUSTOMER:
        customers = uow.customers.list(limit=limit, cursor=cursor)
        return [c.id for c in customers.items], customers.next_cursor
    accounts = uow.accounts.list(limit=limit, cursor=cursor)
    return [a.id for a in accounts.items], accounts.next_cursor
