"""Segment membership work inside a unit of work: one customer's tracked segments.

`record_interaction` calls `refresh_customer` with the unit of work it already holds, so an
interaction and the segment entries or exits it causes commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from crmkit.domain import (
    Customer,
    EnteredSegment,
    Facts,
    Interaction,
    LeftSegment,
    Segment,
    SubjectKind,
)
from crmkit.ports import UnitOfWork

__all__ = ["customer_facts", "facts_with", "refresh_customer"]


def customer_facts(uow: UnitOfWork, customer: Customer, as_of: datetime) -> Facts:
    """What a segment sees of ``customer`` at ``as_of``: their fields, every interaction (a
    window never looks past ``as_of``), the account they are linked to and their stage in each
    lifecycle model, as the repositories' segment queries see them."""
    interactions = uow.interactions.timeline(customer.id)
    return facts_with(uow, customer, interactions, as_of)


def facts_with(
    uow: UnitOfWork, customer: Customer, interactions: Iterable[Interaction], as_of: datetime
) -> Facts:
    """The facts of ``customer`` with ``interactions``, the account they are linked to and
    their current stage in each lifecycle model (and when they entered it), as stored in
    ``uow``."""
    link = customer.account
    account = None if link is None else uow.accounts.find(link.account_id)
    positions = uow.stage_histories.positions(customer.id, subject_kind=SubjectKind.CUSTOMER)
    return Facts.of_customer(
        customer,
        interactions,
        as_of,
        account=account,
        stages={model: stage for model, (stage, _) in positions.items()},
        stages_entered_at={model: at for model, (_, at) in positions.items()},
    )


def refresh_customer(
    uow: UnitOfWork, segments: Iterable[Segment], customer: Customer, *, as_of: datetime
) -> list[EnteredSegment | LeftSegment]:
    """Bring ``customer``'s stored membership of each of ``segments`` up to date at
    ``as_of`` and save the snapshots that changed; returns the events recorded.

    A segment never refreshed as a whole (no snapshot yet) is skipped: there is nothing to
    compare with until `refresh_segment` stored its first snapshot.
    """
    events: list[EnteredSegment | LeftSegment] = []
    facts: Facts | None = None
    for segment in segments:
        snapshot = uow.segment_memberships.find(segment.name)
        if snapshot is None:
            continue
        if facts is None:
            facts = customer_facts(uow, customer, as_of)
        member = segment.rule.holds(facts)
        if member == uow.segment_memberships.contains(segment.name, customer.id):
            continue
        if member:
            events.append(snapshot.enter(customer.id, at=as_of))
        else:
            events.append(snapshot.leave(customer.id, at=as_of))
        uow.segment_memberships.update(snapshot)
    return events
