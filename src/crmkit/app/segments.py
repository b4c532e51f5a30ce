"""Use cases on segments: who matches a rule, counted, paged or streamed, in the store.

A rule is a `Condition` tree, or anything carrying one in a ``rule`` attribute (a saved
segment). The store evaluates it: a SQL adapter compiles it into one query.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import islice

from crmkit.app.context import ServiceContext
from crmkit.domain import Condition, Customer
from crmkit.domain.timestamps import ensure_utc
from crmkit.errors import ValidationError
from crmkit.ports import Page

__all__ = ["SegmentUseCases"]


def rule_of(rule: object) -> Condition:
    """The `Condition` of ``rule``: itself, or its ``rule`` attribute."""
    if isinstance(rule, Condition):
        return rule
    inner = getattr(rule, "rule", None)
    if isinstance(inner, Condition):
        return inner
    raise ValidationError.single("rule", rule, "must be a Condition or carry one as .rule")


class SegmentUseCases(ServiceContext):
    """The segment use cases of the `CRM` front door."""

    def _as_of(self, as_of: datetime | None) -> datetime:
        return self._now() if as_of is None else ensure_utc(as_of, "as_of")

    def count_segment(self, rule: object, as_of: datetime | None = None) -> int:
        """How many customers match ``rule`` at ``as_of`` (default: now)."""
        condition, moment = rule_of(rule), self._as_of(as_of)
        with self.unit_of_work() as uow:
            return uow.customers.count_matching(condition, as_of=moment)

    def segment_members(
        self,
        rule: object,
        as_of: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Customer]:
        """One page of the customers matching ``rule`` at ``as_of``, in id order; pass
        ``next_cursor`` back for the next page."""
        condition, moment = rule_of(rule), self._as_of(as_of)
        if type(limit) is not int or limit < 1:
            raise ValidationError.single("limit", limit, "must be an int of 1 or more")
        with self.unit_of_work() as uow:
            found = list(
                islice(
                    uow.customers.stream_matching(
                        condition, as_of=moment, batch_size=limit + 1, after=cursor
                    ),
                    limit + 1,
                )
            )
        more = len(found) > limit
        return Page(tuple(found[:limit]), found[limit - 1].id if more else None)

    def stream_segment(
        self, rule: object, as_of: datetime | None = None, batch_size: int = 1000
    ) -> Iterator[Customer]:
        """Every customer matching ``rule`` at ``as_of``, in id order, with bounded memory."""
        condition, moment = rule_of(rule), self._as_of(as_of)
        with self.unit_of_work() as uow:
            yield from uow.customers.stream_matching(condition, as_of=moment, batch_size=batch_size)
