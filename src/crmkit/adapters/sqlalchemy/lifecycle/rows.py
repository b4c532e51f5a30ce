"""Stage histories to rows of ``crmkit_stage_histories`` and ``crmkit_stage_changes``, and back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crmkit.adapters.sqlalchemy.rows import from_us, hydrate, to_us
from crmkit.domain import StageChange, StageHistory, SubjectKind

__all__ = [
    "stage_change_from_row",
    "stage_change_rows",
    "stage_history_from_rows",
    "stage_history_row",
]


def stage_history_row(tenant: str, history: StageHistory, version: int) -> dict[str, Any]:
    """The ``crmkit_stage_histories`` row of a history, stored at ``version``."""
    return {
        "tenant_id": tenant,
        "model": history.model,
        "subject_kind": history.subject_kind.value,
        "subject_id": history.subject_id,
        "version": version,
        "stage": history.current,
        "entered_at_us": to_us(history.entered_at),
        "started_at_us": to_us(history.started_at),
    }


def stage_change_rows(
    tenant: str, history: StageHistory, first_seq: int = 0
) -> list[dict[str, Any]]:
    """The ``crmkit_stage_changes`` rows of a history's changes from position ``first_seq``."""
    return [
        {
            "tenant_id": tenant,
            "model": history.model,
            "subject_kind": history.subject_kind.value,
            "subject_id": history.subject_id,
            "seq": seq,
            "from_stage": change.from_stage,
            "to_stage": change.to_stage,
            "at_us": to_us(change.at),
            "reason": change.reason,
            "actor": change.actor,
            "rule": change.rule,
        }
        for seq, change in enumerate(history.changes[first_seq:], first_seq)
    ]


def stage_change_from_row(row: Mapping[Any, Any]) -> StageChange:
    """A stage change from its ``crmkit_stage_changes`` row."""
    return hydrate(
        StageChange,
        from_stage=row["from_stage"],
        to_stage=row["to_stage"],
        at=from_us(row["at_us"]),
        reason=row["reason"],
        actor=row["actor"],
        rule=row["rule"],
    )


_SUBJECT_KINDS = SubjectKind._value2member_map_


def stage_history_from_rows(
    row: Mapping[Any, Any], changes: Iterable[Mapping[Any, Any]]
) -> StageHistory:
    """A history from its ``crmkit_stage_histories`` row and its change rows in ``seq`` order."""
    return hydrate(
        StageHistory,
        subject_kind=_SUBJECT_KINDS[row["subject_kind"]],
        subject_id=row["subject_id"],
        model=row["model"],
        changes=tuple(stage_change_from_row(c) for c in changes),
        version=row["version"],
        _events=[],
    )
