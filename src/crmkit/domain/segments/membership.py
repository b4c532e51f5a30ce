"""Segment membership tracking: who was in a segment when it was last evaluated, and who moved.

A `SegmentSnapshot` is an aggregate: the stored members of one segment (held by the
repository, not in the object), the ``as_of`` of the last full evaluation, how many members it
has, and a version for optimistic concurrency. A refresh compares the customers matching the
segment now with the stored members (`membership_changes`), and `SegmentSnapshot.refresh`
records the difference: the customers who entered and left, with one `EnteredSegment` or
`LeftSegment` event each, for the unit of work to publish. A single customer's membership
moves with `SegmentSnapshot.enter` and `SegmentSnapshot.leave`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import attrs

from crmkit.domain._checks import SLUG, non_negative_int, to_utc, utc, version_number
from crmkit.domain.events import DomainEvent, EnteredSegment, LeftSegment
from crmkit.domain.values.ids import CustomerId, check_id
from crmkit.errors import ValidationError

__all__ = ["MembershipChange", "SegmentSnapshot", "membership_changes"]


def _segment(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValidationError.single("segment", value, "must be a segment name (a slug)")


def _ids(value: Any) -> tuple[CustomerId, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError.single("ids", value, "must be a collection of customer ids")
    return tuple(sorted(CustomerId(check_id("ids", i)) for i in value))


@attrs.frozen
class MembershipChange:
    """What one evaluation of a segment changed against its stored snapshot.

    Attributes:
        segment: the segment's name.
        as_of: the instant the segment was evaluated at.
        entered: the customers who are members now and were not, in id order.
        left: the customers who were members and are not any more, in id order.
        members: how many members the segment has after the change.
    """

    segment: str = attrs.field(validator=_segment)
    as_of: datetime = attrs.field(converter=to_utc, validator=utc)
    entered: tuple[CustomerId, ...] = attrs.field(default=(), converter=_ids)
    left: tuple[CustomerId, ...] = attrs.field(default=(), converter=_ids)
    members: int = attrs.field(default=0, validator=non_negative_int, kw_only=True)

    @property
    def changed(self) -> bool:
        """True when anyone entered or left."""
        return bool(self.entered or self.left)

    def events(self) -> list[EnteredSegment | LeftSegment]:
        """The events announcing the change: every `LeftSegment`, then every `EnteredSegment`,
        each in customer id order, all at ``as_of``."""
        left: list[EnteredSegment | LeftSegment] = [
            LeftSegment(self.as_of, customer_id=c, segment=self.segment) for c in self.left
        ]
        return left + [
            EnteredSegment(self.as_of, customer_id=c, segment=self.segment) for c in self.entered
        ]


def _ascending(ids: Iterable[str], name: str) -> Iterator[str]:
    last: str | None = None
    for item in ids:
        if last is not None and item <= last:
            raise ValidationError.single(name, item, f"must come in ascending order (after {last})")
        last = item
        yield item


def membership_changes(
    previous: Iterable[str], current: Iterable[str], *, segment: str, at: datetime
) -> MembershipChange:
    """Compare the stored members of ``segment`` with its members ``at`` now.

    Both must be given in ascending id order (as repositories stream them; sort a set first):
    they are merged in one pass, so memory holds only the customers who moved, never both
    member lists. Raises `ValidationError` for ids out of order.
    """
    entered: list[str] = []
    left: list[str] = []
    count = 0
    old, new = _ascending(previous, "previous"), _ascending(current, "current")
    was, now = next(old, None), next(new, None)
    while was is not None or now is not None:
        if now is not None and (was is None or now < was):
            entered.append(now)
            count += 1
            now = next(new, None)
        elif was is not None and (now is None or was < now):
            left.append(was)
            was = next(old, None)
        else:  # a member before and now
            count += 1
            was, now = next(old, None), next(new, None)
    return MembershipChange(segment, at, entered, left, members=count)


@attrs.define(eq=True)
class SegmentSnapshot:
    """The stored membership of one segment: the aggregate a refresh changes.

    The members themselves stay in the repository (a segment may hold millions); the
    snapshot holds what was changed since it was read, until the repository saves it.

    Attributes:
        segment: the segment's name.
        as_of: the instant of the last full evaluation (`refresh`).
        members: how many members the segment has.
        version: bumped by the repository at every save (optimistic concurrency).
    """

    segment: str = attrs.field(validator=_segment)
    as_of: datetime = attrs.field(converter=to_utc, validator=utc)
    members: int = attrs.field(default=0, validator=non_negative_int)
    version: int = attrs.field(default=0, validator=version_number)
    _entered: dict[CustomerId, datetime] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )
    _left: set[CustomerId] = attrs.field(factory=set, init=False, repr=False, eq=False)
    _events: list[DomainEvent] = attrs.field(factory=list, init=False, repr=False, eq=False)

    @classmethod
    def empty(cls, segment: str, as_of: datetime) -> SegmentSnapshot:
        """A snapshot of a segment never evaluated before: no members yet."""
        return cls(segment, as_of)

    def refresh(self, change: MembershipChange) -> None:
        """Record a full evaluation of the segment at ``change.as_of``: its entries and exits
        (one event each), its member count, and the new ``as_of``. Raises `ValidationError`
        for another segment's change, or one older than the snapshot."""
        self._check(change.segment)
        if change.as_of < self.as_of:
            raise ValidationError.single(
                "as_of",
                change.as_of,
                f"is before the last snapshot of {self.segment} ({self.as_of.isoformat()})",
            )
        for customer_id in change.left:
            self._leave(customer_id)
        for customer_id in change.entered:
            self._enter(customer_id, change.as_of)
        self._events.extend(change.events())
        self.as_of = change.as_of
        self.members = change.members

    def enter(self, customer_id: CustomerId, *, at: datetime) -> EnteredSegment:
        """One customer, not a member until now, became one at ``at`` (the snapshot's
        ``as_of`` stays: it is the instant of the last full evaluation)."""
        self._enter(customer_id, at)
        self.members += 1
        event = EnteredSegment(at, customer_id=customer_id, segment=self.segment)
        self._events.append(event)
        return event

    def leave(self, customer_id: CustomerId, *, at: datetime) -> LeftSegment:
        """One member stopped being one at ``at``."""
        if self.members < 1:
            raise ValidationError.single("customer_id", customer_id, "the segment has no members")
        self._leave(customer_id)
        self.members -= 1
        event = LeftSegment(at, customer_id=customer_id, segment=self.segment)
        self._events.append(event)
        return event

    def _enter(self, customer_id: CustomerId, at: datetime) -> None:
        self._entered[customer_id] = to_utc(at)

    def _leave(self, customer_id: CustomerId) -> None:
        if self._entered.pop(customer_id, None) is None:
            self._left.add(customer_id)

    def _check(self, segment: str) -> None:
        if segment != self.segment:
            raise ValidationError.single("segment", segment, f"this snapshot is of {self.segment}")

    @property
    def pending(self) -> tuple[dict[CustomerId, datetime], frozenset[CustomerId]]:
        """The members to store (with the instant they entered) and to remove, since the
        snapshot was read or last saved. A repository deletes the removed ones first: a
        member who left and came back in one unit of work is in both."""
        return dict(self._entered), frozenset(self._left)

    def saved(self) -> None:
        """Called by the repository once it stored the pending changes: forget them."""
        self._entered, self._left = {}, set()

    def pull_events(self) -> list[DomainEvent]:
        """Hand over the events collected since the last call, and forget them."""
        events, self._events = self._events, []
        return events

    def peek_events(self) -> tuple[DomainEvent, ...]:
        """The events collected so far, without taking them."""
        return tuple(self._events)
