"""The SQL adapter beyond the contract: opening URLs, migrations, the outbox, the CLI, and
the loyalty tables (points ledgers with their balance rows, referrals)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    inspect,
    select,
)

from crmkit import CRM, Channel, FixedClock, Money, SequentialIds, Settings
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
from crmkit.adapters.sqlalchemy.loyalty.referrals import SqlReferrals
from crmkit.cli import main as cli
from crmkit.domain import (
    ConsentChanged,
    CustomerId,
    CustomerRegistered,
    EntryKind,
    Interaction,
    InteractionId,
    InteractionRecorded,
    PointsLedger,
    Programme,
    Referral,
    SpendRule,
    TenantId,
    Tier,
)
from crmkit.errors import (
    ConcurrencyConflict,
    ConfigurationError,
    NotFound,
    ReferralRefused,
    ValidationError,
)
from crmkit.testing.databases import drop_crmkit_tables
from tests.conftest import backend_url

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _crm(store: SqlStore, tenant: str = "default") -> CRM:
    return CRM(store, Settings(tenant=tenant, clock=FixedClock(T0), ids=SequentialIds(tenant)))


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
        ada = crm.customers.register(email="ada@example.com")
        assert CRM.sqlite(path).customers.get(ada.id) == ada

    def test_crm_from_url_accepts_a_hosts_engine(self, tmp_path: Path) -> None:
        """A host can hand over the Engine it already has."""
        engine = create_engine(f"sqlite:///{tmp_path / 'host.db'}")
        crm = CRM.from_url(engine)
        ada = crm.customers.register(email="ada@example.com")
        assert crm.customers.find_by_email("ada@example.com") == ada


class TestMigrations:
    def test_an_empty_database_upgrades_to_head_without_drift(self, sql_url: str) -> None:
        """The migrated schema matches the table metadata exactly on every backend."""
        engine = open_engine(sql_url)
        try:
            drop_crmkit_tables(engine)
            assert current_revision(engine) is None
            upgrade(engine)
            assert current_revision(engine) == "0008"
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
        ada = _crm(sql_store).customers.register(email="ada@example.com")
        sql_store.upgrade()
        assert _crm(sql_store).customers.get(ada.id) == ada

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
        ada = crm.customers.register(email="ada@example.com")
        crm.consent.record(ada.id, purpose="news", channel="email", status="granted", source="x")
        crm.interactions.record(ada.id, kind="purchase", channel="web", amount=Money(100, "EUR"))
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
            crm.customers.register(email="ada@example.com", traits={"Bad Name": 1})
        ada = crm.customers.register(email="ada@example.com")
        with crm.unit_of_work() as uow:
            customer = uow.customers.get(ada.id)
            customer.update_profile(at=T0, given_name="Ada")
            uow.customers.update(customer)
        assert [type(m.event) for m in sql_store.outbox().fetch()] == [CustomerRegistered]

    def test_relay_acknowledges_only_what_was_sent(self, sql_store: SqlStore) -> None:
        """A failing send leaves that message and later ones pending: at least once."""
        crm = _crm(sql_store)
        for n in range(3):
            crm.customers.register(email=f"p{n}@example.com")
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
        _crm(sql_store, "alpha").customers.register(email="a@example.com")
        _crm(sql_store, "beta").customers.register(email="b@example.com")
        assert [m.tenant for m in sql_store.outbox(tenant="beta").fetch()] == ["beta"]
        assert sql_store.outbox().pending() == 2

    def test_acknowledging_twice_counts_once(self, sql_store: SqlStore) -> None:
        """Acknowledgement is idempotent."""
        _crm(sql_store).customers.register(email="a@example.com")
        outbox = sql_store.outbox()
        messages = outbox.fetch()
        assert outbox.acknowledge(messages) == 1
        assert outbox.acknowledge(messages) == 0
        assert outbox.fetch() == []


class TestStoredValues:
    def test_timestamps_round_trip_to_the_microsecond(self, sql_store: SqlStore) -> None:
        """Far past, far future and microseconds survive storage exactly, in order."""
        crm = _crm(sql_store)
        ada = crm.customers.register(email="ada@example.com")
        moments = [
            datetime(1901, 1, 1, tzinfo=UTC),
            datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            T0 + timedelta(microseconds=1),
            T0,
        ]
        for n, moment in enumerate(moments):
            crm.interactions.record(
                ada.id, kind="note", channel=Channel.EMAIL, occurred_at=moment, external_ref=f"n{n}"
            )
        assert [i.occurred_at for i in crm.interactions.timeline(ada.id)] == sorted(moments)
        window = crm.interactions.timeline(ada.id, since=T0, until=T0 + timedelta(microseconds=1))
        assert [i.occurred_at for i in window] == [T0]

    def test_extreme_amounts_are_exact(self, sql_store: SqlStore) -> None:
        """The largest and most negative amounts and 0-, 3-decimal currencies are exact."""
        crm = _crm(sql_store)
        ada = crm.customers.register(email="ada@example.com")
        amounts = [Money(2**63 - 1, "EUR"), Money(-(2**63 - 1), "JPY"), Money.of("1.234", "KWD")]
        for amount in amounts:  # a purchase's amount is never negative: a host's kind may be
            kind = "purchase" if amount.minor >= 0 else "correction"
            crm.interactions.record(ada.id, kind=kind, channel="web", amount=amount)
        assert [i.amount for i in crm.interactions.timeline(ada.id)] == amounts

    def test_ids_and_tags_are_case_sensitive_on_every_backend(self, sql_store: SqlStore) -> None:
        """'Ada' and 'ada' are different keys (MariaDB's default collation would merge them)."""
        crm = _crm(sql_store)
        upper = crm.customers.register(customer_id="Ada", tags={"x"})
        lower = crm.customers.register(customer_id="ada")
        assert crm.customers.get("Ada") == upper
        assert crm.customers.get("ada") == lower
        assert [c.id for c in crm.customers.list().items] == ["Ada", "ada"]


class TestCommandLine:
    def test_db_upgrade_migrates_and_reports_the_revision(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`crmkit db upgrade --url …` brings an empty database to head."""
        url = f"sqlite:///{tmp_path / 'cli.db'}"
        assert cli(["db", "upgrade", "--url", url]) == 0
        assert "revision 0008" in capsys.readouterr().out
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
            return CRM.in_memory(Settings(clock=FixedClock(T0), ids=SequentialIds()))
        return CRM.sqlite(tmp_path / "crm.db", Settings(clock=FixedClock(T0), ids=SequentialIds()))

    def test_the_crm_outbox_holds_this_tenants_events(self, crm: CRM) -> None:
        """crm.events.outbox() reads the tenant's events; all_tenants=True reads everyone's."""
        crm.customers.register(email="a@example.com")
        crm.for_tenant("other").customers.register(email="b@example.com")
        assert [m.tenant for m in crm.events.outbox().fetch()] == ["default"]
        assert crm.events.outbox(all_tenants=True).pending() == 2

    def test_purging_forgets_delivered_messages_and_never_reuses_positions(self, crm: CRM) -> None:
        """Purge deletes only delivered messages; later messages get new positions."""
        crm.customers.register(email="a@example.com")
        crm.customers.register(email="b@example.com")
        outbox = crm.events.outbox()
        first, second = outbox.fetch()
        outbox.acknowledge([second])
        assert outbox.purge() == 1
        crm.customers.register(email="c@example.com")
        positions = [m.position for m in outbox.fetch()]
        assert positions[0] == first.position
        assert positions[1] > second.position

    def test_a_bad_limit_is_a_validation_error(self, crm: CRM) -> None:
        """fetch refuses a limit outside 1..10000."""
        with pytest.raises(ValidationError):
            crm.events.outbox().fetch(0)


class TestSchemaChecks:
    def test_opening_without_migrating_needs_the_schema(self, tmp_path: Path) -> None:
        """migrate=False on a database crmkit never migrated says to run the upgrade."""
        with pytest.raises(ConfigurationError, match="crmkit db upgrade"):
            CRM.sqlite(tmp_path / "empty.db", migrate=False)
        CRM.sqlite(tmp_path / "empty.db")
        CRM.sqlite(tmp_path / "empty.db", migrate=False).customers.register(customer_id="x")

    def test_a_hosts_sqlite_engine_gets_crmkits_settings(self, tmp_path: Path) -> None:
        """A plain create_engine() is switched to WAL with real BEGINs when crmkit uses it."""
        engine = create_engine(f"sqlite:///{tmp_path / 'host.db'}")
        SqlStore(engine, migrate=True)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"

    def test_external_references_are_case_sensitive(self, sql_store: SqlStore) -> None:
        """'ORDER-1' and 'order-1' are different references on every backend."""
        crm = _crm(sql_store)
        ada = crm.customers.register(email="ada@example.com")
        crm.interactions.record(ada.id, kind="note", channel="web", external_ref="ORDER-1")
        crm.interactions.record(ada.id, kind="note", channel="web", external_ref="order-1")
        assert len(crm.interactions.timeline(ada.id)) == 2


# Loyalty: points ledgers and referrals

SHOP = Programme(
    "shop",
    [SpendRule("per_euro", 1, Money.of("1", "EUR"))],
    tiers=[Tier("silver", 100)],
    pending_days=14,
    expiry_days=60,
)
DAY = timedelta(days=1)


def _purchase(ident: str, customer_id: str, euros: str, when: datetime = T0) -> Interaction:
    return Interaction(
        id=InteractionId(ident),
        customer_id=CustomerId(customer_id),
        occurred_at=when,
        kind="purchase",
        channel=Channel.WEB,
        amount=Money.of(euros, "EUR"),
    )


def _ledger(customer_id: str, *euros: str) -> PointsLedger:
    """A ledger that earned one lot per purchase at T0 (pending until T0 + 14 days)."""
    ledger = PointsLedger(CustomerId(customer_id), SHOP)
    for n, amount in enumerate(euros):
        ledger.earn(_purchase(f"{customer_id}-p{n}", customer_id, amount), T0)
    return ledger


def _stored(store: SqlStore, ledger: PointsLedger) -> PointsLedger:
    with store.unit_of_work(TenantId("default")) as uow:
        uow.points_ledgers.add(ledger)
        uow.commit()
    return ledger


def _entry_count(store: SqlStore) -> int:
    with store.engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(t.points_entries)).scalar_one()
        )


class TestPointsLedgerStorage:
    def test_a_ledger_round_trips_with_its_balance_row(self, sql_store: SqlStore) -> None:
        """add stores the entries and the summary at version 1; find and balance read them."""
        ledger = _stored(sql_store, _ledger("ada", "120", "30"))
        assert ledger.version == 1
        with sql_store.unit_of_work(TenantId("default")) as uow:
            found = uow.points_ledgers.find(SHOP, CustomerId("ada"))
            balance = uow.points_ledgers.balance("shop", CustomerId("ada"))
            assert uow.points_ledgers.find(SHOP, CustomerId("nobody")) is None
            assert uow.points_ledgers.balance("shop", CustomerId("nobody")) is None
            assert uow.points_ledgers.balance("other", CustomerId("ada")) is None
        assert found is not None
        assert found.entries == ledger.entries
        assert found.version == 1
        assert balance == attrs.evolve(ledger.summary(), version=1)
        assert balance.pending == 150
        assert balance.next_due_at == T0 + 14 * DAY

    def test_an_update_appends_only_the_new_entries(self, sql_store: SqlStore) -> None:
        """The balance row follows the ledger; stored entries stay as they were."""
        _stored(sql_store, _ledger("ada", "120"))
        for as_of in (T0 + 14 * DAY, T0 + 20 * DAY):
            with sql_store.unit_of_work(TenantId("default")) as uow:
                ledger = uow.points_ledgers.find(SHOP, CustomerId("ada"))
                assert ledger is not None
                ledger.mature_and_expire(as_of)
                if as_of == T0 + 20 * DAY:
                    ledger.redeem(as_of, "r1", points=20)
                uow.points_ledgers.update(ledger)
                uow.points_ledgers.update(ledger)  # twice in one transaction: nothing new
                uow.commit()
        assert ledger.version == 5  # added, then updated twice in each of two transactions
        assert _entry_count(sql_store) == 3
        with sql_store.unit_of_work(TenantId("default")) as uow:
            found = uow.points_ledgers.find(SHOP, CustomerId("ada"))
            balance = uow.points_ledgers.balance("shop", CustomerId("ada"))
        assert found is not None
        assert found.entries == ledger.entries
        assert balance is not None
        assert (balance.available, balance.pending, balance.entries, balance.version) == (
            100,
            0,
            3,
            5,
        )
        assert balance.tier == "silver"
        assert balance.next_due_at == T0 + 74 * DAY  # the lot's expiry

    def test_an_update_of_a_ledger_read_elsewhere_counts_the_stored_entries(
        self, sql_store: SqlStore
    ) -> None:
        """A ledger read in another unit of work is appended to from the stored count."""
        _stored(sql_store, _ledger("ada", "120"))
        with sql_store.unit_of_work(TenantId("default")) as reader:
            ledger = reader.points_ledgers.find(SHOP, CustomerId("ada"))
        assert ledger is not None
        ledger.mature_and_expire(T0 + 14 * DAY)
        with sql_store.unit_of_work(TenantId("default")) as uow:
            uow.points_ledgers.update(ledger)
            uow.commit()
        assert _entry_count(sql_store) == 2

    def test_a_stale_copy_conflicts_and_a_missing_ledger_is_not_found(
        self, sql_store: SqlStore
    ) -> None:
        """Optimistic concurrency on the balance row; nothing of the loser is written."""
        _stored(sql_store, _ledger("ada", "120"))
        with sql_store.unit_of_work(TenantId("default")) as uow:
            first = uow.points_ledgers.find(SHOP, CustomerId("ada"))
        with sql_store.unit_of_work(TenantId("default")) as uow:
            second = uow.points_ledgers.find(SHOP, CustomerId("ada"))
        assert first is not None
        assert second is not None
        first.mature_and_expire(T0 + 14 * DAY)
        second.adjust(5, T0 + 15 * DAY, "k", "goodwill")
        with sql_store.unit_of_work(TenantId("default")) as uow:
            uow.points_ledgers.update(first)
            uow.commit()
        with sql_store.unit_of_work(TenantId("default")) as uow:
            with pytest.raises(ConcurrencyConflict):
                uow.points_ledgers.update(second)
            with pytest.raises(NotFound):
                uow.points_ledgers.update(_ledger("nobody", "10"))
            with pytest.raises(ConcurrencyConflict):
                uow.points_ledgers.add(_ledger("ada"))
            with pytest.raises(ValidationError):
                uow.points_ledgers.add(first)  # not version 0
        assert _entry_count(sql_store) == 2

    def test_changed_stored_entries_are_refused_before_anything_is_written(
        self, sql_store: SqlStore
    ) -> None:
        """Whether the ledger was read in this unit of work or elsewhere, a forged stored
        entry is a ValidationError and the balance row keeps its version."""
        original = _stored(sql_store, _ledger("ada", "120", "30"))
        with sql_store.unit_of_work(TenantId("default")) as elsewhere:
            outside = elsewhere.points_ledgers.find(SHOP, CustomerId("ada"))
        assert outside is not None
        with sql_store.unit_of_work(TenantId("default")) as uow:
            inside = uow.points_ledgers.find(SHOP, CustomerId("ada"))
            assert inside is not None
            for ledger in (inside, outside):
                ledger.entries[0] = attrs.evolve(ledger.entries[0], points=1000)
                ledger.mature_and_expire(T0 + 14 * DAY)
                with pytest.raises(ValidationError, match="append-only"):
                    uow.points_ledgers.update(ledger)
            shortened = _ledger("ada", "120")
            shortened.version = 1
            with pytest.raises(ValidationError, match="append-only"):
                uow.points_ledgers.update(shortened)
            balance = uow.points_ledgers.balance("shop", CustomerId("ada"))
            uow.commit()
        assert balance == attrs.evolve(original.summary(), version=1)
        assert _entry_count(sql_store) == 2

    def test_a_new_entry_reusing_a_stored_key_is_refused(self, sql_store: SqlStore) -> None:
        """An appended entry whose idempotency key an earlier entry has is a ValidationError,
        found without scanning every stored entry."""
        _stored(sql_store, _ledger("ada", "120"))
        with sql_store.unit_of_work(TenantId("default")) as uow:
            ledger = uow.points_ledgers.find(SHOP, CustomerId("ada"))
            assert ledger is not None
            first = ledger.entries[0]
            ledger.entries.append(attrs.evolve(first, seq=1, at=T0 + DAY))
            with pytest.raises(ValidationError, match="keys must be unique"):
                uow.points_ledgers.update(ledger)
        assert _entry_count(sql_store) == 1

    def test_save_many_adds_and_updates_in_one_go(self, sql_store: SqlStore) -> None:
        """New ledgers are added and stored ones updated (read here or elsewhere), as one
        call each would."""
        _stored(sql_store, _ledger("ada", "120"))
        _stored(sql_store, _ledger("bob", "50"))
        with sql_store.unit_of_work(TenantId("default")) as elsewhere:
            bob = elsewhere.points_ledgers.find(SHOP, CustomerId("bob"))
        assert bob is not None
        bob.mature_and_expire(T0 + 14 * DAY)
        with sql_store.unit_of_work(TenantId("default")) as uow:
            ada = uow.points_ledgers.find(SHOP, CustomerId("ada"))
            assert ada is not None
            ada.mature_and_expire(T0 + 14 * DAY)
            ada.redeem(T0 + 14 * DAY, "r1", points=20)
            new = [_ledger(f"new{n}", "10") for n in range(3)]
            uow.points_ledgers.save_many([ada, *new, bob])
            events = uow.commit()
        assert [ledger.version for ledger in (ada, *new, bob)] == [2, 1, 1, 1, 2]
        assert len(events) == 4  # a redemption and three earnings (no tier reached)
        with sql_store.unit_of_work(TenantId("default")) as uow:
            found = uow.points_ledgers.find_many(SHOP, [CustomerId(i) for i in ("ada", "bob")])
            balances = list(uow.points_ledgers.stream_balances("shop"))
        assert found == {CustomerId("ada"): ada, CustomerId("bob"): bob}
        ordered = sorted((ada, *new, bob), key=lambda ledger: ledger.customer_id)
        assert balances == [ledger.summary() for ledger in ordered]
        assert _entry_count(sql_store) == 3 + 2 + 3  # ada, bob, the new ones

    def test_save_many_checks_everything_before_writing(self, sql_store: SqlStore) -> None:
        """A stale, unknown or taken ledger anywhere in the batch: nothing is written."""
        _stored(sql_store, _ledger("ada", "120"))
        with sql_store.unit_of_work(TenantId("default")) as uow:
            stale = uow.points_ledgers.find(SHOP, CustomerId("ada"))
        assert stale is not None
        with sql_store.unit_of_work(TenantId("default")) as uow:
            fresh = uow.points_ledgers.find(SHOP, CustomerId("ada"))
            assert fresh is not None
            fresh.mature_and_expire(T0 + 14 * DAY)
            uow.points_ledgers.update(fresh)
            uow.commit()
        stale.mature_and_expire(T0 + 14 * DAY)
        stranger = _ledger("nobody", "10")
        stranger.version = 1
        cases: list[tuple[list[PointsLedger], type[Exception]]] = [
            ([_ledger("new", "10"), stale], ConcurrencyConflict),
            ([_ledger("new", "10"), stranger], NotFound),
            ([_ledger("new", "10"), _ledger("ada", "10")], ConcurrencyConflict),
        ]
        for batch, error in cases:
            with sql_store.unit_of_work(TenantId("default")) as uow:
                with pytest.raises(error):
                    uow.points_ledgers.save_many(batch)
                uow.commit()
        assert _entry_count(sql_store) == 2
        with sql_store.unit_of_work(TenantId("default")) as uow:
            assert uow.points_ledgers.balance("shop", CustomerId("new")) is None
            twice = _ledger("twice", "10")
            uow.points_ledgers.save_many([twice, twice])  # as add, then update
            uow.commit()
        assert twice.version == 2

    def test_save_many_of_ledgers_read_here_still_refuses_a_stale_version(
        self, sql_store: SqlStore
    ) -> None:
        """Ledgers read in the unit of work are not read again before the bulk UPDATE: a
        writer that got in between is still caught, and nothing of the batch is stored."""
        for name in ("ada", "bob"):
            _stored(sql_store, _ledger(name, "120"))
        # Read-only, so that `early` can commit meanwhile on SQLite (a writing unit of work
        # holds its write lock); its write then meets SQLite's stale snapshot, the servers'
        # version check. The servers ignore read_only.
        with sql_store.unit_of_work(TenantId("default"), read_only=True) as late:
            mine = late.points_ledgers.find_many(SHOP, [CustomerId("ada"), CustomerId("bob")])
            with sql_store.unit_of_work(TenantId("default")) as early:
                theirs = early.points_ledgers.find(SHOP, CustomerId("bob"))
                assert theirs is not None
                theirs.mature_and_expire(T0 + 14 * DAY)
                early.points_ledgers.update(theirs)
                early.commit()
            for ledger in mine.values():
                ledger.mature_and_expire(T0 + 14 * DAY)
            with pytest.raises(ConcurrencyConflict):
                late.points_ledgers.save_many(list(mine.values()))
                late.commit()
        with sql_store.unit_of_work(TenantId("default")) as uow:
            ada = uow.points_ledgers.find(SHOP, CustomerId("ada"))
            bob = uow.points_ledgers.find(SHOP, CustomerId("bob"))
        assert ada is not None
        assert bob is not None
        assert (ada.version, len(ada.entries)) == (1, 1)  # untouched
        assert bob == theirs

    def test_a_rolled_back_update_is_forgotten(self, sql_store: SqlStore) -> None:
        """After a rollback the stored count is asked again: no entry is skipped."""
        _stored(sql_store, _ledger("ada", "120"))
        with sql_store.unit_of_work(TenantId("default")) as uow:
            ledger = uow.points_ledgers.find(SHOP, CustomerId("ada"))
            assert ledger is not None
            ledger.mature_and_expire(T0 + 14 * DAY)
            uow.points_ledgers.update(ledger)
            uow.rollback()
            fresh = uow.points_ledgers.find(SHOP, CustomerId("ada"))
            assert fresh is not None
            fresh.mature_and_expire(T0 + 14 * DAY)
            fresh.adjust(5, T0 + 15 * DAY, "k", "goodwill")
            uow.points_ledgers.update(fresh)
            uow.commit()
        with sql_store.unit_of_work(TenantId("default")) as uow:
            found = uow.points_ledgers.find(SHOP, CustomerId("ada"))
        assert found is not None
        assert found.entries == fresh.entries
        assert [e.kind for e in found.entries] == [EntryKind.EARN, EntryKind.MATURE, "adjust"]

    def test_events_go_to_the_outbox_under_the_members_id(self, sql_store: SqlStore) -> None:
        """A ledger's events are written with its customer id as the aggregate id."""
        ledger = _ledger("ada", "120")
        _stored(sql_store, ledger)
        with sql_store.engine.connect() as connection:
            rows = connection.execute(
                select(t.outbox.c.event_type, t.outbox.c.aggregate_id).order_by(t.outbox.c.position)
            ).all()
        assert sorted(tuple(r) for r in rows) == [("PointsEarned", "ada"), ("TierChanged", "ada")]

    def test_find_many_due_and_stream_balances_read_in_batches(self, sql_store: SqlStore) -> None:
        """Several ledgers: found at once, listed when due, streamed in id order."""
        ids = [f"m{n:02d}" for n in range(7)]
        with sql_store.unit_of_work(TenantId("default")) as uow:
            for n, customer_id in enumerate(ids):
                uow.points_ledgers.add(_ledger(customer_id, *(["10"] if n % 2 else [])))
            uow.commit()
        with sql_store.unit_of_work(TenantId("default")) as uow:
            ledgers = uow.points_ledgers.find_many(SHOP, [*ids, CustomerId("nobody"), ids[0]])
            repo = uow.points_ledgers
            due = repo.due("shop", T0 + 14 * DAY, limit=2)
            rest = repo.due("shop", T0 + 14 * DAY, after=due[-1])
            early = repo.due("shop", T0 + 14 * DAY - timedelta(microseconds=1))
            streamed = list(repo.stream_balances("shop", batch_size=3))
            with pytest.raises(ValidationError):
                repo.due("shop", datetime(2024, 3, 1))  # naive
        assert sorted(ledgers) == ids
        assert all(ledgers[i].version == 1 for i in ids)
        assert [len(ledgers[i].entries) for i in ids] == [0, 1, 0, 1, 0, 1, 0]
        assert due == ["m01", "m03"]
        assert rest == ["m05"]
        assert early == []
        assert [b.customer_id for b in streamed] == ids
        assert [b.pending for b in streamed] == [0, 10, 0, 10, 0, 10, 0]

    def test_ledgers_are_kept_apart_by_tenant_and_programme(self, sql_store: SqlStore) -> None:
        """One member may have a ledger in each programme and tenant."""
        other = attrs.evolve(SHOP, name="club")
        with sql_store.unit_of_work(TenantId("default")) as uow:
            uow.points_ledgers.add(_ledger("ada", "10"))
            uow.points_ledgers.add(PointsLedger(CustomerId("ada"), other))
            uow.commit()
        with sql_store.unit_of_work(TenantId("beta")) as uow:
            assert uow.points_ledgers.find(SHOP, CustomerId("ada")) is None
            assert list(uow.points_ledgers.stream_balances("shop")) == []
            assert uow.points_ledgers.due("shop", T0 + 100 * DAY) == []
        with sql_store.unit_of_work(TenantId("default")) as uow:
            club = uow.points_ledgers.balance("club", CustomerId("ada"))
        assert club is not None
        assert club.entries == 0


class TestReferralStorage:
    def test_referrals_round_trip_and_move_on_with_versions(self, sql_store: SqlStore) -> None:
        """add, get, update, for_referee and by_referrer (oldest first, then by id)."""
        first = Referral.record("r2", "shop", CustomerId("ada"), CustomerId("bob"), T0, code="X")
        second = Referral.record("r1", "shop", CustomerId("ada"), CustomerId("cy"), T0)
        third = Referral.record("r0", "shop", CustomerId("ada"), CustomerId("di"), T0 + DAY)
        with sql_store.unit_of_work(TenantId("default")) as uow:
            for referral in (first, second, third):
                uow.referrals.add(referral)
            uow.commit()
        assert first.version == 1
        with sql_store.unit_of_work(TenantId("default")) as uow:
            stored = uow.referrals.get("r2")
            stored.qualify("p1", T0 + DAY)
            uow.referrals.update(stored)
            uow.commit()
        with sql_store.unit_of_work(TenantId("default")) as uow:
            assert uow.referrals.get("r2") == stored
            assert stored.version == 2
            assert uow.referrals.for_referee("shop", CustomerId("bob")) == stored
            assert uow.referrals.for_referee("shop", CustomerId("ada")) is None
            assert uow.referrals.for_referee("club", CustomerId("bob")) is None
            assert [r.id for r in uow.referrals.by_referrer("shop", CustomerId("ada"))] == [
                "r1",
                "r2",
                "r0",
            ]
            with pytest.raises(NotFound):
                uow.referrals.get("nope")
        with sql_store.engine.connect() as connection:
            types = connection.execute(select(t.outbox.c.event_type, t.outbox.c.aggregate_id))
            assert sorted(tuple(r) for r in types) == [
                ("ReferralChanged", "r0"),
                ("ReferralChanged", "r1"),
                ("ReferralChanged", "r2"),
                ("ReferralChanged", "r2"),
            ]

    def test_a_referee_is_referred_once_per_programme(self, sql_store: SqlStore) -> None:
        """The second referral of a referee is refused; a taken id conflicts."""
        with sql_store.unit_of_work(TenantId("default")) as uow:
            uow.referrals.add(
                Referral.record("r1", "shop", CustomerId("ada"), CustomerId("bob"), T0)
            )
            uow.commit()
        with sql_store.unit_of_work(TenantId("default")) as uow:
            again = Referral.record("r2", "shop", CustomerId("cy"), CustomerId("bob"), T0)
            with pytest.raises(ReferralRefused) as refused:
                uow.referrals.add(again)
            assert refused.value.referee_id == "bob"
            with pytest.raises(ConcurrencyConflict):
                uow.referrals.add(
                    Referral.record("r1", "shop", CustomerId("cy"), CustomerId("di"), T0)
                )
            uow.referrals.add(
                Referral.record("r3", "club", CustomerId("cy"), CustomerId("bob"), T0)
            )
            uow.commit()
        with sql_store.unit_of_work(TenantId("beta")) as uow:  # another tenant
            uow.referrals.add(
                Referral.record("r1", "shop", CustomerId("ada"), CustomerId("bob"), T0)
            )
            uow.commit()

    def test_the_unique_key_refuses_a_referral_the_check_missed(self, sql_store: SqlStore) -> None:
        """A referral committed after the check (simulated: the check is skipped) is still
        refused by the (programme, referee) key, as ReferralRefused."""
        with sql_store.unit_of_work(TenantId("default")) as uow:
            uow.referrals.add(
                Referral.record("r1", "shop", CustomerId("ada"), CustomerId("bob"), T0)
            )
            uow.commit()
        with sql_store.unit_of_work(TenantId("default")) as uow:
            raw = SqlReferrals(uow)
            raw.for_referee = lambda programme, referee_id: None  # type: ignore[method-assign]
            with pytest.raises(ReferralRefused):
                raw.add(Referral.record("r2", "shop", CustomerId("cy"), CustomerId("bob"), T0))
        with sql_store.unit_of_work(TenantId("default")) as uow:
            raw = SqlReferrals(uow)
            raw._version = lambda referral_id: None  # type: ignore[method-assign]
            with pytest.raises(ConcurrencyConflict):
                raw.add(Referral.record("r1", "shop", CustomerId("cy"), CustomerId("di"), T0))

    def test_an_update_may_not_change_who_a_referral_links(self, sql_store: SqlStore) -> None:
        """Programme, referrer and referee stay as added; changing one writes nothing."""
        with sql_store.unit_of_work(TenantId("default")) as uow:
            uow.referrals.add(
                Referral.record("r1", "shop", CustomerId("ada"), CustomerId("bob"), T0)
            )
            uow.commit()
        with sql_store.unit_of_work(TenantId("default")) as uow:
            moved = uow.referrals.get("r1")
            moved.referee_id = CustomerId("cy")
            with pytest.raises(ValidationError):
                uow.referrals.update(moved)
            stored = uow.referrals.get("r1")
        assert (stored.referee_id, stored.version) == ("bob", 1)

    def test_a_stale_referral_conflicts_and_an_unknown_one_is_not_found(
        self, sql_store: SqlStore
    ) -> None:
        """Optimistic concurrency on the referral row."""
        with sql_store.unit_of_work(TenantId("default")) as uow:
            uow.referrals.add(
                Referral.record("r1", "shop", CustomerId("ada"), CustomerId("bob"), T0)
            )
            uow.commit()
        with sql_store.unit_of_work(TenantId("default")) as uow:
            first, second = uow.referrals.get("r1"), uow.referrals.get("r1")
            first.qualify("p1", T0)
            uow.referrals.update(first)
            second.qualify("p2", T0)
            with pytest.raises(ConcurrencyConflict):
                uow.referrals.update(second)
            with pytest.raises(NotFound):
                uow.referrals.update(
                    Referral("zz", "shop", CustomerId("a"), CustomerId("b"), T0, version=1)
                )
            with pytest.raises(ValidationError):
                uow.referrals.add(first)  # not version 0
