"""Every backend stores what the domain accepts and compares it as the domain does.

- Values at every domain limit (the longest names, 100 list items of 2,000 characters, 50
  metadata values of 1,000, many contact points …) are written and read back equal.
- Decimal traits equal to simpler ones (``1.000…``, ``0E-50``, ``-0``) are found by segment
  equality and ``in`` lists, as in memory; migration 0005 rewrites the ones stored before.
- On MySQL/MariaDB every crmkit column compares exactly (binary, NO PAD), also after
  migrating a database created with the old PAD SPACE collation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Final

import pytest
from sqlalchemy import Engine, select, text

from crmkit.adapters.sqlalchemy import SqlStore, open_engine, upgrade
from crmkit.adapters.sqlalchemy import tables as t
from crmkit.domain import (
    Account,
    AccountId,
    AccountLink,
    Channel,
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    InteractionId,
    LifecycleModel,
    MembershipChange,
    Money,
    PhoneNumber,
    PointsLedger,
    PostalAddress,
    Programme,
    Referral,
    SegmentSnapshot,
    SpendRule,
    StageHistory,
    TenantId,
)
from crmkit.domain.customers.customer import MAX_OTHER_CONTACTS
from crmkit.domain.customers.traits import MAX_LIST_ITEMS, MAX_TRAIT_TEXT
from crmkit.domain.rules.leaves import MAX_LIST_VALUES, TraitCondition
from crmkit.domain.values.money import MAX_MINOR
from crmkit.segments import Condition, trait
from crmkit.testing.databases import drop_crmkit_tables
from tests.conftest import backend_url

T0 = datetime(2024, 1, 1, tzinfo=UTC)
AS_OF = T0 + timedelta(days=1)
SQL_BACKENDS = ("sqlite_file", "postgresql", "mariadb")


def chars(n: int, pattern: str = "é😀a") -> str:
    """``n`` characters of 1-, 2- and 4-byte UTF-8 (the 4-byte ones outside the BMP)."""
    return (pattern * n)[:n]


def slug(n: int, head: str = "s") -> str:
    return (head + "x" * n)[:n]


def ident(n: int, head: str) -> str:
    return (head + "0" * n)[:n]


# Values at the limits.

TENANT = TenantId(slug(63, "t"))
MODEL = LifecycleModel(
    slug(64, "m"),
    stages=[slug(64, "a"), slug(64, "b")],
    transitions=[(slug(64, "a"), slug(64, "b"))],
)
PROGRAMME = Programme(slug(64, "p"), [SpendRule(slug(64, "r"), 1, Money.of("1.00", "EUR"))])
MAX_EMAIL = "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 58]) + ".de"
CONTACTS = MAX_OTHER_CONTACTS  # all in one JSON column


def widest_customer() -> Customer:
    assert len(MAX_EMAIL) == 254
    return Customer.register(
        CustomerId(ident(64, "c")),
        at=T0,
        given_name=chars(200),
        family_name=chars(200, "😀"),
        email=EmailAddress(MAX_EMAIL),
        phone=PhoneNumber("+" + "1" * 15),
        other_contacts=[
            ContactPoint(EmailAddress(f"p{n}@example.com"), chars(200)) for n in range(CONTACTS)
        ],
        address=PostalAddress(
            "DE",
            lines=[chars(200)] * 5,
            city=chars(200),
            region=chars(200),
            postal_code=chars(200),
        ),
        locale="yue-Hant-419",
        tags={f"{n:03d}" + chars(97) for n in range(100)},
        traits={
            "text": chars(MAX_TRAIT_TEXT),
            "list": tuple(chars(MAX_TRAIT_TEXT, p) for p in ["😀", "é", '\\"', "a"] * 25),
            "count": -MAX_MINOR,
            "ratio": Decimal("-9." + "9" * 200 + "E+30"),
            "tiny": Decimal("1E-30"),
            slug(64, "n"): MAX_MINOR,
        },
        consents=[
            ConsentRecord(
                slug(64, "c"), Channel.EMAIL, "granted", T0, chars(500), chars(500), chars(500)
            )
        ],
        external_ids={slug(64, "e"): chars(200), "shop": chars(200, "😀")},
        account=AccountLink(AccountId(ident(64, "a")), slug(64, "r")),
    )


def widest_interaction(customer_id: str) -> Interaction:
    return Interaction(
        id=InteractionId(ident(64, "i")),
        customer_id=CustomerId(customer_id),
        occurred_at=T0,
        kind=slug(64, "k"),
        channel=Channel.IN_PERSON,
        amount=Money(MAX_MINOR, "EUR"),
        owner=chars(500),
        team=chars(500),
        campaign=chars(500),
        metadata={f"{n:02d}" + "k" * 62: chars(1000, "é") for n in range(50)},
        external_ref=chars(200),
    )


def _store(backend: str, tmp_path: Path) -> Any:
    if backend == "memory":
        from crmkit.adapters.memory import InMemoryStore

        return InMemoryStore()
    from crmkit.testing.databases import scratch_store

    return scratch_store(backend_url(backend, tmp_path))


@pytest.fixture(params=("memory", *SQL_BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty store of each adapter in turn."""
    opened = _store(str(request.param), tmp_path)
    yield opened
    if hasattr(opened, "dispose"):
        opened.dispose()


