"""Lifecycle work inside a unit of work: entering models and applying progression rules.

The use cases call these with the unit of work they already hold, so that a registration and
its entry into the lifecycle, or an interaction and the stage changes it triggers, commit
together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs

from crmkit.app.membership import facts_with
from crmkit.domain import (
    AccountId,
    Customer,
    CustomerId,
    Facts,
    Interaction,
    LifecycleModel,
    StageChanged,
    StageHistory,
    SubjectKind,
)
from crmkit.domain.values.timestamps import later
from crmkit.errors import NotFound
from crmkit.ports import UnitOfWork

__all__ = [
    "Progress",
    "enter_models",
    "facts_of",
    "history_in",
    "progress_subject",
]

_JUST_AFTER = timedelta(microseconds=1)


def enter_models(
    uow: UnitOfWork,
    models: Iterable[LifecycleModel],
    subject_id: str,
    *,
    at: datetime,
    reason: str | None = None,
) -> None:
    """Put a new subject into each of ``models`` at its initial stage, then let the rules run."""
    for model in models:
        history = StageHistory.enter(model, subject_id, at=at, reason=reason)
        if model.rules:
            history.progress(model, facts_of(uow, model.subject, subject_id, at))
        uow.stage_histories.add(history)


def history_in(
    uow: UnitOfWork, model: LifecycleModel, subject_id: str, *, at: datetime
) -> tuple[StageHistory, bool]:
    """The subject's stored history in ``model``, or a new one entered at the initial stage
    at ``at`` (for subjects that predate the model); the flag says whether it is new."""
    found = uow.stage_histories.find(model.name, subject_id, subject_kind=model.subject)
    if found is not None:
        return found, False
    entered = StageHistory.enter(model, subject_id, at=at, reason="entered on first use")
    return entered, True


@attrs.frozen
class Progress:
    """What applying the progression rules to one subject did.

    Attributes:
        moves: the stage changes made, as the events that announce them (who, which model).
        entered: the models the subject entered for the first time.
        skipped: the models whose stored stage is no longer one of the model's stages (the
            host renamed or removed it): left alone rather than failing the whole run.
    """

    moves: tuple[StageChanged, ...] = ()
    entered: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


def progress_subject(
    uow: UnitOfWork,
    models: Iterable[LifecycleModel],
    subject_id: str,
    *,
    as_of: datetime,
    actor: str | None = None,
    customer: Customer | None = None,
) -> Progress:
    """Apply each model's progression rules to one subject as of ``as_of`` and save the
    histories that moved (entering the subject first where it had no history). A caller
    that holds the subject's ``customer`` already (as read in this unit of work) passes it,
    so it is not read again."""
    moves: list[StageChanged] = []
    entered: list[str] = []
    skipped: list[str] = []
    facts: dict[SubjectKind, Facts] = {}
    for model in models:
        history, new = history_in(uow, model, subject_id, at=as_of)
        if not history.fits(model):
            skipped.append(model.name)
            continue
        moved = []
        if model.rules:
            if model.subject not in facts:
                facts[model.subject] = facts_of(uow, model.subject, subject_id, as_of, customer)
            moved = history.progress(model, facts[model.subject], actor=actor)
            moves.extend(history.event_for(change) for change in moved)
        if new:
            entered.append(model.name)
            uow.stage_histories.add(history)
        elif moved:
            uow.stage_histories.update(history)
    return Progress(tuple(moves), tuple(entered), tuple(skipped))


def facts_of(
    uow: UnitOfWork,
    kind: SubjectKind,
    subject_id: str,
    as_of: datetime,
    customer: Customer | None = None,
) -> Facts:
    """What conditions see of a customer (their interactions, account and stages) or an
    account (its contacts' interactions), up to ``as_of``; raises `NotFound` for an unknown
    subject. ``customer``, when given, is the subject as already read."""
    until = later(as_of, _JUST_AFTER)  # None at the last instant: nothing comes after it
    if kind is SubjectKind.CUSTOMER:
        if customer is None or customer.id != subject_id:
            customer = uow.customers.get(CustomerId(subject_id))
        interactions = uow.interactions.timeline(customer.id, until=until)
        # With their account and stages: a guard may compare account fields or look at where
        # the customer stands in another lifecycle model.
        return facts_with(uow, customer, interactions, as_of)
    account = uow.accounts.find(AccountId(subject_id))
    if account is None:
        raise NotFound("account", subject_id)
    return Facts.of_account(account, _contact_interactions(uow, account.id, until), as_of)


def _contact_interactions(
    uow: UnitOfWork, account_id: AccountId, until: datetime | None
) -> list[Interaction]:
    found: list[Interaction] = []
    cursor: str | None = None
    while True:
        page = uow.customers.list(account_id=account_id, cursor=cursor, limit=1000)
        for contact in page.items:
            found.extend(uow.interactions.timeline(contact.id, until=until))
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor
