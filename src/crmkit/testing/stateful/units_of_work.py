"""The rule on atomicity: a unit of work that ends without a commit stores nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import rule

from crmkit.domain import (
    CUSTOMER_LIFECYCLE,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    InteractionId,
    StageHistory,
    TenantId,
)
from crmkit.ports import UnitOfWork
from crmkit.testing import strategies
from crmkit.testing.stateful._base import (
    MachineState,
    account_ids,
    customer_keys,
    emails,
    external_keys,
)
from crmkit.testing.stateful._checks import _own_writes
from crmkit.testing.stateful._config import TENANTS, _Key
from crmkit.testing.stateful._draws import _plain_customers, _plain_interactions, _profile_changes
from crmkit.testing.stateful._model import _Abandon, _agree, _Raised, _Side


class UnitOfWorkRules(MachineState):
    """Abandon units of work, or roll them back, and check that only what was committed is
    stored."""

    @rule(
        tenant=st.sampled_from(TENANTS),
        customer_id=strategies.customer_ids(),
        template=_plain_customers(),
        email=st.none() | emails,
        key=st.none() | customer_keys,
        changes=_profile_changes(emails, external_keys, account_ids, keys=False),
        interaction=_plain_interactions(),
        ending=st.sampled_from(["leave", "raise", "rollback_then_commit"]),
    )
    def abandon_a_unit_of_work(
        self,
        tenant: TenantId,
        customer_id: CustomerId,
        template: Customer,
        email: EmailAddress | None,
        key: _Key | None,
        changes: dict[str, Any],
        interaction: Interaction,
        ending: str,
    ) -> None:
        """Register, update, enter a lifecycle and record in one unit of work, then leave it
        without a commit, raise inside it, or roll back and commit something else: only that
        is stored."""
        at = self.clock.now()
        later = attrs.evolve(
            interaction, id=InteractionId(f"{interaction.id}-2"), external_ref=None
        )
        self._customer_ids.add(customer_id)
        self._interaction_ids.update((interaction.id, later.id))

        def work(side: _Side) -> dict[str, object]:
            customer = attrs.evolve(template, id=customer_id, email=email, version=0)
            seen: dict[str, object] = {}
            try:
                with side.uow(tenant) as uow:
                    _write_all(uow, customer, key, changes, interaction, at)
                    seen["before the end"] = _own_writes(uow, customer, interaction)
                    if ending == "raise":
                        raise _Abandon
                    if ending == "rollback_then_commit":
                        uow.rollback()
                        seen["after rollback"] = _own_writes(uow, customer, interaction)
                        uow.interactions.add(later)
                        uow.commit()
            except _Abandon:
                pass
            return seen

        sides = (self.model, self.adapter)
        befores = [side.contents(tenant) for side in sides]
        outcome = self._on_both(
            f"abandon ({ending})", f"abandoning a unit of work ({ending}) in {tenant!r}", work
        )
        committed = ending == "rollback_then_commit" and not isinstance(outcome, _Raised)
        for side, before in zip(sides, befores, strict=True):
            _check_only(ending, tenant, before, later if committed else None, side)


def _write_all(
    uow: UnitOfWork,
    customer: Customer,
    key: _Key | None,
    changes: dict[str, Any],
    interaction: Interaction,
    at: datetime,
) -> None:
    """Register ``customer``, update the one of ``key`` (if any), record ``interaction`` and
    put ``customer`` into the customer lifecycle, in ``uow`` (without a commit)."""
    uow.customers.add(customer)
    existing = None if key is None else uow.customers.find(key[1])
    if existing is not None:
        existing.update_profile(at=at, **changes)
        uow.customers.update(existing)
    uow.interactions.add(interaction)
    model = CUSTOMER_LIFECYCLE
    if uow.stage_histories.find(model.name, customer.id) is None:
        entered = StageHistory.enter(model, customer.id, at=at, reason="abandoned")
        uow.stage_histories.add(entered)


def _check_only(
    ending: str,
    tenant: TenantId,
    before: tuple[list[Customer], list[Interaction], list[StageHistory]],
    later: Interaction | None,
    side: _Side,
) -> None:
    """What ``side`` stores in ``tenant`` after a unit of work ended by ``ending`` is what it
    stored ``before``, plus ``later`` if that was committed."""
    customers, interactions, histories = before
    if later is not None:
        interactions = sorted([*interactions, later], key=lambda i: (i.occurred_at, i.id))
    _agree(
        f"what is stored after {ending}",
        (customers, interactions, histories),
        side.contents(tenant),
    )
