"""Ledger heads on SQL: the head stored beside a ledger's entries is always the head folded
from them, booking reads it instead of the entries, and a head that is missing (a ledger
stored before migration 0008) or of another version is rebuilt from the entries, never
trusted."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, update

from crmkit import CRM, FixedClock, Interaction, InteractionId, Money, SequentialIds, Settings
from crmkit.adapters.sqlalchemy import SqlStore
from crmkit.adapters.sqlalchemy.loyalty.heads import head_document, head_from_document
from crmkit.adapters.sqlalchemy.loyalty.tables import points_balances, points_entries
from crmkit.domain.loyalty import (
    PointsLedger,
    Programme,
    SpendRule,
    Tier,
    TierPolicy,
)
from crmkit.domain.loyalty.head import LedgerHead
from crmkit.errors import InsufficientPoints

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CLUB = Programme(
    "club",
    [SpendRule("spend", 1, Money.of("1.00", "EUR"))],
    tiers=[Tier("silver", 100), Tier("gold", 400)],
    tier_policy=TierPolicy(window_days=30, retention_days=7),
    pending_days=3,
    expiry_days=20,
)
_B = points_balances.c


_RUNS = itertools.count()


def crm_on(store: SqlStore, clock: FixedClock) -> CRM:
    """A CRM on ``store`` whose ids no earlier one used (examples share the store)."""
    ids = SequentialIds(f"h{next(_RUNS)}")
    return CRM(store, Settings(clock=clock, ids=ids, loyalty=CLUB))


def stored_head(store: SqlStore, customer_id: str) -> tuple[LedgerHead | None, int | None, int]:
    """The stored head of the member's ledger (parsed), its version and the row's version."""
    with store.engine.connect() as connection:
        row = connection.execute(
            select(_B.head, _B.head_version, _B.version, _B.entries).where(
                _B.programme == CLUB.name, _B.customer_id == customer_id
            )
        ).one()
    return head_from_document(row.head, int(row.entries)), row.head_version, int(row.version)


def folded(crm: CRM, customer_id: str) -> LedgerHead:
    """The head folded from every stored entry of the member's ledger."""
    ledger = crm.loyalty.ledger(customer_id)
    return PointsLedger(ledger.customer_id, CLUB, list(ledger.entries)).head()


def spoil(store: SqlStore, customer_id: str, **values: object) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            update(points_balances)
            .where(_B.programme == CLUB.name, _B.customer_id == customer_id)
            .values(**values)
        )


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["buy", "buy", "bulk", "refund", "redeem", "adjust", "job"]),
        st.integers(1, 300),
        st.integers(0, 6 * 86_400),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(operations=OPERATIONS)
def test_the_stored_head_is_the_head_folded_from_every_entry(
    sql_store: SqlStore, operations: list[tuple[str, int, int]]
) -> None:
    """After any sequence of purchases (one by one and in bulk), refunds, redemptions,
    adjustments and job runs, the head stored beside the ledger, at its version, equals the
    head folded from all its entries."""
    clock = FixedClock(T0)
    crm = crm_on(sql_store, clock)
    member = crm.customers.register().id
    purchases: list[str] = []
    for n, (op, amount, gap) in enumerate(operations):
        clock.advance(timedelta(seconds=gap))
        if op == "buy":
            bought = crm.interactions.record(
                member, kind="purchase", channel="web", amount=Money(amount * 100, "EUR")
            )
            purchases.append(bought.id)
        elif op == "bulk":
            batch = [
                Interaction(
                    id=InteractionId(f"{member}-b{n}-{k}"), customer_id=member,
                    occurred_at=clock.now(), kind="purchase", channel="web",
                    amount=Money(amount * 10 + k, "EUR"),
                )
                for k in range(3)
            ]  # fmt: skip
            crm.interactions.import_many(batch, earn_points=True)
            purchases += [i.id for i in batch]
        elif op == "refund" and purchases:
            crm.interactions.record(
                member, kind="refund", channel="web", refund_of=purchases[amount % len(purchases)]
            )
        elif op == "redeem":
            with contextlib.suppress(InsufficientPoints):
                crm.loyalty.redeem(member, points=amount, key=f"r{n}")
        elif op == "adjust":
            with contextlib.suppress(InsufficientPoints):
                crm.loyalty.adjust(member, amount if n % 2 else -amount, reason="fix", key=f"a{n}")
        elif op == "job":
            crm.loyalty.run_job()
    if crm.loyalty.balance(member).version == 0:
        return  # nothing was ever booked: no ledger
    head, head_version, version = stored_head(sql_store, member)
    assert head_version == version
    assert head == folded(crm, member)


