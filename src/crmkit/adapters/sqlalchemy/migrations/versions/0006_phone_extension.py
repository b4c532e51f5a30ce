"""Keep a phone number's extension beside its E.164 form.

E.164 has no extension, so ``"+49 30 12345678 ext. 5"`` is stored as ``phone =
'+493012345678'`` (the lookup key, unchanged) and ``phone_extension = '5'``. Customers stored
before this revision have no extension (their extensions were dropped when parsed).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crmkit.errors import ConfigurationError

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crmkit_customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "phone_extension",
                sa.String(length=20).with_variant(
                    sa.String(length=20, collation="C"), "postgresql"
                ),
                nullable=True,
            )
        )


def downgrade() -> None:
    # crmkit never drops data: revision 0005 has nowhere to keep an extension.
    query = sa.text("SELECT COUNT(*) FROM crmkit_customers WHERE phone_extension IS NOT NULL")
    kept = int(op.get_bind().execute(query).scalar_one())
    if kept:
        raise ConfigurationError(
            f"cannot downgrade below revision 0006: {kept} customers have a phone extension, "
            "which revision 0005 cannot store"
        )
    with op.batch_alter_table("crmkit_customers", schema=None) as batch_op:
        batch_op.drop_column("phone_extension")
