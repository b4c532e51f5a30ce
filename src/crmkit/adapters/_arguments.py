"""Checks of the repository arguments every adapter shares, so they refuse alike."""

from __future__ import annotations

from datetime import datetime

from crmkit.domain._arguments import MAX_PAGE
from crmkit.domain.rules.conditions import AllOf, AnyOf, Condition, Not, TimeInStage
from crmkit.domain.values.texts import ensure_text
from crmkit.domain.values.timestamps import ensure_utc_or_none
from crmkit.errors import ValidationError

__all__ = ["MAX_LIMIT", "MAX_PAGE", "check_batch", "check_page", "check_rule", "check_window"]

#: The largest LIMIT every database takes (SQLite's is a signed 64-bit integer).
MAX_LIMIT = 2**63 - 1


def check_page(limit: int, cursor: str | None) -> None:
    """A page size of 1 to `MAX_PAGE` and a cursor from a previous page (or ``None``)."""
    if type(limit) is not int or not 1 <= limit <= MAX_PAGE:
        raise ValidationError.single("limit", limit, f"must be an int from 1 to {MAX_PAGE}")
    if cursor is not None and not isinstance(cursor, str):
        raise ValidationError.single("cursor", cursor, "must be a cursor from a previous page")
    if cursor is not None:
        ensure_text(cursor, "cursor")  # a driver cannot even send a lone surrogate


def check_batch(batch_size: int) -> None:
    """A batch size of 1 to `MAX_PAGE`."""
    if type(batch_size) is not int or not 1 <= batch_size <= MAX_PAGE:
        raise ValidationError.single(
            "batch_size", batch_size, f"must be an int from 1 to {MAX_PAGE}"
        )


def check_window(
    since: datetime | None, until: datetime | None, limit: int | None
) -> tuple[datetime | None, datetime | None]:
    """A timeline's bounds in UTC (naive ones refused, ``until`` not before ``since``) and a
    limit of 0 or more (or ``None``) that a database can take (a signed 64-bit integer)."""
    if limit is not None and (type(limit) is not int or not 0 <= limit <= MAX_LIMIT):
        raise ValidationError.single(
            "limit", limit, f"must be an int from 0 to {MAX_LIMIT} or None"
        )
    start, end = ensure_utc_or_none(since, "since"), ensure_utc_or_none(until, "until")
    if start is not None and end is not None and end < start:
        # Reversed bounds are a mistake (swapped arguments), not an empty window: say so.
        raise ValidationError.single(
            "until", until, f"must not be before since ({start.isoformat()})"
        )
    return start, end


def check_rule(rule: object, as_of: datetime) -> datetime:
    """Refuse what a segment query cannot mean: something not a `Condition`, or `TimeInStage`
    (only a lifecycle evaluation knows when a stage was entered). Returns ``as_of`` in UTC."""
    if not isinstance(rule, Condition):
        raise ValidationError.single("rule", rule, "must be a Condition")
    pending: list[Condition] = [rule]
    while pending:
        node = pending.pop()
        if isinstance(node, AllOf | AnyOf):
            pending.extend(node.conditions)
        elif isinstance(node, Not):
            pending.append(node.condition)
        elif isinstance(node, TimeInStage):
            raise ValidationError.single(
                "kind",
                node.kind,
                "time_in_stage only has a meaning in a lifecycle model; a segment says "
                "stage(model).is_in(stages, at_least_days=N)",
            )
    moment = ensure_utc_or_none(as_of, "as_of")
    if moment is None:
        raise ValidationError.single("as_of", as_of, "must be a UTC datetime")
    return moment
