"""The SQL schema: SQLAlchemy Core tables, every one prefixed ``crmkit_``.

Choices that keep the three backends (SQLite, PostgreSQL, MariaDB) exact and identical:

- every table carries ``tenant_id``, and it leads every primary key and index, so each
  query of one tenant reads only that tenant's part of each index;
- timestamps are BIGINT microseconds since the Unix epoch, UTC: exact, ordered the same way
  everywhere, free of session time zones and of SQLite's lack of a datetime type;
- money is a BIGINT of minor units plus a CHAR(3) currency, never ``Numeric`` or float;
- JSON and free text live in unbounded text columns (LONGTEXT on MySQL/MariaDB, whose TEXT
  holds only 64 KiB), and every ``VARCHAR(n)`` holds the domain's longest value of that field
  (``n`` counts characters on every backend);
- constraints have explicit names, so errors can be mapped and migrations stay stable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

from crmkit.errors import ConfigurationError

__all__ = [
    "MARIADB_COLLATION",
    "MYSQL_COLLATION",
    "PREFIX",
    "accounts",
    "consents",
    "customers",
    "external_ids",
    "interactions",
    "metadata",
    "mysql_collation",
    "outbox",
    "points_balances",
    "points_entries",
    "referrals",
    "segment_members",
    "segment_snapshots",
    "stage_changes",
    "stage_histories",
    "tags",
    "traits",
]

PREFIX = "crmkit_"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TENANT = 63
ID = 64
TEXT = 500
SLUG = 64  # model, stage and rule names (crmkit.domain._checks.SLUG)

# Text compares by code point on every backend, as in Python: PostgreSQL's "C" collation and a
# binary NO PAD collation on MySQL/MariaDB, so ordering, keyset pagination, equality and unique
# keys agree with the domain. A case-insensitive default would make "Ada" and "ada" the same
# key, and a PAD SPACE one (``utf8mb4_bin``) "X1" and "X1 ". MariaDB calls it
# ``utf8mb4_nopad_bin``, MySQL 8 ``utf8mb4_0900_bin``; the migrations choose by the server
# actually connected (see `mysql_collation`), these options only describe the result.
MARIADB_COLLATION = "utf8mb4_nopad_bin"
MYSQL_COLLATION = "utf8mb4_0900_bin"
_MYSQL: dict[str, Any] = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": MYSQL_COLLATION,
    "mariadb_charset": "utf8mb4",  # the mariadb dialect reads its own prefix
    "mariadb_collate": MARIADB_COLLATION,
}


def mysql_collation(dialect: Any) -> str:
    """The exact (binary, NO PAD) collation of the MySQL-family server behind ``dialect``.

    A ``mysql://`` URL may reach a MariaDB server, so this asks the dialect what it found
    (``is_mariadb``) rather than trusting the URL's name. MySQL before 8.0 has no NO PAD
    collation at all, and is refused.
    """
    if getattr(dialect, "is_mariadb", False):
        return MARIADB_COLLATION
    version = tuple(getattr(dialect, "server_version_info", None) or (0,))
    if version < (8, 0):
        raise ConfigurationError(
            f"crmkit needs MariaDB 10.2+ or MySQL 8.0+ (found MySQL {version!r}): older MySQL "
            "has no binary NO PAD collation, so 'x' and 'x ' would be the same key"
        )
    return MYSQL_COLLATION


def _str(length: int) -> String:
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _char(length: int) -> CHAR:
    return CHAR(length).with_variant(CHAR(length, collation="C"), "postgresql")


def _text() -> Text:
    return (
        Text()
        .with_variant(Text(collation="C"), "postgresql")
        .with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
    )


def _tenant() -> Column[str]:
    return Column("tenant_id", _str(TENANT), nullable=False)


customers = Table(
    f"{PREFIX}customers",
    metadata,
    _tenant(),
    Column("id", _str(ID), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("given_name", _str(200)),
    Column("family_name", _str(200)),
    Column("email", _str(254)),
    Column("phone", _str(16)),  # E.164, the lookup key; its extension beside it
    Column("phone_extension", _str(20)),
    Column("other_contacts", _text()),  # JSON list; never queried
    Column("address_country", _char(2)),
    Column("address_lines", _text()),  # JSON list
    Column("address_city", _str(200)),
    Column("address_region", _str(200)),
    Column("address_postal_code", _str(200)),
    Column("locale", _str(35)),
    Column("account_id", _str(ID)),
    Column("account_role", _str(64)),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "email"),
    Index(None, "tenant_id", "account_id"),
    **_MYSQL,
)

tags = Table(
    f"{PREFIX}customer_tags",
    metadata,
    _tenant(),
    Column("customer_id", _str(ID), nullable=False),
    Column("tag", _str(100), nullable=False),
    PrimaryKeyConstraint("tenant_id", "customer_id", "tag"),
    Index(None, "tenant_id", "tag"),
    **_MYSQL,
)

# One typed column per trait type, so segments can compare values natively in SQL.
traits = Table(
    f"{PREFIX}customer_traits",
    metadata,
    _tenant(),
    Column("customer_id", _str(ID), nullable=False),
    Column("name", _str(64), nullable=False),
    Column("type", _str(16), nullable=False),
    Column("value_text", _text()),  # string, decimal (canonical text), string_list (JSON), date
    Column("value_int", BigInteger),  # integer, boolean (0/1), datetime (epoch microseconds)
    PrimaryKeyConstraint("tenant_id", "customer_id", "name"),
    **_MYSQL,
)

external_ids = Table(
    f"{PREFIX}customer_external_ids",
    metadata,
    _tenant(),
    Column("source", _str(64), nullable=False),
    Column("external_id", _str(200), nullable=False),
    Column("customer_id", _str(ID), nullable=False),
    PrimaryKeyConstraint("tenant_id", "source", "external_id"),
    UniqueConstraint("tenant_id", "customer_id", "source"),
    **_MYSQL,
)

consents = Table(
    f"{PREFIX}consents",
    metadata,
    _tenant(),
    Column("customer_id", _str(ID), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("purpose", _str(64), nullable=False),
    Column("channel", _str(16)),  # NULL: every channel
    Column("status", _str(16), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("source", _str(TEXT), nullable=False),
    Column("method", _str(TEXT)),
    Column("evidence", _str(TEXT)),
    Column("double_opt_in", _str(16), nullable=False),
    PrimaryKeyConstraint("tenant_id", "customer_id", "seq"),
    **_MYSQL,
)

accounts = Table(
    f"{PREFIX}accounts",
    metadata,
    _tenant(),
    Column("id", _str(ID), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", _str(TEXT), nullable=False),
    Column("domain", _str(254)),
    Column("industry", _str(TEXT)),
    Column("size", _str(16)),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "domain"),
    **_MYSQL,
)

interactions = Table(
    f"{PREFIX}interactions",
    metadata,
    _tenant(),
    Column("id", _str(ID), nullable=False),
    Column("customer_id", _str(ID), nullable=False),
    Column("occurred_at_us", BigInteger, nullable=False),
    Column("kind", _str(64), nullable=False),
    Column("channel", _str(16), nullable=False),
    Column("direction", _str(16), nullable=False),
    Column("amount_minor", BigInteger),
    Column("currency", _char(3)),
    Column("owner", _str(TEXT)),
    Column("team", _str(TEXT)),
    Column("campaign", _str(TEXT)),
    Column("metadata", _text()),  # JSON object
    Column("external_ref", _str(200)),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "external_ref"),
    Index(None, "tenant_id", "customer_id", "occurred_at_us", "id"),
    Index(None, "tenant_id", "occurred_at_us", "id"),
    CheckConstraint("(amount_minor IS NULL) = (currency IS NULL)", name="amount_has_currency"),
    **_MYSQL,
)

# A subject's place in one lifecycle model: the current stage (the last change's ``to_stage``)
# and when it was entered, kept on the row so counting and segmenting by stage never read
# the changes. Keyed (model, subject kind, subject id) as in the domain.
stage_histories = Table(
    f"{PREFIX}stage_histories",
    metadata,
    _tenant(),
    Column("model", _str(SLUG), nullable=False),
    Column("subject_kind", _str(16), nullable=False),
    Column("subject_id", _str(ID), nullable=False),
    Column("version", Integer, nullable=False),
    Column("stage", _str(SLUG), nullable=False),
    Column("entered_at_us", BigInteger, nullable=False),
    Column("started_at_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "model", "subject_kind", "subject_id"),
    # count_by_stage, and stream(stage=…) in subject order without a sort (segments too).
    Index(
        "ix_crmkit_stage_histories_by_stage",
        "tenant_id",
        "model",
        "stage",
        "subject_kind",
        "subject_id",
    ),
    Index(None, "tenant_id", "subject_kind", "subject_id"),  # for_subject
    **_MYSQL,
)

# Every move of a history, append-only, numbered from 0 (the entry into the model).
stage_changes = Table(
    f"{PREFIX}stage_changes",
    metadata,
    _tenant(),
    Column("model", _str(SLUG), nullable=False),
    Column("subject_kind", _str(16), nullable=False),
    Column("subject_id", _str(ID), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("from_stage", _str(SLUG)),  # NULL: the entry into the model
    Column("to_stage", _str(SLUG), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("reason", _str(TEXT)),
    Column("actor", _str(200)),
    Column("rule", _str(SLUG)),  # NULL: a move made by hand
    PrimaryKeyConstraint("tenant_id", "model", "subject_kind", "subject_id", "seq"),
    **_MYSQL,
)

# The stored membership of each tracked segment: one row per segment (the ``as_of`` of its last
# full evaluation, a version for optimistic concurrency, the member count) ...
segment_snapshots = Table(
    f"{PREFIX}segment_snapshots",
    metadata,
    _tenant(),
    Column("segment", _str(SLUG), nullable=False),
    Column("as_of_us", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("members", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "segment"),
    **_MYSQL,
)

# ... and one row per member, since when it is one. The key streams members in id order.
segment_members = Table(
    f"{PREFIX}segment_members",
    metadata,
    _tenant(),
    Column("segment", _str(SLUG), nullable=False),
    Column("customer_id", _str(ID), nullable=False),
    Column("since_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "segment", "customer_id"),
    **_MYSQL,
)

# A member's points ledger under one programme: append-only entries, numbered from 0. The
# ``takes`` of an entry (the ``(lot, points)`` it took) are a JSON list of pairs, never queried.
points_entries = Table(
    f"{PREFIX}points_entries",
    metadata,
    _tenant(),
    Column("programme", _str(SLUG), nullable=False),
    Column("customer_id", _str(ID), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", _str(16), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("key", _str(TEXT), nullable=False),
    Column("rule", _str(TEXT)),
    Column("interaction_id", _str(ID)),
    Column("reference", _str(TEXT)),
    Column("lot", _str(TEXT)),
    Column("takes", _text()),  # JSON list of [lot, points]; NULL: took nothing
    Column("spend", BigInteger, nullable=False),
    Column("occurred_at_us", BigInteger),
    Column("available_from_us", BigInteger),
    Column("expires_at_us", BigInteger),
    Column("shortfall", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "programme", "customer_id", "seq"),
    UniqueConstraint("tenant_id", "programme", "customer_id", "key"),
    **_MYSQL,
)

# Beside each ledger, what it adds up to (`PointsBalance`), one row per member, kept in the
# same transaction as the entries: reading a balance never scans them. The row's version is
# the ledger's; ``next_due_at_us`` lists the members the batch job has work for.
points_balances = Table(
    f"{PREFIX}points_balances",
    metadata,
    _tenant(),
    Column("programme", _str(SLUG), nullable=False),
    Column("customer_id", _str(ID), nullable=False),
    Column("available", BigInteger, nullable=False),
    Column("pending", BigInteger, nullable=False),
    Column("tier", _str(SLUG)),  # NULL: no tier
    Column("entries", Integer, nullable=False),
    Column("last_at_us", BigInteger),  # the last entry or job review; NULL: neither yet
    Column("next_due_at_us", BigInteger),  # NULL: nothing matures or expires
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "programme", "customer_id"),
    Index(None, "tenant_id", "programme", "next_due_at_us"),  # due
    **_MYSQL,
)

# Referrals: a referee is referred at most once per programme (the unique key enforces it).
referrals = Table(
    f"{PREFIX}referrals",
    metadata,
    _tenant(),
    Column("id", _str(ID), nullable=False),
    Column("programme", _str(SLUG), nullable=False),
    Column("referrer_id", _str(ID), nullable=False),
    Column("referee_id", _str(ID), nullable=False),
    Column("code", _str(TEXT)),
    Column("created_at_us", BigInteger, nullable=False),
    Column("status", _str(16), nullable=False),
    Column("qualified_at_us", BigInteger),
    Column("qualifying_interaction_id", _str(ID)),
    Column("rewarded_at_us", BigInteger),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "programme", "referee_id"),
    Index(None, "tenant_id", "programme", "referrer_id"),  # by_referrer
    **_MYSQL,
)

# Events written in the same transaction as the change; ``position`` is the delivery order.
outbox = Table(
    f"{PREFIX}outbox",
    metadata,
    Column(
        "position",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    _tenant(),
    Column("aggregate_id", _str(ID), nullable=False),
    Column("event_type", _str(64), nullable=False),
    Column("payload", _text(), nullable=False),  # JSON, see crmkit.serialization.event_to_dict
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("delivered", Boolean(create_constraint=False), nullable=False, default=False),
    Index(None, "tenant_id", "delivered", "position"),
    Index(None, "delivered", "position"),
    sqlite_autoincrement=True,  # positions are never reused, even after a purge
    **_MYSQL,
)
