"""Ports: the Protocols the application layer needs from the outside world.

An adapter (in memory, SQLAlchemy, or a third party's) implements the repositories and the
unit of work; `crmkit.testing.contract` proves that it does so faithfully. Every repository
is bound to one tenant by the unit of work that hands it out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Literal, Protocol, Self, TypeVar

import attrs

from crmkit.domain import (
    Account,
    AccountId,
    Channel,
    Condition,
    Customer,
    CustomerId,
    DomainEvent,
    EmailAddress,
    Interaction,
    InteractionId,
    PointsBalance,
    PointsLedger,
    Programme,
    Referral,
    SegmentSnapshot,
    StageHistory,
    SubjectKind,
    TenantId,
)
from crmkit.errors import ValidationError

__all__ = [
    "AccountRepository",
    "Outbox",
    "OutboxMessage",
    "Clock",
    "CustomerRepository",
    "IdSource",
    "ImportResult",
    "InteractionRepository",
    "OnExisting",
    "Page",
    "PointsLedgerRepository",
    "ReferralRepository",
    "SegmentMembershipRepository",
    "StageHistoryRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
]

T = TypeVar("T")


@attrs.frozen
class Page(Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next (``None``: the end)."""

    items: tuple[T, ...]
    next_cursor: str | None = None


#: What a bulk import does with a row that is already stored: refuse it (``"error"``, the
#: default) or, if it holds the same content, skip it (``"skip"``: a re-run is idempotent).
OnExisting = Literal["error", "skip"]


def check_on_existing(value: Any) -> OnExisting:
    """``value`` if it is an `OnExisting`; raises `ValidationError` otherwise."""
    if type(value) is not str or value not in ("error", "skip"):
        raise ValidationError.single("on_existing", value, "must be 'error' or 'skip'")
    return value  # type: ignore[return-value]


@attrs.frozen
class ImportResult:
    """What a bulk import did.

    Attributes:
        imported: how many rows it stored.
        skipped: the positions (0-based, in the order given) of the rows it skipped because
            they were already stored with the same content (``on_existing="skip"``).
    """

    imported: int
    skipped: tuple[int, ...] = ()

    def __add__(self, later: ImportResult) -> ImportResult:
        """This result followed by ``later``'s, whose rows came after this one's."""
        offset = self.imported + len(self.skipped)
        return ImportResult(
            self.imported + later.imported,
            (*self.skipped, *(offset + position for position in later.skipped)),
        )


@attrs.frozen
class OutboxMessage:
    """One stored event awaiting delivery.

    Attributes:
        position: its place in the outbox; messages are handed out in this order.
        tenant: the tenant whose change raised it.
        aggregate_id: the customer or account it is about.
        event: the domain event itself.
        recorded_at: the instant of the change.
    """

    position: int
    tenant: TenantId
    aggregate_id: str
    event: DomainEvent
    recorded_at: datetime


class Outbox(Protocol):
    """The events committed with their changes, waiting to be forwarded by the host."""

    def fetch(self, limit: int = 100) -> list[OutboxMessage]:
        """The oldest undelivered messages, at most ``limit``, in outbox order."""
        ...

    def acknowledge(self, messages: Iterable[OutboxMessage | int]) -> int:
        """Mark messages (or positions) delivered; returns how many were newly marked."""
        ...

    def relay(self, send: Callable[[OutboxMessage], object], *, limit: int = 100) -> int:
        """Send pending messages oldest first, acknowledging each once ``send`` returned."""
        ...

    def pending(self) -> int:
        """How many messages wait for delivery."""
        ...

    def purge(self) -> int:
        """Delete delivered messages; returns how many were deleted."""
        ...


