"""`SqlUnitOfWork`: one database transaction bound to one tenant, and its repositories."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, select

from crmkit.adapters.sqlalchemy.accounts.repository import SqlAccounts
from crmkit.adapters.sqlalchemy.accounts.tables import accounts
from crmkit.adapters.sqlalchemy.customers.repository import SqlCustomers
from crmkit.adapters.sqlalchemy.customers.tables import customers
from crmkit.adapters.sqlalchemy.engine import connect, writing
from crmkit.adapters.sqlalchemy.failures import storage_errors
from crmkit.adapters.sqlalchemy.interactions.repository import SqlInteractions
from crmkit.adapters.sqlalchemy.lifecycle.histories import SqlStageHistories
from crmkit.adapters.sqlalchemy.lists import key_in
from crmkit.adapters.sqlalchemy.loyalty.ledger_cache import LedgerCache
from crmkit.adapters.sqlalchemy.loyalty.ledgers import SqlPointsLedgers
from crmkit.adapters.sqlalchemy.loyalty.referrals import SqlReferrals
from crmkit.adapters.sqlalchemy.outbox import insert_outbox
from crmkit.adapters.sqlalchemy.segments.memberships import SqlSegmentMemberships
from crmkit.adapters.sqlalchemy.statistics import refresh_statistics
from crmkit.adapters.sqlalchemy.subjects import Subject, subject_of
from crmkit.domain import (
    DomainEvent,
    EnteredSegment,
    LeftSegment,
    ReferralChanged,
    StageChanged,
    SubjectKind,
    TenantId,
)
from crmkit.errors import UsageError
from crmkit.ports import BaseUnitOfWork, Publisher

__all__ = ["SqlUnitOfWork"]


class SqlUnitOfWork(BaseUnitOfWork):
    """One database transaction, bound to one tenant. Events go to the outbox table in the
    same transaction, then to the subscribers after the commit."""

    def __init__(
        self,
        engine: Engine,
        tenant: TenantId,
        publish: Publisher | None = None,
        *,
        ledger_cache: LedgerCache | None = None,
        read_only: bool = False,
    ) -> None:
        super().__init__(tenant, publish)
        #: True for a unit of work that only reads (on SQLite: it takes no write lock).
        self.read_only = read_only
        #: Committed ledger entries shared by the store's units of work (see `LedgerCache`).
        self.ledger_cache = ledger_cache if ledger_cache is not None else LedgerCache()
        self._engine = engine
        self._connection: Connection | None = None
        #: The first aggregate written in the transaction: a conflict at commit names it.
        self.first_written: Subject | None = None
        #: Rows bulk-written per table in the transaction (see `refresh_statistics`).
        self.filled: Counter[str] = Counter()
        self._customers: SqlCustomers = _guarded(
            self, SqlCustomers(self), "reading or writing customers"
        )
        self._accounts: SqlAccounts = _guarded(
            self, SqlAccounts(self), "reading or writing accounts"
        )
        self._interactions: SqlInteractions = _guarded(
            self, SqlInteractions(self), "reading or writing interactions"
        )
        self._stage_histories: SqlStageHistories = _guarded(
            self, SqlStageHistories(self), "reading or writing stage histories"
        )
        self._segment_memberships: SqlSegmentMemberships = _guarded(
            self, SqlSegmentMemberships(self), "reading or writing segment memberships"
        )
        # Kept unguarded too: the unit of work tells it when a transaction ends.
        self._ledgers = SqlPointsLedgers(self)
        self._points_ledgers: SqlPointsLedgers = _guarded(
            self, self._ledgers, "reading or writing points ledgers"
        )
        self._referrals: SqlReferrals = _guarded(
            self, SqlReferrals(self), "reading or writing referrals"
        )

    @property
    def customers(self) -> SqlCustomers:
        return self._customers

    @property
    def accounts(self) -> SqlAccounts:
        return self._accounts

    @property
    def interactions(self) -> SqlInteractions:
        return self._interactions

    @property
    def stage_histories(self) -> SqlStageHistories:
        return self._stage_histories

    @property
    def segment_memberships(self) -> SqlSegmentMemberships:
        return self._segment_memberships

    @property
    def points_ledgers(self) -> SqlPointsLedgers:
        """The tenant's loyalty points ledgers and their balances."""
        return self._points_ledgers

    @property
    def referrals(self) -> SqlReferrals:
        """The tenant's referrals."""
        return self._referrals

    @property
    def connection(self) -> Connection:
        """The connection of this unit of work's transaction."""
        if self._connection is None:
            raise UsageError("a unit of work must be used inside its 'with' block")
        return self._connection

    def note_filled(self, table: str, rows: int) -> None:
        """Note that a bulk path wrote ``rows`` rows into ``table`` in this transaction."""
        self.filled[table] += rows

    def _begin(self) -> None:
        self._ledgers.forget()
        self.first_written = None
        self.filled.clear()
        with storage_errors("opening a transaction"):
            connection = connect(self._engine)
            if connection.dialect.name != "sqlite":
                # One snapshot for every read of the unit of work: under PostgreSQL's default
                # READ COMMITTED a customer's row and its tags could come from two commits.
                # (SQLite gets the same from the explicit BEGIN crmkit issues.)
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
        if connection.dialect.name == "sqlite" and not self.read_only:
            _take_write_lock(connection)
        self._connection = connection

    def _commit(self, events: list[DomainEvent]) -> None:
        written = self._ledgers.written()
        self._ledgers.forget()  # a failed commit rolls back: what was stored is gone
        subject, self.first_written = self.first_written, None
        with storage_errors("committing", subject):
            if events:
                self._lock_aggregates(events)
                insert_outbox(self.connection, self.tenant, events)
            self.connection.commit()
        self.ledger_cache.put_all(written)  # only now are they committed
        if self.filled:
            filled, self.filled = self.filled, Counter()
            refresh_statistics(self.connection, filled)

    def _lock_aggregates(self, events: list[DomainEvent]) -> None:
        # Hold the rows of the aggregates until commit, so two transactions that both emit
        # events for one aggregate write their outbox rows in commit order. Sorted, so that
        # transactions lock in the same order. SQLite needs none: it has one writer at a time.
        if self._engine.dialect.name == "sqlite":
            return
        # Membership events are ordered by their snapshot's row, which the versioned UPDATE
        # already holds: locking every member's row of a large refresh would cost a lot.
        # So are referral events, by their referral's row (the INSERT or versioned UPDATE
        # holds it; their aggregate id is the referral's). Points ledger events share their
        # aggregate id, the member's, with the customer's own events: they lock the
        # customer's row (their ``customer_id``), as customer events do.
        events = [
            e for e in events if not isinstance(e, EnteredSegment | LeftSegment | ReferralChanged)
        ]
        customer_ids = {getattr(e, "customer_id", None) for e in events}
        account_ids = {getattr(e, "account_id", None) for e in events}
        for event in events:  # a stage history is locked through its subject's row
            if isinstance(event, StageChanged):
                if event.subject_kind == SubjectKind.CUSTOMER:
                    customer_ids.add(event.subject_id)
                else:
                    account_ids.add(event.subject_id)
        for table, ids in ((customers, customer_ids), (accounts, account_ids)):
            wanted = sorted(i for i in ids if i is not None)
            if wanted:
                self.connection.execute(
                    select(table.c.id)
                    .where(
                        table.c.tenant_id == self.tenant,
                        key_in(self.connection.dialect.name, table.c.id, wanted),
                    )
                    .order_by(table.c.id)
                    .with_for_update()
                ).all()

    def _rollback(self) -> None:
        self._ledgers.forget()
        self.first_written = None
        self.filled.clear()
        if self._connection is not None:
            with storage_errors("rolling back"):
                self._connection.rollback()

    def _close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with storage_errors("closing a connection"):
                connection.close()


