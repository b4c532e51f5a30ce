"""Alembic environment for crmkit's own tables (run through crmkit.adapters.sqlalchemy.upgrade)."""

from __future__ import annotations

from typing import Any

from alembic import context

from crmkit.adapters.sqlalchemy.migrate import VERSION_TABLE
from crmkit.adapters.sqlalchemy.tables import PREFIX, metadata


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Look only at crmkit's tables: a host's tables are none of crmkit's business."""
    if type_ == "table":
        return bool(name) and str(name).startswith(PREFIX)
    return True


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run crmkit's migrations with crmkit.adapters.sqlalchemy.upgrade(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    include_name=include_name,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
