"""What the in-memory store keeps per tenant, and the helpers every repository shares."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TypeVar

import attrs

from crmkit.adapters._arguments import check_page
from crmkit.adapters.memory.loyalty import LedgerKey, StoredLedger
from crmkit.domain import (
    Account,
    AccountId,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    InteractionId,
    Referral,
    SegmentSnapshot,
    StageHistory,
    SubjectKind,
)
from crmkit.ports import Page

__all__ = ["HistoryKey", "Tables", "clone", "history_key", "keyset_page"]

A = TypeVar("A", Customer, Account)
H = TypeVar("H", Customer, Account, StageHistory)
HistoryKey = tuple[str, SubjectKind, str]  # (model, subject kind, subject id)


@attrs.define
class Tables:
    """One tenant's committed data, with the indexes the unique keys need."""

    customers: dict[CustomerId, Customer] = attrs.Factory(dict)
    accounts: dict[AccountId, Account] = attrs.Factory(dict)
    interactions: dict[InteractionId, Interaction] = attrs.Factory(dict)
    by_customer: dict[CustomerId, list[InteractionId]] = attrs.Factory(dict)
    emails: dict[EmailAddress, CustomerId] = attrs.Factory(dict)
    external_ids: dict[tuple[str, str], CustomerId] = attrs.Factory(dict)
    domains: dict[str, AccountId] = attrs.Factory(dict)
    refs: dict[str, InteractionId] = attrs.Factory(dict)
    histories: dict[HistoryKey, StageHistory] = attrs.Factory(dict)
    snapshots: dict[str, SegmentSnapshot] = attrs.Factory(dict)
    members: dict[str, dict[CustomerId, datetime]] = attrs.Factory(dict)  # id -> since
    ledgers: dict[LedgerKey, StoredLedger] = attrs.Factory(dict)
    referrals: dict[str, Referral] = attrs.Factory(dict)


def clone(aggregate: H) -> H:
    """A copy of ``aggregate`` without its events, so changing one never changes the other."""
    twin = copy.copy(aggregate)
    twin._events = []  # the twin starts with no events of its own
    return twin


def keyset_page(items: list[A], limit: int, cursor: str | None) -> Page[A]:
    """The keyset page of ``items`` (in id order) after ``cursor``, at most ``limit`` long."""
    check_page(limit, cursor)
    ordered = sorted((i for i in items if cursor is None or i.id > cursor), key=lambda i: i.id)
    chosen = ordered[:limit]
    more = len(ordered) > limit
    return Page(tuple(chosen), chosen[-1].id if more else None)


def history_key(history: StageHistory) -> HistoryKey:
    """The key a stage history is stored under."""
    return (history.model, history.subject_kind, history.subject_id)
