"""Every adapter agrees with the in-memory model over random sequences of operations.

The machine is `crmkit.testing.stateful.AdapterStateMachine`. Its budget scales with the
Hypothesis profile (see the root ``conftest.py``): a share of the profile's ``max_examples``,
a fifth for the SQL backends, whose every read is a round trip (under ``ci`` the whole
module takes well under a minute on two cores, servers included).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy import Engine

from crmkit.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from crmkit.adapters.sqlalchemy import SqlStore, metadata
from crmkit.domain import (
    Channel,
    Customer,
    CustomerId,
    DomainEvent,
    EmailAddress,
    Interaction,
    InteractionId,
    InteractionKind,
    Money,
    PointsLedger,
    TenantId,
)
from crmkit.errors import CrmError, UsageError
from crmkit.ports import Publisher, Store
from crmkit.testing.databases import scratch_store
from crmkit.testing.stateful import TENANTS, AdapterStateMachine
from tests.conftest import BACKENDS, backend_url
from tests.workers import private_database


def budget(share: float, steps: int) -> settings:
    """The loaded profile's settings with ``share`` of its examples (at least 2), at most
    ``steps`` steps each, and no deadline: ``thorough`` runs 25 times as many as ``ci``."""
    base = settings()  # the loaded profile's values
    return settings(
        base,
        max_examples=max(2, round(base.max_examples * share)),
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


class InMemoryMachine(AdapterStateMachine):
    """The model against a second in-memory store: proves the machine itself sound."""

    def open_storage(self) -> Store:
        return InMemoryStore()


# The way a third-party adapter's suite uses the machine.
TestInMemoryAdapter = InMemoryMachine.TestCase
TestInMemoryAdapter.settings = budget(share=0.5, steps=50)


def empty(engine: Engine) -> None:
    """Delete the machine's tenants' rows: much faster than dropping and migrating again, and
    it leaves other suites' rows on a shared server alone."""
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete().where(table.c.tenant_id.in_(TENANTS)))


