"""Indexed lookups: customers by phone and by the start of a name or email; the outbox by
position for one tenant.

- ``crmkit_customers`` gains ``given_name_key`` and ``family_name_key``: the names lower-cased
  in Python (``str.lower``), which a prefix search compares by code point. Existing rows are
  filled in here, a keyset page at a time. (The email is stored lower-cased already.)
- Indexes on ``(tenant_id, phone)``, ``(tenant_id, given_name_key)`` and
  ``(tenant_id, family_name_key)`` of ``crmkit_customers``, and ``(tenant_id, position)`` of
  ``crmkit_outbox`` (reading one tenant's outbox after a position).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BATCH = 1000
_KEYS = ("given_name_key", "family_name_key")


def _key_type() -> sa.types.TypeEngine[str]:
    # Twice a name's 200 characters: ``lower`` can lengthen a text ("İ": two code points).
    return sa.String(length=400).with_variant(sa.String(length=400, collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("crmkit_customers", schema=None) as batch_op:
        for name in _KEYS:
            batch_op.add_column(sa.Column(name, _key_type(), nullable=True))
    _fill_keys(op.get_bind())
    with op.batch_alter_table("crmkit_customers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crmkit_customers_tenant_id_phone"), ["tenant_id", "phone"], unique=False
        )
        for name in _KEYS:
            batch_op.create_index(
                batch_op.f(f"ix_crmkit_customers_tenant_id_{name}"),
                ["tenant_id", name],
                unique=False,
            )
    with op.batch_alter_table("crmkit_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crmkit_outbox_tenant_id_position"),
            ["tenant_id", "position"],
            unique=False,
        )


def downgrade() -> None:
    # The keys are copies of the names: dropping them loses nothing.
    with op.batch_alter_table("crmkit_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crmkit_outbox_tenant_id_position"))
    with op.batch_alter_table("crmkit_customers", schema=None) as batch_op:
        for name in reversed(_KEYS):
            batch_op.drop_index(batch_op.f(f"ix_crmkit_customers_tenant_id_{name}"))
        batch_op.drop_index(batch_op.f("ix_crmkit_customers_tenant_id_phone"))
        for name in reversed(_KEYS):
            batch_op.drop_column(name)


def _fill_keys(bind: sa.Connection) -> None:
    """Write each named customer's keys, a keyset page of ``_BATCH`` customers at a time."""
    customers = sa.table(
        "crmkit_customers",
        sa.column("tenant_id", sa.String()),
        sa.column("id", sa.String()),
        sa.column("given_name", sa.String()),
        sa.column("family_name", sa.String()),
        sa.column("given_name_key", sa.String()),
        sa.column("family_name_key", sa.String()),
    )
    c = customers.c
    key = sa.tuple_(c.tenant_id, c.id)
    update = (
        customers.update()
        .where(c.tenant_id == sa.bindparam("t"), c.id == sa.bindparam("i"))
        .values(given_name_key=sa.bindparam("g"), family_name_key=sa.bindparam("f"))
    )
    named = sa.or_(c.given_name.is_not(None), c.family_name.is_not(None))
    after: tuple[str, str] | None = None
    while True:
        page = sa.select(c.tenant_id, c.id, c.given_name, c.family_name).where(named)
        if after is not None:
            page = page.where(key > sa.tuple_(*after))
        rows = bind.execute(page.order_by(c.tenant_id, c.id).limit(_BATCH)).all()
        if not rows:
            return
        bind.execute(
            update,
            [
                {"t": tenant, "i": cid, "g": _lower(given), "f": _lower(family)}
                for tenant, cid, given, family in rows
            ],
        )
        after = (rows[-1][0], rows[-1][1])


def _lower(text: str | None) -> str | None:
    # A copy of the adapter's search key as of this revision: Python's str.lower.
    return None if text is None else text.lower()
