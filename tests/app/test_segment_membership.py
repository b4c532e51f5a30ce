"""Segment membership tracking: snapshots, EnteredSegment / LeftSegment, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit import CRM, CustomerId
from crmkit.app.clocks import FixedClock
from crmkit.domain import SegmentSnapshot, membership_changes
from crmkit.errors import ValidationError
from crmkit.events import DomainEvent, EnteredSegment, InteractionRecorded, LeftSegment
from crmkit.segments import MembershipChange, Segment, days, purchases, tagged
from tests.conftest import MakeCrm, crm_maker

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BUYERS = Segment("buyers", purchases(last=days(30)).count() >= 1, "bought in the last 30 days")
NEVER_BOUGHT = Segment("never_bought", ~(purchases().count() >= 1))
VIP = Segment("vip", tagged("vip"))


@pytest.fixture
def make_crm(any_store: object) -> MakeCrm:
    """Builds CRMs (one shared store per test) with a fixed clock and sequential ids."""
    return crm_maker(any_store, T0, segments=(BUYERS, NEVER_BOUGHT))


@pytest.fixture
def crm(make_crm: MakeCrm) -> CRM:
    return make_crm()


def _clock(crm: CRM) -> FixedClock:
    assert isinstance(crm.settings.clock, FixedClock)
    return crm.settings.clock


def _buy(crm: CRM, customer_id: str, *, after_days: float = 0) -> None:
    _clock(crm).advance(timedelta(days=after_days))
    crm.interactions.record(customer_id, kind="purchase", channel="web")


def _stored(crm: CRM, segment: str) -> list[str]:
    found: list[str] = []
    cursor: str | None = None
    while True:
        page = crm.segments.snapshot_members(segment, limit=2, cursor=cursor)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _recorded(crm: CRM) -> list[DomainEvent]:
    events: list[DomainEvent] = []
    crm.events.subscribe(EnteredSegment, events.append)
    crm.events.subscribe(LeftSegment, events.append)
    return events


class TestDiff:
    def test_the_diff_merges_two_ascending_lists(self) -> None:
        """Who entered, who left, and how many members remain."""
        change = membership_changes(["a", "b", "d"], ["b", "c", "d", "e"], segment="s", at=T0)
        assert change == MembershipChange("s", T0, ["c", "e"], ["a"], members=4)
        assert [type(e).__name__ for e in change.events()] == ["LeftSegment"] + [
            "EnteredSegment"
        ] * 2

    def test_ids_out_of_order_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="ascending"):
            membership_changes(["b", "a"], [], segment="s", at=T0)

    def test_a_snapshot_refuses_an_older_refresh(self) -> None:
        snapshot = SegmentSnapshot.empty("s", T0)
        with pytest.raises(ValidationError, match="before the last snapshot"):
            snapshot.refresh(MembershipChange("s", T0 - timedelta(seconds=1)))


class TestRefresh:
    def test_the_first_refresh_enters_everyone_matching(self, crm: CRM) -> None:
        """Every member enters, with one event each, committed to the outbox."""
        ada, bob, cy = (crm.customers.register(given_name=n) for n in ("Ada", "Bob", "Cy"))
        _buy(crm, ada.id)
        _buy(crm, cy.id)
        events = _recorded(crm)
        change = crm.segments.refresh(BUYERS)
        now = _clock(crm).now()
        assert change == MembershipChange("buyers", now, [ada.id, cy.id], [], members=2)
        assert events == [
            EnteredSegment(now, customer_id=ada.id, segment="buyers"),
            EnteredSegment(now, customer_id=cy.id, segment="buyers"),
        ]
        assert _stored(crm, "buyers") == [ada.id, cy.id]
        assert crm.segments.snapshot("buyers") == SegmentSnapshot("buyers", now, 2, 1)
        outbox = [m.event for m in crm.events.outbox().fetch(limit=1000)]
        assert outbox[-2:] == events
        assert bob.id not in _stored(crm, "buyers")

    def test_a_later_refresh_emits_entries_and_exits_against_the_last_snapshot(
        self, make_crm: MakeCrm
    ) -> None:
        crm = make_crm(segments=())  # nothing refreshed customer by customer meanwhile
        ada, bob = (crm.customers.register(given_name=n) for n in ("Ada", "Bob"))
        _buy(crm, ada.id)
        crm.segments.refresh(BUYERS)
        _buy(crm, bob.id, after_days=40)  # ada's purchase is now outside the window
        events = _recorded(crm)
        change = crm.segments.refresh(BUYERS)
        now = _clock(crm).now()
        assert (change.entered, change.left, change.members) == ((bob.id,), (ada.id,), 1)
        assert events == [
            LeftSegment(now, customer_id=ada.id, segment="buyers"),
            EnteredSegment(now, customer_id=bob.id, segment="buyers"),
        ]
        assert _stored(crm, "buyers") == [bob.id]

    def test_refreshing_twice_at_the_same_as_of_emits_nothing(self, crm: CRM) -> None:
        ada = crm.customers.register(given_name="Ada")
        _buy(crm, ada.id)
        first = crm.segments.refresh(BUYERS)
        events = _recorded(crm)
        again = crm.segments.refresh(BUYERS, as_of=first.as_of)
        assert not again.changed
        assert again.members == 1
        assert events == []
        assert crm.segments.snapshot("buyers") == SegmentSnapshot("buyers", first.as_of, 1, 1)

    def test_an_as_of_before_the_last_snapshot_is_refused(self, crm: CRM) -> None:
        crm.segments.refresh(BUYERS)
        with pytest.raises(ValidationError, match="before the last snapshot"):
            crm.segments.refresh(BUYERS, as_of=T0 - timedelta(days=1))

    def test_a_never_refreshed_segment_has_no_snapshot(self, crm: CRM) -> None:
        assert crm.segments.snapshot("buyers") is None
        assert _stored(crm, "buyers") == []

    def test_a_refresh_pages_through_many_members(self, crm: CRM) -> None:
        """Stored and current members are merged in batches."""
        people = [crm.customers.register(given_name=f"P{n}", tags={"vip"}) for n in range(7)]
        assert crm.segments.refresh(VIP, batch_size=2).members == 7
        crm.customers.update(people[3].id, tags=set())
        change = crm.segments.refresh(VIP, batch_size=2)
        assert (change.entered, change.left, change.members) == ((), (people[3].id,), 6)
        assert _stored(crm, "vip") == sorted(p.id for p in people if p is not people[3])


class TestSingleCustomer:
    def test_recording_an_interaction_moves_the_customer_in_the_same_commit(self, crm: CRM) -> None:
        """A purchase enters the buyer and leaves 'never bought', with the interaction."""
        ada, bob = (crm.customers.register(given_name=n) for n in ("Ada", "Bob"))
        crm.segments.refresh(BUYERS)
        crm.segments.refresh(NEVER_BOUGHT)
        assert _stored(crm, "never_bought") == [ada.id, bob.id]
        outbox = crm.events.outbox()
        outbox.acknowledge(outbox.fetch(limit=1000))
        _buy(crm, ada.id, after_days=1)
        now = _clock(crm).now()
        events = [m.event for m in outbox.fetch(limit=1000)]
        assert isinstance(events[0], InteractionRecorded)
        assert events[1:] == [
            EnteredSegment(now, customer_id=ada.id, segment="buyers"),
            LeftSegment(now, customer_id=ada.id, segment="never_bought"),
        ]
        assert _stored(crm, "buyers") == [ada.id]
        assert _stored(crm, "never_bought") == [bob.id]
        assert crm.segments.snapshot("buyers") == SegmentSnapshot("buyers", T0, 1, 2)

    def test_a_customer_can_leave_by_refreshing_their_memberships(self, crm: CRM) -> None:
        ada = crm.customers.register(given_name="Ada")
        crm.segments.refresh(BUYERS)
        _buy(crm, ada.id)
        assert _stored(crm, "buyers") == [ada.id]
        later = _clock(crm).advance(timedelta(days=31))
        assert crm.segments.refresh_memberships(ada.id) == [
            LeftSegment(later, customer_id=ada.id, segment="buyers")
        ]
        assert crm.segments.refresh_memberships(ada.id) == []
        assert _stored(crm, "buyers") == []

    def test_segments_never_refreshed_are_left_alone(self, crm: CRM) -> None:
        ada = crm.customers.register(given_name="Ada")
        _buy(crm, ada.id)
        assert crm.segments.snapshot("buyers") is None
        assert crm.segments.refresh_memberships(ada.id) == []

    def test_segments_must_be_segments_with_distinct_names(self, make_crm: MakeCrm) -> None:
        with pytest.raises(ValidationError, match="duplicate"):
            make_crm(segments=(BUYERS, BUYERS))
        with pytest.raises(ValidationError, match="must be a Segment"):
            make_crm(segments=("buyers",))
        crm = make_crm()
        assert crm.for_tenant("beta").settings.segments == (BUYERS, NEVER_BOUGHT)


class TestTenancy:
    def test_no_tenant_sees_another_tenants_snapshot(self, make_crm: MakeCrm) -> None:
        alpha, beta = make_crm("alpha"), make_crm("beta")
        ada = alpha.customers.register(given_name="Ada")
        _buy(alpha, ada.id)
        alpha.segments.refresh(BUYERS)
        assert beta.segments.snapshot("buyers") is None
        assert _stored(beta, "buyers") == []
        assert beta.segments.refresh(BUYERS).entered == ()
        assert _stored(alpha, "buyers") == [ada.id]


class TestProperty:
    @settings(
        max_examples=10,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        steps=st.lists(
            st.tuples(
                st.sampled_from(["buy", "refresh", "refresh_one"]),
                st.integers(0, 3),
                st.integers(0, 40),
            ),
            min_size=1,
            max_size=10,
        )
    )
    def test_the_snapshot_is_the_replay_of_its_events_and_the_last_refresh(
        self, make_crm: MakeCrm, steps: list[tuple[str, int, int]]
    ) -> None:
        """After any refreshes and interactions, replaying the entered/left events from empty
        gives the stored snapshot; right after a refresh it is the segment's members."""
        tenant = f"t{abs(hash(tuple(steps))) % 10**9}"
        crm = make_crm(tenant)
        events = _recorded(crm)
        people = [crm.customers.register(given_name=f"P{n}").id for n in range(4)]
        steps = [*steps, ("refresh", 0, 0)]
        for action, who, gap in steps:
            if action == "buy":
                _buy(crm, people[who], after_days=gap)
            elif action == "refresh_one":
                _clock(crm).advance(timedelta(days=gap))
                crm.segments.refresh_memberships(people[who])
            else:
                _clock(crm).advance(timedelta(days=gap))
                crm.segments.refresh(BUYERS)
                members = [c.id for c in crm.segments.stream(BUYERS)]
                assert _stored(crm, "buyers") == members
            assert _stored(crm, "buyers") == _replayed(events, "buyers")
        snapshot = crm.segments.snapshot("buyers")
        assert snapshot is not None
        assert snapshot.members == crm.segments.count(BUYERS, as_of=snapshot.as_of)


