"""Planner statistics are refreshed after a bulk import on PostgreSQL (and nowhere else)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from crmkit import CRM, Channel, Customer, CustomerId, Interaction, InteractionId, Settings
from crmkit.adapters.sqlalchemy import SqlStore
from crmkit.adapters.sqlalchemy.statistics import ANALYZE_AFTER_ROWS, refresh_statistics
from crmkit.testing.databases import scratch_store
from tests.conftest import backend_url

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[SqlStore]:
    store = scratch_store(backend_url("postgresql", tmp_path))
    yield store
    store.dispose()


def _estimated_rows(store: SqlStore, table: str) -> float:
    with store.engine.connect() as conn:
        found = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}
        ).scalar_one()
    return float(found)


def _import(crm: CRM, customers: int, interactions: int) -> None:
    people = [Customer.register(CustomerId(f"c{n}"), at=T0) for n in range(customers)]
    crm.customers.import_many(people)
    crm.interactions.import_many(
        Interaction(
            InteractionId(f"i{n}"),
            CustomerId(f"c{n % customers}"),
            T0 + timedelta(seconds=n),
            "purchase",
            Channel.WEB,
        )
        for n in range(interactions)
    )


def test_a_large_import_is_analysed_once_committed(pg_store: SqlStore) -> None:
    crm = CRM(pg_store, Settings())
    _import(crm, 100, ANALYZE_AFTER_ROWS + 1)
    assert _estimated_rows(pg_store, "crmkit_interactions") == ANALYZE_AFTER_ROWS + 1
    assert _estimated_rows(pg_store, "crmkit_customers") <= 0  # 100 rows: left to autovacuum


def test_a_small_import_is_left_to_autovacuum(pg_store: SqlStore) -> None:
    crm = CRM(pg_store, Settings())
    _import(crm, 10, 50)
    assert _estimated_rows(pg_store, "crmkit_interactions") <= 0  # never analysed: -1 or 0


def test_a_failure_is_logged_and_the_connection_stays_usable(
    pg_store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    with pg_store.engine.connect() as conn, caplog.at_level(logging.WARNING):
        assert refresh_statistics(conn, Counter({"crmkit_no_such_table": 10**6})) == []
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    assert "could not refresh the planner statistics: ProgrammingError" in caplog.text


def test_other_databases_need_nothing(tmp_path: Path) -> None:
    store = scratch_store(f"sqlite:///{tmp_path / 'crm.db'}")
    with store.engine.connect() as conn:
        assert refresh_statistics(conn, Counter({"crmkit_interactions": 10**6})) == []
    store.dispose()