class TestValuesAtTheDomainsLimits:
    def test_a_customer_at_every_limit_reads_back_equal(self, store: Any) -> None:
        """The longest text of every field, the most tags and list items, many contacts."""
        customer = widest_customer()
        with store.unit_of_work(TENANT) as tx:
            tx.customers.add(customer)
            tx.commit()
        with store.unit_of_work(TENANT) as tx:
            stored = tx.customers.get(customer.id)
            assert stored == customer
            found = tx.customers.find_by_external_id("shop", chars(200, "😀"))
            assert found is not None
            assert found.id == customer.id

    def test_an_interaction_at_every_limit_reads_back_equal(self, store: Any) -> None:
        """50 metadata values of 1,000 two-byte characters, the longest texts and reference."""
        customer = widest_customer()
        interaction = widest_interaction(customer.id)
        with store.unit_of_work(TENANT) as tx:
            tx.customers.add(customer)
            tx.interactions.add(interaction)
            tx.commit()
        with store.unit_of_work(TENANT) as tx:
            assert tx.interactions.get(interaction.id) == interaction
            assert tx.interactions.find_by_external_ref(chars(200)) == interaction

    def test_accounts_histories_ledgers_referrals_and_snapshots_at_their_limits(
        self, store: Any
    ) -> None:
        """The longest names, domains, reasons, actors, codes and slugs of the other records."""
        customer = widest_customer()
        account = Account.register(
            AccountId(ident(64, "a")),
            name=chars(500),
            at=T0,
            domain=".".join(["b" * 63, "c" * 63, "d" * 63, "e" * 57]) + ".de",
            industry=chars(500),
        )
        assert account.domain is not None
        assert len(account.domain) == 254 - len("x@")
        history = StageHistory.enter(MODEL, customer.id, at=T0, reason=chars(500), actor=chars(200))
        history.move(MODEL, slug(64, "b"), at=AS_OF, reason=chars(500), actor=chars(200))
        ledger = PointsLedger(customer.id, PROGRAMME)
        ledger.earn(widest_interaction(customer.id), at=T0)
        referral = Referral.record(
            ident(64, "r"), PROGRAMME.name, customer.id, CustomerId(ident(64, "d")), T0,
            code=chars(500),
        )  # fmt: skip
        segment = slug(64, "v")
        snapshot = SegmentSnapshot.empty(segment, T0)
        snapshot.refresh(MembershipChange(segment, T0, [customer.id], members=1))
        with store.unit_of_work(TENANT) as tx:
            tx.customers.add(customer)
            tx.accounts.add(account)
            tx.stage_histories.add(history)
            tx.points_ledgers.add(ledger)
            tx.referrals.add(referral)
            tx.segment_memberships.add(snapshot)
            tx.commit()
        with store.unit_of_work(TENANT) as tx:
            assert tx.accounts.get(account.id) == account
            assert tx.stage_histories.get(MODEL.name, customer.id).changes == history.changes
            stored = tx.points_ledgers.find(PROGRAMME, customer.id)
            assert stored is not None
            assert stored.entries == ledger.entries
            assert tx.referrals.get(referral.id).code == chars(500)
            assert tx.segment_memberships.contains(segment, customer.id)


# Decimals.


def _decimal_customers(tx: Any, values: dict[str, Decimal]) -> None:
    for cid, value in values.items():
        tx.customers.add(Customer.register(CustomerId(cid), at=T0, traits={"dec": value}))
    tx.customers.add(Customer.register(CustomerId("none"), at=T0))
    tx.commit()


def _matching(tx: Any, rule: Condition) -> list[str]:
    return list(tx.customers.matching_ids(rule, as_of=AS_OF, limit=100).items)


DECIMALS: Final = {
    "one_40_zeros": Decimal("1." + "0" * 40),
    "zero_e_minus_50": Decimal("0E-50"),
    "minus_zero": Decimal("-0.000"),
    "two_25_zeros": Decimal("2." + "0" * 25),
    "hundred": Decimal("1E+2"),
    "big": Decimal("1E+30"),
    "tiny": Decimal("-1.000E-30"),
}


