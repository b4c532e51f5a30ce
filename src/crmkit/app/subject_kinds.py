"""Telling a caller that the id they gave is the other kind of subject.

Lifecycle use cases default to customers (the only model of a typical CRM, ``subject=
"customer"``). An account id given to one of them used to surface as "customer not found",
which sends the host looking for a missing customer; the error now says that the id is an
account (or a customer), which models it is in, and what to pass instead.
"""

from __future__ import annotations

from crmkit.domain import AccountId, CustomerId, LifecycleModel, SubjectKind
from crmkit.errors import CrmError, NotFound, ValidationError
from crmkit.ports import UnitOfWork

__all__ = ["exists", "missing_subject"]


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
