"""The SQL adapter beyond the contract: opening URLs, migrations, the outbox, the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, select

from crmkit import CRM, Channel, FixedClock, Money, SequentialIds
from crmkit.adapters.sqlalchemy import (
    VERSION_TABLE,
    SqlStore,
    current_revision,
    masked,
    metadata,
    open_engine,
    upgrade,
)
from crmkit.adapters.sqlalchemy import tables as t
from crmkit.cli import main as cli
from crmkit.domain import ConsentChanged, CustomerRegistered, InteractionRecorded
from crmkit.errors import ConfigurationError, ValidationError
from crmkit.testing.databases import drop_crmkit_tables
from tests.conftest import backend_url

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _crm(store: SqlStore, tenant: str = "default") -> CRM:
    return CRM.from_store(store, tenant=tenant, clock=FixedClock(T0), ids=SequentialIds(tenant))


class TestOpeningDatabases:
    def test_a_malformed_url_is_refused_naming_it(self) -> None:
        """A URL SQLAlchemy cannot parse gives ConfigurationError quoting it."""
        with pytest.raises(ConfigurationError, match="malformed database URL 'not a url'"):
            open_engine("not a url")

    def test_an_unsupported_database_is_refused_with_the_password_masked(self) -> None:
        """Only sqlite, postgresql, mysql and mariadb are accepted; passwords never show."""
        with pytest.raises(ConfigurationError, match="unsupported database 'oracle'") as caught:
            open_engine("oracle://scott:tiger@db/orcl")
        assert "tiger" not in str(caught.value)
        assert "***" in str(caught.value)

    def test_a_missing_driver_names_the_extra_to_install(self) -> None:
        """A URL for a driver that is not installed says which crmkit extra provides one."""
        with pytest.raises(ConfigurationError, match=r"pip install 'crmkit\[mysql\]'"):
            open_engine("mysql+mysqldb://root:pw@127.0.0.1/test")

    def test_an_unreachable_server_is_reported_with_the_password_masked(self) -> None:
        """Connection failures name the URL, not the password."""
        with pytest.raises(ConfigurationError, match="cannot connect to") as caught:
            open_engine("postgresql+psycopg://user:hunter2@127.0.0.1:1/nothing")
        assert "hunter2" not in str(caught.value)

    def test_masking_hides_passwords_even_in_malformed_urls(self) -> None:
        """masked() never returns a password."""
        assert masked("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
        assert "secret" not in masked("weird://u:secret@h:notaport/db")

    def test_a_plain_backend_name_uses_crmkits_driver(self, tmp_path: Path) -> None:
        """'postgresql://' means psycopg 3 and 'mysql://' means PyMySQL."""
        with pytest.raises(ConfigurationError) as caught:
            open_engine("postgresql://u@127.0.0.1:1/x")
        assert "postgresql+psycopg://" in str(caught.value)

    def test_crm_sqlite_creates_the_file_and_schema(self, tmp_path: Path) -> None:
        """CRM.sqlite needs no set-up: the file and the schema appear on first use."""
        path = tmp_path / "new" / "crm.db"
        path.parent.mkdir()
        crm = CRM.sqlite(path)
        ada = crm.register_customer(email="ada@example.com")
        assert CRM.sqlite(path).get_customer(ada.id) == ada

    def test_crm_from_url_accepts_a_hosts_engine(self, tmp_path: Path) -> None:
        """A host can hand over the Engine it already has."""
        engine = create_engine(f"sqlite:///{tmp_path / 'host.db'}")
        crm = CRM.from_url(engine)
        ada = crm.register_customer(email="ada@example.com")
        assert crm.find_customer_by_email("ada@example.com") == ada


class TestMigrations:
    def test_an_empty_database_upgrades_to_head_without_drift(self, sql_url: str) -> None:
        """The migrated schema matches the table metadata exactly on every backend."""
        engine = open_engine(sql_url)
        try:
            drop_crmkit_tables(engine)
            assert current_revision(engine) is None
            upgrade(engine)
            assert current_revision(engine) == "0003"
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection,
                    opts={
                        "compare_type": True,
                        "version_table": VERSION_TABLE,
                        "include_name": lambda name, type_, parents: (
                            type_ != "table" or str(name).startswith("crmkit_")
                        ),
                    },
                )
                assert compare_metadata(context, metadata) == []
        finally:
            engine.dispose()

    def test_upgrading_twice_changes_nothing_and_keeps_data(self, sql_store: SqlStore) -> None:
        """Running the migrations at every start is safe."""
        ada = _crm(sql_store).register_customer(email="ada@example.com")
        sql_store.upgrade()
        assert _crm(sql_store).get_customer(ada.id) == ada

    def test_a_hosts_tables_and_alembic_history_are_left_alone(self, tmp_path: Path) -> None:
        """crmkit keeps its own version table and never touches other tables."""
        engine = create_engine(f"sqlite:///{tmp_path / 'host.db'}")
        host = MetaData()
        orders = Table("orders", host, Column("id", Integer, primary_key=True))
        history = Table("alembic_version", host, Column("version_num", String(32)))
        host.create_all(engine)
        with engine.begin() as connection:
            connection.execute(orders.insert(), [{"id": 1}])
            connection.execute(history.insert(), [{"version_num": "host-rev"}])
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(select(orders.c.id)).scalars().all() == [1]
            assert connection.execute(select(history.c.version_num)).scalar() == "host-rev"
        assert VERSION_TABLE in inspect(engine).get_table_names()


class TestOutbox:
    def test_committed_events_wait_in_commit_order(self, sql_store: SqlStore) -> None:
        """Every event of a committed change is in the outbox, oldest first."""
        crm = _crm(sql_store)
        ada = crm.register_customer(email="ada@example.com")
        crm.record_consent(ada.id, purpose="news", channel="email", status="granted", source="x")
        crm.record_interaction(ada.id, kind="purchase", channel="web", amount=Money(100, "EUR"))
        messages = sql_store.outbox().fetch()
        assert [type(m.event) for m in messages] == [
            CustomerRegistered,
            ConsentChanged,
            InteractionRecorded,
        ]
        assert [m.position for m in messages] == sorted(m.position for m in messages)
        assert {m.aggregate_id for m in messages} == {ada.id}
        assert all(m.tenant == "default" for m in messages)

    def test_a_rolled_back_change_leaves_no_event(self, sql_store: SqlStore) -> None:
        """Events are written in the same transaction as the change, or not at all."""
        crm = _crm(sql_store)
        with pytest.raises(ValidationError):
            crm.register_customer(email="ada@example.com", traits={"Bad Name": 1})
        with crm.unit_of_work() as uow:
            ada = crm.register_customer(email="ada@example.com")
            customer = uow.customers.get(ada.id)
            customer.update_profile(at=T0, given_name="Ada")
            uow.customers.update(customer)
        assert [type(m.event) for m in sql_store.outbox().fetch()] == [CustomerRegistered]

    def test_relay_acknowledges_only_what_was_sent(self, sql_store: SqlStore) -> None:
        """A failing send leaves that message and later ones pending: at least once."""
        crm = _crm(sql_store)
        for n in range(3):
            crm.register_customer(email=f"p{n}@example.com")
        outbox = sql_store.outbox()
        delivered = []

        def flaky(message: object) -> None:
            if len(delivered) == 1:
                raise ConnectionError("broker down")
            delivered.append(message)

        with pytest.raises(ConnectionError):
            outbox.relay(flaky)
        assert outbox.pending() == 2
        assert outbox.relay(delivered.append) == 2
        assert outbox.pending() == 0
        assert len(delivered) == 3

    def test_a_reader_can_be_bound_to_one_tenant(self, sql_store: SqlStore) -> None:
        """Per-tenant readers see only their tenant's events."""
        _crm(sql_store, "alpha").register_customer(email="a@example.com")
        _crm(sql_store, "beta").register_customer(email="b@example.com")
        assert [m.tenant for m in sql_store.outbox(tenant="beta").fetch()] == ["beta"]
        assert sql_store.outbox().pending() == 2

    def test_acknowledging_twice_counts_once(self, sql_store: SqlStore) -> None:
        """Acknowledgement is idempotent."""
        _crm(sql_store).register_customer(email="a@example.com")
        outbox = sql_store.outbox()
        messages = outbox.fetch()
        assert outbox.acknowledge(messages) == 1
        assert outbox.acknowledge(messages) == 0
        assert outbox.fetch() == []


