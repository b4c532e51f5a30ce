"""The lifecycle tables: stage histories and their changes."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
)

from crmkit.adapters.sqlalchemy.schema import (
    ID,
    MYSQL_TABLE,
    PREFIX,
    SLUG,
    TEXT,
    metadata,
    string,
    tenant_id,
)

__all__ = [
    "stage_changes",
    "stage_histories",
]

# A subject's place in one lifecycle model: the current stage (the last change's ``to_stage``)
# and when it was entered, kept on the row so counting and segmenting by stage never read
# the changes. Keyed (model, subject kind, subject id) as in the domain.
stage_histories = Table(
    f"{PREFIX}stage_histories",
    metadata,
    tenant_id(),
    Column("model", string(SLUG), nullable=False),
    Column("subject_kind", string(16), nullable=False),
    Column("subject_id", string(ID), nullable=False),
    Column("version", Integer, nullable=False),
    Column("stage", string(SLUG), nullable=False),
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
    **MYSQL_TABLE,
)

# Every move of a history, append-only, numbered from 0 (the entry into the model).
stage_changes = Table(
    f"{PREFIX}stage_changes",
    metadata,
    tenant_id(),
    Column("model", string(SLUG), nullable=False),
    Column("subject_kind", string(16), nullable=False),
    Column("subject_id", string(ID), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("from_stage", string(SLUG)),  # NULL: the entry into the model
    Column("to_stage", string(SLUG), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("reason", string(TEXT)),
    Column("actor", string(200)),
    Column("rule", string(SLUG)),  # NULL: a move made by hand
    PrimaryKeyConstraint("tenant_id", "model", "subject_kind", "subject_id", "seq"),
    **MYSQL_TABLE,
)
