"""The contract of the `InteractionRepository` (``uow.interactions``): timelines, read back,
idempotent external references, streaming."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crmkit.domain import Channel, CustomerId, InteractionId, InteractionKind, Money
from crmkit.errors import IdempotencyConflict, NotFound, ValidationError
from crmkit.testing.contract._base import ContractBase
from crmkit.testing.contract._samples import T0, OpenFor, _customer, _interaction

__all__ = ["InteractionContract"]


class InteractionContract(ContractBase):
    """The `InteractionRepository` contract (``uow.interactions``; it also adds customers)."""

    def test_a_timeline_is_ordered_and_filtered(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.interactions.add(_interaction(3, "c001", 30, channel=Channel.EMAIL))
            tx.interactions.add(_interaction(1, "c001", 10))
            tx.interactions.add(_interaction(2, "c001", 20, kind=InteractionKind.NOTE, amount=None))
            tx.interactions.add(_interaction(4, "c002", 15))
            tx.commit()
        with uow() as tx:
            timeline = tx.interactions.timeline(CustomerId("c001"))
            assert [i.id for i in timeline] == ["i001", "i002", "i003"]
            newest = tx.interactions.timeline(CustomerId("c001"), newest_first=True, limit=2)
            assert [i.id for i in newest] == ["i003", "i002"]
            web = tx.interactions.timeline(CustomerId("c001"), channels={Channel.WEB})
            assert [i.id for i in web] == ["i001", "i002"]
            notes = tx.interactions.timeline(CustomerId("c001"), kinds={"note"})
            assert [i.id for i in notes] == ["i002"]
            window = tx.interactions.timeline(
                CustomerId("c001"),
                since=T0 + timedelta(minutes=10),
                until=T0 + timedelta(minutes=30),
            )
            assert [i.id for i in window] == ["i001", "i002"]  # since inclusive, until exclusive

    def test_a_reversed_timeline_window_is_refused(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        with uow() as tx:
            later = T0 + timedelta(minutes=10)
            with pytest.raises(ValidationError) as caught:
                tx.interactions.timeline(CustomerId("c001"), since=later, until=T0)
            assert caught.value.paths == ("until",)
            assert tx.interactions.timeline(CustomerId("c001"), since=T0, until=T0) == []

    def test_an_interaction_reads_back_equal(self, uow: OpenFor) -> None:
        original = _interaction(
            1,
            "c001",
            5,
            metadata={"sku": "A-1", "qty": 2, "gift": True},
            external_ref="order-1",
            owner="alice",
            team="sales",
            campaign="spring",
            kind="correction",  # a host's kind: a purchase's amount is never negative
            amount=Money(-123456789, "JPY"),
        )
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.interactions.add(original)
            tx.commit()
        with uow() as tx:
            assert tx.interactions.get(original.id) == original
            assert tx.interactions.find_by_external_ref("order-1") == original
            assert tx.interactions.find_by_external_ref("order-2") is None
            with pytest.raises(NotFound):
                tx.interactions.get(InteractionId("missing"))

    def test_a_second_interaction_with_the_same_external_ref_is_refused(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.interactions.add(_interaction(1, "c001", 0, external_ref="order-1"))
            tx.commit()
        with uow() as tx, pytest.raises(IdempotencyConflict):
            tx.interactions.add(_interaction(2, "c001", 0, external_ref="order-1"))
            tx.commit()
        with uow() as tx:
            assert tx.interactions.count() == 1

    def test_streaming_interactions_yields_all_in_time_order(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            for n, minute in ((1, 30), (2, 10), (3, 20)):
                tx.interactions.add(_interaction(n, "c001", minute))
            tx.commit()
        with uow() as tx:
            assert [i.id for i in tx.interactions.stream(batch_size=2)] == ["i002", "i003", "i001"]