class SqlMachine(AdapterStateMachine):
    """The SQL adapter on one migrated database, emptied at the start of every example."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        super().__init__()

    def open_storage(self) -> Store:
        empty(self.store.engine)
        return self.store


@pytest.fixture(scope="module", params=BACKENDS)
def sql_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlStore]:
    """A migrated database of each SQL backend, shared by this module's tests (servers skip,
    saying why, when their URL is not set). On a server it is a private database: other
    suites may drop the crmkit tables of the shared test database at any time."""
    backend = str(request.param)
    with private_database(backend_url(backend, tmp_path_factory.mktemp(backend))) as url:
        store = scratch_store(url)
        yield store
        store.dispose()


def test_the_sql_adapter_agrees_with_the_model(sql_store: SqlStore) -> None:
    """Random operations leave the SQL adapter and the model with the same data."""
    run_state_machine_as_test(
        lambda: SqlMachine(sql_store),  # type: ignore[arg-type]
        settings=budget(share=0.2, steps=25),
    )


# Sequences the machine reaches only rarely, or avoids so that it can check everything else,
# pinned as examples: the adapter must end as the model does.

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def discard(events: list[DomainEvent]) -> None:
    """Publish events nowhere."""


def outcome(action: Callable[[], object]) -> object:
    """What ``action`` returns, or the name of the crmkit error it raises."""
    try:
        return action()
    except CrmError as error:
        return type(error).__name__


def on_model_and_adapter(
    sql_store: SqlStore, scenario: Callable[[Store], object]
) -> tuple[object, object]:
    """The outcomes of ``scenario`` on a fresh model and on the emptied SQL store."""
    empty(sql_store.engine)
    return (
        outcome(lambda: scenario(InMemoryStore())),
        outcome(lambda: scenario(sql_store)),
    )


def register(store: Store, *customers: Customer) -> None:
    """Store ``customers`` in the first tenant, in one unit of work."""
    with store.unit_of_work(TENANTS[0], discard) as uow:
        for customer in customers:
            uow.customers.add(customer)
        uow.commit()


def race(
    store: Store,
    mine: CustomerId,
    theirs: CustomerId,
    change: dict[str, Any],
) -> str:
    """Load ``mine`` (in a read-only unit of work); let another unit of work save ``theirs``
    meanwhile; then save ``mine`` changed, in a later unit of work."""
    with store.unit_of_work(TENANTS[0], discard, read_only=True) as reader:
        customer = reader.customers.get(mine)
        with store.unit_of_work(TENANTS[0], discard) as second:
            other = second.customers.get(theirs)
            other.update_profile(at=T0, given_name="Theirs")
            second.customers.update(other)
            second.commit()
    with store.unit_of_work(TENANTS[0], discard) as first:
        customer.update_profile(at=T0, **change)
        first.customers.update(customer)
        first.commit()
    return "saved"


def test_a_stale_copy_that_takes_a_used_email_gets_the_retryable_conflict(
    sql_store: SqlStore,
) -> None:
    """Like the model, the adapter reports a stale copy as stale whatever else is wrong."""

    def scenario(store: Store) -> object:
        register(
            store,
            Customer.register(CustomerId("c1"), at=T0, email=EmailAddress("ada@example.com")),
            Customer.register(CustomerId("c2"), at=T0),
        )
        taken = {"email": EmailAddress("ada@example.com")}
        return race(store, CustomerId("c2"), CustomerId("c2"), taken)

    model, adapter = on_model_and_adapter(sql_store, scenario)
    assert model == "ConcurrencyConflict"
    assert adapter == model


def test_interleaved_saves_of_different_customers_both_succeed(sql_store: SqlStore) -> None:
    """Like the model, the adapter lets a copy read before another unit of work saved a
    different customer be saved afterwards (on SQLite too: only versions are compared)."""

    def scenario(store: Store) -> object:
        register(
            store,
            Customer.register(CustomerId("c1"), at=T0),
            Customer.register(CustomerId("c2"), at=T0),
        )
        return race(store, CustomerId("c1"), CustomerId("c2"), {"given_name": "Mine"})

    model, adapter = on_model_and_adapter(sql_store, scenario)
    assert model == "saved"
    assert adapter == model


def test_text_with_a_nul_character_is_stored_or_refused_alike(sql_store: SqlStore) -> None:
    """Text the model accepts (here a string trait holding U+0000, which
    `strategies.customers` sometimes draws) the adapter stores and reads back, or both refuse
    it with the same error."""

    def scenario(store: Store) -> object:
        customer = Customer.register(CustomerId("c1"), at=T0, traits={"note": "a\x00b"})
        register(store, customer)
        with store.unit_of_work(TENANTS[0], discard) as uow:
            return uow.customers.get(CustomerId("c1"))

    model, adapter = on_model_and_adapter(sql_store, scenario)
    assert adapter == model


def test_an_interaction_with_a_zero_amount_reads_back_equal(sql_store: SqlStore) -> None:
    """Like the model, the adapter keeps a zero amount (a free order) as zero, not as none."""

    def scenario(store: Store) -> object:
        free = Interaction(
            id=InteractionId("i1"),
            customer_id=CustomerId("c1"),
            occurred_at=T0,
            kind=InteractionKind.PURCHASE,
            channel=Channel.WEB,
            amount=Money(0, "EUR"),
        )
        with store.unit_of_work(TENANTS[0], discard) as uow:
            uow.interactions.add(free)
            uow.commit()
        with store.unit_of_work(TENANTS[0], discard) as uow:
            return uow.interactions.get(InteractionId("i1")).amount

    model, adapter = on_model_and_adapter(sql_store, scenario)
    assert model == Money(0, "EUR")
    assert adapter == model


# The machine itself is tested: adapters with a planted bug must fail it.


class CommitsWhatItAbandons(InMemoryUnitOfWork):
    """Commits on leaving the block, even without `commit`."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        super().__exit__(exc_type, exc, tb)


