"""Strategies for segments, the facts they are evaluated on, their refreshes and snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from hypothesis import strategies as st

from crmkit.domain import (
    Facts,
    MembershipChange,
    PostalAddress,
    Segment,
    SegmentSnapshot,
)
from crmkit.testing.strategies._accounts import accounts
from crmkit.testing.strategies._customers import consent_records, customers, trait_values, traits
from crmkit.testing.strategies._interactions import interactions
from crmkit.testing.strategies._leaves import _EDGE_DAYS, _TEXTS, _TRAIT_NAMES
from crmkit.testing.strategies._parts import _KINDS, SEGMENT_AS_OF, _stage_names
from crmkit.testing.strategies._rules import segment_rules
from crmkit.testing.strategies._values import _text, customer_ids, ids, slugs, utc_datetimes


def segments(max_depth: int = 3) -> st.SearchStrategy[Segment]:
    """Valid segments: a slug name, a rule of `segment_rules`, sometimes a description."""
    return st.builds(
        Segment,
        st.sampled_from(["vip_de", "lapsed"]) | slugs(20),
        segment_rules(max_depth),
        st.none() | _text(40),
    )


@st.composite
def _segment_facts(draw: st.DrawFn, as_of: datetime) -> Facts:
    customer = draw(customers(customer_id=draw(st.sampled_from(["c1", "c2"]) | ids())))
    address = draw(
        st.none()
        | st.builds(
            PostalAddress,
            country=st.sampled_from(["DE", "FR", "US"]),
            city=st.none() | st.sampled_from(_TEXTS),
            region=st.none() | st.sampled_from(_TEXTS),
            postal_code=st.none() | st.sampled_from(["10115", "50667", "75001"]),
        )
    )
    trait_map = draw(
        st.dictionaries(st.sampled_from(_TRAIT_NAMES), trait_values(), max_size=4) | traits()
    )
    consents = draw(
        st.lists(
            consent_records(purpose=draw(st.sampled_from(["marketing", "newsletter"]))),
            max_size=3,
        ).map(lambda records: tuple(sorted(records, key=lambda r: r.at)))
    )
    customer = attrs.evolve(customer, address=address, traits=trait_map, consents=consents)
    offsets = st.sampled_from(_EDGE_DAYS).map(lambda d: -timedelta(days=d)) | st.integers(
        -400 * 86_400, 86_400
    ).map(lambda s: timedelta(seconds=s))
    made = draw(
        st.lists(
            st.tuples(interactions(customer_id=customer.id, kinds=list(_KINDS)), offsets),
            max_size=6,
        )
    )
    account = draw(st.none() | accounts())
    stages = draw(
        st.dictionaries(
            st.sampled_from(["customer_lifecycle", "pipeline"]), _stage_names(), max_size=2
        )
    )
    # when each stage was entered: on whole-day edges before as_of, or just after it
    since = offsets | st.just(timedelta(microseconds=1))
    entered = {model: as_of + draw(since) for model in stages}
    return Facts.of_customer(
        customer,
        [attrs.evolve(i, occurred_at=as_of + d) for i, d in made],
        as_of,
        account=account,
        stages=stages,
        stages_entered_at=entered,
    )


def segment_facts(as_of: datetime = SEGMENT_AS_OF) -> st.SearchStrategy[Facts]:
    """Facts of one customer as `segment_rules` look at them: an address, traits of the
    names the rules use, consents, interactions at and around whole-day window edges
    before ``as_of`` (and some after it), sometimes an account and stages (entered at such
    edges too)."""
    return _segment_facts(as_of)


# --- Segment membership ------------------------------------------------------------------


@st.composite
def membership_changes(draw: st.DrawFn) -> MembershipChange:
    """What a refresh of a segment changed: disjoint entered and left customers."""
    moved = draw(st.lists(customer_ids(), unique=True, max_size=8))
    split = draw(st.integers(0, len(moved)))
    entered, left = moved[:split], moved[split:]
    stayed = draw(st.integers(0, 50))
    return MembershipChange(
        draw(slugs(12)), draw(utc_datetimes()), entered, left, members=len(entered) + stayed
    )


def segment_snapshots() -> st.SearchStrategy[SegmentSnapshot]:
    """Stored snapshots of segments, as a repository hands them out."""
    return st.builds(
        SegmentSnapshot,
        slugs(12),
        utc_datetimes(),
        members=st.integers(0, 10_000),
        version=st.integers(1, 50),
    )
