"""The interaction log in ``crmkit_interactions``: append-only, idempotent by external_ref."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import exc, func, insert, select, union_all

from crmkit.adapters._arguments import check_batch, check_window
from crmkit.adapters._bulk import batches, is_replayed_interaction
from crmkit.adapters.sqlalchemy.interactions.rows import interaction_from_row, interaction_row
from crmkit.adapters.sqlalchemy.interactions.tables import interactions
from crmkit.adapters.sqlalchemy.lists import key_in
from crmkit.adapters.sqlalchemy.rows import to_us
from crmkit.adapters.sqlalchemy.session import Session, is_about, offender
from crmkit.domain import Channel, CustomerId, Interaction, InteractionId
from crmkit.domain._arguments import instance_of
from crmkit.errors import IdempotencyConflict, NotFound, ValidationError
from crmkit.ports import ImportResult, OnExisting, check_on_existing

__all__ = ["SqlInteractions"]


_TABLE = interactions.name


class SqlInteractions:
    """The interaction log in ``crmkit_interactions``."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, interaction: Interaction) -> None:
        instance_of(interaction, Interaction, "interaction")
        if interaction.external_ref is not None:
            existing = self.find_by_external_ref(interaction.external_ref)
            if existing is not None:
                raise IdempotencyConflict(
                    "external_ref",
                    interaction.external_ref,
                    existing.id,
                    differing=existing.differing_fields(interaction),
                )
        self._insert([interaction_row(self._s.tenant, interaction)])
        self._s._track(interaction)

    def add_many(
        self,
        interactions: Iterable[Interaction],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        """Append interactions in batches with executemany; no events are recorded. With
        ``on_existing="skip"``, one query per batch finds the interactions already stored.

        Raises:
            IdempotencyConflict: naming the first taken id or external_ref, its value and
                the interaction holding it.
        """
        check_batch(batch_size)
        if check_on_existing(on_existing) == "skip":
            return self._add_new(interactions, batch_size)
        # The default path checks nothing first: a taken key fails the insert itself.
        count = 0
        for batch in batches(interactions, batch_size):
            self._insert_or_explain(batch)
            count += len(batch)
        self._s.note_filled(_TABLE, count)
        return ImportResult(count)

    def _insert_or_explain(self, batch: builtins.list[Interaction]) -> None:
        """Insert the batch; if a key is taken, raise the `IdempotencyConflict` naming it."""
        rows = [interaction_row(self._s.tenant, interaction) for interaction in batch]
        # In a savepoint, as a customers' batch: rolled back to it, the table holds none of
        # the batch and PostgreSQL's aborted transaction is usable again to ask which key
        # was taken. Only an IntegrityError rolls back to it.
        savepoint = self._s.connection.begin_nested()
        try:
            self._s.connection.execute(insert(interactions), rows)
        except exc.IntegrityError as error:
            savepoint.rollback()
            self._without_stored(batch, skip=False)  # raises for the first key taken
            # Not found now: the key's holder was written by a transaction that committed
            # later.
            raise _refusal(rows, error) from None
        savepoint.commit()

    def _add_new(self, interactions: Iterable[Interaction], batch_size: int) -> ImportResult:
        result, tenant = ImportResult(0), self._s.tenant
        for batch in batches(interactions, batch_size):
            fresh, skipped = self._without_stored(batch)
            rows = [interaction_row(tenant, interaction) for interaction in fresh]
            result += ImportResult(self._insert(rows) if rows else 0, tuple(skipped))
        self._s.note_filled(_TABLE, result.imported)
        return result

    def _without_stored(
        self, batch: builtins.list[Interaction], *, skip: bool = True
    ) -> tuple[builtins.list[Interaction], builtins.list[int]]:
        """The interactions of ``batch`` to insert, and the positions of those to skip:
        stored already (or earlier in the batch) with the same content. One query finds them
        (by id, and by external_ref). Without ``skip``, raises `IdempotencyConflict` for the
        first id or external_ref taken."""
        i, dialect = interactions.c, self._s.connection.dialect.name
        for interaction in batch:
            if not isinstance(interaction, Interaction):
                raise ValidationError.single("interaction", interaction, "must be an Interaction")
        refs = [x.external_ref for x in batch if x.external_ref is not None]
        # Two halves, each answered by its unique index (an OR of both scans the tenant).
        query: Any = select(interactions).where(
            i.tenant_id == self._s.tenant, key_in(dialect, i.id, [x.id for x in batch])
        )
        if refs:
            query = union_all(
                query,
                select(interactions).where(
                    i.tenant_id == self._s.tenant, key_in(dialect, i.external_ref, refs)
                ),
            )
        found = [interaction_from_row(r) for r in self._s.connection.execute(query).mappings()]
        # Keyed by the exact text: a collation that ignores trailing spaces finds more.
        by_id = {x.id: x for x in found}
        by_ref = {x.external_ref: x for x in found if x.external_ref is not None}
        fresh: builtins.list[Interaction] = []
        skipped: builtins.list[int] = []
        for position, x in enumerate(batch):
            ref = x.external_ref
            stored = by_ref.get(ref) if ref is not None else None
            if is_replayed_interaction(x, by_id.get(x.id), stored, skip=skip):
                skipped.append(position)
                continue
            by_id[x.id] = x
            if ref is not None:
                by_ref[ref] = x
            fresh.append(x)
        return fresh, skipped

    def _insert(self, rows: builtins.list[dict[str, Any]]) -> int:
        try:
            self._s.connection.execute(insert(interactions), rows)
        except exc.IntegrityError as error:
            raise _refusal(rows, error) from None
        return len(rows)

    def get(self, interaction_id: InteractionId) -> Interaction:
        found = self._one(interactions.c.id == interaction_id)
        if found is None:
            raise NotFound("interaction", interaction_id)
        return found

    def find_by_external_ref(self, external_ref: str) -> Interaction | None:
        return self._one(interactions.c.external_ref == external_ref)

    def _one(self, condition: Any) -> Interaction | None:
        row = (
            self._s.connection.execute(
                select(interactions).where(interactions.c.tenant_id == self._s.tenant, condition)
            )
            .mappings()
            .first()
        )
        return None if row is None else interaction_from_row(row)

    def timeline(
        self,
        customer_id: CustomerId,
        *,
        channels: Collection[Channel] | None = None,
        kinds: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Interaction]:
        since, until = check_window(since, until, limit)
        i = interactions.c
        query = select(interactions).where(
            i.tenant_id == self._s.tenant, i.customer_id == customer_id
        )
        dialect = self._s.connection.dialect.name
        if channels is not None:
            query = query.where(key_in(dialect, i.channel, [str(c) for c in channels]))
        if kinds is not None:
            query = query.where(key_in(dialect, i.kind, [str(k) for k in kinds]))
        if since is not None:
            query = query.where(i.occurred_at_us >= to_us(since))
        if until is not None:
            query = query.where(i.occurred_at_us < to_us(until))
        order = (i.occurred_at_us.desc(), i.id.desc()) if newest_first else (i.occurred_at_us, i.id)
        query = query.order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        return [interaction_from_row(r) for r in self._s.connection.execute(query).mappings()]

    def stream(self, *, batch_size: int = 1000) -> Iterator[Interaction]:
        check_batch(batch_size)
        i = interactions.c
        last: tuple[int, str] | None = None
        while True:
            query = select(interactions).where(i.tenant_id == self._s.tenant)
            if last is not None:
                query = query.where(
                    (i.occurred_at_us > last[0])
                    | ((i.occurred_at_us == last[0]) & (i.id > last[1]))
                )
            rows = (
                self._s.connection.execute(query.order_by(i.occurred_at_us, i.id).limit(batch_size))
                .mappings()
                .all()
            )
            yield from (interaction_from_row(r) for r in rows)
            if len(rows) < batch_size:
                return
            last = (rows[-1]["occurred_at_us"], rows[-1]["id"])

    def count(self) -> int:
        return int(
            self._s.connection.execute(
                select(func.count())
                .select_from(interactions)
                .where(interactions.c.tenant_id == self._s.tenant)
            ).scalar_one()
        )


def _refusal(rows: list[dict[str, Any]], error: exc.IntegrityError) -> IdempotencyConflict:
    """The refusal of an insert, from the database's words alone (the holder unknown)."""
    field = "external_ref" if is_about(error, "external_ref") else "id"
    value = rows[0][field] if len(rows) == 1 else offender(error)
    return IdempotencyConflict(field, value, None)
