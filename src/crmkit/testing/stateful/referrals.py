"""The rule on referrals: one customer refers another (or themselves, or someone referred)."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import MultipleResults, multiple, rule

from crmkit.domain import Customer, CustomerId, Referral, TenantId
from crmkit.errors import ReferralRefused
from crmkit.testing.stateful._base import MachineState, customer_keys
from crmkit.testing.stateful._config import MEMBERS, _Key
from crmkit.testing.stateful._draws import _members
from crmkit.testing.stateful._model import _check, _Raised, _Side


class ReferralRules(MachineState):
    """Record referrals, of newcomers, other customers, the referrer or someone already
    referred."""

    @rule(
        target=customer_keys,
        referrer=_members(customer_keys),
        referee=customer_keys,
        which=st.sampled_from(["newcomer", "newcomer", "another", "themselves", "again"]),
        pick=st.integers(0, 15),
        code=st.none() | st.sampled_from(["FRIEND10", "spring-24"]),
    )
    def refer_customer(
        self, referrer: _Key, referee: _Key, which: str, pick: int, code: str | None
    ) -> MultipleResults[_Key]:
        """Record a referral with `CRM.refer_customer`: of a newcomer the referrer brought
        (registered first through the front door, from a pool of three ids, so sometimes
        already there), of another customer (of the tenant, mostly: the pool of ids is
        shared), of the referrer themselves, or of a customer already referred; the last two
        raise `ReferralRefused` alike. The referee's next purchase through the front door
        qualifies the referral and rewards both."""
        referrer = self._member(referrer)
        tenant, referrer_id = referrer
        referee_id = referee[1]
        referred = self._referees.get(tenant, [])
        newcomer: MultipleResults[_Key] = multiple()
        if which == "newcomer":
            referee_id = CustomerId(f"friend-{pick % 3}")
            newcomer = self._register_newcomer(tenant, referee_id)
        elif which == "themselves":
            referee_id = referrer_id
        elif which == "again" and referred:
            referee_id = referred[pick % len(referred)]

        self._parties.update((referrer_id, referee_id))

        def refer(side: _Side) -> Referral:
            return side.crms[tenant].loyalty.referrals.refer(referrer_id, referee_id, code=code)

        outcome = self._on_both(
            f"refer a customer ({which})",
            f"recording that {referrer_id!r} referred {referee_id!r} in {tenant!r}",
            refer,
        )
        if not isinstance(outcome, _Raised):
            self._referral_ids.add(outcome.id)
            self._referees.setdefault(tenant, []).append(referee_id)
        joined = referrer_id not in MEMBERS or referrer in self._joined
        if joined and (which == "themselves" or (which == "again" and referred)):
            # Both are customers of the tenant: only the referral itself can be refused.
            _check(f"referring {referee_id!r} ({which})", _Raised(ReferralRefused, ""), outcome)
        return newcomer

    def _register_newcomer(
        self, tenant: TenantId, customer_id: CustomerId
    ) -> MultipleResults[_Key]:
        """Register a referred newcomer through the front door (it may be there already)."""
        self._customer_ids.add(customer_id)

        def register(side: _Side) -> Customer:
            return side.crms[tenant].customers.register(
                customer_id=customer_id, given_name="Friend"
            )

        outcome = self._on_both(
            "register a referred customer",
            f"registering the newcomer {customer_id!r} in {tenant!r}",
            register,
        )
        return multiple() if isinstance(outcome, _Raised) else multiple((tenant, customer_id))
