"""`crm.interactions.record_many`: a burst recorded batch by batch, with every reaction, on
every backend, to the same end as recording each interaction in turn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmkit import (
    CRM,
    Channel,
    CustomerId,
    FixedClock,
    Interaction,
    InteractionId,
    Money,
    SequentialIds,
)
from crmkit.adapters.memory import InMemoryStore
from crmkit.errors import IdempotencyConflict, NotFound, ValidationError
from crmkit.events import DomainEvent, EnteredSegment, InteractionRecorded, PointsEarned
from crmkit.lifecycle import CUSTOMER_LIFECYCLE
from crmkit.loyalty import Programme, SpendRule
from crmkit.segments import Segment, purchases
from tests.conftest import MakeCrm, crm_maker

T0 = datetime(2024, 1, 1, tzinfo=UTC)
AT = T0 - timedelta(hours=1)  # the purchases happened just before the clock's now
EUR = "EUR"
CLUB = Programme("club", [SpendRule("spend", 1, Money.of("1.00", EUR))])
BUYERS = Segment("buyers", purchases().count() >= 1)
SETUP: dict[str, Any] = {
    "lifecycles": (CUSTOMER_LIFECYCLE,),
    "segments": (BUYERS,),
    "loyalty": CLUB,
}


@pytest.fixture
def make_crm(any_store: object) -> MakeCrm:
    return crm_maker(any_store, T0, **SETUP)


def _purchase(n: int, who: str, euros: int, ref: str | None = None) -> Interaction:
    return Interaction(
        InteractionId(f"i{n}"),
        CustomerId(who),
        AT + timedelta(minutes=n),
        "purchase",
        Channel.WEB,
        amount=Money.of(euros, EUR),
        external_ref=ref,
    )


def _people(crm: CRM, n: int = 3) -> list[str]:
    ids = [crm.customers.register(given_name=f"P{k}").id for k in range(n)]
    crm.segments.refresh(BUYERS)  # tracked from now on
    return ids


def _state(crm: CRM, people: list[str]) -> tuple[Any, ...]:
    return (
        [crm.loyalty.balance(p).available for p in people],
        [crm.lifecycle.current_stage(p) for p in people],
        list(crm.segments.snapshot_members("buyers", limit=100).items),
    )


def _kinds(events: list[DomainEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_a_burst_ends_where_recording_one_by_one_ends(make_crm: MakeCrm) -> None:
    burst = make_crm("alpha", ids=SequentialIds("p"))
    single = make_crm("beta", ids=SequentialIds("p"))  # the same ids in another tenant
    seen: dict[str, list[DomainEvent]] = {"alpha": [], "beta": []}
    for crm in (burst, single):
        crm.events.subscribe(DomainEvent, seen[crm.tenant].append)
    people, twins = _people(burst), _people(single)
    plan = [(0, 30), (1, 5), (0, 12), (2, 40), (1, 8)]
    burst.interactions.record_many(
        [_purchase(n, people[who], euros) for n, (who, euros) in enumerate(plan)], batch_size=2
    )
    for n, (who, euros) in enumerate(plan):
        single.interactions.record(
            twins[who],
            kind="purchase",
            channel="web",
            occurred_at=AT + timedelta(minutes=n),
            amount=Money.of(euros, EUR),
        )
    assert _state(burst, people) == _state(single, twins) != ([0, 0, 0], [None] * 3, [])
    assert _kinds(seen["alpha"]) == _kinds(seen["beta"])
    assert {InteractionRecorded, PointsEarned, EnteredSegment} <= set(map(type, seen["alpha"]))


def test_the_interactions_keep_their_ids_and_times(make_crm: MakeCrm) -> None:
    crm = make_crm()
    ada = _people(crm, 1)[0]
    recorded = crm.interactions.record_many([_purchase(1, ada, 10), _purchase(2, ada, 20)])
    assert [(i.id, i.occurred_at) for i in recorded] == [
        ("i1", AT + timedelta(minutes=1)),
        ("i2", AT + timedelta(minutes=2)),
    ]
    assert [i.id for i in crm.interactions.timeline(ada)] == ["i1", "i2"]


def test_a_failing_batch_stores_nothing_of_itself(make_crm: MakeCrm) -> None:
    crm = make_crm()
    ada = _people(crm, 1)[0]
    items = [_purchase(1, ada, 10), _purchase(2, ada, 10), _purchase(3, "nobody", 10)]
    with pytest.raises(NotFound):
        crm.interactions.record_many(items, batch_size=2)
    assert [i.id for i in crm.interactions.timeline(ada)] == ["i1", "i2"]  # the first batch
    assert crm.loyalty.balance(ada).available == 20


def test_a_replay_answers_with_the_stored_interaction_even_within_a_batch(
    make_crm: MakeCrm,
) -> None:
    crm = make_crm()
    ada = _people(crm, 1)[0]
    order = _purchase(1, ada, 10, ref="order-1")
    first, again = crm.interactions.record_many([order, attrs.evolve(order, id="i2")])
    assert first == again
    assert again.id == "i1"
    assert crm.loyalty.balance(ada).available == 10  # earned once
    with pytest.raises(IdempotencyConflict, match="amount"):
        crm.interactions.record_many([_purchase(3, ada, 99, ref="order-1")])


def test_bad_input_is_refused_with_its_position(make_crm: MakeCrm) -> None:
    crm = make_crm()
    ada = _people(crm, 1)[0]
    with pytest.raises(ValidationError) as caught:
        crm.interactions.record_many([_purchase(1, ada, 10), "i2"])  # type: ignore[list-item]
    assert caught.value.paths == ("interactions",)
    refund = Interaction(
        InteractionId("r1"),
        CustomerId(ada),
        T0,
        "refund",
        Channel.WEB,
        amount=Money.of(5, EUR),
        metadata={"refund_of": "no-such-purchase"},
    )
    with pytest.raises(ValidationError) as caught:
        crm.interactions.record_many([_purchase(1, ada, 10), refund])
    assert caught.value.paths[0].startswith("interactions[1]")
    for size in (0, 10_001, 1.5, True):
        with pytest.raises(ValidationError, match="batch_size"):
            crm.interactions.record_many([], batch_size=size)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        crm.interactions.record_many("i1")  # type: ignore[arg-type]
    assert crm.interactions.timeline(ada) == []


@settings(max_examples=25, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.integers(0, 2), st.integers(1, 60), st.sampled_from([None, "a", "b"])),
        max_size=12,
    ),
    batch_size=st.integers(1, 5),
)
def test_any_burst_in_any_batches_ends_like_one_by_one(
    plan: list[tuple[int, int, str | None]], batch_size: int
) -> None:
    store = InMemoryStore()
    make = crm_maker(store, T0, **SETUP)
    burst, single = (make(tenant, ids=SequentialIds("p")) for tenant in ("alpha", "beta"))
    assert isinstance(single.settings.clock, FixedClock)
    people, twins = _people(burst), _people(single)
    items = [_purchase(n, people[w], e, ref and f"{ref}{w}") for n, (w, e, ref) in enumerate(plan)]
    expected_error: type[Exception] | None = None
    try:
        for n, (who, euros, ref) in enumerate(plan):
            single.interactions.record(
                twins[who],
                kind="purchase",
                channel="web",
                occurred_at=AT + timedelta(minutes=n),
                amount=Money.of(euros, EUR),
                external_ref=ref and f"{ref}{who}",
            )
    except IdempotencyConflict:
        expected_error = IdempotencyConflict
    if expected_error is None:
        burst.interactions.record_many(items, batch_size=batch_size)
        assert _state(burst, people) == _state(single, twins)
    else:
        with pytest.raises(expected_error):
            burst.interactions.record_many(items, batch_size=batch_size)
