"""The rules on the interaction log: recording (directly or through the CRM) and replaying."""

from __future__ import annotations

from datetime import timedelta

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import MultipleResults, multiple, rule

from crmkit.domain import CustomerId, Interaction, InteractionId, InteractionKind, Money, TenantId
from crmkit.errors import IdempotencyConflict, NotFound
from crmkit.testing import strategies
from crmkit.testing.stateful._base import MachineState, customer_keys, recorded, refs
from crmkit.testing.stateful._config import YEAR_MINUTES, _Key, _Recorded
from crmkit.testing.stateful._draws import _euros, _kinds, _mostly, _rarely
from crmkit.testing.stateful._model import _agree, _Raised, _record_through, _Side

#: The kinds whose amount is never negative (what was paid, what was given back).
_UNSIGNED = frozenset({InteractionKind.PURCHASE, InteractionKind.REFUND})

#: The one decorator of the two recording rules: each draws the customer (now and then one of
#: the other tenant), a template interaction and the kind, instant, reference and amount to
#: give it, and puts what was stored in `recorded`.
_recording_rule = rule(
    target=recorded,
    key=customer_keys,
    elsewhere=_rarely(),
    template=strategies.interactions(),
    kind=_kinds(),
    minutes=st.none() | st.integers(-5, 5) | st.integers(-YEAR_MINUTES, 0),
    ref=_mostly(refs),
    euros=_euros(),
)


class InteractionRules(MachineState):
    """Record interactions, directly or through the `CRM`, and replay them."""

    @_recording_rule
    def record_interaction(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        kind: str | None,
        minutes: int | None,
        ref: str | None,
        euros: Money | None,
    ) -> MultipleResults[_Recorded]:
        """Append an interaction to the log; a taken id or reference must be refused alike.
        (Stages do not move and nothing is earned: the log is written to directly.)"""
        return self._record(key, elsewhere, template, kind, minutes, ref, euros, front_door=False)

    @_recording_rule
    def record_interaction_through_the_front_door(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        kind: str | None,
        minutes: int | None,
        ref: str | None,
        euros: Money | None,
    ) -> MultipleResults[_Recorded]:
        """Record an interaction with `CRM.record_interaction` (idempotent by reference); the
        progression rules then run for the customer and the customer's account, and the
        interaction earns its points (a purchase, mostly in EUR, by the money spent; a
        referred customer's first purchase rewards the referral)."""
        return self._record(key, elsewhere, template, kind, minutes, ref, euros, front_door=True)

    def _record(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        kind: str | None,
        minutes: int | None,
        ref: str | None,
        euros: Money | None,
        *,
        front_door: bool,
    ) -> MultipleResults[_Recorded]:
        tenant, customer_id = self._where(key, elsewhere)
        interaction = self._drawn_interaction(template, customer_id, kind, minutes, ref, euros)
        self._interaction_ids.add(interaction.id)

        def record(side: _Side) -> Interaction:
            if front_door:
                return _record_through(side.crms[tenant], interaction)
            with side.uow(tenant) as uow:
                uow.interactions.add(interaction)
                uow.commit()
            return interaction

        outcome = self._on_both(
            "record interaction" + (" (front door)" if front_door else ""),
            f"recording {interaction!r} in {tenant!r}",
            record,
        )
        if isinstance(outcome, _Raised):
            return multiple()
        self._log(tenant, outcome)
        return multiple((tenant, outcome))

    def _drawn_interaction(
        self,
        template: Interaction,
        customer_id: CustomerId,
        kind: str | None,
        minutes: int | None,
        ref: str | None,
        euros: Money | None,
    ) -> Interaction:
        """``template`` for ``customer_id``, with the drawn kind, instant, reference and
        amount (each kept from the template when not drawn)."""
        # Often at the same instant as another interaction, so that the id breaks the tie;
        # often in the last year, so that the lifecycle rules' windows count it. A purchase
        # mostly spends EUR, so that it earns.
        occurred_at = template.occurred_at
        if minutes is not None:
            occurred_at = self.clock.now() + timedelta(minutes=minutes)
        kind = template.kind if kind is None else kind
        amount = template.amount
        if kind == InteractionKind.PURCHASE and euros is not None:
            amount = euros
        if kind in _UNSIGNED and amount is not None and amount.minor < 0:
            amount = -amount  # a template of another kind may spend less than nothing
        return attrs.evolve(
            template,
            customer_id=customer_id,
            occurred_at=occurred_at,
            external_ref=ref,
            kind=kind,
            amount=amount,
        )

    @rule(entry=recorded, new_id=_mostly(strategies.ids().map(InteractionId)))
    def replay_interaction(self, entry: _Recorded, new_id: InteractionId | None) -> None:
        """Append a stored interaction again, as it is or under a new id: a taken id or
        reference is refused with `IdempotencyConflict`, and the log still holds it once."""
        tenant, original = entry
        replay = original if new_id is None else attrs.evolve(original, id=new_id)
        self._replay(tenant, tenant, original, replay, front_door=False)

    @rule(entry=recorded, changed=st.booleans(), elsewhere=_rarely())
    def replay_interaction_through_the_front_door(
        self, entry: _Recorded, changed: bool, elsewhere: bool
    ) -> None:
        """Record a stored interaction's content again with `CRM.record_interaction`: with
        its reference, the stored one is returned (or, if the content changed,
        `IdempotencyConflict` raised) and the log still holds it once. In the other
        tenant, the reference is free."""
        home, original = entry
        replay = original
        if changed:
            replay = attrs.evolve(original, owner=None if original.owner else "carol")
        tenant = self._other(home) if elsewhere else home
        self._replay(home, tenant, original, replay, front_door=True)

    def _replay(
        self,
        home: TenantId,
        tenant: TenantId,
        original: Interaction,
        replay: Interaction,
        *,
        front_door: bool,
    ) -> None:
        self._interaction_ids.add(replay.id)

        def replay_it(side: _Side) -> Interaction:
            if front_door:
                return _record_through(side.crms[tenant], replay)
            with side.uow(tenant) as uow:
                uow.interactions.add(replay)
                uow.commit()
            return replay

        outcome = self._on_both(
            "replay interaction" + (" (front door)" if front_door else ""),
            f"recording {replay!r} again in {tenant!r}",
            replay_it,
        )
        if not isinstance(outcome, _Raised):
            self._log(tenant, outcome)
        ref = original.external_ref
        if ref is None or tenant != home:
            return
        if front_door and outcome == _Raised(NotFound, ""):
            pass  # the front door records only for a customer of the tenant
        elif front_door and original.same_content(replay):
            _agree("a replay through the front door", original, outcome)
        else:
            _agree("a replay", _Raised(IdempotencyConflict, ""), outcome)
        for side in (self.model, self.adapter):
            stored = [i for i in side.contents(home)[1] if i.external_ref == ref]
            _agree(f"the interactions with external_ref {ref!r}", [original], stored)
