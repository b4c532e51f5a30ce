"""Referrals: pending → qualified → rewarded, and the guards against paying twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit.domain import (
    CustomerId,
    EventRule,
    Money,
    Programme,
    Referral,
    ReferralChanged,
    ReferralPolicy,
    ReferralStatus,
    SpendRule,
)
from crmkit.errors import IllegalTransition, ReferralRefused, ValidationError

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ADA, BOB = CustomerId("ada"), CustomerId("bob")


def pending() -> Referral:
    return Referral.record("r1", "club", ADA, BOB, T0, code="ADA-10")


def test_a_referral_moves_from_pending_to_qualified_to_rewarded() -> None:
    referral = pending()
    referral.qualify("purchase-1", T0 + timedelta(days=2))
    referral.reward(T0 + timedelta(days=2))
    assert referral.status is ReferralStatus.REWARDED
    assert referral.qualifying_interaction_id == "purchase-1"
    assert (referral.qualified_at, referral.rewarded_at) == (T0 + timedelta(days=2),) * 2
    statuses = [e.status for e in referral.pull_events() if isinstance(e, ReferralChanged)]
    assert statuses == ["pending", "qualified", "rewarded"]


def test_a_customer_cannot_refer_themselves() -> None:
    with pytest.raises(ReferralRefused, match="themselves"):
        Referral.record("r1", "club", ADA, ADA, T0)


def test_steps_cannot_be_skipped_or_repeated() -> None:
    referral = pending()
    with pytest.raises(IllegalTransition, match="allowed next: qualified"):
        referral.reward(T0)
    referral.qualify("p1", T0)
    with pytest.raises(IllegalTransition):
        referral.qualify("p2", T0)


def test_a_step_cannot_be_dated_before_the_one_it_follows() -> None:
    referral = pending()
    with pytest.raises(ValidationError, match="at"):
        referral.qualify("p1", T0 - timedelta(days=1))
    assert referral.status is ReferralStatus.PENDING
    referral.qualify("p1", T0 + timedelta(days=3))
    with pytest.raises(ValidationError):
        referral.reward(T0 + timedelta(days=2))
    assert referral.status is ReferralStatus.QUALIFIED


def test_a_policy_must_reward_someone_with_an_event_rule() -> None:
    with pytest.raises(ValidationError):
        ReferralPolicy(None, referee_kind=None)
    rules = [SpendRule("spend", 1, Money.of("1", "EUR"))]
    with pytest.raises(ValidationError, match=r"referrals\.referrer_kind"):
        Programme("club", rules, referrals=ReferralPolicy("referral"))
    with pytest.raises(ValidationError, match=r"referrals\.referee_kind"):
        Programme(
            "club",
            [*rules, EventRule("bring", "referral", 100)],
            referrals=ReferralPolicy("referral", referee_kind="nonsense"),
        )


ACTIONS = st.lists(st.sampled_from(["qualify", "reward"]), max_size=6)


@given(ACTIONS)
def test_a_referral_only_ever_moves_forward_one_step_at_a_time(actions: list[str]) -> None:
    """Whatever is attempted, the status history is a prefix of pending, qualified,
    rewarded, and the timestamps are set exactly when their step was reached."""
    referral = pending()
    order = [ReferralStatus.PENDING, ReferralStatus.QUALIFIED, ReferralStatus.REWARDED]
    for n, action in enumerate(actions):
        at = T0 + timedelta(hours=n)
        before = referral.status
        try:
            referral.qualify(f"p{n}", at) if action == "qualify" else referral.reward(at)
        except IllegalTransition:
            assert referral.status is before
        else:
            assert order.index(referral.status) == order.index(before) + 1
    reached = order.index(referral.status)
    assert (referral.qualified_at is not None) == (reached >= 1)
    assert (referral.rewarded_at is not None) == (reached >= 2)
    statuses = [e.status for e in referral.pull_events() if isinstance(e, ReferralChanged)]
    assert statuses == order[: reached + 1]
