"""Every `ConcurrencyConflict` names the aggregate and the version the writer read it at, on
SQLite (a file), PostgreSQL and MariaDB, whichever way the database finds the conflict: a
versioned UPDATE that matches no row (MariaDB), a serialization failure (PostgreSQL) or a
stale snapshot (SQLite's "database is locked", for a write in a read-only unit of work);
for one aggregate and for a batch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import CRM, CustomerId, Settings
from crmkit.adapters.sqlalchemy.subjects import subject_of
from crmkit.domain import PointsLedger
from crmkit.errors import ConcurrencyConflict
from crmkit.testing import strategies as cs
from tests.loyalty_workers import PROGRAMME

A, B = CustomerId("cust-a"), CustomerId("cust-b")


@pytest.fixture
def crm(url: str) -> Iterator[CRM]:
    crm = CRM.from_url(url, Settings(loyalty=PROGRAMME), migrate=False)
    for member, points in ((A, 10), (B, 20)):
        crm.customers.register(customer_id=member)
        crm.loyalty.adjust(member, points, reason="opening balance")
    crm.loyalty.adjust(B, 1, reason="a second entry: B is at another version than A")
    crm.accounts.register(account_id="acct-1", name="Acme")
    yield crm
    assert crm.store is not None
    crm.store.dispose()


def _assert_names(error: ConcurrencyConflict, kind: str, key: Any, version: int) -> None:
    assert error.retryable
    assert error.kind.startswith(kind)
    assert (error.key, error.expected_version) == (key, version)
    assert repr(key) in str(error)
    assert f"version {version}" in str(error)
    assert "None" not in str(error)


def _stale_save(crm: CRM, read: Callable[[Any], Any], save: Callable[[Any, Any], None]) -> Any:
    """Read in one unit of work, let another writer commit, then save the stale copy:
    returns what was read and the conflict.

    The unit is opened read-only, so that the other writers can commit while it is open on
    SQLite (a writing unit would hold the write lock); the servers ignore ``read_only``.
    Its write then meets SQLite's stale snapshot ("database is locked" at once)."""
    with crm.unit_of_work(read_only=True) as uow:
        stale = read(uow)
        crm.loyalty.adjust(B, 1, reason="another writer")
        crm.customers.update(A, given_name="Another")
        crm.accounts.update("acct-1", name="Acme, renamed")
        with pytest.raises(ConcurrencyConflict) as caught:
            save(uow, stale)
    return stale, caught.value


def test_a_stale_ledger_update_names_the_ledger_and_its_version(crm: CRM) -> None:
    ledger, error = _stale_save(
        crm,
        lambda uow: _adjusted(uow.points_ledgers.find(PROGRAMME, B)),
        lambda uow, ledger: uow.points_ledgers.update(ledger),
    )
    _assert_names(error, "points ledger", ("club", B), ledger.version)


def test_a_stale_ledger_saved_alone_in_a_batch_names_it(crm: CRM) -> None:
    ledger, error = _stale_save(
        crm,
        lambda uow: _adjusted(uow.points_ledgers.find(PROGRAMME, B)),
        lambda uow, ledger: uow.points_ledgers.save_many([ledger]),
    )
    _assert_names(error, "points ledger", ("club", B), ledger.version)


def test_a_stale_ledger_in_a_batch_is_named_with_its_version(backend: str, crm: CRM) -> None:
    """A fresh ledger and a stale one saved together: the conflict names one of them at the
    version it was read at; where the database only says that a row was missed (MariaDB),
    crmkit finds the stale one."""

    def read(uow: Any) -> dict[CustomerId, Any]:
        found = uow.points_ledgers.find_many(PROGRAMME, [A, B])
        return {member: _adjusted(ledger) for member, ledger in found.items()}

    ledgers, error = _stale_save(
        crm, read, lambda uow, ledgers: uow.points_ledgers.save_many([ledgers[A], ledgers[B]])
    )
    versions = {("club", member): ledger.version for member, ledger in ledgers.items()}
    assert versions[("club", A)] != versions[("club", B)]
    if backend == "mariadb":
        _assert_names(error, "points ledger", ("club", B), versions[("club", B)])
    else:
        _assert_names(error, "points ledger", error.key, versions.get(error.key, -1))


def test_a_stale_customer_update_names_the_customer_and_its_version(crm: CRM) -> None:
    def save(uow: Any, customer: Any) -> None:
        customer.update_profile(at=crm.settings.clock.now(), family_name="Stale")
        uow.customers.update(customer)

    customer, error = _stale_save(crm, lambda uow: uow.customers.get(A), save)
    _assert_names(error, "customer", A, customer.version)


def test_a_stale_account_update_names_the_account_and_its_version(crm: CRM) -> None:
    def save(uow: Any, account: Any) -> None:
        account.update(at=crm.settings.clock.now(), name="Stale")
        uow.accounts.update(account)

    account, error = _stale_save(crm, lambda uow: uow.accounts.get("acct-1"), save)
    _assert_names(error, "account", "acct-1", account.version)


def test_racing_redemptions_name_the_ledger_and_a_version_in_every_conflict(crm: CRM) -> None:
    """Redemptions racing for one member's points (the retries give up after a few tries,
    so some callers see the conflict): each message names the ledger and a version."""
    crm.loyalty.adjust(A, 1000, reason="plenty")
    start = threading.Barrier(6)
    conflicts: list[ConcurrencyConflict] = []

    def redeem() -> None:
        start.wait(30)
        for _ in range(6):
            try:
                crm.loyalty.redeem(A, points=1)
            except ConcurrencyConflict as error:
                conflicts.append(error)

    threads = [threading.Thread(target=redeem) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for error in conflicts:
        assert error.expected_version is not None
        _assert_names(error, "points ledger", ("club", A), error.expected_version)


def _adjusted(ledger: Any) -> Any:
    assert ledger is not None
    last = ledger.entries[-1].at
    ledger.adjust(1, last, f"stale-{ledger.customer_id}-{ledger.version}", "a stale correction")
    return ledger


AGGREGATES = st.one_of(
    cs.customers(),
    cs.accounts(),
    cs.interactions(),
    cs.stage_histories(),
    cs.segment_snapshots(),
    cs.referrals(),
    st.from_type(PointsLedger),
)


@given(aggregate=AGGREGATES, batch=st.integers(1, 3))
def test_contention_names_whatever_aggregate_was_being_written(aggregate: Any, batch: int) -> None:
    """Any aggregate (or batch of them) handed to a repository is what a conflict reported by
    the database names: its kind, its key and the version it was read at."""
    subject = subject_of(([aggregate] * batch,) if batch > 1 else (aggregate,))
    assert subject is not None
    kind, key, version = subject
    assert version == getattr(aggregate, "version", 0)
    error = ConcurrencyConflict.contention("writing", "database is locked", subject)
    assert (error.kind, error.key, error.expected_version) == (kind, key, version)
    assert error.retryable
    assert str(error).startswith(kind)
    assert ("(new)" if version == 0 else f"(read at version {version})") in str(error)
    assert str(error).endswith(
        "another transaction got in the way while writing: database is locked"
    )
