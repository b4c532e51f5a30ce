"""No crmkit error carries a row's personal data beyond the one value it is about: not in its
message, its ``repr``, nor anywhere in its exception chain as ``traceback.format_exception``
prints it for a host's ``logger.exception(...)`` — on SQLite, PostgreSQL and MariaDB, with
the engines crmkit opens and with a host's own engine that does not hide SQL parameters. And
nothing crmkit logs holds personal data.
"""

from __future__ import annotations

import logging
import sqlite3
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, exc, text

from crmkit import CRM, CustomerId, FixedClock, SequentialIds, Settings
from crmkit.adapters.sqlalchemy import SqlStore
from crmkit.adapters.sqlalchemy.failures import storage_errors
from crmkit.domain import Customer, EmailAddress, PhoneNumber, TenantId
from crmkit.errors import ConcurrencyConflict, DuplicateCustomer, StorageError
from crmkit.events import CustomerRegistered
from crmkit.testing.databases import drop_crmkit_tables
from tests.conftest import backend_url

T0 = datetime(2024, 5, 1, tzinfo=UTC)
SERVERS_AND_FILE = ("sqlite_file", "postgresql", "mariadb")
#: Kept out of the test's source lines, which a formatted traceback quotes.
ADA = "ada" + "@mail.test"


def _chain(error: BaseException) -> Iterator[BaseException]:
    """Every exception reachable from ``error``: causes and contexts, suppressed or not."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [current.__cause__, current.__context__, getattr(current, "orig", None)]


def assert_private(error: BaseException, values: list[str]) -> None:
    """None of ``values`` is in the formatted error, nor in any chained one's str or repr."""
    shown = ["".join(traceback.format_exception(error))]
    for chained in _chain(error):
        shown += [str(chained), repr(chained)]
        assert getattr(chained, "params", None) is None, f"{chained!r} keeps its parameters"
    for value in values:
        for text_ in shown:
            assert value not in text_


def _person(n: int, email: str | None = None, shopref: str | None = None) -> Customer:
    return Customer.register(
        CustomerId(f"p{n}"),
        at=T0,
        email=EmailAddress(email or f"person{n}@mail.test"),
        phone=PhoneNumber(f"+4915100000{n:03d}"),
        given_name=f"Givenname{n}",
        family_name=f"Familyname{n}",
        external_ids={"shop": shopref or f"shopref-{n}"},
    )


def _personal(customer: Customer) -> list[str]:
    assert customer.email is not None
    assert customer.phone is not None
    assert customer.given_name is not None
    assert customer.family_name is not None
    return [customer.email.value, customer.phone.e164, customer.given_name, customer.family_name]


def _crm(store: SqlStore) -> CRM:
    return CRM(store, Settings(clock=FixedClock(T0), ids=SequentialIds("t")))


@pytest.fixture
def host_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A host's own engine, made without ``hide_parameters``, on an empty crmkit schema."""
    engine = create_engine(backend_url(str(request.param), tmp_path))
    if engine.dialect.name != "sqlite":
        drop_crmkit_tables(engine)
    yield engine
    engine.dispose()


def _import_with_a_duplicate(crm: CRM, key: str) -> tuple[DuplicateCustomer, list[str]]:
    """Import a batch whose last row repeats a stored customer's email or external id."""
    stored = _person(0)
    crm.customers.import_many([stored])
    batch = [_person(n) for n in range(1, 6)]
    assert stored.email is not None
    if key == "email":
        repeat = _person(6, email=stored.email.value)
    else:
        repeat = _person(6, shopref="shopref-0")
    with pytest.raises(DuplicateCustomer) as caught:
        crm.customers.import_many([*batch, repeat])
    others = [value for c in batch for value in _personal(c)] + [f"shopref-{n}" for n in (1, 5)]
    own = [v for v in _personal(repeat) if v != stored.email.value]  # all but the refused key
    return caught.value, others + own


