"""The contract of the `PointsLedgerRepository` (``uow.points_ledgers``)."""

from __future__ import annotations

import contextlib

import attrs
import pytest

from crmkit.domain import (
    CustomerId,
    DomainEvent,
    InteractionKind,
    Money,
    PointsEarned,
    PointsExpired,
    PointsLedger,
    PointsRedeemed,
    TierChanged,
)
from crmkit.errors import ConcurrencyConflict, NotFound, ValidationError
from crmkit.testing.contract._points_ledger_reads import PointsLedgerReadContract
from crmkit.testing.contract._samples import (
    _DAY,
    _PENDING,
    CLUB,
    SHOP,
    T0,
    OpenFor,
    _every_entry_kind,
    _hour,
    _interaction,
    _ledger,
    _stored,
)

__all__ = ["PointsLedgerContract"]


class PointsLedgerContract(PointsLedgerReadContract):
    """The `PointsLedgerRepository` contract (``uow.points_ledgers``): writing, conflicts and
    events here, reading in `PointsLedgerReadContract`."""

    def test_an_added_ledger_reads_back_equal_at_version_1_with_its_balance(
        self, uow: OpenFor
    ) -> None:
        full = _every_entry_kind("c001")
        pending = _ledger("c002", 3, programme=CLUB)
        empty = PointsLedger(CustomerId("c003"), CLUB)
        with uow() as tx:
            for ledger in (full, pending, empty):
                tx.points_ledgers.add(ledger)
                assert ledger.version == 1
            tx.commit()
        with uow() as tx:
            for ledger in (full, pending, empty):
                stored = tx.points_ledgers.find(CLUB, ledger.customer_id)
                balance = tx.points_ledgers.balance("club", ledger.customer_id)
                assert stored == ledger
                assert balance == ledger.summary()
                assert stored is not None
                assert balance is not None
                assert (stored.version, balance.version) == (1, 1)
        assert (full.summary().available, full.summary().tier) == (5, "gold")
        assert pending.summary().next_due_at == _hour(3) + _PENDING
        assert empty.summary().last_at is None

    def test_a_second_ledger_for_a_member_in_a_programme_conflicts(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1))
            tx.commit()
        with uow() as tx:
            with pytest.raises(ConcurrencyConflict):
                tx.points_ledgers.add(_ledger("c001", 2))
            tx.points_ledgers.add(_ledger("c002", 3))
            with pytest.raises(ConcurrencyConflict):
                tx.points_ledgers.add(_ledger("c002", 4))  # the first is only staged
            tx.points_ledgers.add(_ledger("c001", 5, programme=CLUB))  # another programme
            tx.commit()
        with uow() as tx:
            assert tx.points_ledgers.find(SHOP, CustomerId("c001")) == _stored(_ledger("c001", 1))
            assert tx.points_ledgers.find(SHOP, CustomerId("c002")) == _stored(_ledger("c002", 3))
            assert tx.points_ledgers.find(CLUB, CustomerId("c001")) == _stored(
                _ledger("c001", 5, programme=CLUB)
            )

    def test_racing_adds_of_one_ledger_let_only_the_first_in(self, uow: OpenFor) -> None:
        with uow(read_only=True) as reader, uow() as first:
            assert reader.points_ledgers.find(SHOP, CustomerId("c001")) is None
            first.points_ledgers.add(_ledger("c001", 1))
            first.commit()
        with uow() as second:
            with pytest.raises(ConcurrencyConflict) as caught:
                second.points_ledgers.add(_ledger("c001", 2))
                second.commit()
            assert caught.value.retryable
        with uow() as tx:
            assert tx.points_ledgers.find(SHOP, CustomerId("c001")) == _stored(_ledger("c001", 1))
            balance = tx.points_ledgers.balance("shop", CustomerId("c001"))
        assert balance == _stored(_ledger("c001", 1)).summary()

    def test_adding_a_ledger_that_is_not_new_is_refused(self, uow: OpenFor) -> None:
        ledger = _ledger("c001", 1)
        ledger.version = 1
        with uow() as tx:
            with pytest.raises(ValidationError):
                tx.points_ledgers.add(ledger)
            tx.commit()
        with uow() as tx:
            assert tx.points_ledgers.find(SHOP, CustomerId("c001")) is None
            assert tx.points_ledgers.balance("shop", CustomerId("c001")) is None

    def test_a_ledger_update_appends_entries_bumps_the_version_and_moves_the_balance(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1))
            tx.commit()
        with uow() as tx:
            ledger = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            assert ledger is not None
            ledger.earn(_interaction(2, "c001", 120), at=_hour(2))
            tx.points_ledgers.update(ledger)
            ledger.earn(_interaction(3, "c001", 180), at=_hour(3))
            ledger.redeem(_hour(4), "r1", points=4)
            tx.points_ledgers.update(ledger)  # twice in one unit of work
            assert tx.points_ledgers.balance("shop", CustomerId("c001")) == ledger.summary()
            tx.commit()
        with uow() as tx:
            stored = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            assert stored == ledger
            assert stored is not None
            assert stored.version == 3
            assert tx.points_ledgers.balance("shop", CustomerId("c001")) == ledger.summary()
            stored.earn(_interaction(5, "c001", 300), at=_hour(5))
            tx.points_ledgers.update(stored)
            tx.commit()
        with uow() as tx:
            again = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            balance = tx.points_ledgers.balance("shop", CustomerId("c001"))
        assert again == stored
        assert again is not None
        assert [e.points for e in again.entries] == [1, 2, 3, 4, 5]
        assert again.entries[:4] == ledger.entries
        assert balance == stored.summary()
        assert balance is not None
        assert (balance.available, balance.entries, balance.version) == (7, 5, 4)

    def test_a_stale_ledger_update_conflicts_and_stores_and_publishes_nothing(
        self, uow: OpenFor, published: list[DomainEvent]
    ) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1))
            tx.commit()
        published.clear()
        with uow(read_only=True) as reader, uow() as first:
            theirs = reader.points_ledgers.find(SHOP, CustomerId("c001"))
            mine = first.points_ledgers.find(SHOP, CustomerId("c001"))
            assert mine is not None
            assert theirs is not None
            mine.earn(_interaction(2, "c001", 120), at=_hour(2))
            first.points_ledgers.update(mine)
            first.commit()
        with uow() as second:
            theirs.earn(_interaction(3, "c001", 180), at=_hour(3))
            with pytest.raises(ConcurrencyConflict) as caught:
                second.points_ledgers.update(theirs)
                second.commit()
            assert caught.value.retryable
        with uow() as tx:
            stored = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            balance = tx.points_ledgers.balance("shop", CustomerId("c001"))
        assert stored == mine
        assert balance == mine.summary()
        assert balance is not None
        assert (balance.available, balance.entries, balance.version) == (3, 2, 2)
        assert published == [
            PointsEarned(
                _hour(2),
                customer_id=CustomerId("c001"),
                points=2,
                rule="base",
                interaction_id="i002",
            )
        ]

    def test_an_update_never_changes_the_entries_already_stored(self, uow: OpenFor) -> None:
        original = _ledger("c001", 1, 2)
        with uow() as tx:
            tx.points_ledgers.add(original)
            tx.commit()
        with uow() as tx:
            rewritten = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            assert rewritten is not None
            rewritten.entries[0] = attrs.evolve(rewritten.entries[0], points=100, rule="forged")
            rewritten.earn(_interaction(3, "c001", 180), at=_hour(3))
            # An adapter may refuse the update (the in-memory one does) or store only the new
            # entry; never the forgery, nor a balance that counts it.
            with contextlib.suppress(ValidationError):
                tx.points_ledgers.update(rewritten)
                tx.commit()
        with uow() as tx:
            stored = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            balance = tx.points_ledgers.balance("shop", CustomerId("c001"))
        assert stored is not None
        assert stored.entries[:2] == original.entries
        assert balance == stored.summary()

    def test_a_ledger_read_for_booking_books_what_the_whole_ledger_books(
        self, uow: OpenFor
    ) -> None:
        """Read for booking (``find_many(..., booking=...)``: maybe from its head), a ledger
        books and stores what the whole ledger does: a replay of a stored key books nothing."""
        with uow() as tx:
            tx.points_ledgers.add(_every_entry_kind("c001"))
            tx.commit()
        at = T0 + 60 * _DAY
        refund = _interaction(
            4, "c001", 60 * 24 * 60, kind=InteractionKind.REFUND, amount=Money(100, "EUR")
        )
        with uow() as tx:
            whole = tx.points_ledgers.find(CLUB, CustomerId("c001"))
        assert whole is not None
        with uow() as tx:
            booked = tx.points_ledgers.find_many(
                CLUB, [CustomerId("c001")], booking=["i010", "i005"]
            )[CustomerId("c001")]
            for ledger in (whole, booked):
                ledger.mature_and_expire(at)
                assert ledger.earn(_interaction(10, "c001", 0), at=at) == []  # a replay
                ledger.refund(refund, purchase_id="i002", at=at)  # its points expired: forgiven
                ledger.earn(_interaction(5, "c001", 60 * 24 * 60), at=at)
                assert ledger.redeem(at, "r1", points=3).seq == 4  # the stored redemption
                ledger.adjust(2, at, "a9", "goodwill")
            assert booked.summary() == whole.summary()
            tx.points_ledgers.update(booked)
            tx.commit()
        with uow() as tx:
            stored = tx.points_ledgers.find(CLUB, CustomerId("c001"))
            balance = tx.points_ledgers.balance("club", CustomerId("c001"))
        assert stored is not None
        assert stored.entries == whole.entries
        assert balance == stored.summary()

    def test_updating_a_ledger_never_added_is_not_found(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1))
            tx.commit()
        with uow() as tx:
            stranger = _ledger("c002", 1)
            stranger.version = 1
            with pytest.raises(NotFound):
                tx.points_ledgers.update(stranger)
            elsewhere = _ledger("c001", 1, programme=CLUB)
            elsewhere.version = 1
            with pytest.raises(NotFound):
                tx.points_ledgers.update(elsewhere)
            tx.commit()
        with uow() as tx:
            assert tx.points_ledgers.find(SHOP, CustomerId("c002")) is None
            assert tx.points_ledgers.find(CLUB, CustomerId("c001")) is None

    def test_a_rolled_back_unit_of_work_leaves_no_ledger(self, uow: OpenFor) -> None:
        original = _ledger("c001", 1)
        with uow() as tx:
            tx.points_ledgers.add(original)
            tx.commit()
        with pytest.raises(RuntimeError), uow() as tx:
            ledger = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            assert ledger is not None
            ledger.earn(_interaction(2, "c001", 120), at=_hour(2))
            tx.points_ledgers.update(ledger)
            tx.points_ledgers.add(_ledger("c002", 2, programme=CLUB))
            raise RuntimeError("boom")
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c003", 3, programme=CLUB))
        with uow() as tx:
            assert tx.points_ledgers.find(SHOP, CustomerId("c001")) == original
            assert tx.points_ledgers.balance("shop", CustomerId("c001")) == original.summary()
            for customer in ("c002", "c003"):
                assert tx.points_ledgers.find(CLUB, CustomerId(customer)) is None
                assert tx.points_ledgers.balance("club", CustomerId(customer)) is None
            assert list(tx.points_ledgers.stream_balances("club")) == []
            assert tx.points_ledgers.due("club", T0 + 1000 * _DAY) == []

    def test_ledger_events_are_published_after_commit_only(
        self, uow: OpenFor, published: list[DomainEvent]
    ) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1))
        assert published == []
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 2))
            tx.commit()
        c001 = CustomerId("c001")
        assert published == [
            PointsEarned(_hour(2), customer_id=c001, points=2, rule="base", interaction_id="i002")
        ]
        with uow() as tx:
            ledger = tx.points_ledgers.find(SHOP, c001)
            assert ledger is not None
            ledger.redeem(_hour(3), "r1", points=2)
            tx.points_ledgers.update(ledger)
            assert len(published) == 1
            tx.commit()
        assert published[1:] == [PointsRedeemed(_hour(3), customer_id=c001, points=2)]
        published.clear()
        c002 = CustomerId("c002")
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c002", 12, programme=CLUB))
            tx.commit()
        assert published == [
            TierChanged(_hour(12), customer_id=c002, from_tier=None, to_tier="gold"),
            PointsEarned(
                _hour(12), customer_id=c002, points=12, rule="base", interaction_id="i012"
            ),
        ]
        published.clear()
        with uow() as tx:
            club = tx.points_ledgers.find(CLUB, c002)
            assert club is not None
            club.mature_and_expire(T0 + 60 * _DAY)
            tx.points_ledgers.update(club)
            tx.commit()
        assert published == [PointsExpired(T0 + 60 * _DAY, customer_id=c002, points=12)]