class _Customers:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class LastWriterWins(InMemoryUnitOfWork):
    """Saves a stale copy over a newer one instead of raising `ConcurrencyConflict`."""

    def __init__(self, store: InMemoryStore, tenant: TenantId, publish: Publisher) -> None:
        super().__init__(store, tenant, publish)
        self.customers = _Overwriting(self.customers)  # type: ignore[assignment]


class _Overwriting(_Customers):
    def update(self, customer: Customer) -> None:
        stored = self._inner.find(customer.id)
        if stored is not None:
            customer.version = stored.version
        self._inner.update(customer)


class LeaksAcrossTenants(InMemoryUnitOfWork):
    """Finds a customer by email in the other tenant when this one has none."""

    def __init__(self, store: InMemoryStore, tenant: TenantId, publish: Publisher) -> None:
        super().__init__(store, tenant, publish)
        other = TENANTS[1] if tenant == TENANTS[0] else TENANTS[0]
        open_other = functools.partial(InMemoryUnitOfWork, store, other)
        self.customers = _Leaky(self.customers, open_other)  # type: ignore[assignment]


class _Leaky(_Customers):
    def __init__(self, inner: Any, open_other: Callable[[], InMemoryUnitOfWork]) -> None:
        super().__init__(inner)
        self._open_other = open_other

    def find_by_email(self, email: EmailAddress) -> Customer | None:
        found: Customer | None = self._inner.find_by_email(email)
        if found is None:
            with self._open_other() as other:
                found = other.customers.find_by_email(email)
        return found


class KeepsAStaleBalance(InMemoryUnitOfWork):
    """Appends a points ledger's new entries, but leaves the balance stored beside it as it
    was (only its version moves on)."""

    def __init__(self, store: InMemoryStore, tenant: TenantId, publish: Publisher) -> None:
        super().__init__(store, tenant, publish)
        self.points_ledgers = _StaleBalances(self.points_ledgers, self)  # type: ignore[assignment]


class _StaleBalances(_Customers):
    def __init__(self, inner: Any, uow: InMemoryUnitOfWork) -> None:
        super().__init__(inner)
        self._uow = uow

    def save_many(self, ledgers: list[PointsLedger]) -> None:
        for ledger in ledgers:
            if ledger.version == 0:
                self._inner.add(ledger)
            else:
                self.update(ledger)

    def update(self, ledger: PointsLedger) -> None:
        key = (ledger.programme.name, ledger.customer_id)
        stored = self._uow._ledger(key)
        self._inner.update(ledger)
        base, (entries, summary, tally) = self._uow._ledgers[key]
        if stored is not None:
            stale = attrs.evolve(stored[1], version=summary.version)
            self._uow._ledgers[key] = (base, (entries, stale, tally))


@pytest.mark.parametrize(
    "broken", [CommitsWhatItAbandons, LastWriterWins, LeaksAcrossTenants, KeepsAStaleBalance]
)
def test_the_machine_catches_a_broken_adapter(broken: type[InMemoryUnitOfWork]) -> None:
    """An adapter that breaks atomicity, optimistic concurrency, tenancy or the stored points
    balances is caught."""

    class BrokenStore(InMemoryStore):
        def unit_of_work(
            self, tenant: TenantId, publish: Publisher | None = None, *, read_only: bool = False
        ) -> InMemoryUnitOfWork:
            return broken(self, tenant, publish)

    class BrokenMachine(AdapterStateMachine):
        def open_storage(self) -> Store:
            return BrokenStore()

    quick = settings(
        max_examples=100,
        stateful_step_count=50,
        phases=[Phase.generate],
        derandomize=True,
        database=None,
        deadline=None,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    with pytest.raises(AssertionError, match="the adapter disagrees with the model"):
        run_state_machine_as_test(BrokenMachine, settings=quick)


def test_a_machine_without_storage_says_what_to_override() -> None:
    """Forgetting to override `open_storage` fails with a message that says so."""
    with pytest.raises(UsageError, match=r"must override open_storage\(\)"):
        AdapterStateMachine()