class TestStoredValues:
    def test_timestamps_round_trip_to_the_microsecond(self, sql_store: SqlStore) -> None:
        """Far past, far future and microseconds survive storage exactly, in order."""
        crm = _crm(sql_store)
        ada = crm.register_customer(email="ada@example.com")
        moments = [
            datetime(1901, 1, 1, tzinfo=UTC),
            datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            T0 + timedelta(microseconds=1),
            T0,
        ]
        for n, moment in enumerate(moments):
            crm.record_interaction(
                ada.id, kind="note", channel=Channel.EMAIL, occurred_at=moment, external_ref=f"n{n}"
            )
        assert [i.occurred_at for i in crm.timeline(ada.id)] == sorted(moments)
        window = crm.timeline(ada.id, since=T0, until=T0 + timedelta(microseconds=1))
        assert [i.occurred_at for i in window] == [T0]

    def test_extreme_amounts_are_exact(self, sql_store: SqlStore) -> None:
        """The largest and most negative amounts and 0-, 3-decimal currencies are exact."""
        crm = _crm(sql_store)
        ada = crm.register_customer(email="ada@example.com")
        amounts = [Money(2**63 - 1, "EUR"), Money(-(2**63 - 1), "JPY"), Money.of("1.234", "KWD")]
        for amount in amounts:
            crm.record_interaction(ada.id, kind="purchase", channel="web", amount=amount)
        assert [i.amount for i in crm.timeline(ada.id)] == amounts

    def test_ids_and_tags_are_case_sensitive_on_every_backend(self, sql_store: SqlStore) -> None:
        """'Ada' and 'ada' are different keys (MariaDB's default collation would merge them)."""
        crm = _crm(sql_store)
        upper = crm.register_customer(customer_id="Ada", tags={"x"})
        lower = crm.register_customer(customer_id="ada")
        assert crm.get_customer("Ada") == upper
        assert crm.get_customer("ada") == lower
        assert [c.id for c in crm.list_customers().items] == ["Ada", "ada"]


