"""The rules on loyalty points: earning, refunding, redeeming and adjusting."""

from __future__ import annotations

import functools
from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import MultipleResults, multiple, precondition, rule

from crmkit.domain import (
    Channel,
    CustomerId,
    EntryKind,
    Interaction,
    InteractionKind,
    Money,
    TenantId,
)
from crmkit.errors import InsufficientPoints, NotFound
from crmkit.testing.stateful._base import MachineState, customer_keys, recorded, refs
from crmkit.testing.stateful._config import (
    LOYALTY,
    LOYALTY_KINDS,
    MEMBERS,
    NO_SUCH_PURCHASE,
    POINTS_KEYS,
    REFUND_TARGETS,
    _Key,
    _Recorded,
)
from crmkit.testing.stateful._draws import _members, _rarely, _sometimes
from crmkit.testing.stateful._model import _attempt, _check, _Raised, _Side


class LoyaltyRules(MachineState):
    """Earn points, refund purchases, redeem and adjust points."""

    @rule(
        target=recorded,
        key=_members(customer_keys),
        kind=st.sampled_from(
            [
                *([InteractionKind.PURCHASE.value] * 3),
                *LOYALTY_KINDS[1:],
                InteractionKind.REFERRAL.value,
            ]
        ),
        cents=st.integers(0, 30_000),
        channel=st.sampled_from([Channel.WEB, Channel.APP, Channel.IN_PERSON]),
        days=st.none() | st.integers(-10, 0),
        ref=_sometimes(refs),
    )
    def earn_points(
        self,
        key: _Key,
        kind: str,
        cents: int,
        channel: Channel,
        days: int | None,
        ref: str | None,
    ) -> MultipleResults[_Recorded]:
        """Record, through the front door, an interaction that earns: mostly a purchase in
        EUR, else a review, a sign-up or a referral; now or up to 10 days ago (so that its
        points may be available at once), on the web, in the app (which doubles them) or in
        person; for a customer, or for one of `MEMBERS` (who joins first, if need be).
        Drawn often, so that members have points to redeem, refund and expire."""
        tenant, customer_id = key
        if customer_id in MEMBERS and key not in self._joined:
            self._join(tenant, customer_id)
        now = self.clock.now()
        occurred_at = now if days is None else now + timedelta(days=days)
        amount = Money(cents, "EUR") if kind == InteractionKind.PURCHASE else None

        def earn(side: _Side) -> Interaction:
            return side.crms[tenant].interactions.record(
                customer_id,
                kind=kind,
                channel=channel,
                occurred_at=occurred_at,
                amount=amount,
                external_ref=ref,
            )

        outcome = self._on_both(
            f"earn points ({kind})",
            f"recording a {kind} of {customer_id!r} in {tenant!r} for {amount}",
            earn,
        )
        if isinstance(outcome, _Raised):
            return multiple()
        self._log(tenant, outcome)
        return multiple((tenant, outcome))

    @precondition(lambda self: any(i.kind == InteractionKind.PURCHASE for _, i in self._logged))
    @rule(
        target=recorded,
        pick=st.integers(0, 63),
        named=st.sampled_from(REFUND_TARGETS),
        quarters=st.none() | st.integers(1, 4),
        elsewhere=_rarely(),
        ref=_sometimes(refs),
    )
    def refund_a_purchase(
        self, pick: int, named: str, quarters: int | None, elsewhere: bool, ref: str | None
    ) -> MultipleResults[_Recorded]:
        """Record a refund of a stored purchase with `CRM.record_interaction`, naming it with
        ``refund_of`` by id or external reference: for a quarter to all of its amount, or
        (without an amount) for the rest; it reverses what the purchase earned. Sometimes it
        names a purchase of another customer, an interaction that is no purchase or nothing
        stored (refused alike), names no purchase, or is recorded in the other tenant.
        Refunded in full, the purchase has taken back exactly what it earned."""
        purchases = [(t, i) for t, i in self._logged if i.kind == InteractionKind.PURCHASE]
        home, purchase = purchases[pick % len(purchases)]
        customer_id = purchase.customer_id
        refund_of = self._refund_of(home, purchase, named, pick)
        amount = _quarters_of(purchase, quarters)
        tenant = self._other(home) if elsewhere else home

        def refund(side: _Side) -> Interaction:
            return side.crms[tenant].interactions.record(
                customer_id,
                kind=InteractionKind.REFUND,
                channel=purchase.channel,
                amount=amount,
                external_ref=ref,
                refund_of=refund_of,
            )

        outcome = self._on_both(
            f"refund a purchase (by {named})",
            f"refunding {amount} of {purchase!r} in {tenant!r}, naming {refund_of!r}",
            refund,
        )
        if isinstance(outcome, _Raised):
            return multiple()
        self._log(tenant, outcome)
        if named in ("id", "ref") and quarters in (None, 4) and ref is None and not elsewhere:
            self._check_refunded_in_full(tenant, outcome, purchase)
        return multiple((tenant, outcome))

    def _refund_of(
        self, tenant: TenantId, purchase: Interaction, named: str, pick: int
    ) -> str | None:
        """What a refund of ``purchase`` names as ``refund_of``, as `REFUND_TARGETS` draws."""
        if named == "id":
            return purchase.id
        if named == "ref":
            return purchase.external_ref or purchase.id
        if named in ("other", "not_a_purchase", "unknown"):
            return self._refund_target(tenant, purchase, named, pick)
        return None

    def _refund_target(self, tenant: TenantId, purchase: Interaction, named: str, pick: int) -> str:
        """What a refund of ``purchase`` that must be refused names: another customer's
        purchase, an interaction of the customer that is no purchase, or nothing stored."""
        if named == "other":
            found = [
                i
                for t, i in self._logged
                if t == tenant
                and i.kind == InteractionKind.PURCHASE
                and i.customer_id != purchase.customer_id
            ]
        elif named == "not_a_purchase":
            found = [
                i
                for t, i in self._logged
                if t == tenant
                and i.kind != InteractionKind.PURCHASE
                and i.customer_id == purchase.customer_id
            ]
        else:
            found = []
        return found[pick % len(found)].id if found else NO_SUCH_PURCHASE

    def _check_refunded_in_full(
        self, tenant: TenantId, refund: Interaction, purchase: Interaction
    ) -> None:
        """After a refund of the whole (or the rest of the) purchase, every refund of it took
        back, or forgave as already spent, exactly what it earned (read on the adapter)."""
        ledger = self.adapter.readers[tenant].loyalty.ledger(refund.customer_id)
        reversed_ = [e for e in ledger.entries if e.interaction_id == refund.id]
        purchase_id = reversed_[0].reference if reversed_ else purchase.id
        earned = sum(
            e.points
            for e in ledger.entries
            if e.kind is EntryKind.EARN and e.interaction_id == purchase_id
        )
        taken = sum(
            e.points + e.shortfall
            for e in ledger.entries
            if e.kind is EntryKind.REVERSE and e.reference == purchase_id
        )
        _check(
            f"the points refunds of {purchase_id!r} took back or forgave, after refunding all of "
            f"it (with {refund!r})",
            earned,
            taken,
        )

    @rule(
        key=_members(customer_keys),
        elsewhere=_rarely(),
        how=st.sampled_from(["part", "part", "all", "beyond", "reward", "invalid"]),
        share=st.integers(1, 4),
        token=_sometimes(st.sampled_from(POINTS_KEYS)),
    )
    def redeem_points(
        self, key: _Key, elsewhere: bool, how: str, share: int, token: str | None
    ) -> None:
        """Redeem points with `CRM.redeem_points`: a share of the balance (the model's, now)
        or all of it, rounded to the programme's step; more than the balance (which raises
        `InsufficientPoints` and writes nothing); the ``coffee`` reward; or an amount off the
        step, or a reward the catalogue lacks. Sometimes with a key from a small pool: a
        replay returns the first redemption, or conflicts if it asked for something else."""
        tenant, customer_id = self._where(self._member(key), elsewhere)
        available = self._available(tenant, customer_id)
        points, reward = _redemption(how, share, available)
        before = self.adapter.points(tenant)

        def redeem(side: _Side) -> object:
            return side.crms[tenant].loyalty.redeem(
                customer_id, points=points, reward=reward, key=token
            )

        outcome = self._on_both(
            f"redeem points ({how})",
            f"redeeming {points} points (reward {reward!r}, key {token!r}) of {customer_id!r} "
            f"in {tenant!r}, whose balance is {available}",
            redeem,
        )
        if how == "beyond" and token is None and outcome != _Raised(NotFound, ""):
            _check("redeeming more than the balance", _Raised(InsufficientPoints, ""), outcome)
        if outcome == _Raised(InsufficientPoints, ""):
            _check("what is stored after a refused redemption", before, self.adapter.points(tenant))

    @rule(
        key=_members(customer_keys),
        elsewhere=_rarely(),
        points=st.integers(-40, 60),
        reason=st.sampled_from(["goodwill", "correction", "goodwill", "correction", " "]),
        token=_sometimes(st.sampled_from(POINTS_KEYS)),
    )
    def adjust_points(
        self, key: _Key, elsewhere: bool, points: int, reason: str, token: str | None
    ) -> None:
        """Correct a balance by hand with `CRM.adjust_points`: up (a lot available at once,
        that never expires) or down (beyond the balance: `InsufficientPoints`); zero points
        or a blank reason are refused alike. Sometimes with a key from a small pool."""
        tenant, customer_id = self._where(self._member(key), elsewhere)

        def adjust(side: _Side) -> object:
            return side.crms[tenant].loyalty.adjust(customer_id, points, reason=reason, key=token)

        self._on_both(
            "adjust points",
            f"adjusting the points of {customer_id!r} in {tenant!r} by {points} ({reason!r}, "
            f"key {token!r})",
            adjust,
        )

    def _available(self, tenant: TenantId, customer_id: CustomerId) -> int:
        """The customer's points available now, as the model holds them (0 if it has none)."""
        balance = _attempt(
            functools.partial(self.model.readers[tenant].loyalty.balance, customer_id)
        )
        return 0 if isinstance(balance, _Raised) else balance.available


def _quarters_of(purchase: Interaction, quarters: int | None) -> Money | None:
    """``quarters`` quarters of what ``purchase`` spent (``None``: the rest, no amount)."""
    if quarters is None or purchase.amount is None:
        return None
    return Money(purchase.amount.minor * quarters // 4, purchase.amount.currency)


def _redemption(how: str, share: int, available: int) -> tuple[int | None, str | None]:
    """The points (or the reward) a redemption drawn as ``how`` asks for, of a balance of
    ``available`` points (see `LoyaltyRules.redeem_points`)."""
    step, minimum = LOYALTY.redemption.step, LOYALTY.redemption.minimum
    if how == "part":
        return max(minimum, available * share // 4 // step * step), None
    if how == "all":
        return max(minimum, available // step * step), None
    if how == "beyond":
        return max(minimum, (available // step + 1) * step), None
    if how == "reward":
        return None, "coffee"
    if share % 2:
        return minimum + step * share + 1, None
    return None, "caviar"
