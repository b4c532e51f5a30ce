"""Interactions: the append-only log, and recording it idempotently by external reference."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import (
    CRM,
    Channel,
    Direction,
    FixedClock,
    Interaction,
    InteractionId,
    InteractionKind,
    Money,
    SequentialIds,
    Settings,
)
from crmkit.errors import IdempotencyConflict, ValidationError
from crmkit.events import InteractionRecorded
from crmkit.testing.strategies import interactions
from tests.strategies import T0


def purchase(**fields: Any) -> Interaction:
    values: dict[str, Any] = {
        "id": InteractionId("i1"),
        "customer_id": "c1",
        "occurred_at": T0,
        "kind": "purchase",
        "channel": "web",
        **fields,
    }
    return Interaction(**values)


class TestInteraction:
    """One thing that happened, with its facts checked."""

    def test_standard_kinds_become_enum_members(self) -> None:
        """``"purchase"`` is `InteractionKind.PURCHASE`; defaults are inbound, no amount."""
        made = purchase()
        assert made.kind is InteractionKind.PURCHASE
        assert (made.channel, made.direction, made.amount) == (Channel.WEB, Direction.INBOUND, None)

    def test_a_host_may_use_its_own_kind_slug(self) -> None:
        """Kinds beyond the standard ones are lower-case slugs."""
        assert purchase(kind="webinar_attended").kind == "webinar_attended"

    def test_metadata_holds_text_ints_and_bools(self) -> None:
        """Keys may use letters, digits, ``_ . : -``; the mapping cannot change later."""
        made = purchase(metadata={"utm.source": "mail", "items": 3, "gift:wrap": True})
        assert made.metadata == {"utm.source": "mail", "items": 3, "gift:wrap": True}
        with pytest.raises(TypeError):
            made.metadata["items"] = 4  # type: ignore[index]

    @pytest.mark.parametrize(
        ("fields", "path"),
        [
            ({"kind": "Purchase"}, "kind"),
            ({"channel": "fax"}, "channel"),
            ({"direction": "sideways"}, "direction"),
            ({"metadata": {"bad key": 1}}, "metadata.bad key"),
            ({"metadata": {"price": 1.5}}, "metadata.price"),
            ({"amount": 5}, "amount"),
            ({"external_ref": ""}, "external_ref"),
            ({"occurred_at": datetime(2024, 1, 1)}, "occurred_at"),
            ({"customer_id": "c 1"}, "customer_id"),
        ],
    )
    def test_a_bad_field_is_refused_by_path(self, fields: dict[str, Any], path: str) -> None:
        """The error names the field (or metadata key) and the value."""
        with pytest.raises(ValidationError) as caught:
            purchase(**fields)
        assert caught.value.paths == (path,)

    def test_same_content_ignores_only_the_id(self) -> None:
        """Two records of the same facts under different ids have the same content."""
        assert purchase().same_content(purchase(id=InteractionId("i2")))
        assert not purchase().same_content(purchase(channel="app"))

    @given(interactions())
    def test_every_generated_interaction_has_its_own_content(self, made: Interaction) -> None:
        """An interaction has the same content as itself under any id."""
        assert made.same_content(made)


contents = st.fixed_dictionaries(
    {
        "customer": st.sampled_from(["ada", "bob"]),
        "kind": st.sampled_from(["purchase", "refund"]),
        "channel": st.sampled_from(["web", "app"]),
        "amount": st.none() | st.sampled_from([Money(100, "EUR"), Money(100, "USD")]),
        "metadata": st.none() | st.sampled_from([{}, {"items": 1}]),
        "occurred_at": st.none() | st.sampled_from([T0, T0 - timedelta(days=1)]),
    }
)


def record(crm: CRM, ids: dict[str, str], content: dict[str, Any], ref: str) -> Interaction:
    return crm.interactions.record(
        ids[content["customer"]],
        kind=content["kind"],
        channel=content["channel"],
        amount=content["amount"],
        metadata=content["metadata"],
        occurred_at=content["occurred_at"],
        external_ref=ref,
    )


class TestRecordingIdempotently:
    """Recording the same external reference twice stores it once."""

    @given(contents, contents)
    def test_a_replay_stores_once_or_conflicts_and_stores_nothing(
        self, first: dict[str, Any], second: dict[str, Any]
    ) -> None:
        """Same content: the stored interaction comes back and one event is emitted in all.
        Different content: `IdempotencyConflict`, and still only the first is stored."""
        clock = FixedClock(T0)
        crm = CRM.in_memory(Settings(clock=clock, ids=SequentialIds()))
        ids = {name: crm.customers.register(given_name=name).id for name in ("ada", "bob")}
        recorded: list[InteractionRecorded] = []
        crm.events.subscribe(InteractionRecorded, recorded.append)

        stored = record(crm, ids, first, "order-1")
        clock.advance(timedelta(hours=1))
        replay_time = second["occurred_at"] or stored.occurred_at
        same = {**first, "occurred_at": None, "metadata": first["metadata"] or {}} == {
            **second,
            "occurred_at": None,
            "metadata": second["metadata"] or {},
        } and replay_time == stored.occurred_at
        if same:
            assert record(crm, ids, second, "order-1") == stored
        else:
            with pytest.raises(IdempotencyConflict) as caught:
                record(crm, ids, second, "order-1")
            assert (caught.value.field, caught.value.value) == ("external_ref", "order-1")
            assert caught.value.existing_id == stored.id
        assert list(crm.interactions.stream()) == [stored]
        assert [e.interaction_id for e in recorded] == [stored.id]
