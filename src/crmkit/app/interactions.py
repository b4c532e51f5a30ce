"""`crm.interactions`: record interactions (idempotently) and read a customer's timeline."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime

from crmkit.app.context import Context
from crmkit.app.earning import REFUND_OF, LedgerBook, book_interaction
from crmkit.app.reactions import Reaction
from crmkit.app.recording import record_batch, record_in
from crmkit.app.retries import retry_conflicts, retry_conflicts_over
from crmkit.domain import (
    Channel,
    CustomerId,
    Direction,
    Interaction,
    InteractionId,
    MetadataValue,
    Money,
)
from crmkit.domain._arguments import each_of, flag, items_of, page_limit
from crmkit.domain.interactions.channels import channel_of
from crmkit.domain.values.ids import check_id
from crmkit.errors import IdempotencyConflict, ValidationError
from crmkit.ports import ImportResult, OnExisting, check_on_existing

__all__ = ["InteractionService"]

_UNSAVED = InteractionId("unsaved")


class InteractionService:
    """The interaction log of one tenant: ``crm.interactions``.

    Recording runs the ``reactions`` (built from the settings, see
    `crmkit.app.reactions.reactions_for`) in the recording's unit of work.
    """

    def __init__(self, context: Context, reactions: tuple[Reaction, ...] = ()) -> None:
        self._context = context
        self._reactions = reactions

    def record(
        self,
        customer_id: str,
        *,
        kind: str,
        channel: Channel | str,
        occurred_at: datetime | None = None,
        direction: Direction | str = Direction.INBOUND,
        amount: Money | None = None,
        owner: str | None = None,
        team: str | None = None,
        campaign: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        external_ref: str | None = None,
        refund_of: str | None = None,
    ) -> Interaction:
        """Append an interaction to a customer's log and return it.

        With an ``external_ref``, recording is idempotent: a replay with the same content
        returns the interaction stored the first time and emits nothing; a replay with
        different content raises `IdempotencyConflict`. ``occurred_at`` defaults to now
        (or, on a replay, to the stored instant).

        The lifecycle progression rules then run for the customer (and, in account models,
        for the customer's account) as of now, in the same unit of work; then the customer's
        membership of each tracked segment (the settings' ``segments``) is refreshed as of now,
        emitting `EnteredSegment` / `LeftSegment`.

        A purchase's ``amount`` is what was paid, a refund's what was given back: both are
        positive, and a negative one raises `ValidationError`. A refund may name its
        purchase with ``refund_of`` (the purchase's id or external reference, kept in the
        metadata under ``"refund_of"``); it must be a stored purchase of the same customer,
        in the refund's currency, and only a refund may name one (`ValidationError`,
        `CurrencyMismatch` otherwise).

        With a loyalty programme (``Settings(loyalty=...)``) the interaction earns its points in
        the same unit of work (a replay earns nothing more); a refund naming its purchase
        reverses what the purchase earned; a referred customer's first purchase qualifies
        and rewards the referral.

        Returns:
            The stored `Interaction` (the one already stored, for a repeated idempotency key).

        Raises:
            NotFound: no such customer.
            ValidationError: a field is invalid.
            IdempotencyConflict: the key was used for a different interaction.
        """
        if refund_of is not None:
            metadata = {**(metadata or {}), REFUND_OF: refund_of}
        fields = {
            "customer_id": CustomerId(check_id("customer_id", customer_id)),
            "occurred_at": occurred_at if occurred_at is not None else self._context.now(),
            "kind": kind,
            "channel": channel,
            "direction": direction,
            "amount": amount,
            "owner": owner,
            "team": team,
            "campaign": campaign,
            "metadata": metadata or {},
            "external_ref": external_ref,
        }
        # Validate before touching storage; the real id is drawn only for a new interaction.
        candidate = Interaction(id=_UNSAVED, **fields)  # type: ignore[arg-type]
        raced = False

        def attempt() -> Interaction:
            nonlocal raced
            try:
                return self._record(candidate, keep_stored_time=occurred_at is None)
            except IdempotencyConflict:
                # A concurrent writer stored the same reference between our check and commit:
                # the next attempt finds it and answers as a replay (a second one is real).
                if raced or external_ref is None:
                    raise
                raced = True
                return self._record(candidate, keep_stored_time=occurred_at is None)

        # A conflict stores nothing of ours: another writer got in the way (a concurrent
        # replay of the same reference; SQLite: "database is locked"), or progression rules,
        # a segment's snapshot or the customer's points ledger moved concurrently. The next
        # attempt re-reads them, and finds the reference if the other writer stored it.
        return retry_conflicts(attempt)

    def _record(self, candidate: Interaction, *, keep_stored_time: bool) -> Interaction:
        ctx = self._context
        with ctx.unit_of_work() as uow:
            interaction, new = record_in(
                uow,
                ctx,
                self._reactions,
                candidate,
                keep_stored_time=keep_stored_time,
                new_id=lambda: InteractionId(ctx.new_id()),
            )
            if new:
                uow.commit()
        return interaction

    def record_many(
        self, interactions: Iterable[Interaction], *, batch_size: int = 100
    ) -> list[Interaction]:
        """Record a burst of interactions as `record` records each one — the replay check of
        an ``external_ref``, the refund's purchase check, every reaction of the settings
        (loyalty earning, lifecycle progression, segment tracking) and the events — but
        ``batch_size`` of them per unit of work, committed once.

        For hosts that receive interactions in bursts (a webhook delivering a page of
        orders, a queue drained in chunks): a commit is what one recording mostly waits for
        on a durable database. Each batch is atomic: an error stores nothing of that batch
        (earlier batches stay stored); a conflict with another writer runs the batch again.
        The interactions keep the ids and ``occurred_at`` they were built with, as in
        `import_many`; a replayed ``external_ref`` answers with the interaction stored the
        first time (also within one batch).

        Args:
            interactions: the interactions, in the order they happened (any iterable, read
                a batch at a time).
            batch_size: how many to record per unit of work (1 to 10,000).

        Returns:
            The recorded interactions in the order given (the stored one for a replay).

        Raises:
            NotFound: an interaction's customer does not exist.
            ValidationError: an item is no `Interaction`, a refund names no purchase of its
                customer (each named by its position), or a bad ``batch_size``.
            IdempotencyConflict: an ``external_ref`` or id is taken by a different
                interaction.
        """
        if type(batch_size) is not int or not 1 <= batch_size <= 10_000:
            raise ValidationError.single("batch_size", batch_size, "must be an int from 1 to 10000")
        items_of(interactions, "interactions")  # a text or a number is refused at once
        recorded: list[Interaction] = []
        for batch in _batches(interactions, batch_size):
            first = len(recorded)
            recorded.extend(
                retry_conflicts(
                    lambda batch=batch, first=first: record_batch(  # type: ignore[misc]
                        self._context, self._reactions, batch, first
                    )
                )
            )
        return recorded

    def import_many(
        self,
        interactions: Iterable[Interaction],
        *,
        batch_size: int = 5000,
        earn_points: bool = False,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        """Bulk-import interactions in one transaction. Records no events of the
        interactions; a taken id or external_ref raises `IdempotencyConflict` with nothing
        stored. The customers are not looked up one by one: import them first.

        With ``on_existing="skip"``, an interaction whose id or external_ref is already
        stored with the same content (`Interaction.same_content`) is skipped, so re-running
        the same import stores nothing twice; one whose content differs is still refused,
        naming the fields that differ.

        With ``earn_points=True`` (a CRM with a loyalty programme), the interactions also earn
        their points (refunds naming their purchase reverse, referees' first purchases reward
        their referrals), as `record` would, in the order given and in the same
        transaction: the bulk earning path, a batch at a time, with `PointsEarned` and the
        other loyalty events published on commit. Skipped interactions earn nothing again.
        Lifecycle rules and tracked segments are not run (see ``crm.lifecycle.reevaluate_all``
        and ``crm.segments.refresh``).

        A conflict with another writer (a member's ledger booked meanwhile) stores nothing;
        given a list (or any collection) the import is then run again, as
        `record` is; a one-shot iterator cannot be read twice, so its conflict
        reaches the caller (retryable).

        Args:
            interactions: the interactions to store, in any iterable.
            batch_size: how many rows go to the database per statement (1 to 10,000).
            earn_points: book what they earn under the CRM's loyalty programme.
            on_existing: ``"error"`` (the default) or ``"skip"``.

        Returns:
            How many interactions were stored, and the positions of those skipped.

        Raises:
            IdempotencyConflict: an id or external_ref is taken (nothing is stored).
            ValidationError: an item is no `Interaction` (named by its index), or a
                parameter is invalid.
            UsageError: ``earn_points=True`` on a CRM without a loyalty programme.
        """
        check_on_existing(on_existing)
        settings = self._context.settings
        programme = settings.programme() if flag(earn_points, "earn_points") else None
        items_of(interactions, "interactions")  # a text or a number is refused at once

        def attempt(given: Iterable[Interaction]) -> ImportResult:
            items = each_of(given, Interaction, "interactions")  # a bad item named by index
            with self._context.unit_of_work() as uow:
                if programme is None:
                    result = uow.interactions.add_many(
                        items, batch_size=batch_size, on_existing=on_existing
                    )
                else:
                    result = ImportResult(0)
                    for batch in _batches(items, batch_size):
                        done = uow.interactions.add_many(
                            batch, batch_size=batch_size, on_existing=on_existing
                        )
                        result += done
                        skipped = set(done.skipped)
                        stored = [x for n, x in enumerate(batch) if n not in skipped]
                        book = LedgerBook(uow, programme)
                        book.load(stored)
                        now = self._context.now()
                        for interaction in stored:
                            book_interaction(book, interaction, now, settings.ids)
                        book.save()
                uow.commit()
            return result

        # Interactions are immutable values: an attempt that failed changed none of them.
        return retry_conflicts_over(interactions, attempt)

    def get(self, interaction_id: str) -> Interaction:
        """The interaction with that id; raises `NotFound`.

        Returns:
            The stored `Interaction`.

        Raises:
            NotFound: the tenant holds no such interaction.
        """
        with self._context.reading() as uow:
            return uow.interactions.get(InteractionId(check_id("interaction_id", interaction_id)))

    def timeline(
        self,
        customer_id: str,
        *,
        channels: Collection[Channel | str] | None = None,
        kinds: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Interaction]:
        """A customer's interactions in time order, optionally filtered by channel, kind and
        the half-open window ``since <= occurred_at < until``; raises `NotFound` for an
        unknown customer.

        Returns:
            The customer's interactions that pass the filters, oldest first (newest first
            with ``newest_first=True``), at most ``limit``.

        Raises:
            NotFound: no such customer.
            ValidationError: a bad channel, kind, window or limit.
        """
        customer = CustomerId(check_id("customer_id", customer_id))
        flag(newest_first, "newest_first")
        wanted_channels = None if channels is None else _channels(channels)
        wanted_kinds = None if kinds is None else _kinds(kinds)
        with self._context.reading() as uow:
            uow.customers.get(customer)
            return uow.interactions.timeline(
                customer,
                channels=wanted_channels,
                kinds=wanted_kinds,
                since=since,
                until=until,
                limit=limit,
                newest_first=newest_first,
            )

    def stream(self, *, batch_size: int = 1000) -> Iterator[Interaction]:
        """Every interaction of the tenant in time order, with bounded memory.

        The interactions are read from one snapshot, ``batch_size`` rows at a time, in one
        read-only transaction held open until the stream is exhausted or closed (leave the
        ``for`` loop, or call ``close()``): the caller may record and change data through the
        CRM meanwhile (on another connection), and the stream does not see those changes.

        Returns:
            An iterator over the interactions.

        Raises:
            ValidationError: ``batch_size`` is out of range.
        """
        page_limit(batch_size, "batch_size")
        with self._context.reading() as uow:
            yield from uow.interactions.stream(batch_size=batch_size)


def _batches(items: Iterable[Interaction], size: int) -> Iterator[list[Interaction]]:
    if type(size) is not int or size <= 0:
        raise ValidationError.single("batch_size", size, "must be an integer > 0")
    if isinstance(items, Interaction) or not isinstance(items, Iterable):
        raise ValidationError.single("interactions", items, "must be an iterable of Interactions")
    batch: list[Interaction] = []
    for item in items:
        if not isinstance(item, Interaction):
            raise ValidationError.single("interactions", item, "must hold Interactions")
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _channels(channels: object) -> frozenset[Channel]:
    if isinstance(channels, str) or not isinstance(channels, Iterable):
        raise ValidationError.single("channels", channels, "must be a collection of channels")
    return frozenset(channel_of(c, "channels") for c in channels)


def _kinds(kinds: object) -> frozenset[str]:
    if isinstance(kinds, str) or not isinstance(kinds, Iterable):
        raise ValidationError.single("kinds", kinds, "must be a collection of kinds")
    found = tuple(kinds)
    if not all(isinstance(kind, str) for kind in found):
        raise ValidationError.single("kinds", kinds, "every kind must be text")
    return frozenset(found)