def _replayed(events: list[DomainEvent], segment: str) -> list[CustomerId]:
    members: set[CustomerId] = set()
    for event in events:
        if isinstance(event, EnteredSegment) and event.segment == segment:
            assert event.customer_id not in members
            members.add(event.customer_id)
        elif isinstance(event, LeftSegment) and event.segment == segment:
            members.remove(event.customer_id)
    return sorted(members)


class TestTimeInAStage:
    """`stage(model).is_in(..., at_least_days=N)` through the front door, on every backend."""

    def test_counted_listed_and_tracked_once_the_days_are_up(self, make_crm: MakeCrm) -> None:
        from crmkit.lifecycle import CUSTOMER_LIFECYCLE
        from crmkit.segments import stage

        settled = Segment("settled", stage("customer_lifecycle").is_in(["lead"], at_least_days=14))
        crm = make_crm(lifecycles=(CUSTOMER_LIFECYCLE,), segments=(settled,))
        ada = crm.customers.register(given_name="Ada")
        bob = crm.customers.register(given_name="Bob")
        crm.lifecycle.move(ada.id, "lead")
        _clock(crm).advance(timedelta(days=7))
        crm.lifecycle.move(bob.id, "lead")
        crm.segments.refresh(settled)
        assert _stored(crm, "settled") == []
        ada_due = T0 + timedelta(days=14)
        assert crm.segments.count(settled, as_of=ada_due - timedelta(microseconds=1)) == 0
        assert [c.id for c in crm.segments.stream(settled, as_of=ada_due)] == [ada.id]
        later = _clock(crm).advance(timedelta(days=7))
        assert crm.segments.refresh_memberships(ada.id) == [
            EnteredSegment(later, customer_id=ada.id, segment="settled")
        ]
        assert crm.segments.refresh_memberships(bob.id) == []
        assert crm.segments.count(settled, as_of=later + timedelta(days=7)) == 2