def test_a_head_of_another_version_is_rebuilt_not_trusted(sql_store: SqlStore) -> None:
    """A head whose version is not the row's — or which does not parse, or is gone, as for
    a ledger stored before migration 0008 — is not used: the ledger is read whole, books
    what it must, and is stored with a fresh head."""
    clock = FixedClock(T0)
    crm = crm_on(sql_store, clock)
    member = crm.customers.register().id
    for _ in range(3):
        clock.advance(timedelta(days=1))
        crm.interactions.record(member, kind="purchase", channel="web", amount=Money(9000, "EUR"))
    good, _, version = stored_head(sql_store, member)
    assert good is not None
    # A head claiming 1,000 points in one open lot, kept at another version: ignored.
    forged = good.lots[0][0]
    lie = LedgerHead(good.entries, good.last, ((forged, 1000, True),), good.totals, (), None)
    for spoilt in (
        {"head": head_document(lie), "head_version": version - 1},
        {"head": "{not json", "head_version": version},
        {"head": None, "head_version": None},
    ):
        spoil(sql_store, member, **spoilt)
        clock.advance(timedelta(days=1))
        crm.interactions.record(member, kind="purchase", channel="web", amount=Money(100, "EUR"))
        head, head_version, version = stored_head(sql_store, member)
        assert head_version == version
        assert head == folded(crm, member)
        assert all(left <= 90 for _, left, _ in head.lots)
    assert crm.loyalty.balance(member).available + crm.loyalty.balance(member).pending == 273


def test_booking_on_a_ledger_with_a_head_reads_no_entry_but_its_own(sql_store: SqlStore) -> None:
    """A purchase booked on a ledger of many entries reads its balance row (with the head)
    and the stored entries of that purchase only."""
    clock = FixedClock(T0)
    crm = crm_on(sql_store, clock)
    member = crm.customers.register().id
    for _ in range(30):
        clock.advance(timedelta(days=2))
        crm.interactions.record(member, kind="purchase", channel="web", amount=Money(500, "EUR"))
    read: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        read.append(statement)

    event.listen(sql_store.engine, "before_cursor_execute", seen)
    sql_store.ledger_cache.clear()
    try:
        clock.advance(timedelta(days=1))
        crm.interactions.record(member, kind="purchase", channel="web", amount=Money(500, "EUR"))
    finally:
        event.remove(sql_store.engine, "before_cursor_execute", seen)
    entries = [s for s in read if "FROM crmkit_points_entries" in s]
    assert len(entries) == 1
    assert "interaction_id" in entries[0]


def test_migration_0008_goes_down_and_up_and_ledgers_get_their_head_on_use(sql_url: str) -> None:
    """Down to 0007 the heads are dropped (derived data); up again, a ledger stored without
    one books exactly as before and is stored with its head."""
    from alembic import command

    from crmkit.adapters.sqlalchemy import current_revision, open_engine, upgrade
    from crmkit.adapters.sqlalchemy.engine import connect
    from crmkit.adapters.sqlalchemy.migrate import alembic_config
    from crmkit.testing.databases import drop_crmkit_tables

    engine = open_engine(sql_url)
    try:
        drop_crmkit_tables(engine)
        upgrade(engine)
        clock = FixedClock(T0)
        store = SqlStore(engine)
        crm = crm_on(store, clock)
        member = crm.customers.register().id
        for _ in range(4):
            clock.advance(timedelta(days=1))
            crm.interactions.record(
                member, kind="purchase", channel="web", amount=Money(5000, "EUR")
            )
        with connect(engine) as connection, connection.begin():
            command.downgrade(alembic_config(connection), "0007")
        assert current_revision(engine) == "0007"
        upgrade(engine)
        assert current_revision(engine) == "0008"
        assert stored_head(store, member)[1] is None  # nothing computed by the migration
        store.ledger_cache.clear()
        clock.advance(timedelta(days=1))
        crm.interactions.record(member, kind="purchase", channel="web", amount=Money(5000, "EUR"))
        head, head_version, version = stored_head(store, member)
        assert head_version == version
        assert head == folded(crm, member)
        assert crm.loyalty.balance(member).pending + crm.loyalty.balance(member).available == 250
    finally:
        drop_crmkit_tables(engine)
        engine.dispose()


def test_a_ledger_written_from_its_head_leaves_no_older_state_cached(sql_store: SqlStore) -> None:
    """Writing a ledger restored from its head drops what the store's cache holds of it:
    even tables emptied by hand (the cache not told) never serve another ledger's entries."""
    clock = FixedClock(T0)
    crm = crm_on(sql_store, clock)
    member = crm.customers.register().id

    def three(euros: int) -> list[int]:
        for _ in range(3):
            clock.advance(timedelta(hours=1))
            crm.interactions.record(
                member, kind="purchase", channel="web", amount=Money(euros * 100, "EUR")
            )
        return [line.entry.points for line in crm.loyalty.statement(member)]

    assert three(7) == [7, 7, 7]  # the statement's read is cached at version 3
    with sql_store.engine.begin() as connection:
        for table in (points_balances, points_entries):
            connection.execute(table.delete().where(table.c.customer_id == member))
    assert three(5) == [5, 5, 5]