class TestDecimalTraits:
    def test_equal_decimals_are_found_whatever_their_form(self, store: Any) -> None:
        """``==``, ``!=``, ``in`` and ``not in`` agree with Python's decimal equality."""
        with store.unit_of_work(TENANT) as tx:
            _decimal_customers(tx, DECIMALS)
        everyone = sorted([*DECIMALS, "none"])
        with store.unit_of_work(TENANT) as tx:
            assert _matching(tx, trait("dec") == Decimal(1)) == ["one_40_zeros"]
            assert _matching(tx, trait("dec") == Decimal("1.0")) == ["one_40_zeros"]
            assert _matching(tx, trait("dec") == Decimal(0)) == ["minus_zero", "zero_e_minus_50"]
            assert _matching(tx, trait("dec") == Decimal("-0E+7")) == [
                "minus_zero",
                "zero_e_minus_50",
            ]
            assert _matching(tx, trait("dec") == Decimal("100.00")) == ["hundred"]
            assert _matching(tx, trait("dec") == Decimal("1" + "0" * 30)) == ["big"]
            assert _matching(tx, trait("dec") == Decimal("-1E-30")) == ["tiny"]
            assert _matching(tx, trait("dec") != Decimal(1)) == [
                c for c in everyone if c not in ("one_40_zeros", "none")
            ]
            assert _matching(tx, trait("dec") == Decimal("1E+999999999")) == []

    def test_a_long_in_list_finds_a_value_with_many_trailing_zeros(self, store: Any) -> None:
        """A list of `MAX_LIST_VALUES` decimals finds ``2.000…`` (25 zeros) by its ``2``."""
        with store.unit_of_work(TENANT) as tx:
            _decimal_customers(tx, DECIMALS)
        many = [Decimal(0), Decimal(2), *(Decimal(n) + Decimal("0.5") for n in range(998))]
        assert len(many) == MAX_LIST_VALUES
        with store.unit_of_work(TENANT) as tx:
            found = _matching(tx, TraitCondition("dec", "decimal", "in", many))
            assert found == ["minus_zero", "two_25_zeros", "zero_e_minus_50"]
            left = _matching(tx, TraitCondition("dec", "decimal", "not_in", many))
            assert left == ["big", "hundred", "one_40_zeros", "tiny"]

    def test_decimal_traits_read_back_in_their_canonical_form(self, store: Any) -> None:
        """Every backend gives back the same decimal, written the same way."""
        with store.unit_of_work(TENANT) as tx:
            _decimal_customers(tx, DECIMALS)
        with store.unit_of_work(TENANT) as tx:
            read = {cid: str(tx.customers.get(CustomerId(cid)).traits["dec"]) for cid in DECIMALS}
        assert read == {
            "one_40_zeros": "1",
            "zero_e_minus_50": "0",
            "minus_zero": "0",
            "two_25_zeros": "2",
            "hundred": "100",
            "big": "1" + "0" * 30,
            "tiny": "-1E-30",
        }


# Migration 0005 on databases made before it.


@pytest.fixture(params=SQL_BACKENDS)
def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database of the backend with crmkit's schema at revision 0004."""
    engine = open_engine(backend_url(str(request.param), tmp_path))
    drop_crmkit_tables(engine)
    upgrade(engine, "0004")
    yield engine
    drop_crmkit_tables(engine)
    engine.dispose()


def _old_decimal_rows(engine: Engine, texts: dict[str, str]) -> None:
    with engine.begin() as connection:
        for cid, value in texts.items():
            connection.execute(
                t.customers.insert().values(
                    tenant_id="alpha", id=cid, version=1, created_at_us=0, updated_at_us=0
                )
            )
            connection.execute(
                t.traits.insert().values(
                    tenant_id="alpha", customer_id=cid, name="dec", type="decimal", value_text=value
                )
            )


