"""Exact text on MySQL/MariaDB, room for every value the domain accepts, canonical decimals.

- MySQL/MariaDB: every crmkit table moves from ``utf8mb4_bin``, a PAD SPACE collation that
  made ``"X1"`` and ``"X1 "`` the same key, to the binary NO PAD collation of the server
  (``utf8mb4_nopad_bin`` on MariaDB, ``utf8mb4_0900_bin`` on MySQL 8); and the JSON/text
  columns become LONGTEXT, since TEXT holds only 64 KiB (a list trait of 100 x 2,000
  characters, 50 metadata values of 1,000 characters or many contact points do not fit).
- Every backend: decimal traits are rewritten in their canonical text (``1.000`` → ``1``,
  ``0E-50`` → ``0``, ``1E+2`` → ``100``), so that SQL equality of the stored text is decimal
  equality.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:30:00.000000
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from crmkit.adapters.sqlalchemy.schema import mysql_collation

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The tables at revision 0004, and their text columns (name -> nullable).
_TABLES = (
    "crmkit_accounts",
    "crmkit_consents",
    "crmkit_customer_external_ids",
    "crmkit_customer_tags",
    "crmkit_customer_traits",
    "crmkit_customers",
    "crmkit_interactions",
    "crmkit_outbox",
    "crmkit_points_balances",
    "crmkit_points_entries",
    "crmkit_referrals",
    "crmkit_segment_members",
    "crmkit_segment_snapshots",
    "crmkit_stage_changes",
    "crmkit_stage_histories",
)
_TEXT_COLUMNS = {
    "crmkit_customers": {"other_contacts": True, "address_lines": True},
    "crmkit_customer_traits": {"value_text": True},
    "crmkit_interactions": {"metadata": True},
    "crmkit_points_entries": {"takes": True},
    "crmkit_outbox": {"payload": False},
}
_BATCH = 1000


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):
        _convert_mysql(bind, mysql_collation(bind.dialect), "LONGTEXT")
    _canonical_decimals(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):
        # Back to TEXT only where it still holds the data: a longer value stays LONGTEXT
        # rather than being cut (crmkit never drops data). Decimals stay canonical, which
        # revision 0004 reads as well.
        _convert_mysql(bind, "utf8mb4_bin", "TEXT")


def _convert_mysql(bind: sa.Connection, collation: str, text_type: str) -> None:
    for table in _TABLES:
        changes = [f"CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}"]
        for column, nullable in _TEXT_COLUMNS.get(table, {}).items():
            if text_type == "TEXT" and _longest(bind, table, column) > 65_535:
                continue
            null = "NULL" if nullable else "NOT NULL"
            changes.append(f"MODIFY `{column}` {text_type} COLLATE {collation} {null}")
        bind.execute(sa.text(f"ALTER TABLE `{table}` " + ", ".join(changes)))


def _longest(bind: sa.Connection, table: str, column: str) -> int:
    query = sa.text(f"SELECT COALESCE(MAX(LENGTH(`{column}`)), 0) FROM `{table}`")
    return int(bind.execute(query).scalar_one())


def _canonical_decimals(bind: sa.Connection) -> None:
    """Rewrite each decimal trait whose text is not canonical, a keyset page at a time."""
    traits = sa.table(
        "crmkit_customer_traits",
        sa.column("tenant_id", sa.String()),
        sa.column("customer_id", sa.String()),
        sa.column("name", sa.String()),
        sa.column("type", sa.String()),
        sa.column("value_text", sa.Text()),
    )
    c = traits.c
    key = sa.tuple_(c.tenant_id, c.customer_id, c.name)
    update = (
        traits.update()
        .where(
            c.tenant_id == sa.bindparam("t"),
            c.customer_id == sa.bindparam("c"),
            c.name == sa.bindparam("n"),
        )
        .values(value_text=sa.bindparam("v"))
    )
    after: tuple[str, str, str] | None = None
    while True:
        page = sa.select(c.tenant_id, c.customer_id, c.name, c.value_text).where(
            c.type == "decimal"
        )
        if after is not None:
            page = page.where(key > sa.tuple_(*after))
        rows = bind.execute(page.order_by(*key.clauses).limit(_BATCH)).all()
        if not rows:
            return
        changed = [
            {"t": t, "c": cid, "n": n, "v": canonical}
            for t, cid, n, text in rows
            if (canonical := _canonical(text)) != text
        ]
        if changed:
            bind.execute(update, changed)
        after = (rows[-1][0], rows[-1][1], rows[-1][2])


def _canonical(text: str | None) -> str | None:
    # A copy of the domain's canonical_decimal as of this revision, applied to stored text.
    if text is None:
        return None
    value = Decimal(text)
    if not value.is_finite():
        return text
    if not value:
        return "0"
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if exponent > 0:
        return str(Decimal((sign, (*digits, *(0,) * exponent), 0)))
    zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    drop = min(zeros, -exponent)
    return str(Decimal((sign, digits[: len(digits) - drop], exponent + drop)))
