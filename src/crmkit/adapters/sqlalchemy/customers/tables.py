"""The customer tables: ``crmkit_customers`` and its child tables (tags, traits, external ids,
consents).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)

from crmkit.adapters.sqlalchemy.schema import (
    ID,
    MYSQL_TABLE,
    PREFIX,
    TEXT,
    fixed,
    long_text,
    metadata,
    string,
    tenant_id,
)

#: The longest given or family name (see `crmkit.domain.Customer`).
NAME = 200

__all__ = [
    "NAME",
    "consents",
    "customers",
    "external_ids",
    "tags",
    "traits",
]

customers = Table(
    f"{PREFIX}customers",
    metadata,
    tenant_id(),
    Column("id", string(ID), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("given_name", string(NAME)),
    Column("family_name", string(NAME)),
    Column("email", string(254)),
    Column("phone", string(16)),  # E.164, the lookup key; its extension beside it
    Column("phone_extension", string(20)),
    Column("other_contacts", long_text()),  # JSON list; never queried
    Column("address_country", fixed(2)),
    Column("address_lines", long_text()),  # JSON list
    Column("address_city", string(200)),
    Column("address_region", string(200)),
    Column("address_postal_code", string(200)),
    Column("locale", string(35)),
    Column("account_id", string(ID)),
    Column("account_role", string(64)),
    # The names lower-cased in Python (``str.lower``), written with them: a prefix search
    # compares these by code point, the same on every backend (SQL's own LOWER differs from
    # Python's and between backends beyond ASCII). The email is stored lower-cased already.
    # ``lower`` can lengthen a text ("İ" becomes two code points): twice the name's limit.
    Column("given_name_key", string(2 * NAME)),
    Column("family_name_key", string(2 * NAME)),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "email"),
    Index(None, "tenant_id", "account_id"),
    Index(None, "tenant_id", "phone"),  # find_by_phone
    Index(None, "tenant_id", "given_name_key"),  # search
    Index(None, "tenant_id", "family_name_key"),
    **MYSQL_TABLE,
)

tags = Table(
    f"{PREFIX}customer_tags",
    metadata,
    tenant_id(),
    Column("customer_id", string(ID), nullable=False),
    Column("tag", string(100), nullable=False),
    PrimaryKeyConstraint("tenant_id", "customer_id", "tag"),
    Index(None, "tenant_id", "tag"),
    **MYSQL_TABLE,
)

# One typed column per trait type, so segments can compare values natively in SQL.
traits = Table(
    f"{PREFIX}customer_traits",
    metadata,
    tenant_id(),
    Column("customer_id", string(ID), nullable=False),
    Column("name", string(64), nullable=False),
    Column("type", string(16), nullable=False),
    Column("value_text", long_text()),  # string, decimal (canonical text), string_list (JSON), date
    Column("value_int", BigInteger),  # integer, boolean (0/1), datetime (epoch microseconds)
    PrimaryKeyConstraint("tenant_id", "customer_id", "name"),
    **MYSQL_TABLE,
)

external_ids = Table(
    f"{PREFIX}customer_external_ids",
    metadata,
    tenant_id(),
    Column("source", string(64), nullable=False),
    Column("external_id", string(200), nullable=False),
    Column("customer_id", string(ID), nullable=False),
    PrimaryKeyConstraint("tenant_id", "source", "external_id"),
    UniqueConstraint("tenant_id", "customer_id", "source"),
    **MYSQL_TABLE,
)

consents = Table(
    f"{PREFIX}consents",
    metadata,
    tenant_id(),
    Column("customer_id", string(ID), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("purpose", string(64), nullable=False),
    Column("channel", string(16)),  # NULL: every channel
    Column("status", string(16), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("source", string(TEXT), nullable=False),
    Column("method", string(TEXT)),
    Column("evidence", string(TEXT)),
    Column("double_opt_in", string(16), nullable=False),
    PrimaryKeyConstraint("tenant_id", "customer_id", "seq"),
    **MYSQL_TABLE,
)
