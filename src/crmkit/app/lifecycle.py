"""Use cases on lifecycle stages: move subjects, read their histories, run progression rules,
and report on stages (time spent, conversion, funnels)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from crmkit.app.context import Context
from crmkit.app.progression import facts_of, history_in, progress_subject
from crmkit.app.reevaluation import reevaluate
from crmkit.app.retries import retry_conflicts
from crmkit.app.subject_kinds import kind_of, missing_subject, refuse_other_kind, subject_facts
from crmkit.domain import (
    DurationStats,
    Funnel,
    LifecycleModel,
    ProgressionReport,
    StageChanged,
    StageFlow,
    StageHistory,
    SubjectKind,
    funnel,
    stage_conversion,
    stage_durations,
)
from crmkit.domain._arguments import expected_version_of, flag, items_of
from crmkit.domain.values.ids import check_id
from crmkit.domain.values.texts import ensure_text
from crmkit.errors import ConcurrencyConflict, NotFound, ValidationError

__all__ = ["LifecycleService"]


class LifecycleService:
    """Lifecycle stages of customers and accounts: ``crm.lifecycle``."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._models = context.settings.lifecycles  # settings are frozen

    def model(
        self, name: str | None = None, *, subject: SubjectKind | str = SubjectKind.CUSTOMER
    ) -> LifecycleModel:
        """The lifecycle model called ``name``; without a name, the settings' only model for
        ``subject``.

        Returns:
            The `LifecycleModel`.

        Raises:
            ValidationError: no model has that name.
            UsageError: no model, or several, track ``subject`` and no name was given.
        """
        return self._context.lifecycle_model(name, subject=subject)

    def move(
        self,
        subject_id: str,
        to: str,
        *,
        model: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
        at: datetime | None = None,
        expected_version: int | None = None,
    ) -> StageHistory:
        """Move a customer (or, in an account model, an account) to stage ``to`` by hand.

        Raises `IllegalTransition` naming the allowed next stages, `GuardFailed` when the
        transition's guard does not hold, `NotFound` for an unknown subject, and
        `ValidationError` for a subject of the other kind (an account id in a customer model:
        name an account model with ``model=``). A subject with
        no history in the model enters it at its initial stage first. Moving to the current
        stage changes nothing. Returns the history as stored.

        Returns:
            The subject's `StageHistory` after the move.

        Raises:
            NotFound: no such subject, or it never entered the model.
            IllegalTransition: the model has no transition to ``to``.
            GuardFailed: the transition's guard refused the move.
            ValidationError: a bad argument, or a subject of the other kind.
        """
        expected_version = expected_version_of(expected_version)
        ensure_text(to, "to")  # a misspelt stage is an IllegalTransition; a non-stage is not
        chosen = self._context.lifecycle_model(model)
        subject = check_id("subject_id", subject_id)
        when = self._context.as_of(at, "at")

        def attempt() -> StageHistory:
            with self._context.unit_of_work() as uow:
                facts = subject_facts(
                    uow, chosen, subject, when, self._models
                )  # the subject must exist
                history, new = history_in(uow, chosen, subject, at=when)
                if expected_version is not None and history.version != expected_version:
                    raise ConcurrencyConflict("stage history", subject, expected_version)
                moved = history.move(chosen, to, at=when, facts=facts, reason=reason, actor=actor)
                if new:
                    uow.stage_histories.add(history)
                elif moved is not None:
                    uow.stage_histories.update(history)
                uow.commit()
            return history

        # Without ``expected_version`` a concurrent move is no reason to refuse: the move is
        # decided again from what the other writer stored (done already, illegal, or made).
        return attempt() if expected_version is not None else retry_conflicts(attempt)

    def enter(
        self,
        subject_id: str,
        *,
        model: str | None = None,
        stage: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
        at: datetime | None = None,
    ) -> StageHistory:
        """Put a subject that has no history in ``model`` into it, at ``stage`` (the initial
        stage by default): for customers imported in bulk or known before the model was
        configured. A subject already in the model is refused with `ValidationError`.

        Returns:
            The subject's new `StageHistory`.

        Raises:
            NotFound: no such subject.
            ValidationError: a bad argument, or the subject is already in the model.
        """
        chosen = self._context.lifecycle_model(model)
        subject = check_id("subject_id", subject_id)
        when = self._context.as_of(at, "at")

        def attempt() -> StageHistory:
            with self._context.unit_of_work() as uow:
                subject_facts(uow, chosen, subject, when, self._models)  # the subject must exist
                found = uow.stage_histories.find(chosen.name, subject, subject_kind=chosen.subject)
                if found is not None:
                    raise ValidationError.single(
                        "subject_id",
                        subject,
                        f"is already in {chosen.name} (at {found.current!r}); "
                        "use crm.lifecycle.move",
                    )
                history = StageHistory.enter(
                    chosen, subject, at=when, stage=stage, reason=reason, actor=actor
                )
                uow.stage_histories.add(history)
                uow.commit()
            return history

        # A racing entry of the same subject is retried: the next attempt finds it and
        # refuses this one, as it would have one call later.
        return retry_conflicts(attempt)

    def history(self, subject_id: str, *, model: str | None = None) -> StageHistory:
        """The subject's history in ``model``; raises `NotFound` if it never entered it, and
        `ValidationError` for a subject of the other kind (see `move`).

        Returns:
            The subject's `StageHistory` in that model.
        """
        chosen = self._context.lifecycle_model(model)
        subject = check_id("subject_id", subject_id)
        with self._context.reading() as uow:
            try:
                return uow.stage_histories.get(chosen.name, subject, subject_kind=chosen.subject)
            except NotFound:
                refuse_other_kind(uow, chosen.subject, subject, chosen, self._models)
                raise

    def current_stage(self, subject_id: str, *, model: str | None = None) -> str | None:
        """The stage the subject is in now, or ``None`` if it never entered the model.

        Raises `ValidationError` for a subject of the other kind (see `move`), which
        can never be in the model.

        Returns:
            The stage's name, or ``None``.
        """
        chosen = self._context.lifecycle_model(model)
        subject = check_id("subject_id", subject_id)
        with self._context.reading() as uow:
            found = uow.stage_histories.find(chosen.name, subject, subject_kind=chosen.subject)
            if found is None:
                refuse_other_kind(uow, chosen.subject, subject, chosen, self._models)
        return None if found is None else found.current

    def stages_of(
        self, subject_id: str, *, subject: SubjectKind | str = SubjectKind.CUSTOMER
    ) -> dict[str, str]:
        """The current stage of a subject in every model it is in, by model name. Raises
        `ValidationError` for an id of the other kind (an account's id without
        ``subject="account"``).

        Returns:
            The current stage by model name (empty when the subject is in none).
        """
        kind = kind_of(subject)
        checked = check_id("subject_id", subject_id)
        with self._context.reading() as uow:
            found = uow.stage_histories.for_subject(checked, subject_kind=kind)
            if not found:
                refuse_other_kind(uow, kind, checked, None, self._models)
        return {history.model: history.current for history in found}

    def evaluate(
        self,
        subject_id: str,
        *,
        subject: SubjectKind | str = SubjectKind.CUSTOMER,
        as_of: datetime | None = None,
    ) -> list[StageChanged]:
        """Apply the progression rules of every model for ``subject`` kind to one subject as
        of ``as_of`` (now by default) and return the moves made, as the events announcing
        them. Evaluating again at the same ``as_of`` makes no further move. A history whose
        stage the model no longer has is left alone. Raises `NotFound` for an unknown
        subject, `ValidationError` for an id of the other kind (an account's id without
        ``subject="account"``).

        Returns:
            The `StageChanged` events of the moves made, in order (empty when none).

        Raises:
            NotFound: no such subject.
            ValidationError: a bad argument.
        """
        kind = kind_of(subject)
        checked = check_id("subject_id", subject_id)
        when = self._context.as_of(as_of, "as_of")

        def attempt() -> list[StageChanged]:
            with self._context.unit_of_work() as uow:
                try:
                    facts_of(uow, kind, checked, when)
                except NotFound:
                    raise missing_subject(
                        uow, kind, checked, model=None, models=self._models
                    ) from None
                progress = progress_subject(
                    uow, self._context.models_for(kind), checked, as_of=when
                )
                uow.commit()
            return list(progress.moves)

        # A concurrent move is re-read: the rules decide again from what the other stored.
        return retry_conflicts(attempt)

    def reevaluate_all(
        self,
        *,
        as_of: datetime | None = None,
        subject: SubjectKind | str = SubjectKind.CUSTOMER,
        batch_size: int = 500,
    ) -> ProgressionReport:
        """Re-evaluate every customer (or account) of the tenant as of ``as_of``: the batch
        job that moves subjects whose situation changed with time alone ("no purchase for 180
        days"). Subjects are read page by page, each page in its own unit of work (retried
        on a concurrent change), so memory stays bounded and no transaction grows with the
        tenant. Subjects with no history yet enter each model first. Running it twice with
        the same ``as_of`` changes nothing the second time.

        For customers, the store finds set-wise (one segment query per page, in SQL on the
        SQL stores) the ones a rule could move, and only those are read and progressed;
        a model whose rules hold a condition that is no segment leaf is evaluated customer
        by customer instead, with the same outcome.

        Returns:
            A `ProgressionReport` of the subjects reviewed and moved.

        Raises:
            ValidationError: ``as_of`` is no aware datetime, or a bad ``batch_size``.
        """
        kind = kind_of(subject)
        when = self._context.as_of(as_of, "as_of")
        models = self._context.models_for(kind)
        if type(batch_size) is not int or not 1 <= batch_size <= 10_000:
            raise ValidationError.single("batch_size", batch_size, "must be an int from 1 to 10000")
        return reevaluate(self._context.unit_of_work, kind, models, when, batch_size)

    def count_by_stage(self, *, model: str | None = None) -> dict[str, int]:
        """How many subjects are in each stage of ``model`` now, in model order (every stage
        listed, empty ones with 0), then any stored stage the model no longer has.

        Returns:
            The counts by stage name.

        Raises:
            UsageError: the settings have no lifecycle model of that name.
            ValidationError: ``model`` is no text.
        """
        chosen = self._context.lifecycle_model(model)
        with self._context.reading() as uow:
            counts = uow.stage_histories.count_by_stage(chosen.name)
        ordered = {name: counts.pop(name, 0) for name in chosen.stage_names}
        return {**ordered, **dict(sorted(counts.items()))}

    def stream_histories(
        self, *, model: str | None = None, stage: str | None = None, batch_size: int = 1000
    ) -> Iterator[StageHistory]:
        """Every history in ``model`` (only those now in ``stage``, if given), with bounded
        memory, in subject order.

        The histories are read from one snapshot, ``batch_size`` at a time, in one read-only
        transaction held open until the stream is exhausted or closed: the caller may change
        data through the CRM meanwhile, and the stream does not see those changes.

        Returns:
            An iterator over the histories.

        Raises:
            ValidationError: an unknown model or stage, or a bad ``batch_size``.
        """
        chosen = self._context.lifecycle_model(model)
        if stage is not None:
            chosen.stage(ensure_text(stage, "stage"))
        with self._context.reading() as uow:
            yield from uow.stage_histories.stream(chosen.name, stage=stage, batch_size=batch_size)

    def durations(
        self,
        *,
        model: str | None = None,
        as_of: datetime | None = None,
        include_ongoing: bool = False,
    ) -> dict[str, DurationStats]:
        """How long subjects stay in each stage of ``model``: the distribution of stay
        lengths per stage, as of ``as_of`` (now by default).

        Returns:
            The `DurationStats` by stage name.

        Raises:
            ValidationError: an unknown model or a bad period.
        """
        flag(include_ongoing, "include_ongoing")
        when = self._context.as_of(as_of, "as_of")
        return stage_durations(
            self.stream_histories(model=model), as_of=when, include_ongoing=include_ongoing
        )

    def conversion(
        self, *, since: datetime, until: datetime, model: str | None = None
    ) -> dict[str, StageFlow]:
        """Where the subjects who entered each stage of ``model`` in ``[since, until)`` went
        next, and how many had not moved on by ``until``.

        Returns:
            The `StageFlow` by stage name.

        Raises:
            ValidationError: an unknown model, or ``since`` not before ``until``.
        """
        return stage_conversion(self.stream_histories(model=model), since=since, until=until)

    def funnel(
        self,
        steps: Sequence[str],
        *,
        model: str | None = None,
        as_of: datetime | None = None,
        entered_since: datetime | None = None,
        entered_until: datetime | None = None,
    ) -> Funnel:
        """The funnel of the cohort that entered ``model`` in ``[entered_since,
        entered_until)``: how many reached each of ``steps`` (stages of the model, in the order
        a subject passes them; reaching a later step counts as passing the earlier ones) by
        ``as_of``.

        Returns:
            The `Funnel` over ``steps``.

        Raises:
            ValidationError: an unknown model or step.
        """
        chosen = self._context.lifecycle_model(model)
        wanted = tuple(items_of(steps, "steps"))
        for step in wanted:
            chosen.stage(step)
        when = self._context.as_of(as_of, "as_of")
        return funnel(
            self.stream_histories(model=chosen.name),
            wanted,
            as_of=when,
            entered_since=entered_since,
            entered_until=entered_until,
        )