class TestCommandLine:
    def test_db_upgrade_migrates_and_reports_the_revision(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`crmkit db upgrade --url …` brings an empty database to head."""
        url = f"sqlite:///{tmp_path / 'cli.db'}"
        assert cli(["db", "upgrade", "--url", url]) == 0
        assert "revision 0003" in capsys.readouterr().out
        assert cli(["db", "current", "--url", url]) == 0
        engine = create_engine(url)
        assert t.customers.name in inspect(engine).get_table_names()

    def test_a_bad_url_fails_with_a_message_and_no_traceback(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The CLI turns crmkit errors into one line on stderr and exit code 1."""
        assert cli(["db", "upgrade", "--url", "oracle://u:pw@h/db"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("crmkit: unsupported database")
        assert "pw@" not in err

    def test_no_url_is_a_usage_error(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --url or CRMKIT_DATABASE_URL the CLI says what to give."""
        monkeypatch.delenv("CRMKIT_DATABASE_URL", raising=False)
        assert cli(["db", "upgrade"]) == 2
        assert "--url" in capsys.readouterr().err


def test_backend_urls_skip_with_a_reason_when_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Server tests skip, naming the variable to set, when it is not set."""
    monkeypatch.delenv("CRMKIT_TEST_POSTGRES_URL", raising=False)
    with pytest.raises(pytest.skip.Exception, match="CRMKIT_TEST_POSTGRES_URL"):
        backend_url("postgresql", tmp_path)


class TestOutboxOnEveryStore:
    @pytest.fixture(params=["memory", "sqlite"])
    def crm(self, request: pytest.FixtureRequest, tmp_path: Path) -> CRM:
        if request.param == "memory":
            return CRM.in_memory(clock=FixedClock(T0), ids=SequentialIds())
        return CRM.sqlite(tmp_path / "crm.db", clock=FixedClock(T0), ids=SequentialIds())

    def test_the_crm_outbox_holds_this_tenants_events(self, crm: CRM) -> None:
        """crm.outbox() reads the tenant's events; all_tenants=True reads everyone's."""
        crm.register_customer(email="a@example.com")
        crm.for_tenant("other").register_customer(email="b@example.com")
        assert [m.tenant for m in crm.outbox().fetch()] == ["default"]
        assert crm.outbox(all_tenants=True).pending() == 2

    def test_purging_forgets_delivered_messages_and_never_reuses_positions(self, crm: CRM) -> None:
        """Purge deletes only delivered messages; later messages get new positions."""
        crm.register_customer(email="a@example.com")
        crm.register_customer(email="b@example.com")
        outbox = crm.outbox()
        first, second = outbox.fetch()
        outbox.acknowledge([second])
        assert outbox.purge() == 1
        crm.register_customer(email="c@example.com")
        positions = [m.position for m in outbox.fetch()]
        assert positions[0] == first.position
        assert positions[1] > second.position

    def test_a_bad_limit_is_a_validation_error(self, crm: CRM) -> None:
        """fetch refuses a limit outside 1..10000."""
        with pytest.raises(ValidationError):
            crm.outbox().fetch(0)


class TestSchemaChecks:
    def test_opening_without_migrating_needs_the_schema(self, tmp_path: Path) -> None:
        """migrate=False on a database crmkit never migrated says to run the upgrade."""
        with pytest.raises(ConfigurationError, match="crmkit db upgrade"):
            CRM.sqlite(tmp_path / "empty.db", migrate=False)
        CRM.sqlite(tmp_path / "empty.db")
        CRM.sqlite(tmp_path / "empty.db", migrate=False).register_customer(customer_id="x")

    def test_a_hosts_sqlite_engine_gets_crmkits_settings(self, tmp_path: Path) -> None:
        """A plain create_engine() is switched to WAL with real BEGINs when crmkit uses it."""
        engine = create_engine(f"sqlite:///{tmp_path / 'host.db'}")
        SqlStore(engine, migrate=True)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"

    def test_external_references_are_case_sensitive(self, sql_store: SqlStore) -> None:
        """'ORDER-1' and 'order-1' are different references on every backend."""
        crm = _crm(sql_store)
        ada = crm.register_customer(email="ada@example.com")
        crm.record_interaction(ada.id, kind="note", channel="web", external_ref="ORDER-1")
        crm.record_interaction(ada.id, kind="note", channel="web", external_ref="order-1")
        assert len(crm.timeline(ada.id)) == 2
