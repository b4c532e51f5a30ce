"""What a points-ledger save checks in the database first: the stored versions and entries,
read under locks, and the refusals it raises when they are not what the ledger was read at."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, bindparam, select, update

from crmkit.adapters.sqlalchemy.loyalty import rows as m
from crmkit.adapters.sqlalchemy.loyalty.heads import head_document
from crmkit.adapters.sqlalchemy.loyalty.tables import points_balances, points_entries
from crmkit.adapters.sqlalchemy.session import Session
from crmkit.domain import LedgerEntry, PointsLedger
from crmkit.domain.loyalty.head import StoredEntries
from crmkit.errors import ConcurrencyConflict, NotFound, ValidationError

__all__ = [
    "IN_BATCH",
    "KIND",
    "UPDATE_BALANCE",
    "BALANCE_FIGURES",
    "Stored",
    "StoredLedgers",
    "balance_row",
    "balance_parameters",
    "conflict",
    "problem_of",
    "snapshot",
    "stored_count",
]

_B = points_balances.c
_E = points_entries.c

#: How many customer ids one ``IN`` list names.
IN_BATCH = 500
KIND = "points ledger"

#: What is known to be stored of a ledger at its version: its entries, or (a ledger
#: restored from its head) how many.
Stored = tuple[LedgerEntry, ...] | int
#: The entries known to be stored at a ledger's version, or ``None``.
Known = Stored | None


class StoredLedgers:
    """The stored state of the tenant's ledgers, as a save must find it."""

    def __init__(self, session: Session) -> None:
        self._s = session

    @property
    def _tenant(self) -> str:
        return self._s.tenant

    def _where(self, table: Any, programme: str, customer_id: str) -> Any:
        return and_(
            table.c.tenant_id == self._tenant,
            table.c.programme == programme,
            table.c.customer_id == customer_id,
        )

    def stale(self, ledgers: list[PointsLedger]) -> ConcurrencyConflict:
        """The conflict naming the first of ``ledgers`` (in key order) that the versioned
        UPDATE of the batch missed: its row, read under a lock (see `locked_version`), is
        not the one this transaction just wrote."""
        columns = ("version", "available", "pending", "tier", "entries", "last_at_us")
        for ledger in sorted(ledgers, key=lambda e: (e.programme.name, e.customer_id)):
            programme, customer_id = ledger.programme.name, ledger.customer_id
            found = self._s.connection.execute(
                select(*(_B[name] for name in columns))
                .where(self._where(points_balances, programme, customer_id))
                .with_for_update()
            ).first()
            ours = m.points_balance_row(self._tenant, ledger.summary(), ledger.version + 1)
            if found is None or tuple(found) != tuple(ours[name] for name in columns):
                return ConcurrencyConflict(KIND, (programme, customer_id), ledger.version)
        return conflict(ledgers)  # another writer wrote exactly what we did: name the batch

    def stored_many(
        self, ledgers: list[PointsLedger], remembered: Callable[[PointsLedger], Known]
    ) -> dict[int, Stored]:
        """The entries stored at each ledger's version, by ``id(ledger)``, their balance rows
        read under a lock (see `locked_version`) in key order; raises `NotFound` or
        `ConcurrencyConflict` for the first ledger not stored at its version."""
        stored: dict[int, Stored] = {}
        by_programme: dict[str, list[PointsLedger]] = defaultdict(list)
        for ledger in ledgers:
            by_programme[ledger.programme.name].append(ledger)
        connection = self._s.connection
        for programme in sorted(by_programme):
            group = sorted(by_programme[programme], key=lambda ledger: ledger.customer_id)
            for start in range(0, len(group), IN_BATCH):
                chunk = group[start : start + IN_BATCH]
                rows = {
                    row.customer_id: (int(row.version), int(row.entries))
                    for row in connection.execute(
                        select(_B.customer_id, _B.version, _B.entries)
                        .where(
                            _B.tenant_id == self._tenant,
                            _B.programme == programme,
                            _B.customer_id.in_([ledger.customer_id for ledger in chunk]),
                        )
                        .order_by(_B.customer_id)
                        .with_for_update()
                    )
                }
                unknown: dict[str, int] = {}
                for ledger in chunk:
                    key = (programme, ledger.customer_id)
                    if ledger.customer_id not in rows:
                        raise NotFound(KIND, key)
                    version, count = rows[ledger.customer_id]
                    if version != ledger.version:
                        raise ConcurrencyConflict(KIND, key, ledger.version)
                    known = remembered(ledger)
                    if known is not None:
                        stored[id(ledger)] = known
                    elif count == 0:
                        stored[id(ledger)] = ()
                    else:
                        unknown[ledger.customer_id] = count
                if unknown:
                    read = self.entries_of(programme, list(unknown))
                    for ledger in chunk:
                        if ledger.customer_id in unknown:
                            entries = read.get(ledger.customer_id, ())
                            if len(entries) != unknown[ledger.customer_id]:
                                key = (programme, ledger.customer_id)
                                raise ConcurrencyConflict(KIND, key, ledger.version)
                            stored[id(ledger)] = entries
        return stored

    def entries_of(
        self, programme: str, customer_ids: list[str], *, lock: bool = True
    ) -> dict[str, tuple[LedgerEntry, ...]]:
        """The stored entries of those members, by default under a shared lock (see
        `stored_entries`)."""
        query = (
            select(points_entries)
            .where(
                _E.tenant_id == self._tenant,
                _E.programme == programme,
                _E.customer_id.in_(customer_ids),
            )
            .order_by(_E.customer_id, _E.seq)
        )
        if lock:
            query = query.with_for_update(read=True)
        found: dict[str, list[LedgerEntry]] = defaultdict(list)
        for row in self._s.connection.execute(query).mappings().all():
            found[row["customer_id"]].append(m.points_entry_from_row(row))
        return {customer_id: tuple(entries) for customer_id, entries in found.items()}

    def refuse_taken(self, ledgers: list[PointsLedger]) -> None:
        """Raise `ConcurrencyConflict` if one of these new ledgers is stored already."""
        by_programme: dict[str, list[str]] = defaultdict(list)
        for ledger in ledgers:
            by_programme[ledger.programme.name].append(ledger.customer_id)
        for programme, customer_ids in sorted(by_programme.items()):
            for start in range(0, len(customer_ids), IN_BATCH):
                taken = self._s.connection.execute(
                    select(_B.customer_id)
                    .where(
                        _B.tenant_id == self._tenant,
                        _B.programme == programme,
                        _B.customer_id.in_(customer_ids[start : start + IN_BATCH]),
                    )
                    .order_by(_B.customer_id)
                    .limit(1)
                ).scalar()
                if taken is not None:
                    raise ConcurrencyConflict(KIND, (programme, taken), 0, "it already exists")

    def locked_version(self, programme: str, customer_id: str, version: int) -> int:
        """The stored entry count, if the ledger is stored at ``version``; raises `NotFound`
        or `ConcurrencyConflict` otherwise. A locking read: MariaDB answers from the latest
        committed row (not the transaction's snapshot), PostgreSQL refuses a row changed
        since the snapshot, and SQLite has one writer: the row the versioned UPDATE changes."""
        row = self._s.connection.execute(
            select(_B.entries, _B.version)
            .where(self._where(points_balances, programme, customer_id))
            .with_for_update()
        ).first()
        if row is None:
            raise NotFound(KIND, (programme, customer_id))
        if int(row.version) != version:
            raise ConcurrencyConflict(KIND, (programme, customer_id), version)
        return int(row.entries)

    def stored_entries(
        self, programme: str, customer_id: str, version: int
    ) -> tuple[LedgerEntry, ...]:
        """The entries stored at ``version`` (see `locked_version`), read under a shared lock
        so MariaDB, too, returns those of the latest commit."""
        count = self.locked_version(programme, customer_id, version)
        if count == 0:
            return ()
        query = (
            select(points_entries)
            .where(self._where(points_entries, programme, customer_id))
            .order_by(_E.seq)
            .with_for_update(read=True)
        )
        rows = self._s.connection.execute(query).mappings().all()
        if len(rows) != count:  # entries deleted or added by hand
            raise ConcurrencyConflict(KIND, (programme, customer_id), version)
        return tuple(m.points_entry_from_row(row) for row in rows)

    def version(self, programme: str, customer_id: str) -> int | None:
        found = self._s.connection.execute(
            select(_B.version).where(self._where(points_balances, programme, customer_id))
        ).scalar()
        return None if found is None else int(found)


