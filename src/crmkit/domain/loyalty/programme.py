"""A loyalty programme: the configuration every member's ledger follows.

It holds the earning rules, multipliers, caps, tiers, the pending period, expiry, the
redemption rules and the rewards catalogue, and is checked as a whole when built: names are
unique, event rules name known kinds, multipliers name known tiers, tiers do not overlap.
Each problem raises `crmkit.errors.ValidationError` with its path (``tiers[1].threshold``).
`Programme.awards` turns one interaction into points per rule; the ledger books them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import attrs

from crmkit.domain._checks import SLUG, check_slug, non_negative_int
from crmkit.domain._lists import listed
from crmkit.domain.interactions.channels import InteractionKind
from crmkit.domain.interactions.interaction import Interaction
from crmkit.domain.loyalty.referrals import ReferralPolicy
from crmkit.domain.loyalty.rules import CATEGORY, EventRule, Multiplier, PeriodCap, SpendRule
from crmkit.domain.loyalty.tiers import Tier, TierPolicy, day_count, optional_day_count
from crmkit.domain.rules.conditions import Facts
from crmkit.domain.values.timestamps import LATEST, later
from crmkit.errors import FieldError, ValidationError

__all__ = ["MAX_PROGRAMME_PARTS", "Award", "EarningRule", "Programme", "Redemption", "Reward"]

EarningRule = SpendRule | EventRule

#: The most rules, multipliers, tiers, period caps, rewards or custom kinds one programme
#: may have (each list on its own).
MAX_PROGRAMME_PARTS = 100

_PARTS = ("rules", "multipliers", "tiers", "period_caps", "rewards", "custom_kinds")


def _positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or value <= 0:
        raise ValidationError.single(attribute.name, value, "must be an integer > 0")


@attrs.frozen
class Redemption:
    """Redemptions take at least ``minimum`` points, in multiples of ``step``."""

    minimum: int = attrs.field(default=1, validator=_positive)
    step: int = attrs.field(default=1, validator=_positive)

    def problem(self, points: int) -> str | None:
        """Why ``points`` cannot be redeemed, or ``None`` when they can."""
        if points < self.minimum:
            return f"must be at least {self.minimum}"
        if points % self.step:
            return f"must be a multiple of {self.step}"
        return None


@attrs.frozen
class Reward:
    """An entry of the rewards catalogue: a name and its ``price`` in points."""

    name: str = attrs.field(validator=check_slug)
    price: int = attrs.field(validator=_positive)


@attrs.frozen
class Award:
    """The points one rule awards for one interaction, before the member's period caps."""

    rule: str
    points: int


def _kind_set(value: Iterable[str]) -> frozenset[str]:
    return frozenset(listed("custom_kinds", value, "interaction kinds"))  # slugs: checked below


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