class TestMigration0005:
    OLD: ClassVar = {
        "c1": "1.000",
        "c2": "0E-50",
        "c3": "-0",
        "c4": "1E+2",
        "c5": "2.50",
        "c6": "7",
    }

    def test_it_rewrites_stored_decimals_in_canonical_form(self, old_engine: Engine) -> None:
        """Decimals written by older crmkit are found by equality after the upgrade."""
        _old_decimal_rows(old_engine, self.OLD)
        upgrade(old_engine)
        with old_engine.connect() as connection:
            query = select(t.traits.c.customer_id, t.traits.c.value_text)
            stored = dict(connection.execute(query).all())
        assert stored == {"c1": "1", "c2": "0", "c3": "0", "c4": "100", "c5": "2.5", "c6": "7"}
        store = SqlStore(old_engine)
        with store.unit_of_work(TenantId("alpha")) as tx:
            assert _matching(tx, trait("dec") == Decimal(1)) == ["c1"]
            assert _matching(tx, trait("dec") == Decimal(0)) == ["c2", "c3"]
            assert _matching(tx, trait("dec").is_in([Decimal(100), Decimal("2.5")])) == [
                "c4",
                "c5",
            ]

    def test_it_makes_mysql_keys_exact_and_keeps_their_rows(self, old_engine: Engine) -> None:
        """On MySQL/MariaDB, ``X1`` stored before the upgrade stands beside ``X1 `` after it."""
        if old_engine.dialect.name not in ("mysql", "mariadb"):
            pytest.skip("only MySQL and MariaDB had a padding collation")
        store = SqlStore(old_engine)
        alpha = TenantId("alpha")
        with old_engine.begin() as connection:  # rows as revision 0004 holds them
            connection.execute(
                t.customers.insert().values(
                    tenant_id="alpha", id="c1", version=1, created_at_us=0, updated_at_us=0
                )
            )
            connection.execute(
                t.external_ids.insert().values(
                    tenant_id="alpha", source="s", external_id="X1", customer_id="c1"
                )
            )
        upgrade(old_engine)
        with store.unit_of_work(alpha) as tx:
            assert tx.customers.find_by_external_id("s", "X1 ") is None
            tx.customers.add(Customer.register(CustomerId("c2"), at=T0, external_ids={"s": "X1 "}))
            tx.commit()
        with store.unit_of_work(alpha) as tx:
            assert [tx.customers.find_by_external_id("s", x).id for x in ("X1", "X1 ")] == [  # type: ignore[union-attr]
                "c1",
                "c2",
            ]
        assert_exact_mysql_schema(old_engine)


def assert_exact_mysql_schema(engine: Engine) -> None:
    """Every crmkit table and text column of a MySQL/MariaDB database compares exactly
    (binary, NO PAD), and JSON/text columns are LONGTEXT."""
    expected = t.mysql_collation(engine.dialect)
    with engine.connect() as connection:
        tables = connection.execute(
            text(
                "SELECT table_name, table_collation FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name LIKE 'crmkit\\_%' "
                "AND table_name != 'crmkit_alembic_version'"
            )
        ).all()
        columns = connection.execute(
            text(
                "SELECT table_name, column_name, collation_name, data_type "
                "FROM information_schema.columns WHERE table_schema = DATABASE() "
                "AND table_name LIKE 'crmkit\\_%' AND table_name != 'crmkit_alembic_version' "
                "AND collation_name IS NOT NULL"
            )
        ).all()
    assert len(tables) == len(t.metadata.tables)
    assert {row[1] for row in tables} == {expected}
    assert {row[2] for row in columns} == {expected}
    assert {row[3] for row in columns} <= {"varchar", "char", "longtext"}
    assert sum(row[3] == "longtext" for row in columns) == 7  # the ledger heads (0008) included


def test_a_fresh_mysql_schema_compares_exactly(tmp_path: Path) -> None:
    """A database migrated from empty has only exact collations (MariaDB, or MySQL 8)."""
    engine = open_engine(backend_url("mariadb", tmp_path))
    try:
        drop_crmkit_tables(engine)
        upgrade(engine)
        assert_exact_mysql_schema(engine)
    finally:
        engine.dispose()


def test_old_mysql_without_a_no_pad_collation_is_refused() -> None:
    """MySQL before 8.0 cannot compare keys exactly: crmkit says so instead of guessing."""
    from crmkit.errors import ConfigurationError

    class OldMySQL:
        is_mariadb = False
        server_version_info = (5, 7, 44)

    with pytest.raises(ConfigurationError, match=r"MySQL 8\.0"):
        t.mysql_collation(OldMySQL())
    assert t.mysql_collation(type("M", (), {"is_mariadb": True})()) == "utf8mb4_nopad_bin"
    assert t.mysql_collation(type("M", (), {"server_version_info": (8, 0, 36)})()) == (
        "utf8mb4_0900_bin"
    )


def test_the_limits_test_uses_the_domains_limits() -> None:
    """The widest values really are the limits: one more is refused."""
    from crmkit.errors import ValidationError

    assert len(widest_customer().traits["list"]) == MAX_LIST_ITEMS  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Customer.register(CustomerId("x"), at=T0, given_name=chars(201))
    with pytest.raises(ValidationError):
        Customer.register(CustomerId("x"), at=T0, traits={"t": chars(MAX_TRAIT_TEXT + 1)})
    with pytest.raises(ValidationError):
        widest_interaction("c").__class__(
            id=InteractionId("i"),
            customer_id=CustomerId("c"),
            occurred_at=T0,
            kind="purchase",
            channel=Channel.WEB,
            metadata={"k": chars(1001)},
        )
