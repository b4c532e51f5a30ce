"""Bulk imports meeting rows already stored: which to skip, which to refuse.

Every adapter asks these, so a re-run of the same import (``on_existing="skip"``) skips and
refuses alike everywhere. "Already stored" means: a customer with the same id; an
interaction with the same id or the same external_ref. It is skipped only when it holds the
same content (`Customer.same_content`, `Interaction.same_content`: by type as well as by
value); otherwise, and always with ``"error"``, it is refused with an error naming the fields
that differ (never their values) or saying that none does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Protocol, TypeVar

from crmkit.adapters._arguments import check_batch
from crmkit.domain import Customer, Interaction
from crmkit.errors import DuplicateCustomer, IdempotencyConflict
from crmkit.ports import ImportResult, OnExisting, check_on_existing

__all__ = ["add_each", "batches", "is_replayed_customer", "is_replayed_interaction"]

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class _Add(Protocol[T_contra]):
    """Adds one item; False when it was skipped as stored already."""

    def __call__(self, item: T_contra, /, *, skip: bool) -> bool: ...


def add_each(
    items: Iterable[T], add: _Add[T], *, batch_size: int, on_existing: OnExisting
) -> ImportResult:
    """Check a bulk import's arguments, then ``add`` each of ``items`` in turn (skipping the
    stored ones when ``on_existing`` is ``"skip"``): how many were added, and the positions
    of those skipped."""
    check_batch(batch_size)
    skip = check_on_existing(on_existing) == "skip"
    imported, skipped = 0, []
    for position, item in enumerate(items):
        if add(item, skip=skip):
            imported += 1
        else:
            skipped.append(position)
    return ImportResult(imported, tuple(skipped))


def is_replayed_customer(candidate: Customer, stored: Customer | None, *, skip: bool) -> bool:
    """True when ``candidate`` is ``stored`` again and may be skipped, False when its id is
    new; raises `DuplicateCustomer` for a taken id otherwise."""
    if stored is None:
        return False
    differing = stored.differing_fields(candidate)
    if skip and not differing:
        return True
    raise DuplicateCustomer("id", candidate.id, stored.id, differing=differing)


def is_replayed_interaction(
    candidate: Interaction,
    by_id: Interaction | None,
    by_ref: Interaction | None,
    *,
    skip: bool,
) -> bool:
    """True when ``candidate`` replays a stored interaction (found by its id, else by its
    external_ref) with the same content and may be skipped, False when neither is taken;
    raises `IdempotencyConflict` otherwise."""
    field, value, stored = "id", str(candidate.id), by_id
    if stored is None:
        field, value, stored = "external_ref", str(candidate.external_ref), by_ref
    if stored is None:
        return False
    # Same content includes the external_ref: a replay found by its id is also its ref's.
    differing = stored.differing_fields(candidate)
    if skip and not differing:
        return True
    raise IdempotencyConflict(field, value, stored.id, differing=differing)


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter), each taken in one C-level
    step (``islice``); an item is read only when its batch is being filled."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