class TestBulkImport:
    @pytest.mark.parametrize("key", ["email", "external id"])
    def test_a_duplicate_in_a_batch_shows_no_other_row(self, sql_store: SqlStore, key: str) -> None:
        """The whole batch was the statement's parameters; none of it reaches the error."""
        error, private = _import_with_a_duplicate(_crm(sql_store), key)
        assert_private(error, private)

    @pytest.mark.parametrize("host_engine", SERVERS_AND_FILE, indirect=True)
    @pytest.mark.parametrize("key", ["email", "external id"])
    def test_a_hosts_engine_that_shows_parameters_leaks_no_row(
        self, host_engine: Engine, key: str
    ) -> None:
        """A host's engine without hide_parameters: crmkit's errors still carry none."""
        error, private = _import_with_a_duplicate(CRM.from_url(host_engine), key)
        assert_private(error, private)

    def test_a_changed_row_of_a_re_import_names_its_fields_not_their_values(
        self, sql_store: SqlStore
    ) -> None:
        """Re-imported with ``on_existing="skip"``, a stored customer whose row changed is
        refused by the names of the fields that differ: neither its stored values nor its
        new ones, nor the other rows of the batch, reach the error."""
        crm = _crm(sql_store)
        stored = _person(0)
        crm.customers.import_many([stored])
        changed = _person(0, email="changed" + "@mail.test")
        changed.given_name = "Newgiven" + "name"
        batch = [_person(n) for n in range(1, 4)]
        with pytest.raises(DuplicateCustomer) as caught:
            crm.customers.import_many([*batch, changed], batch_size=2, on_existing="skip")
        assert caught.value.differing == ("given_name", "email")
        private = [v for c in (*batch, changed, stored) for v in _personal(c)]
        assert_private(caught.value, [*private, "shopref-0", "shopref-1"])


class TestOtherRefusals:
    @pytest.mark.parametrize("host_engine", SERVERS_AND_FILE, indirect=True)
    def test_a_refused_update_shows_nothing_of_the_customers_row(self, host_engine: Engine) -> None:
        """An update to another customer's email: the row's names and phone stay out (on
        SQLite and MariaDB the duplicate is named while the refusal is being handled)."""
        store = SqlStore(host_engine, migrate=True)
        crm = _crm(store)
        crm.customers.import_many([_person(1), _person(2)])
        second = crm.customers.get("p2")
        second.update_profile(at=T0, email=EmailAddress("person1@mail.test"))
        uow = store.unit_of_work(TenantId("default"))
        with pytest.raises(DuplicateCustomer) as caught, uow:
            uow.customers.update(second)
        assert_private(caught.value, [*_personal(second)[1:], "shopref-2"])

    @pytest.mark.parametrize("host_engine", SERVERS_AND_FILE, indirect=True)
    def test_a_storage_error_quotes_no_row(self, host_engine: Engine) -> None:
        """A failed statement's rows (PostgreSQL quotes the failing row in its DETAIL) stay
        out of the StorageError and of everything it chains."""
        with host_engine.connect() as connection:
            connection.execute(
                text("CREATE TEMPORARY TABLE crmkit_rows (email TEXT, name TEXT NOT NULL)")
            )
            rows = [{"e": "first@mail.test", "n": "First"}, {"e": "second@mail.test", "n": None}]
            with pytest.raises(StorageError) as caught, storage_errors("writing rows"):
                connection.execute(text("INSERT INTO crmkit_rows VALUES (:e, :n)"), rows)
        assert_private(caught.value, ["first@mail.test", "First", "second@mail.test"])

    def test_a_contention_conflict_quotes_no_parameter(self) -> None:
        """ConcurrencyConflict (another writer held the lock) keeps no parameter either."""
        busy = sqlite3.OperationalError("database is locked")
        with pytest.raises(ConcurrencyConflict) as caught, storage_errors("writing customers"):
            raise exc.OperationalError("UPDATE c SET email = ?", (ADA,), busy)
        assert_private(caught.value, [ADA])

    def test_crmkits_engines_hide_parameters(self, sql_store: SqlStore) -> None:
        """The engines crmkit opens are made with hide_parameters=True."""
        assert sql_store.engine.hide_parameters


class TestLogs:
    def test_sql_logging_of_crmkits_engines_shows_no_personal_data(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """With SQLAlchemy's engine logging on, crmkit's engines log statements, not values."""
        crm = CRM.sqlite(tmp_path / "crm.db")
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            crm.customers.register(email="ada@mail.test", given_name="Adelheid")
        assert "INSERT INTO crmkit_customers" in caplog.text
        assert "ada@mail.test" not in caplog.text
        assert "Adelheid" not in caplog.text

    @pytest.mark.usefixtures("production_handlers")
    def test_a_failing_event_handler_is_logged_without_personal_data(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """crmkit's only log line (a subscriber that failed) names the event, whose fields
        are ids, never the customer's data."""
        crm = CRM.in_memory(Settings(clock=FixedClock(T0), ids=SequentialIds("t")))

        def failing(event: CustomerRegistered) -> None:
            raise RuntimeError("the host's handler failed")

        crm.events.subscribe(CustomerRegistered, failing)
        with caplog.at_level(logging.ERROR, logger="crmkit.events"):
            crm.customers.register(email="ada@mail.test", given_name="Adelheid")
        assert "event handler" in caplog.text
        assert "ada@mail.test" not in caplog.text
        assert "Adelheid" not in caplog.text
