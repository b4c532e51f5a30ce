"""A SQLite with the old limit of 999 bound parameters a statement (``SQLITE_MAX_VARIABLE_NUMBER``
before SQLite 3.32, still the build on some long-term distributions) serves every list crmkit
binds: a list travels as one JSON parameter, however long.

Before, a page of 1000 ids whose tags to load, a `Members` rule or a timeline filter of more
than 998 values raised ``StorageError: too many SQL variables`` there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from crmkit import CRM, Customer, CustomerId, FixedClock, Interaction, InteractionId, Settings
from crmkit.adapters.sqlalchemy.outbox import SqlOutbox
from crmkit.domain import AnyOf
from crmkit.domain.rules.leaves import MAX_LIST_VALUES, MAX_MEMBERS, FieldCondition
from crmkit.domain.rules.stage_leaves import Members
from crmkit.domain.segments.segment import Segment
from crmkit.segments import TagCondition
from crmkit.testing.databases import scratch_store

T0 = datetime(2024, 1, 1, tzinfo=UTC)
OLD_LIMIT = 999
CUSTOMERS = 2500  # two pages of more than OLD_LIMIT ids each


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CRM]:
    """A CRM on a SQLite file whose connections accept at most 999 parameters a statement,
    holding CUSTOMERS customers (every other one tagged ``vip``) with one interaction each."""
    path: Path = tmp_path_factory.mktemp("limit") / "crm.db"
    store = scratch_store(f"sqlite:///{path}")

    @event.listens_for(store.engine, "connect")
    def old_limit(connection: sqlite3.Connection, _: Any) -> None:
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, OLD_LIMIT)

    store.engine.dispose()  # reconnect, with the limit
    crm = CRM(store, Settings(clock=FixedClock(T0)))
    ids = [CustomerId(f"c{n:05d}") for n in range(CUSTOMERS)]
    crm.customers.import_many(
        Customer(i, created_at=T0, updated_at=T0, tags=["vip"] if n % 2 else [])
        for n, i in enumerate(ids)
    )
    crm.interactions.import_many(
        Interaction(InteractionId(f"i{n}"), i, T0, "purchase", "web") for n, i in enumerate(ids)
    )
    yield crm
    store.dispose()


def test_the_limit_is_in_force(crm: CRM) -> None:
    """A statement of 1000 parameters is refused: the tests below would prove nothing else."""
    marks = ", ".join("?" * (OLD_LIMIT + 1))
    engine = crm.store.engine  # type: ignore[union-attr]
    with pytest.raises(Exception, match="too many SQL variables"), engine.connect() as connection:
        connection.exec_driver_sql(f"SELECT 1 WHERE 1 IN ({marks})", (1,) * (OLD_LIMIT + 1))


def test_segment_pages_and_streams_of_more_ids_than_the_limit(crm: CRM) -> None:
    vip = TagCondition("vip")
    assert len(crm.segments.members(vip, limit=CUSTOMERS).items) == CUSTOMERS // 2
    streamed = list(crm.segments.stream(vip, batch_size=2000))
    assert len(streamed) == CUSTOMERS // 2
    assert all("vip" in c.tags for c in streamed)


def test_a_tag_page_of_more_customers_than_the_limit(crm: CRM) -> None:
    page = crm.customers.list(tag="vip", limit=2000)
    assert len(page.items) == CUSTOMERS // 2
    assert all("vip" in c.tags for c in page.items)


def test_rules_with_lists_at_the_domain_limits(crm: CRM) -> None:
    members = Members({f"c{n:05d}" for n in range(MAX_MEMBERS)})
    assert crm.segments.count(members) == CUSTOMERS
    cities = FieldCondition("city", "in", [f"city {n}" for n in range(MAX_LIST_VALUES)])
    assert crm.segments.count(AnyOf([cities, members, Members({"c00001"})])) == CUSTOMERS


def test_a_refresh_of_a_segment_larger_than_the_limit(crm: CRM) -> None:
    change = crm.segments.refresh(Segment("vips", TagCondition("vip")), batch_size=2000)
    assert len(change.entered) == CUSTOMERS // 2


def test_a_timeline_filter_of_more_kinds_than_the_limit(crm: CRM) -> None:
    kinds = ["purchase", *(f"kind_{n}" for n in range(OLD_LIMIT + 1))]
    assert len(crm.interactions.timeline("c00001", kinds=kinds)) == 1


def test_acknowledging_more_outbox_messages_than_the_limit(crm: CRM) -> None:
    outbox = SqlOutbox(crm.store.engine)  # type: ignore[union-attr]
    assert outbox.acknowledge(range(10**6, 10**6 + OLD_LIMIT + 1)) == 0
