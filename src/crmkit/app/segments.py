"""`crm.segments`: who matches a rule, counted, paged or streamed, in the store; and
membership tracking: a saved segment's members stored as a snapshot, refreshed against it.

A rule is a `Condition` tree or a saved `Segment`. The store evaluates it: a SQL adapter
compiles it into one query.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import islice

from crmkit.app.context import Context
from crmkit.app.membership import refresh_customer
from crmkit.app.retries import retry_conflicts
from crmkit.app.rules import checked_rule
from crmkit.domain import (
    Condition,
    Customer,
    CustomerId,
    EnteredSegment,
    LeftSegment,
    MembershipChange,
    Segment,
    SegmentSnapshot,
    membership_changes,
)
from crmkit.domain._arguments import MAX_PAGE, page_limit
from crmkit.domain.values.ids import check_id
from crmkit.domain.values.texts import ensure_text
from crmkit.errors import ValidationError
from crmkit.ports import Page, UnitOfWork

__all__ = ["SegmentService"]


class SegmentService:
    """Who matches a rule, and the stored membership of saved segments: ``crm.segments``."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def _rule(self, rule: Condition | Segment) -> Condition:
        return checked_rule(self._context.settings, rule)

    def _as_of(self, as_of: datetime | None) -> datetime:
        return self._context.as_of(as_of)

    def count(self, rule: Condition | Segment, *, as_of: datetime | None = None) -> int:
        """How many customers match ``rule`` at ``as_of`` (default: now).

        The names the rule uses are checked against the CRM's settings, here as in every
        segment use case: a trait its schema (if any) does not declare, a lifecycle model or
        a stage it does not track raise `ValidationError` naming the closest known one.

        Returns:
            The number of matching customers.

        Raises:
            ValidationError: the rule names an unknown trait, stage or model, or ``as_of`` is no
                aware datetime.
        """
        condition, moment = self._rule(rule), self._as_of(as_of)
        with self._context.reading() as uow:
            return uow.customers.count_matching(condition, as_of=moment)

    def members(
        self,
        rule: Condition | Segment,
        *,
        as_of: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Customer]:
        """One page of the customers matching ``rule`` at ``as_of``, in id order; pass
        ``next_cursor`` back for the next page.

        Returns:
            A `Page` of the matching customers and the cursor of the next page.

        Raises:
            ValidationError: a bad rule, ``as_of``, limit or cursor.
        """
        condition, moment = self._rule(rule), self._as_of(as_of)
        return self._page(condition, moment, page_limit(limit), cursor)

    def stream(
        self, rule: Condition | Segment, *, as_of: datetime | None = None, batch_size: int = 1000
    ) -> Iterator[Customer]:
        """Every customer matching ``rule`` at ``as_of`` (now by default), in id order, with
        bounded memory.

        Read a page of ``batch_size`` at a time, each in its own short transaction (keyset
        paging by id): no connection is held between pages and the caller may write
        meanwhile; each page is evaluated at the same ``as_of``. The rule and ``as_of`` are
        checked when the stream is created, before the first customer is asked for.

        Returns:
            An iterator over the matching customers.

        Raises:
            ValidationError: the rule, ``as_of`` or ``batch_size`` is invalid.
        """
        condition, moment = self._rule(rule), self._as_of(as_of)
        page_limit(batch_size, "batch_size")
        return self._pages(condition, moment, batch_size)

    def _pages(self, condition: Condition, moment: datetime, size: int) -> Iterator[Customer]:
        cursor: str | None = None
        while True:
            page = self._page(condition, moment, size, cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _page(
        self, condition: Condition, moment: datetime, limit: int, cursor: str | None
    ) -> Page[Customer]:
        with self._context.reading() as uow:
            found = list(
                islice(
                    uow.customers.stream_matching(
                        condition, as_of=moment, batch_size=min(limit + 1, MAX_PAGE), after=cursor
                    ),
                    limit + 1,
                )
            )
        more = len(found) > limit
        return Page(tuple(found[:limit]), found[limit - 1].id if more else None)

    # Membership tracking.

    def refresh(
        self, segment: Segment, *, as_of: datetime | None = None, batch_size: int = 1000
    ) -> MembershipChange:
        """Evaluate ``segment`` at ``as_of`` (default: now) in the store, compare the members
        with its stored snapshot, and store the new snapshot: one `EnteredSegment` per
        customer who entered and one `LeftSegment` per customer who left, committed with it
        (and written to the outbox) atomically. The first refresh enters every member.

        The stored and the current members are both read in id order, ``batch_size`` at a
        time, and merged in one pass: memory holds the customers who moved, not the members.
        Raises `ValidationError` for an ``as_of`` before the stored snapshot's. When another
        refresh of the segment (or of one member) commits first, the refresh is run again
        against the snapshot it stored: a refresh without ``as_of`` at the new now, so the
        cron job and the web process can both refresh; `ConcurrencyConflict` (retryable)
        only when every attempt conflicted.

        Returns:
            The `MembershipChange`: who entered and who left.

        Raises:
            ValidationError: a bad segment, ``as_of`` or ``batch_size``.
        """
        if not isinstance(segment, Segment):
            raise ValidationError.single("segment", segment, "must be a Segment")
        segment.check(
            self._context.settings.trait_schema, lifecycles=self._context.settings.lifecycles
        )
        self._as_of(as_of)  # checked before touching storage
        if type(batch_size) is not int or batch_size < 1:
            raise ValidationError.single("batch_size", batch_size, "must be an int of 1 or more")
        # Each attempt compares with the snapshot as stored then, so its change is exactly
        # what it stores; the answer is documented whatever other refreshes did first.
        return retry_conflicts(lambda: self._refresh(segment, self._as_of(as_of), batch_size))

    def _refresh(self, segment: Segment, moment: datetime, batch_size: int) -> MembershipChange:
        with self._context.unit_of_work() as uow:
            stored = uow.segment_memberships.find(segment.name)
            if stored is not None and moment < stored.as_of:
                raise ValidationError.single(
                    "as_of",
                    moment,
                    f"is before the last snapshot of {segment.name} ({stored.as_of.isoformat()})",
                )
            previous = (
                uow.segment_memberships.members(segment.name, batch_size=batch_size)
                if stored is not None
                else iter(())
            )
            current = _matching_ids(uow, segment.rule, moment, batch_size)
            change = membership_changes(previous, current, segment=segment.name, at=moment)
            if stored is None:
                snapshot = SegmentSnapshot.empty(segment.name, moment)
                snapshot.refresh(change)
                uow.segment_memberships.add(snapshot)
            elif change.changed or moment != stored.as_of:
                stored.refresh(change)
                uow.segment_memberships.update(stored)
            uow.commit()
        return change

    def snapshot(self, segment_name: str) -> SegmentSnapshot | None:
        """The stored snapshot of the segment called ``segment_name`` (when it was last
        refreshed, how many members it has), or ``None`` if it was never refreshed.

        Returns:
            The `SegmentSnapshot`, or ``None``.

        Raises:
            ValidationError: ``segment_name`` is no segment name.
        """
        with self._context.reading() as uow:
            return uow.segment_memberships.find(_segment_name(segment_name))

    def snapshot_members(
        self, segment_name: str, *, limit: int = 100, cursor: str | None = None
    ) -> Page[CustomerId]:
        """One page of the stored members of the segment called ``segment_name``, in id
        order, as of its last refresh (and the single-customer refreshes since); pass
        ``next_cursor`` back for the next page. Empty for a segment never refreshed.

        Returns:
            A `Page` of customer ids and the cursor of the next page.

        Raises:
            ValidationError: a bad segment name, limit or cursor.
        """
        name = _segment_name(segment_name)
        page_limit(limit)
        with self._context.reading() as uow:
            found = list(
                islice(
                    uow.segment_memberships.members(
                        name, batch_size=min(limit + 1, MAX_PAGE), after=cursor
                    ),
                    limit + 1,
                )
            )
        more = len(found) > limit
        return Page(tuple(found[:limit]), found[limit - 1] if more else None)

    def refresh_memberships(
        self, customer_id: str, *, as_of: datetime | None = None
    ) -> list[EnteredSegment | LeftSegment]:
        """Bring one customer's stored membership of each of the settings' tracked segments
        up to date at ``as_of`` (default: now) and return the events recorded (committed
        with the change). Segments never refreshed as a whole are skipped. Raises
        `NotFound` for an unknown customer.

        Returns:
            The `EnteredSegment` and `LeftSegment` events of the changes (empty when none).

        Raises:
            NotFound: no such customer.
            ValidationError: ``as_of`` is no aware datetime.
        """
        moment = self._as_of(as_of)
        wanted = CustomerId(check_id("customer_id", customer_id))

        def attempt() -> list[EnteredSegment | LeftSegment]:
            with self._context.unit_of_work() as uow:
                customer = uow.customers.get(wanted)
                events = refresh_customer(
                    uow, self._context.settings.segments, customer, as_of=moment
                )
                uow.commit()
            return events

        # Another writer changed the customer or a snapshot first: decide again from theirs.
        return retry_conflicts(attempt)


def _segment_name(name: object) -> str:
    if not isinstance(name, str):
        raise ValidationError.single("segment_name", name, "must be a segment name")
    return ensure_text(name, "segment_name")


def _matching_ids(
    uow: UnitOfWork, condition: Condition, as_of: datetime, batch_size: int
) -> Iterator[CustomerId]:
    cursor: str | None = None
    while True:
        page = uow.customers.matching_ids(condition, as_of=as_of, limit=batch_size, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
