"""Telling a caller that the id they gave is the other kind of subject.

Lifecycle use cases default to customers (the only model of a typical CRM, ``subject=
"customer"``). An account id given to one of them used to surface as "customer not found",
which sends the host looking for a missing customer; the error now says that the id is an
account (or a customer), which models it is in, and what to pass instead.
"""

from __future__ import annotations

from datetime import datetime

from crmkit.app.progression import facts_of
from crmkit.domain import AccountId, CustomerId, Facts, LifecycleModel, SubjectKind
from crmkit.errors import CrmError, NotFound, ValidationError
from crmkit.ports import UnitOfWork

__all__ = ["exists", "kind_of", "missing_subject", "refuse_other_kind", "subject_facts"]


def exists(uow: UnitOfWork, kind: SubjectKind, subject_id: str) -> bool:
    """Whether a customer (or an account) with that id exists in the tenant."""
    if kind is SubjectKind.CUSTOMER:
        return uow.customers.find(CustomerId(subject_id)) is not None
    return uow.accounts.find(AccountId(subject_id)) is not None


def missing_subject(
    uow: UnitOfWork,
    kind: SubjectKind,
    subject_id: str,
    *,
    model: LifecycleModel | None,
    models: tuple[LifecycleModel, ...],
) -> CrmError:
    """The error for a ``kind`` subject that does not exist: `ValidationError` at
    ``subject_id`` when it is a subject of the other kind, else `NotFound`.

    Args:
        uow: the unit of work to look in.
        kind: the kind of subject the call expected.
        subject_id: the id the caller gave.
        model: the lifecycle model the call used (``None`` for calls that take
            ``subject=`` instead of ``model=``).
        models: the CRM's lifecycle models, to name those the subject could be moved in.
    """
    other = SubjectKind.ACCOUNT if kind is SubjectKind.CUSTOMER else SubjectKind.CUSTOMER
    if not exists(uow, other, subject_id):
        return NotFound(kind.value, subject_id)
    found = uow.stage_histories.for_subject(subject_id, subject_kind=other)
    where = ", ".join(sorted(h.model for h in found)) or "no lifecycle model yet"
    if model is None:
        remedy = f"pass subject={other.value!r}"
    else:
        mine = ", ".join(m.name for m in models if m.subject is other) or "this CRM has none"
        remedy = (
            f"{model.name} tracks {kind.value}s, so pass model= naming "
            f"{_article(other)} {other.value} lifecycle model ({mine})"
        )
    return ValidationError.single(
        "subject_id",
        subject_id,
        f"is {_article(other)} {other.value}, not {_article(kind)} {kind.value} "
        f"(it is in {where}): {remedy}",
    )


def _article(kind: SubjectKind) -> str:
    return "an" if kind is SubjectKind.ACCOUNT else "a"


def kind_of(subject: SubjectKind | str) -> SubjectKind:
    """``subject`` as a `SubjectKind`; anything else is a `ValidationError` naming it."""
    if subject not in tuple(SubjectKind):
        raise ValidationError.single("subject", subject, "must be 'customer' or 'account'")
    return SubjectKind(subject)


def subject_facts(
    uow: UnitOfWork,
    model: LifecycleModel,
    subject_id: str,
    when: datetime,
    models: tuple[LifecycleModel, ...],
) -> Facts:
    """`facts_of` the subject of ``model``; a missing one raises `missing_subject`."""
    try:
        return facts_of(uow, model.subject, subject_id, when)
    except NotFound:
        raise missing_subject(uow, model.subject, subject_id, model=model, models=models) from None


def refuse_other_kind(
    uow: UnitOfWork,
    kind: SubjectKind,
    subject_id: str,
    model: LifecycleModel | None,
    models: tuple[LifecycleModel, ...],
) -> None:
    """Raise when ``subject_id`` is no ``kind`` subject but one of the other kind."""
    if not exists(uow, kind, subject_id):
        error = missing_subject(uow, kind, subject_id, model=model, models=models)
        if not isinstance(error, NotFound):
            raise error
