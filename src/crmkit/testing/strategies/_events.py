"""Strategies for domain events (every class crmkit raises) and outbox messages."""

from __future__ import annotations

from hypothesis import strategies as st

from crmkit.domain import (
    AccountChanged,
    AccountRegistered,
    Channel,
    ConsentChanged,
    ConsentStatus,
    CustomerProfileChanged,
    CustomerRegistered,
    DomainEvent,
    EnteredSegment,
    InteractionId,
    InteractionKind,
    InteractionRecorded,
    LeftSegment,
    StageChanged,
    SubjectKind,
)
from crmkit.domain.loyalty import (
    PointsEarned,
    PointsExpired,
    PointsRedeemed,
    ReferralChanged,
    ReferralStatus,
    TierChanged,
)
from crmkit.ports import OutboxMessage
from crmkit.testing.strategies._parts import _actors, _customer_pairs, _short_slugs
from crmkit.testing.strategies._values import (
    _text,
    account_ids,
    customer_ids,
    ids,
    purposes,
    slugs,
    tenants,
    utc_datetimes,
)


def domain_events(of: type[DomainEvent] = DomainEvent) -> st.SearchStrategy[DomainEvent]:
    """Domain events: any kind, or only those of class ``of`` (e.g. `CustomerRegistered`).

    Every event class crmkit raises is drawn, the loyalty ones included (`PointsEarned`,
    `PointsRedeemed`, `PointsExpired`, `TierChanged` between two different tiers, and
    `ReferralChanged` between two different customers).
    """
    at = utc_datetimes()
    cid = customer_ids()
    points = st.integers(1, 100_000)
    fields = st.lists(
        st.sampled_from(["email", "tags", "traits", "address"]), min_size=1, unique=True
    )
    by_class: dict[type[DomainEvent], st.SearchStrategy[DomainEvent]] = {
        CustomerRegistered: st.builds(CustomerRegistered, at, customer_id=cid),
        CustomerProfileChanged: st.builds(
            CustomerProfileChanged, at, customer_id=cid, fields=fields.map(tuple)
        ),
        ConsentChanged: st.builds(
            ConsentChanged,
            at,
            customer_id=cid,
            purpose=purposes(),
            channel=st.none() | st.sampled_from(Channel),
            status=st.sampled_from(ConsentStatus),
        ),
        InteractionRecorded: st.builds(
            InteractionRecorded,
            at,
            customer_id=cid,
            interaction_id=ids().map(InteractionId),
            kind=st.sampled_from(InteractionKind),
            channel=st.sampled_from(Channel),
            occurred_at=utc_datetimes(),
        ),
        AccountRegistered: st.builds(AccountRegistered, at, account_id=account_ids()),
        AccountChanged: st.builds(
            AccountChanged, at, account_id=account_ids(), fields=st.just(("name",))
        ),
        StageChanged: st.builds(
            StageChanged,
            at,
            subject_kind=st.sampled_from(SubjectKind),
            subject_id=ids(),
            model=slugs(12),
            from_stage=st.none() | slugs(12),
            to_stage=slugs(12),
            reason=st.none() | _text(40),
            actor=_actors(),
            rule=st.none() | slugs(12),
        ),
        EnteredSegment: st.builds(EnteredSegment, at, customer_id=cid, segment=slugs(12)),
        LeftSegment: st.builds(LeftSegment, at, customer_id=cid, segment=slugs(12)),
        PointsEarned: st.builds(
            PointsEarned,
            at,
            customer_id=cid,
            points=points,
            rule=_short_slugs(),
            interaction_id=st.none() | ids(),
        ),
        PointsRedeemed: st.builds(
            PointsRedeemed, at, customer_id=cid, points=points, reward=st.none() | _short_slugs()
        ),
        PointsExpired: st.builds(PointsExpired, at, customer_id=cid, points=points),
        TierChanged: st.builds(
            lambda when, customer, tiers: TierChanged(
                when, customer_id=customer, from_tier=tiers[0], to_tier=tiers[1]
            ),
            at,
            cid,
            st.lists(st.none() | _short_slugs(), min_size=2, max_size=2, unique=True),
        ),
        ReferralChanged: st.builds(
            lambda when, referral, pair, status: ReferralChanged(
                when, referral_id=referral, referrer_id=pair[0], referee_id=pair[1], status=status
            ),
            at,
            ids(),
            _customer_pairs(),
            st.sampled_from(ReferralStatus),
        ),
    }
    chosen = [strategy for cls, strategy in by_class.items() if issubclass(cls, of)]
    return st.one_of(*chosen)


def _outbox_messages() -> st.SearchStrategy[OutboxMessage]:
    """Stored events awaiting delivery: a position, a tenant, and an event about its
    aggregate."""
    return st.builds(
        lambda position, tenant, event, at: OutboxMessage(
            position, tenant, event.aggregate_id, event, at
        ),
        st.integers(1, 10**9),
        tenants(),
        domain_events(),
        utc_datetimes(),
    )