def _take_write_lock(connection: Connection) -> None:
    # SQLite has one writer at a time. A transaction that has read cannot wait for the lock
    # when it first writes (its snapshot may predate the commit it waited for: SQLite
    # refuses it at once), so a unit of work that may write takes the lock before it reads,
    # now, waiting up to the busy timeout (`LockTimeout` after it). Readers are not blocked.
    try:
        with storage_errors("waiting for the database's write lock", waits=True):
            writing(connection).begin()
    except BaseException:
        with storage_errors("closing a connection"):
            connection.close()
        raise


class _Guard:
    """Runs every method of a repository inside `storage_errors`, generators included, and
    notes in the unit of work the first aggregate written (see `subject_of`)."""

    def __init__(self, uow: SqlUnitOfWork, target: Any, what: str) -> None:
        self._uow = uow
        self._target = target
        self._what = what

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute
        return functools.partial(_call, self._uow, attribute, self._what)


def _call(
    uow: SqlUnitOfWork, method: Callable[..., Any], what: str, *args: Any, **kwargs: Any
) -> Any:
    subject = subject_of(args)  # taken before the call: a save bumps the version
    if subject is not None and uow.first_written is None:
        uow.first_written = subject
    with storage_errors(what, subject):
        result = method(*args, **kwargs)
    if isinstance(result, Iterator) and not isinstance(result, list | tuple):
        return _iterate(result, what)
    return result


def _iterate(items: Iterator[Any], what: str) -> Iterator[Any]:
    # A try block costs nothing until something is raised; entering `storage_errors` (a
    # generator-based context manager) for every item cost more than hydrating it.
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except BaseException:
            with storage_errors(what):
                raise
        yield item


def _guarded(uow: SqlUnitOfWork, target: Any, what: str) -> Any:
    return _Guard(uow, target, what)