class Clock(Protocol):
    """Tells the time. Injected so that tests (and the domain) never read the wall clock."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class IdSource(Protocol):
    """Hands out new unique ids (1-64 URL-safe characters)."""

    def new_id(self) -> str:
        """A new id, never handed out before."""
        ...


class CustomerRepository(Protocol):
    """The customers of one tenant."""

    def add(self, customer: Customer) -> None:
        """Store a new customer (version 0); it becomes version 1.
        Raises `DuplicateCustomer` if its id, email or an external id is taken."""
        ...

    def add_many(
        self,
        customers: Iterable[Customer],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        """Bulk-insert new customers (a data import): faster than `add`, records no events.
        A duplicate raises `DuplicateCustomer`, except that with ``on_existing="skip"`` a
        customer whose id is stored with the same content (`Customer.same_content`) is
        skipped. Returns what was stored and skipped; finding stored rows costs one query per
        batch, and only with ``"skip"``."""
        ...

    def get(self, customer_id: CustomerId) -> Customer:
        """The customer with that id; raises `NotFound`."""
        ...

    def find(self, customer_id: CustomerId) -> Customer | None:
        """The customer with that id, or ``None``."""
        ...

    def find_by_email(self, email: EmailAddress) -> Customer | None:
        """The customer whose primary email is ``email``, or ``None``."""
        ...

    def find_by_external_id(self, source: str, external_id: str) -> Customer | None:
        """The customer known to host system ``source`` as ``external_id``, or ``None``."""
        ...

    def update(self, customer: Customer) -> None:
        """Save a changed customer whose stored version is still ``customer.version``, then
        bump it; raises `ConcurrencyConflict` if another writer got there first."""
        ...

    def list(
        self,
        *,
        tag: str | None = None,
        account_id: AccountId | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Customer]:
        """Customers in id order, optionally only those with ``tag`` (in its stored form, see
        `normalize_tag`) or linked to an account."""
        ...

    def stream(self, *, batch_size: int = 1000) -> Iterator[Customer]:
        """Every customer in id order, fetched in batches so memory stays bounded."""
        ...

    def count(self) -> int:
        """How many customers the tenant has."""
        ...

    def count_matching(self, condition: Condition, *, as_of: datetime) -> int:
        """How many customers match segment rule ``condition`` at ``as_of``."""
        ...

    def matching_ids(
        self,
        condition: Condition,
        *,
        as_of: datetime,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[CustomerId]:
        """The ids of the customers matching ``condition`` at ``as_of``, in id order, a
        keyset page at a time. Raises `ValidationError` for a rule a segment cannot hold
        (`TimeInStage`)."""
        ...

    def stream_matching(
        self,
        condition: Condition,
        *,
        as_of: datetime,
        batch_size: int = 1000,
        after: str | None = None,
    ) -> Iterator[Customer]:
        """The customers matching ``condition`` at ``as_of``, in id order (those with an id
        above ``after`` when given), fetched in batches so memory stays bounded."""
        ...


class AccountRepository(Protocol):
    """The B2B accounts of one tenant."""

    def add(self, account: Account) -> None:
        """Store a new account (version 0); raises `DuplicateAccount` if id or domain is taken."""
        ...

    def get(self, account_id: AccountId) -> Account:
        """The account with that id; raises `NotFound`."""
        ...

    def find(self, account_id: AccountId) -> Account | None:
        """The account with that id, or ``None``."""
        ...

    def find_by_domain(self, domain: str) -> Account | None:
        """The account with that (normalised) web domain, or ``None``."""
        ...

    def update(self, account: Account) -> None:
        """Save a changed account; raises `ConcurrencyConflict` on a stale version."""
        ...

    def list(self, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        """Accounts in id order."""
        ...

    def stream(self, *, batch_size: int = 1000) -> Iterator[Account]:
        """Every account in id order, in batches."""
        ...


class InteractionRepository(Protocol):
    """The interaction log of one tenant: append and read, never edit."""

    def add(self, interaction: Interaction) -> None:
        """Append an interaction; raises `IdempotencyConflict` if its external_ref is taken.

        Storing announces nothing by itself: `InteractionRecorded` is collected by the
        customer (`Customer.note`), as the `CRM.record_interaction` use case does."""
        ...

    def add_many(
        self,
        interactions: Iterable[Interaction],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        """Bulk-append interactions (a data import): records no events. A taken id or
        external_ref raises `IdempotencyConflict`, except that with ``on_existing="skip"`` an
        interaction whose id or external_ref is stored with the same content
        (`Interaction.same_content`) is skipped. Returns what was stored and skipped."""
        ...

    def get(self, interaction_id: InteractionId) -> Interaction:
        """The interaction with that id; raises `NotFound`."""
        ...

    def find_by_external_ref(self, external_ref: str) -> Interaction | None:
        """The interaction recorded with that external reference, or ``None``."""
        ...

    def timeline(
        self,
        customer_id: CustomerId,
        *,
        channels: Collection[Channel] | None = None,
        kinds: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Interaction]:
        """A customer's interactions ordered by (occurred_at, id), optionally only some
        channels or kinds, and only those with ``since <= occurred_at < until``."""
        ...

    def stream(self, *, batch_size: int = 1000) -> Iterator[Interaction]:
        """Every interaction in (occurred_at, id) order, in batches."""
        ...

    def count(self) -> int:
        """How many interactions the tenant has."""
        ...


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

    def stream(
        self, model: str, *, stage: str | None = None, batch_size: int = 1000
    ) -> Iterator[StageHistory]:
        """Every history in ``model`` (only those now in ``stage``, if given), ordered by
        (subject kind, subject id), fetched in batches so memory stays bounded."""
        ...

    def count_by_stage(self, model: str) -> dict[str, int]:
        """How many subjects are in each stage of ``model`` now (stages with none omitted)."""
        ...


class SegmentMembershipRepository(Protocol):
    """The stored membership of the tenant's tracked segments: per segment, a snapshot (its
    version, member count and the ``as_of`` of its last full evaluation) and its members."""

    def find(self, segment: str) -> SegmentSnapshot | None:
        """The snapshot of ``segment``, or ``None`` if it was never stored."""
        ...

    def add(self, snapshot: SegmentSnapshot) -> None:
        """Store a new snapshot (version 0) and its pending members; it becomes version 1.
        Raises `ConcurrencyConflict` if the segment already has one."""
        ...

    def update(self, snapshot: SegmentSnapshot) -> None:
        """Store the members a snapshot's pending changes add and remove (removals first)
        and its new ``as_of`` and count, if its stored version is still
        ``snapshot.version``, then bump it; raises `ConcurrencyConflict` if another writer
        got there first, `NotFound` if it was never added."""
        ...

    def members(
        self, segment: str, *, batch_size: int = 1000, after: str | None = None
    ) -> Iterator[CustomerId]:
        """The stored members of ``segment`` in id order (those above ``after`` when given),
        fetched in batches so memory stays bounded; nothing for an unknown segment."""
        ...

    def contains(self, segment: str, customer_id: CustomerId) -> bool:
        """True when ``customer_id`` is a stored member of ``segment``."""
        ...


class PointsLedgerRepository(Protocol):
    """The members' points ledgers, one per (programme, customer): append-only entries, and
    beside them each ledger's `PointsBalance` (kept in the same transaction) so that reading
    a balance never scans the entries."""

    def add(self, ledger: PointsLedger) -> None:
        """Store a new ledger (version 0) with its entries; it becomes version 1. Raises
        `ConcurrencyConflict` if the member already has a ledger in that programme."""
        ...

    def update(self, ledger: PointsLedger) -> None:
        """Append the entries booked since the ledger was read and store its new balance, if
        its stored version is still ``ledger.version``, then bump it; raises
        `ConcurrencyConflict` if another writer got there first, `NotFound` if it was never
        added. Entries already stored are never changed."""
        ...

    def save_many(self, ledgers: Collection[PointsLedger]) -> None:
        """`add` the ledgers at version 0 and `update` the others, all at once: the same
        outcome as one call each (a `ConcurrencyConflict` fails the unit of work), in as few
        statements as the storage allows. The bulk earning path uses it."""
        ...

    def find(self, programme: Programme, customer_id: CustomerId) -> PointsLedger | None:
        """The member's ledger under ``programme`` with every entry, or ``None``."""
        ...

    def find_many(
        self, programme: Programme, customer_ids: Collection[CustomerId]
    ) -> dict[CustomerId, PointsLedger]:
        """The ledgers of the members that have one, by customer id (a batch in one read)."""
        ...

    def balance(self, programme: str, customer_id: CustomerId) -> PointsBalance | None:
        """The stored summary of the member's ledger, read without its entries, or ``None``."""
        ...

    def due(
        self,
        programme: str,
        as_of: datetime,
        *,
        after: CustomerId | None = None,
        limit: int = 1000,
    ) -> list[CustomerId]:
        """Up to ``limit`` members (above ``after``, in id order) whose ledger has a pending lot
        maturing or a lot expiring by ``as_of`` (``next_due_at <= as_of``): the batch job's
        work list, one page at a time."""
        ...

    def stream_balances(self, programme: str, *, batch_size: int = 1000) -> Iterator[PointsBalance]:
        """Every member's stored summary in the programme, in customer id order, fetched in
        batches so memory stays bounded."""
        ...