#: The versioned UPDATE of `SqlPointsLedgers.save_many`, run once per ledger (executemany).
UPDATE_BALANCE = (
    update(points_balances)
    .where(
        _B.tenant_id == bindparam("b_tenant"),
        _B.programme == bindparam("b_programme"),
        _B.customer_id == bindparam("b_customer"),
        _B.version == bindparam("b_version"),
    )
    .values(
        available=bindparam("b_available"),
        pending=bindparam("b_pending"),
        tier=bindparam("b_tier"),
        entries=bindparam("b_entries"),
        last_at_us=bindparam("b_last_at_us"),
        next_due_at_us=bindparam("b_next_due_at_us"),
        head=bindparam("b_head"),
        head_version=bindparam("b_head_version"),
        version=_B.version + 1,
    )
)


def balance_parameters(tenant: str, ledger: PointsLedger) -> dict[str, Any]:
    """The parameters of `UPDATE_BALANCE` for one ledger."""
    row = balance_row(tenant, ledger, ledger.version + 1)
    return {
        "b_tenant": tenant,
        "b_programme": row["programme"],
        "b_customer": row["customer_id"],
        "b_version": ledger.version,
        **{f"b_{name}": row[name] for name in BALANCE_FIGURES},
    }


#: The columns a versioned balance UPDATE sets (besides the version), in parameter order.
BALANCE_FIGURES = (
    "available", "pending", "tier", "entries", "last_at_us", "next_due_at_us", "head",
    "head_version",
)  # fmt: skip


