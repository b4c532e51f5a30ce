"""The reading half of the `PointsLedgerRepository` contract: lookups, due members, streams."""

from __future__ import annotations

from datetime import timedelta

from crmkit.domain import (
    CustomerId,
    PointsLedger,
)
from crmkit.testing.contract._base import ContractBase
from crmkit.testing.contract._samples import (
    _DAY,
    _PENDING,
    CLUB,
    SHOP,
    T0,
    OpenFor,
    _balances,
    _hour,
    _ledger,
    _stored,
)

__all__ = ["PointsLedgerReadContract"]


class PointsLedgerReadContract(ContractBase):
    """How ``uow.points_ledgers`` finds ledgers, pages the due members and streams balances."""

    def test_two_programmes_keep_separate_ledgers_for_one_customer(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1, 2))
            tx.points_ledgers.add(_ledger("c001", 5, programme=CLUB))
            tx.commit()
        with uow() as tx:
            club = tx.points_ledgers.find(CLUB, CustomerId("c001"))
            assert club is not None
            club.mature_and_expire(_hour(5) + _PENDING)
            tx.points_ledgers.update(club)
            tx.commit()
        with uow() as tx:
            shop = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            assert shop == _stored(_ledger("c001", 1, 2))
            assert tx.points_ledgers.find(CLUB, CustomerId("c001")) == club
            shop_balance = tx.points_ledgers.balance("shop", CustomerId("c001"))
            club_balance = tx.points_ledgers.balance("club", CustomerId("c001"))
        assert shop_balance is not None
        assert club_balance is not None
        assert (shop_balance.available, shop_balance.pending, shop_balance.version) == (3, 0, 1)
        assert (club_balance.available, club_balance.pending, club_balance.version) == (5, 0, 2)
        assert club_balance.next_due_at == _hour(5) + _PENDING + 30 * _DAY

    def test_an_unknown_ledger_and_its_balance_are_none(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1))
            tx.commit()
        with uow() as tx:
            assert tx.points_ledgers.find(SHOP, CustomerId("c002")) is None
            assert tx.points_ledgers.balance("shop", CustomerId("c002")) is None
            assert tx.points_ledgers.find(CLUB, CustomerId("c001")) is None
            assert tx.points_ledgers.balance("club", CustomerId("c001")) is None
            assert tx.points_ledgers.balance("unknown", CustomerId("c001")) is None

    def test_find_many_returns_only_the_ledgers_that_exist(self, uow: OpenFor) -> None:
        made = {n: _ledger(f"c00{n}", n) for n in (1, 2, 4)}
        with uow() as tx:
            for ledger in made.values():
                tx.points_ledgers.add(ledger)
            tx.points_ledgers.add(_ledger("c003", 3, programme=CLUB))
            tx.commit()
        wanted = [CustomerId(f"c00{n}") for n in (4, 3, 2, 5)]
        with uow() as tx:
            found = tx.points_ledgers.find_many(SHOP, wanted)
            assert tx.points_ledgers.find_many(SHOP, []) == {}
            assert tx.points_ledgers.find_many(CLUB, [CustomerId("c001")]) == {}
        assert found == {CustomerId("c004"): made[4], CustomerId("c002"): made[2]}

    def test_due_pages_through_the_members_with_something_due_in_id_order(
        self, uow: OpenFor
    ) -> None:
        # club: pending until 14 days after each purchase (c003 first, c004 last); c002 has no
        # points; c006 matured on day 15, so its points are due to expire on day 45.
        matured = _ledger("c006", 1, programme=CLUB)
        matured.mature_and_expire(T0 + 15 * _DAY)
        with uow() as tx:
            for customer, purchase in (("c003", 1), ("c001", 2), ("c005", 3), ("c004", 9)):
                tx.points_ledgers.add(_ledger(customer, purchase, programme=CLUB))
            tx.points_ledgers.add(PointsLedger(CustomerId("c002"), CLUB))
            tx.points_ledgers.add(matured)
            tx.points_ledgers.add(_ledger("c000", 1))  # shop: nothing ever falls due
            tx.commit()
        as_of = _hour(3) + _PENDING  # exactly when c005's points mature
        with uow() as tx:
            due = tx.points_ledgers.due
            assert due("club", as_of) == ["c001", "c003", "c005"]
            assert due("club", as_of, limit=2) == ["c001", "c003"]
            assert due("club", as_of, after=CustomerId("c003"), limit=2) == ["c005"]
            assert due("club", as_of, after=CustomerId("c005")) == []
            assert due("club", as_of - timedelta(seconds=1)) == ["c001", "c003"]
            assert due("club", T0 + 14 * _DAY) == []
            assert due("club", T0 + 45 * _DAY) == ["c001", "c003", "c004", "c005", "c006"]
            assert due("shop", T0 + 1000 * _DAY) == []
            assert due("unknown", T0 + 1000 * _DAY) == []

    def test_streaming_balances_yields_every_member_of_the_programme_in_id_order(
        self, uow: OpenFor
    ) -> None:
        made = {n: _ledger(f"c00{n}", n) for n in (3, 1, 5, 2, 4)}
        with uow() as tx:
            for ledger in made.values():
                tx.points_ledgers.add(ledger)
            tx.points_ledgers.add(_ledger("c000", 7, programme=CLUB))
            tx.commit()
        ordered = _balances(*(made[n] for n in sorted(made)))
        with uow() as tx:
            assert list(tx.points_ledgers.stream_balances("shop")) == ordered
            for batch_size in (1, 2, 5):
                streamed = tx.points_ledgers.stream_balances("shop", batch_size=batch_size)
                assert list(streamed) == ordered, batch_size
            club = list(tx.points_ledgers.stream_balances("club", batch_size=1))
            assert [b.customer_id for b in club] == ["c000"]
            assert list(tx.points_ledgers.stream_balances("unknown")) == []