class ReferralRepository(Protocol):
    """The tenant's referrals. A referee is referred at most once per programme."""

    def add(self, referral: Referral) -> None:
        """Store a new referral (version 0); it becomes version 1. Raises `ReferralRefused`
        if its referee already has a referral in the programme, `ConcurrencyConflict` if
        its id is taken."""
        ...

    def update(self, referral: Referral) -> None:
        """Store a referral's new status if its stored version is still ``referral.version``,
        then bump it; raises `ConcurrencyConflict` if another writer got there first,
        `NotFound` if it was never added."""
        ...

    def get(self, referral_id: str) -> Referral:
        """The referral with that id; raises `NotFound`."""
        ...

    def for_referee(self, programme: str, referee_id: CustomerId) -> Referral | None:
        """The referral that brought ``referee_id`` into ``programme``, or ``None``."""
        ...

    def by_referrer(self, programme: str, referrer_id: CustomerId) -> list[Referral]:
        """The referrals ``referrer_id`` made in ``programme``, oldest first (then by id)."""
        ...


class UnitOfWork(Protocol):
    """One atomic change to one tenant's data.

    Use it as a context manager: leaving the block without `commit` rolls everything back.
    After a successful commit the events of every aggregate it saw are published.
    """

    @property
    def tenant(self) -> TenantId:
        """The tenant every repository of this unit of work is bound to."""
        ...

    @property
    def customers(self) -> CustomerRepository:
        """The tenant's customers."""
        ...

    @property
    def accounts(self) -> AccountRepository:
        """The tenant's accounts."""
        ...

    @property
    def interactions(self) -> InteractionRepository:
        """The tenant's interaction log."""
        ...

    @property
    def stage_histories(self) -> StageHistoryRepository:
        """The tenant's lifecycle stage histories."""
        ...

    @property
    def segment_memberships(self) -> SegmentMembershipRepository:
        """The stored membership of the tenant's tracked segments."""
        ...

    @property
    def points_ledgers(self) -> PointsLedgerRepository:
        """The tenant's loyalty points ledgers and their balances."""
        ...

    @property
    def referrals(self) -> ReferralRepository:
        """The tenant's referrals."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> list[DomainEvent]:
        """Make every change durable at once, then publish and return the events."""
        ...

    def rollback(self) -> None:
        """Discard every change made since the unit of work began."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
