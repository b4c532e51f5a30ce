"""The SQL schema's shared parts: one MetaData, the ``crmkit_`` prefix, the column types.

Each capability declares its own tables on `metadata` (``customers/tables.py``,
``loyalty/tables.py``, …); `crmkit.adapters.sqlalchemy.tables` lists them all.

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
    Column,
    MetaData,
    String,
    Text,
)
from sqlalchemy.dialects import mysql

from crmkit.errors import ConfigurationError

__all__ = [
    "ID",
    "MARIADB_COLLATION",
    "MYSQL_COLLATION",
    "MYSQL_TABLE",
    "PREFIX",
    "SLUG",
    "TENANT",
    "TEXT",
    "fixed",
    "long_text",
    "metadata",
    "mysql_collation",
    "string",
    "tenant_id",
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
MYSQL_TABLE: dict[str, Any] = {
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


def string(length: int) -> String:
    """A ``VARCHAR(length)`` that compares by code point (see the collations above)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def fixed(length: int) -> CHAR:
    """A ``CHAR(length)`` that compares by code point."""
    return CHAR(length).with_variant(CHAR(length, collation="C"), "postgresql")


def long_text() -> Text:
    """Unbounded text: LONGTEXT on MySQL/MariaDB, whose TEXT holds only 64 KiB."""
    return (
        Text()
        .with_variant(Text(collation="C"), "postgresql")
        .with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
    )


def tenant_id() -> Column[str]:
    """The ``tenant_id`` column every table leads with."""
    return Column("tenant_id", string(TENANT), nullable=False)
