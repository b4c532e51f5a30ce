"""The SQL points-ledger repository: ``crmkit_points_balances`` and ``crmkit_points_entries``.

A ledger is one balance row (its `PointsBalance`: available and pending points, tier, entry
count, when something next falls due, and the ledger's version) plus one row per entry,
numbered from 0. Entries are append-only: an update inserts only the entries after the stored
ones, in the same transaction as the versioned UPDATE of the balance row. Reading a balance,
the members due for the batch job or every balance of a programme reads only balance rows.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, exc, insert, select, update

from crmkit.adapters._arguments import check_batch, check_page
from crmkit.adapters.sqlalchemy.loyalty import rows as m
from crmkit.adapters.sqlalchemy.loyalty.heads import prefetch
from crmkit.adapters.sqlalchemy.loyalty.ledger_cache import LedgerCache, LedgerKey
from crmkit.adapters.sqlalchemy.loyalty.reading import restore_ledgers
from crmkit.adapters.sqlalchemy.loyalty.stored import (
    BALANCE_FIGURES,
    IN_BATCH,
    KIND,
    UPDATE_BALANCE,
    Stored,
    StoredLedgers,
    balance_parameters,
    balance_row,
    conflict,
    problem_of,
    snapshot,
    stored_count,
)
from crmkit.adapters.sqlalchemy.loyalty.tables import points_balances, points_entries
from crmkit.adapters.sqlalchemy.loyalty.writing import insert_entries, update_balances
from crmkit.adapters.sqlalchemy.rows import to_us
from crmkit.adapters.sqlalchemy.session import Session
from crmkit.domain import CustomerId, LedgerEntry, PointsBalance, PointsLedger, Programme
from crmkit.domain._arguments import each_of, instance_of
from crmkit.domain.loyalty.head import StoredEntries
from crmkit.domain.loyalty.tally import Tally
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import ConcurrencyConflict, NotFound, ValidationError

__all__ = ["SqlPointsLedgers"]

_B = points_balances.c
_E = points_entries.c

_Row = Mapping[Any, Any]
_Remembered = tuple["weakref.ref[PointsLedger]", int, Stored]
#: A ledger written in this transaction: its version, entries and tally (None, None: written
#: from its head, without its entries at hand).
_Written = tuple[int, tuple[LedgerEntry, ...] | None, Tally | None]
#: The columns of a balance row that a `PointsBalance` holds (not the head).
_SUMMARY = tuple(
    points_balances.c[name]
    for name in (
        "customer_id", "programme", "available", "pending", "tier", "entries", "last_at_us",
        "next_due_at_us", "version",
    )
)  # fmt: skip


class _LedgerSession(Session, Protocol):
    @property
    def ledger_cache(self) -> LedgerCache: ...


class SqlPointsLedgers:
    """Points ledgers in ``crmkit_points_balances`` and ``crmkit_points_entries``.

    It remembers, for each ledger it read or stored in the current transaction, the entries
    stored at that ledger's version, so an update appends (and checks that the stored ones
    were left alone) without reading them again; the unit of work calls `forget` whenever a
    transaction begins or ends.
    """

    def __init__(self, session: _LedgerSession) -> None:
        self._s = session
        self._db = StoredLedgers(session)
        #: id(ledger) -> (the ledger, weakly; its version; the entries stored at it).
        self._stored: dict[int, _Remembered] = {}
        #: The ledgers written in this transaction: their state to cache once committed.
        self._written: dict[LedgerKey, _Written] = {}

    @property
    def _tenant(self) -> str:
        return self._s.tenant

    def forget(self) -> None:
        """Drop what was remembered of the ledgers read or stored (the transaction ended)."""
        self._stored.clear()
        self._written.clear()

    def written(self) -> list[tuple[LedgerKey, int, tuple[LedgerEntry, ...] | None, Tally | None]]:
        """The ledgers this transaction wrote, as the `LedgerCache` keeps them."""
        return [(key, *state) for key, state in self._written.items()]

    def _cache_key(self, programme: str, customer_id: str) -> LedgerKey:
        return (self._tenant, programme, customer_id)

    def _remember(self, ledger: PointsLedger, *, wrote: bool = False, cached: bool = False) -> None:
        entries = snapshot(ledger)
        self._stored[id(ledger)] = (weakref.ref(ledger), ledger.version, entries)
        key = self._cache_key(ledger.programme.name, ledger.customer_id)
        if isinstance(entries, int):  # restored from its head: nothing to cache
            if wrote:  # and what the cache holds of it is out of date once this commits
                self._written[key] = (ledger.version, None, None)
        elif wrote:
            self._written[key] = (ledger.version, entries, ledger.tally())
        elif not cached and key not in self._written:
            # What was read is committed (unless we wrote it); its tally spares the next
            # reader adding up every entry again.
            self._s.ledger_cache.put(key, ledger.version, entries, ledger.tally())

    def _remembered(self, ledger: PointsLedger) -> Stored | None:
        known = self._stored.get(id(ledger))
        if known is None or known[0]() is not ledger or known[1] != ledger.version:
            return None
        return known[2]

    def _where(self, table: Any, programme: str, customer_id: str) -> Any:
        return and_(
            table.c.tenant_id == self._tenant,
            table.c.programme == programme,
            table.c.customer_id == customer_id,
        )

    def add(self, ledger: PointsLedger) -> None:
        """Store a new ledger (version 0) with its entries; it becomes version 1. Raises
        `ConcurrencyConflict` if the member already has a ledger in that programme."""
        instance_of(ledger, PointsLedger, "ledger")
        if ledger.version != 0:
            raise ValidationError.single("version", ledger.version, "a new ledger has version 0")
        problem = problem_of(ledger, ())
        if problem is not None:
            raise problem
        programme, customer_id = ledger.programme.name, ledger.customer_id
        key = (programme, customer_id)
        # Asked first, so the usual refusal leaves the transaction usable on PostgreSQL too;
        # the primary key still catches a writer that committed the same key meanwhile.
        if self._db.version(programme, customer_id) is not None:
            raise ConcurrencyConflict(KIND, key, 0, "it already exists")
        connection = self._s.connection
        try:
            connection.execute(
                insert(points_balances),
                [balance_row(self._tenant, ledger, 1)],
            )
        except exc.IntegrityError:
            raise ConcurrencyConflict(KIND, key, 0, "it already exists") from None
        rows = m.points_entry_rows(self._tenant, ledger)
        if rows:
            try:
                connection.execute(insert(points_entries), rows)
            except exc.IntegrityError:
                # Only entries left behind by a hand-deleted balance row: nothing crmkit does.
                raise ConcurrencyConflict(KIND, key, 0, "it already exists") from None
        ledger.version = 1
        self._remember(ledger, wrote=True)
        self._s._track(ledger)

    def update(self, ledger: PointsLedger) -> None:
        """Append the entries booked since the ledger was read and store its new balance, if
        its stored version is still ``ledger.version``, then bump it; raises
        `ConcurrencyConflict` if another writer got there first, `NotFound` if it was never
        added, `ValidationError` (writing nothing) if the stored entries were changed."""
        instance_of(ledger, PointsLedger, "ledger")
        programme, customer_id = ledger.programme.name, ledger.customer_id
        key, version = (programme, customer_id), ledger.version
        connection = self._s.connection
        stored = self._remembered(ledger)
        if stored is None and isinstance(ledger.entries, StoredEntries):
            # Restored from its head in another transaction: its stored entries are the
            # head's, if the version is still the one read.
            count = self._db.locked_version(programme, customer_id, version)
            if count != ledger.entries.head.entries:
                raise ConcurrencyConflict(KIND, key, version)
            stored = ledger.entries.original or count
            problem = problem_of(ledger, stored)
        elif stored is None:  # read in another transaction: ask what its version holds
            stored = self._db.stored_entries(programme, customer_id, version)
            problem = problem_of(ledger, stored)
        else:
            problem = problem_of(ledger, stored)
            if problem is not None:  # a stale copy is reported as stale first, as in memory
                self._db.locked_version(programme, customer_id, version)
        if problem is not None:
            raise problem
        summary = balance_row(self._tenant, ledger, version + 1)
        result = connection.execute(
            update(points_balances)
            .where(self._where(points_balances, programme, customer_id), _B.version == version)
            .values(**{name: summary[name] for name in BALANCE_FIGURES}, version=_B.version + 1)
        )
        if result.rowcount != 1:
            if self._db.version(programme, customer_id) is None:
                raise NotFound(KIND, key)
            raise ConcurrencyConflict(KIND, key, version)
        appended = m.points_entry_rows(self._tenant, ledger, stored_count(stored))
        if appended:
            try:
                connection.execute(insert(points_entries), appended)
            except exc.IntegrityError:
                # Only when the stored entries do not match their balance row (edited by
                # hand): retrying from a fresh read tells.
                raise ConcurrencyConflict(KIND, key, version) from None
        ledger.version += 1
        self._remember(ledger, wrote=True)
        self._s._track(ledger)

    def save_many(self, ledgers: Collection[PointsLedger]) -> None:
        """`add` the ledgers at version 0 and `update` the others, all at once: a few reads
        (the stored balance rows of the updated ledgers under a lock, 500 at a time, and
        whether the new ones are taken) and then one executemany per table. Every check is
        made before anything is written."""
        batch = list(each_of(ledgers, PointsLedger, "ledgers"))
        keys = {(ledger.programme.name, ledger.customer_id) for ledger in batch}
        if len(keys) != len(batch):  # a ledger twice: exactly as one call each
            for ledger in batch:
                if ledger.version == 0:
                    self.add(ledger)
                else:
                    self.update(ledger)
            return
        new = [ledger for ledger in batch if ledger.version == 0]
        old = [ledger for ledger in batch if ledger.version != 0]
        connection = self._s.connection
        remembered = {id(ledger): self._remembered(ledger) for ledger in old}
        # Ledgers read in this transaction need no second read: the versioned UPDATE's row
        # count tells whether another writer got there first (where the driver reports it).
        trusted = connection.dialect.supports_sane_multi_rowcount and all(
            entries is not None for entries in remembered.values()
        )
        if trusted:
            stored = {key: entries for key, entries in remembered.items() if entries is not None}
        else:
            stored = self._db.stored_many(old, self._remembered)
        for ledger in batch:
            problem = problem_of(ledger, stored.get(id(ledger), 0))
            if problem is not None:
                raise problem
        self._db.refuse_taken(new)
        tenant = self._tenant
        appended = [(ledger, 0) for ledger in new]
        appended += [(ledger, stored_count(stored[id(ledger)])) for ledger in old]
        if new:
            balances = [balance_row(tenant, ledger, 1) for ledger in new]
            try:
                connection.execute(insert(points_balances), balances)
            except exc.IntegrityError:
                raise conflict(new) from None
        if old:
            # Each UPDATE changes one row, if its ledger is still at the version read.
            changed = update_balances(
                connection, [balance_parameters(tenant, ledger) for ledger in old], UPDATE_BALANCE
            )
            if trusted and changed != len(old):
                # The unit of work rolls back: nothing of this batch is stored.
                raise self._db.stale(old)
        if appended:
            try:
                insert_entries(connection, tenant, appended)
            except exc.IntegrityError:
                # Only entries stored without their balance row (edited by hand): retrying
                # from a fresh read tells which.
                appending = [
                    e for e in batch if len(e.entries) > stored_count(stored.get(id(e), 0))
                ]
                raise conflict(appending or batch) from None
        for ledger in batch:
            ledger.version += 1
            self._remember(ledger, wrote=True)
            self._s._track(ledger)

    def find(self, programme: Programme, customer_id: CustomerId) -> PointsLedger | None:
        """The member's ledger under ``programme`` with every entry, or ``None``."""
        found = self.find_many(programme, [customer_id])
        return found.get(customer_id)

    def find_many(
        self,
        programme: Programme,
        customer_ids: Collection[CustomerId],
        *,
        booking: Collection[str] | None = None,
    ) -> dict[CustomerId, PointsLedger]:
        """The ledgers of the members that have one, by customer id: per 500 members, a
        query for their balance rows and one for their entries. For ``booking`` (see
        `crmkit.adapters.sqlalchemy.loyalty.reading`), restored from their heads where they
        can serve: the entries are read only for the ledgers without one, and the stored
        entries of the interactions named with one query per 500."""
        wanted = sorted(set(customer_ids))
        ledgers: dict[CustomerId, PointsLedger] = {}
        # The stored entries of the interactions to book, read once for every member.
        read = prefetch(self._s, programme.name, wanted, booking) if wanted and booking else {}
        for start in range(0, len(wanted), IN_BATCH):
            chunk = wanted[start : start + IN_BATCH]
            for ledger, cached in restore_ledgers(
                self._s, self._s.ledger_cache, programme, chunk, booking, self._written, read
            ):
                self._remember(ledger, cached=cached)
                ledgers[ledger.customer_id] = ledger
        return ledgers

    def balance(self, programme: str, customer_id: CustomerId) -> PointsBalance | None:
        """The stored summary of the member's ledger, read without its entries, or ``None``."""
        row = (
            self._s.connection.execute(
                select(*_SUMMARY).where(self._where(points_balances, programme, customer_id))
            )
            .mappings()
            .first()
        )
        return None if row is None else m.points_balance_from_row(row)

    def due(
        self,
        programme: str,
        as_of: datetime,
        *,
        after: CustomerId | None = None,
        limit: int = 1000,
    ) -> list[CustomerId]:
        """Up to ``limit`` members (above ``after``, in id order) whose ledger has something
        maturing or expiring by ``as_of``: one query on the balance rows."""
        as_of = ensure_utc(as_of, "as_of")
        check_page(limit, after)
        query = select(_B.customer_id).where(
            _B.tenant_id == self._tenant,
            _B.programme == programme,
            _B.next_due_at_us <= to_us(as_of),
        )
        if after is not None:
            query = query.where(_B.customer_id > after)
        query = query.order_by(_B.customer_id).limit(limit)
        return [CustomerId(i) for i in self._s.connection.execute(query).scalars()]

    def stream_balances(self, programme: str, *, batch_size: int = 1000) -> Iterator[PointsBalance]:
        """Every member's stored summary in the programme, in customer id order, one query
        per ``batch_size`` members (keyset pagination on the customer id)."""
        check_batch(batch_size)
        last: str | None = None
        while True:
            query = select(*_SUMMARY).where(_B.tenant_id == self._tenant, _B.programme == programme)
            if last is not None:
                query = query.where(_B.customer_id > last)
            query = query.order_by(_B.customer_id).limit(batch_size)
            rows: Sequence[_Row] = self._s.connection.execute(query).mappings().all()
            yield from (m.points_balance_from_row(row) for row in rows)
            if len(rows) < batch_size:
                return
            last = rows[-1]["customer_id"]