def balance_row(tenant: str, ledger: PointsLedger, version: int) -> dict[str, Any]:
    """The ``crmkit_points_balances`` row of ``ledger`` stored at ``version``: its summary
    and its head (`crmkit.adapters.sqlalchemy.loyalty.heads`)."""
    row = m.points_balance_row(tenant, ledger.summary(), version)
    row["head"] = head_document(ledger.head())
    row["head_version"] = version
    return row


def conflict(ledgers: list[PointsLedger]) -> ConcurrencyConflict:
    """A conflict the database found somewhere in ``ledgers`` without saying where: it names
    the first of them and the version it was read at (0: new), and how many more it may be."""
    first = ledgers[0]
    key, version = (first.programme.name, first.customer_id), first.version
    what = "already exists" if version == 0 else f"is no longer at version {version}"
    if len(ledgers) == 1:
        return ConcurrencyConflict(KIND, key, version, f"it {what}")
    others = f"one of the {len(ledgers) - 1} other ledgers saved with it"
    return ConcurrencyConflict(KIND, key, version, f"it (or {others}) {what}")


def stored_count(stored: Stored) -> int:
    """How many entries are stored."""
    return stored if isinstance(stored, int) else len(stored)


def snapshot(ledger: PointsLedger) -> Stored:
    """What is stored of ``ledger`` once it is saved: its entries, or how many they are
    (a ledger restored from its head, whose stored entries were never read)."""
    entries = ledger.entries
    if isinstance(entries, StoredEntries) and not entries.loaded:
        return len(entries)
    return tuple(entries)


def problem_of(ledger: PointsLedger, stored: Stored) -> ValidationError | None:
    """Why ``ledger`` cannot be stored over the ``stored`` entries, or ``None``: they were
    changed (entries are append-only), or a new entry the tables cannot hold faithfully (out
    of position, its ``seq`` being its place in the ledger, or with a key already taken)."""
    entries = ledger.entries
    count = stored_count(stored)
    original = stored if not isinstance(stored, int) else getattr(entries, "original", None)
    if original is not None and tuple(entries[: len(original)]) != original:
        # The same objects, unless read elsewhere.
        return ValidationError.single("entries", len(entries), "are append-only")
    new = entries[count:]
    for seq, entry in enumerate(new, count):
        if entry.seq != seq:
            return ValidationError.single(
                f"entries[{seq}].seq", entry.seq, f"must be its position ({seq})"
            )
    # Each new entry must be the first with its key (the index answers without a scan; a
    # ledger restored from its head knows the stored keys booking asked for, and the
    # table's unique key refuses any other).
    if isinstance(stored, int) and not isinstance(original, tuple):
        unique = len({e.key for e in new}) == len(new)
        if not unique or any(ledger.known_key(e.key) not in (None, e) for e in new):
            return ValidationError.single("entries", ledger.customer_id, "keys must be unique")
    elif any(ledger.entry_with_key(e.key) is not e for e in new):
        return ValidationError.single("entries", ledger.customer_id, "keys must be unique")
    return None
