"""Properties every adapter must have, whatever the model says: what a unit of work sees of
its own writes, what a stored stage history may be, and that points and stage changes add up.
"""

from __future__ import annotations

from collections import Counter

from crmkit.domain import (
    CUSTOMER_LIFECYCLE,
    Customer,
    DomainEvent,
    Interaction,
    LedgerState,
    LifecycleModel,
    StageChanged,
    StageHistory,
)
from crmkit.ports import UnitOfWork
from crmkit.testing.stateful._model import _check, _got


def _own_writes(uow: UnitOfWork, customer: Customer, interaction: Interaction) -> object:
    """What a unit of work reads of its own uncommitted writes (it must see them all)."""
    customers, interactions, histories = uow.customers, uow.interactions, uow.stage_histories
    model = CUSTOMER_LIFECYCLE.name
    return {
        "customers.count()": customers.count(),
        "customers.find(new)": customers.find(customer.id),
        "customers.find_by_email(new)": customer.email and customers.find_by_email(customer.email),
        "customers.list()": customers.list(limit=1000).items,
        "interactions.count()": interactions.count(),
        "interactions.get(new)": _got(interactions.get, interaction.id),
        "interactions.timeline()": interactions.timeline(interaction.customer_id),
        "stage_histories.find(new)": histories.find(model, customer.id),
        "stage_histories.for_subject(new)": histories.for_subject(customer.id),
        "stage_histories.stream()": list(histories.stream(model, batch_size=2)),
        "stage_histories.count_by_stage()": histories.count_by_stage(model),
    }


def _bad_path(model: LifecycleModel, history: StageHistory) -> str | None:
    """What is wrong with a stored history of ``model``, if anything."""
    stages = [change.to_stage for change in history.changes]
    if (history.model, history.subject_kind) != (model.name, model.subject):
        return f"it is a history of {history.subject_kind} in {history.model}"
    if not model.is_path(stages):
        return f"{stages} is not a path through {model.name}"
    if history.current != history.changes[-1].to_stage:
        return f"its current stage {history.current!r} is not the last one entered"
    if history.version < 1:
        return f"it is stored at version {history.version}"
    return None


def _check_totals(what: str, state: LedgerState) -> None:
    """Nothing in ``state`` is negative, and every point is accounted for: ``earned +
    adjusted_in == redeemed + expired + reversed + adjusted_out + available + pending``."""
    negative = [lot for lot in state.lots if lot.remaining < 0]
    if state.available < 0 or state.pending < 0 or negative:
        raise AssertionError(
            f"{what}: negative points\n  available {state.available}, pending "
            f"{state.pending}, lots {negative!r}"
        )
    _check(
        f"{what}: earned + adjusted in, against redeemed + expired + reversed + adjusted out "
        f"+ available + pending ({state!r})",
        state.earned + state.adjusted_in,
        state.redeemed
        + state.expired
        + state.reversed
        + state.adjusted_out
        + state.available
        + state.pending,
    )


def _check_announced(histories: list[StageHistory], published: list[DomainEvent]) -> None:
    """Every stage change in ``histories`` (of every tenant) was published as one
    `StageChanged` event, and no other was."""
    stored = Counter(
        (h.subject_kind, h.subject_id, h.model, c.from_stage, c.to_stage, c.at, c.actor, c.rule)
        for h in histories
        for c in h.changes
    )
    announced = Counter(
        (e.subject_kind, e.subject_id, e.model, e.from_stage, e.to_stage, e.at, e.actor, e.rule)
        for e in published
        if isinstance(e, StageChanged)
    )
    if stored != announced:
        raise AssertionError(
            "the stage changes stored and the StageChanged events published differ\n"
            f"  stored, never announced: {sorted(map(repr, stored - announced))}\n"
            f"  announced, never stored: {sorted(map(repr, announced - stored))}"
        )
