"""Strategies for loyalty programmes and their parts (rules, tiers, multipliers, rewards)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache

from hypothesis import strategies as st

from crmkit.domain import (
    Channel,
    Money,
)
from crmkit.domain.loyalty import (
    ROUNDING_MODES,
    Award,
    EventRule,
    Multiplier,
    Period,
    PeriodCap,
    Programme,
    Redemption,
    ReferralPolicy,
    Reward,
    SpendRule,
    Tier,
    TierBasis,
    TierPolicy,
)
from crmkit.testing.strategies._parts import _KINDS, SEGMENT_AS_OF, _short_slugs
from crmkit.testing.strategies._rules import conditions
from crmkit.testing.strategies._values import currencies, utc_datetimes


@cache
def _validity() -> st.SearchStrategy[dict[str, datetime]]:
    def window(start: datetime | None, days: int | None) -> dict[str, datetime]:
        found = {} if start is None else {"valid_from": start}
        if days is not None:
            found["valid_until"] = (start or SEGMENT_AS_OF) + timedelta(days=days)
        return found

    return st.builds(window, st.none() | utc_datetimes(), st.none() | st.integers(1, 400))


@cache
def _factors() -> st.SearchStrategy[Decimal]:
    return st.decimals(Decimal("0.01"), Decimal(10), places=2) | st.integers(1, 5).map(Decimal)


@st.composite
def _earning_rule(
    draw: st.DrawFn, name: str, kinds: tuple[str, ...], spend: bool | None = None
) -> SpendRule | EventRule:
    window = draw(_validity())
    if draw(st.booleans()) if spend is None else spend:
        return SpendRule(
            name,
            draw(st.integers(1, 100)),
            draw(st.builds(Money, st.integers(1, 10_000), currencies())),
            rounding=draw(st.sampled_from(sorted(ROUNDING_MODES))),
            kinds=draw(st.frozensets(st.sampled_from(kinds), min_size=1, max_size=3)),
            **window,
        )
    return EventRule(name, draw(st.sampled_from(kinds)), draw(st.integers(1, 500)), **window)


@st.composite
def _referral_policy(draw: st.DrawFn, kinds: tuple[str, ...]) -> ReferralPolicy:
    """A policy naming kinds of ``kinds``; it shrinks towards the default (``referral`` for
    the referrer, nothing for the referee)."""
    referrer = draw(st.sampled_from(("referral", *kinds)) | st.none())
    sides = st.sampled_from(kinds)
    referee = draw(sides if referrer is None else st.none() | sides)
    return ReferralPolicy(referrer, referee_kind=referee)


def _rewarding(
    draw: st.DrawFn, policy: ReferralPolicy, rules: list[SpendRule | EventRule]
) -> list[SpendRule | EventRule]:
    """``rules`` with an event rule added for each kind ``policy`` names that has none, as
    the `Programme` requires."""
    rules = list(rules)
    names = {rule.name for rule in rules}
    for kind in (policy.referrer_kind, policy.referee_kind):
        if kind is None or any(isinstance(r, EventRule) and r.kind == kind for r in rules):
            continue
        name = f"{kind}_bonus"
        while name in names:
            name += "_"
        names.add(name)
        rules.append(EventRule(name, kind, draw(st.integers(1, 500))))
    return rules


@st.composite
def _loyalty_programme(draw: st.DrawFn) -> Programme:
    custom = draw(st.frozensets(_short_slugs(), max_size=2))
    kinds = (*_KINDS, *sorted(custom))
    names = draw(st.lists(_short_slugs(), min_size=1, max_size=4, unique=True))
    rules = [draw(_earning_rule(name, kinds)) for name in names]
    policy = draw(st.none() | _referral_policy(kinds))
    if policy is not None:
        rules = _rewarding(draw, policy, rules)
    tier_names = draw(st.lists(_short_slugs(), max_size=3, unique=True))
    thresholds = draw(
        st.lists(
            st.integers(0, 100_000),
            min_size=len(tier_names),
            max_size=len(tier_names),
            unique=True,
        )
    )
    tiers = [
        Tier(name, threshold, multiplier=draw(_factors()))
        for name, threshold in zip(tier_names, thresholds, strict=True)
    ]
    multipliers = [
        draw(_multiplier(name, tuple(tier_names)))
        for name in draw(st.lists(_short_slugs(), max_size=2, unique=True))
    ]
    periods = draw(st.lists(st.sampled_from(Period), max_size=3, unique=True))
    rewards = draw(st.lists(_short_slugs(), max_size=3, unique=True))
    redemption = draw(_redemptions())
    return Programme(
        draw(_short_slugs()),
        rules,
        multipliers=multipliers,
        tiers=tiers,
        tier_policy=draw(_tier_policies()),
        custom_kinds=custom,
        event_cap=draw(st.none() | st.integers(0, 10_000)),
        period_caps=[PeriodCap(period, draw(st.integers(1, 10_000))) for period in periods],
        pending_days=draw(st.integers(0, 30)),
        expiry_days=draw(st.none() | st.integers(0, 730)),
        redemption=redemption,
        # A reward's price is a redemption the rule allows: at least the minimum, in steps.
        rewards=[
            Reward(
                name,
                redemption.step
                * draw(
                    st.integers(
                        -(-redemption.minimum // redemption.step), 10_000 // redemption.step + 1
                    )
                ),
            )
            for name in rewards
        ],
        referrals=policy,
    )


@st.composite
def _multiplier(draw: st.DrawFn, name: str, tier_names: tuple[str, ...]) -> Multiplier:
    return Multiplier(
        name,
        draw(_factors()),
        tier=draw(st.none() | st.sampled_from(tier_names)) if tier_names else None,
        channels=draw(st.frozensets(st.sampled_from(Channel), max_size=2)),
        segment=draw(st.none() | conditions(2)),
        **draw(_validity()),
    )


@cache
def _tier_policies() -> st.SearchStrategy[TierPolicy]:
    return st.builds(
        TierPolicy, st.sampled_from(TierBasis), st.integers(1, 730), st.integers(0, 365)
    )


@cache
def _redemptions() -> st.SearchStrategy[Redemption]:
    return st.builds(Redemption, st.integers(1, 1_000), st.integers(1, 100))


def loyalty_programmes() -> st.SearchStrategy[Programme]:
    """Valid loyalty programmes: one to four spend and event rules (on interaction kinds or
    the programme's custom kinds, sometimes with validity dates), and optionally multipliers
    (by tier, channel, segment condition, dates), tiers with distinct thresholds and a tier
    policy, an event cap, period caps, pending and expiry days, a redemption minimum and
    step, rewards, and a `ReferralPolicy` (for the referrer, the referee or both); an event
    rule is added for each kind the policy names that no event rule rewards, so the policy
    is always valid. Programmes shrink towards a single rule and nothing else."""
    return _loyalty_programme()


# --- Parts of a programme on their own, for ``st.from_type`` (see `_registry`) -------------


def _spend_rules() -> st.SearchStrategy[SpendRule | EventRule]:
    return _earning_rule("base", _KINDS, spend=True)


def _event_rules() -> st.SearchStrategy[SpendRule | EventRule]:
    return _earning_rule("bonus", _KINDS, spend=False)


def _multipliers() -> st.SearchStrategy[Multiplier]:
    return _short_slugs().flatmap(lambda name: _multiplier(name, ("gold",)))


def _tiers() -> st.SearchStrategy[Tier]:
    return st.builds(Tier, _short_slugs(), st.integers(0, 100_000), multiplier=_factors())


def _period_caps() -> st.SearchStrategy[PeriodCap]:
    return st.builds(PeriodCap, st.sampled_from(Period), st.integers(1, 10_000))


def _rewards() -> st.SearchStrategy[Reward]:
    return st.builds(Reward, _short_slugs(), st.integers(1, 10_000))


def _awards() -> st.SearchStrategy[Award]:
    return st.builds(Award, _short_slugs(), st.integers(1, 10_000))


def _referral_policies() -> st.SearchStrategy[ReferralPolicy]:
    return _referral_policy(_KINDS)