def _optional_days(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        non_negative_int(instance, attribute, value)


def _each(items: Iterable[Any], kind: type | tuple[type, ...], path: str) -> list[FieldError]:
    return [
        FieldError(f"{path}[{i}]", item, f"must be a {getattr(kind, '__name__', 'rule')}")
        for i, item in enumerate(items)
        if not isinstance(item, kind)
    ]


@attrs.frozen
class Programme:
    """A loyalty programme. See the module docstring for what is checked when it is built.

    Attributes:
        name: the programme's slug.
        rules: the earning rules (spend and event rules); names are unique.
        multipliers: what scales earnings, all multiplied together with the tier benefit.
        tiers: the tiers, each reached at its own threshold.
        tier_policy: how tiers are qualified for and kept.
        custom_kinds: interaction kinds beyond `InteractionKind` that event rules may name.
        event_cap: the most points one interaction may earn (``None``: no cap).
        period_caps: the most points a member may earn per day, week or month.
        pending_days: how long earned points stay pending after the interaction (a return
            window) before they become available.
        expiry_days: points expire this many days after becoming available (``None``: never).
        redemption: the minimum and step of a redemption.
        rewards: the rewards catalogue.
        referrals: how qualified referrals are rewarded (``None``: referrals earn nothing).
    """

    name: str = attrs.field(validator=check_slug)
    rules: tuple[EarningRule, ...] = attrs.field(converter=_tuple)
    multipliers: tuple[Multiplier, ...] = attrs.field(default=(), converter=_tuple, kw_only=True)
    tiers: tuple[Tier, ...] = attrs.field(default=(), converter=_tuple, kw_only=True)
    tier_policy: TierPolicy = attrs.field(factory=TierPolicy, kw_only=True)
    custom_kinds: frozenset[str] = attrs.field(
        default=frozenset(), converter=_kind_set, kw_only=True
    )
    event_cap: int | None = attrs.field(default=None, kw_only=True, validator=_optional_days)
    period_caps: tuple[PeriodCap, ...] = attrs.field(default=(), converter=_tuple, kw_only=True)
    pending_days: int = attrs.field(default=0, kw_only=True, validator=day_count)
    expiry_days: int | None = attrs.field(default=None, kw_only=True, validator=optional_day_count)
    redemption: Redemption = attrs.field(factory=Redemption, kw_only=True)
    rewards: tuple[Reward, ...] = attrs.field(default=(), converter=_tuple, kw_only=True)
    referrals: ReferralPolicy | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        too_many = [
            FieldError(name, len(parts), f"must hold at most {MAX_PROGRAMME_PARTS} items")
            for name in _PARTS
            if len(parts := getattr(self, name)) > MAX_PROGRAMME_PARTS
        ]
        if too_many:
            raise ValidationError(too_many)
        errors = [
            *_each(self.rules, (SpendRule, EventRule), "rules"),
            *_each(self.multipliers, Multiplier, "multipliers"),
            *_each(self.tiers, Tier, "tiers"),
            *_each(self.period_caps, PeriodCap, "period_caps"),
            *_each(self.rewards, Reward, "rewards"),
        ]
        if self.referrals is not None and not isinstance(self.referrals, ReferralPolicy):
            errors.append(FieldError("referrals", self.referrals, "must be a ReferralPolicy"))
        if not errors:
            errors = self._problems()
        if errors:
            raise ValidationError(errors)

    def _problems(self) -> list[FieldError]:
        errors = _duplicates(self.rules, "name", "rules")
        errors += _duplicates(self.multipliers, "name", "multipliers")
        errors += _duplicates(self.tiers, "name", "tiers")
        errors += _duplicates(self.rewards, "name", "rewards")
        errors += _duplicates(self.period_caps, "period", "period_caps")
        known = {k.value for k in InteractionKind} | self.custom_kinds
        errors += [bad for kind in self.custom_kinds if (bad := _bad_kind(kind, "custom_kinds"))]
        for index, rule in enumerate(self.rules):
            kinds = rule.kinds if isinstance(rule, SpendRule) else {rule.kind}
            errors += [
                FieldError(f"rules[{index}].kind", kind, "is not a known interaction kind")
                for kind in sorted(kinds - known)
            ]
        seen: dict[int, str] = {}
        for index, tier in enumerate(self.tiers):
            if tier.threshold in seen:
                message = f"overlaps tier {seen[tier.threshold]!r} (same threshold)"
                errors.append(FieldError(f"tiers[{index}].threshold", tier.threshold, message))
            seen.setdefault(tier.threshold, tier.name)
        names = {tier.name for tier in self.tiers}
        errors += [
            FieldError(f"multipliers[{i}].tier", m.tier, "is not a tier of the programme")
            for i, m in enumerate(self.multipliers)
            if m.tier is not None and m.tier not in names
        ]
        errors += self._referral_problems(known)
        errors += [
            FieldError(f"rewards[{i}].price", reward.price, f"{problem} (the redemption rule)")
            for i, reward in enumerate(self.rewards)
            if (problem := self.redemption.problem(reward.price))
        ]
        return errors

    def _referral_problems(self, known: set[str] | frozenset[str]) -> list[FieldError]:
        if self.referrals is None:
            return []
        rewarded = {rule.kind for rule in self.rules if isinstance(rule, EventRule)}
        errors = []
        for side in ("referrer_kind", "referee_kind"):
            kind = getattr(self.referrals, side)
            if kind is None:
                continue
            if kind not in known:
                errors.append(FieldError(f"referrals.{side}", kind, "is not a known kind"))
            elif kind not in rewarded:
                message = "has no event rule, so the referral would earn nothing"
                errors.append(FieldError(f"referrals.{side}", kind, message))
        return errors

    def tier(self, name: str | None) -> Tier | None:
        """The tier called ``name`` (``None`` for no tier)."""
        return next((tier for tier in self.tiers if tier.name == name), None)

    def reward(self, name: str) -> Reward:
        """The catalogue entry called ``name``; raise `ValidationError` if there is none."""
        for reward in self.rewards:
            if reward.name == name:
                return reward
        raise ValidationError.single("reward", name, "is not in the rewards catalogue")

    def redemption_points(self, points: int | None, reward: str | None) -> int:
        """The points a redemption of ``points`` or of a ``reward`` takes, checked against the
        catalogue, the minimum and the step; raise `ValidationError` naming ``points``."""
        if reward is not None:
            price = self.reward(reward).price
            if points is not None and points != price:
                raise ValidationError.single("points", points, f"must be the price {price}")
            points = price
        if points is None or type(points) is not int:
            raise ValidationError.single("points", points, "must be an int, or name a reward")
        problem = self.redemption.problem(points)
        if problem:
            raise ValidationError.single("points", points, problem)
        return points

    def available_from(self, occurred_at: datetime) -> datetime:
        """When points for an interaction that occurred at ``occurred_at`` become available.

        A pending period that ends after the last instant a datetime can hold ends at that
        instant (`LATEST`): the points stay pending at every earlier one."""
        return later(occurred_at, timedelta(days=self.pending_days)) or LATEST

    def expires_at(self, available_from: datetime) -> datetime | None:
        """When points that became available at ``available_from`` expire (``None``: never,
        which includes an expiry after the last instant a datetime can hold)."""
        if self.expiry_days is None:
            return None
        return later(available_from, timedelta(days=self.expiry_days))

    def awards(
        self, interaction: Interaction, tier: str | None, facts: Facts | None = None
    ) -> tuple[Award, ...]:
        """The points each rule awards ``interaction`` for a member in ``tier``.

        Each rule's exact points are multiplied by every multiplier that applies and by the
        tier's benefit, then rounded once (a spend rule's own mode; event rules round down).
        When the total passes `event_cap`, the later rules' awards are cut first.
        """
        factor = self._factor(interaction, tier, facts)
        when, kind = interaction.occurred_at, interaction.kind
        awards: list[Award] = []
        room = self.event_cap
        for rule in self.rules:
            exact = rule.base(kind, interaction.amount, when) * factor
            rounding = rule.rounding if isinstance(rule, SpendRule) else ROUND_DOWN
            points = int(exact.to_integral_value(rounding=rounding))
            if room is not None:
                points = min(points, room)
                room -= points
            if points > 0:
                awards.append(Award(rule.name, points))
        return tuple(awards)

    def _factor(self, interaction: Interaction, tier: str | None, facts: Facts | None) -> Decimal:
        held = self.tier(tier)
        factor = held.multiplier if held else Decimal(1)
        for multiplier in self.multipliers:
            in_segment = None
            if multiplier.segment is not None and facts is not None:
                in_segment = multiplier.segment.holds(facts)
            category = interaction.metadata.get(CATEGORY)
            when = interaction.occurred_at
            if multiplier.applies(tier, interaction.channel, when, in_segment, category):
                factor *= multiplier.factor
        return factor


def _duplicates(items: Iterable[Any], field: str, path: str) -> list[FieldError]:
    seen: set[Any] = set()
    errors = []
    for index, item in enumerate(items):
        value = getattr(item, field)
        if value in seen:
            errors.append(FieldError(f"{path}[{index}].{field}", value, "is used twice"))
        seen.add(value)
    return errors


def _bad_kind(kind: Any, path: str) -> FieldError | None:
    if isinstance(kind, str) and SLUG.fullmatch(kind):
        return None
    return FieldError(path, kind, "must hold lower-case slugs")
