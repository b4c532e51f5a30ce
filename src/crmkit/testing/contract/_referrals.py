"""The contract of the `ReferralRepository` (``uow.referrals``)."""

from __future__ import annotations

from datetime import datetime

import pytest

from crmkit.domain import CustomerId, DomainEvent, ReferralChanged, ReferralStatus
from crmkit.errors import ConcurrencyConflict, NotFound, ReferralRefused
from crmkit.testing.contract._base import ContractBase
from crmkit.testing.contract._samples import _DAY, T0, OpenFor, _referral

__all__ = ["ReferralContract"]


class ReferralContract(ContractBase):
    """The `ReferralRepository` contract (``uow.referrals``)."""

    def test_an_added_referral_reads_back_equal_at_version_1(self, uow: OpenFor) -> None:
        pending = _referral(1, "c001", "c002", code="SPRING-24")
        rewarded = _referral(2, "c001", "c003", programme="club", day=1)
        rewarded.qualify("i042", at=T0 + 2 * _DAY)
        rewarded.reward(T0 + 3 * _DAY)
        with uow() as tx:
            tx.referrals.add(pending)
            tx.referrals.add(rewarded)
            assert (pending.version, rewarded.version) == (1, 1)
            tx.commit()
        with uow() as tx:
            assert tx.referrals.get("r001") == pending
            assert tx.referrals.get("r002") == rewarded
            assert tx.referrals.get("r002").qualifying_interaction_id == "i042"
            assert tx.referrals.get("r001").version == 1

    def test_an_unknown_referral_is_not_found(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.referrals.add(_referral(1, "c001", "c002"))
            tx.commit()
        with uow() as tx:
            with pytest.raises(NotFound):
                tx.referrals.get("r404")
            stranger = _referral(2, "c001", "c003")
            stranger.version = 1
            with pytest.raises(NotFound):
                tx.referrals.update(stranger)

    def test_a_second_referral_of_a_referee_in_a_programme_is_refused(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.referrals.add(_referral(1, "c001", "c002"))
            tx.commit()
        with uow() as tx:
            with pytest.raises(ReferralRefused) as caught:
                tx.referrals.add(_referral(2, "c003", "c002", day=1))
                tx.commit()
            assert caught.value.referee_id == "c002"
        with uow() as tx:
            with pytest.raises(NotFound):
                tx.referrals.get("r002")
            assert tx.referrals.by_referrer("shop", CustomerId("c003")) == []

    def test_a_referee_is_referred_once_per_programme_within_one_unit_of_work(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            tx.referrals.add(_referral(1, "c001", "c002"))
            with pytest.raises(ReferralRefused):
                tx.referrals.add(_referral(2, "c003", "c002"))
                tx.commit()
        with uow() as tx:
            tx.referrals.add(_referral(1, "c001", "c002"))
            tx.referrals.add(_referral(2, "c003", "c002", programme="club"))
            tx.commit()
        with uow() as tx:
            in_shop = tx.referrals.for_referee("shop", CustomerId("c002"))
            in_club = tx.referrals.for_referee("club", CustomerId("c002"))
        assert in_shop is not None
        assert in_club is not None
        assert (in_shop.id, in_club.id) == ("r001", "r002")

    def test_racing_referrals_of_one_referee_let_only_the_first_in(self, uow: OpenFor) -> None:
        with uow(read_only=True) as reader, uow() as first:
            assert reader.referrals.for_referee("shop", CustomerId("c002")) is None
            first.referrals.add(_referral(1, "c001", "c002"))
            first.commit()
        with uow() as second:
            # The loser is refused, or told to retry (a database that lets one writer at a
            # time may not see the winner from the loser's transaction)...
            with pytest.raises((ReferralRefused, ConcurrencyConflict)) as caught:
                second.referrals.add(_referral(2, "c003", "c002"))
                second.commit()
            if isinstance(caught.value, ConcurrencyConflict):
                assert caught.value.retryable
        with uow() as tx:
            found = tx.referrals.for_referee("shop", CustomerId("c002"))
            assert found == _referral(1, "c001", "c002", version=1)
            with pytest.raises(NotFound):
                tx.referrals.get("r002")
            with pytest.raises(ReferralRefused):  # ...and the retry is refused.
                tx.referrals.add(_referral(2, "c003", "c002"))
                tx.commit()

    def test_a_referral_id_is_taken_once(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.referrals.add(_referral(1, "c001", "c002"))
            tx.commit()
        with uow() as tx, pytest.raises(ConcurrencyConflict):
            tx.referrals.add(_referral(1, "c003", "c004"))
            tx.commit()
        with uow() as tx:
            assert tx.referrals.get("r001").referee_id == "c002"
            assert tx.referrals.for_referee("shop", CustomerId("c004")) is None

    def test_a_referral_update_bumps_the_version_and_is_read_back(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.referrals.add(_referral(1, "c001", "c002"))
            tx.commit()
        with uow() as tx:
            referral = tx.referrals.get("r001")
            referral.qualify("i007", at=T0 + _DAY)
            tx.referrals.update(referral)
            assert tx.referrals.get("r001") == referral
            tx.commit()
        with uow() as tx:
            stored = tx.referrals.get("r001")
            assert stored == referral
            assert (stored.status, stored.version) == (ReferralStatus.QUALIFIED, 2)
            stored.reward(T0 + 2 * _DAY)
            tx.referrals.update(stored)
            tx.commit()
        with uow() as tx:
            again = tx.referrals.get("r001")
            by_referee = tx.referrals.for_referee("shop", CustomerId("c002"))
        assert again == stored
        assert by_referee == stored
        assert (again.status, again.version) == (ReferralStatus.REWARDED, 3)
        assert (again.qualified_at, again.rewarded_at) == (T0 + _DAY, T0 + 2 * _DAY)
        assert again.qualifying_interaction_id == "i007"

    def test_a_stale_referral_update_conflicts_and_changes_nothing(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.referrals.add(_referral(1, "c001", "c002"))
            tx.commit()
        with uow(read_only=True) as reader, uow() as first:
            theirs = reader.referrals.get("r001")
            mine = first.referrals.get("r001")
            mine.qualify("i001", at=T0 + _DAY)
            first.referrals.update(mine)
            first.commit()
        with uow() as second:
            theirs.qualify("i002", at=T0 + 2 * _DAY)
            with pytest.raises(ConcurrencyConflict) as caught:
                second.referrals.update(theirs)
                second.commit()
            assert caught.value.retryable
        with uow() as tx:
            stored = tx.referrals.get("r001")
        assert stored == mine
        assert (stored.qualifying_interaction_id, stored.version) == ("i001", 2)

    def test_referrals_are_found_by_referee_and_listed_by_referrer(self, uow: OpenFor) -> None:
        made = [
            _referral(1, "c001", "c011", day=2),
            _referral(10, "c001", "c012", day=1),
            _referral(5, "c001", "c013", day=1),
            _referral(2, "c009", "c014"),
            _referral(3, "c001", "c015", programme="club"),
        ]
        with uow() as tx:
            for referral in made:
                tx.referrals.add(referral)
            tx.commit()
        with uow() as tx:
            listed = tx.referrals.by_referrer("shop", CustomerId("c001"))
            assert [r.id for r in listed] == ["r005", "r010", "r001"]  # created_at, then id
            assert listed == [made[2], made[1], made[0]]
            assert tx.referrals.by_referrer("club", CustomerId("c001")) == [made[4]]
            assert tx.referrals.by_referrer("shop", CustomerId("c011")) == []
            assert tx.referrals.by_referrer("loyal", CustomerId("c001")) == []
            assert tx.referrals.for_referee("shop", CustomerId("c014")) == made[3]
            assert tx.referrals.for_referee("club", CustomerId("c015")) == made[4]
            assert tx.referrals.for_referee("shop", CustomerId("c015")) is None
            assert tx.referrals.for_referee("shop", CustomerId("c001")) is None  # a referrer

    def test_a_rolled_back_unit_of_work_leaves_no_referral(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.referrals.add(_referral(1, "c001", "c002"))
            tx.commit()
        with pytest.raises(RuntimeError), uow() as tx:
            referral = tx.referrals.get("r001")
            referral.qualify("i001", at=T0 + _DAY)
            tx.referrals.update(referral)
            tx.referrals.add(_referral(2, "c001", "c003"))
            raise RuntimeError("boom")
        with uow() as tx:
            tx.referrals.add(_referral(3, "c001", "c004"))
        with uow() as tx:
            assert tx.referrals.get("r001") == _referral(1, "c001", "c002", version=1)
            assert [r.id for r in tx.referrals.by_referrer("shop", CustomerId("c001"))] == ["r001"]
            for referral_id in ("r002", "r003"):
                with pytest.raises(NotFound):
                    tx.referrals.get(referral_id)
            tx.referrals.add(_referral(4, "c005", "c003"))  # c003 was never referred
            tx.commit()

    def test_referral_changes_are_published_after_commit_only(
        self, uow: OpenFor, published: list[DomainEvent]
    ) -> None:
        with uow() as tx:
            tx.referrals.add(_referral(1, "c001", "c002"))
        assert published == []
        with uow() as tx:
            tx.referrals.add(_referral(1, "c001", "c002"))
            tx.commit()

        def changed(at: datetime, status: ReferralStatus) -> ReferralChanged:
            return ReferralChanged(
                at,
                referral_id="r001",
                referrer_id=CustomerId("c001"),
                referee_id=CustomerId("c002"),
                status=status,
            )

        assert published == [changed(T0, ReferralStatus.PENDING)]
        with uow() as tx:
            referral = tx.referrals.get("r001")
            referral.qualify("i001", at=T0 + _DAY)
            tx.referrals.update(referral)
            referral.reward(T0 + 2 * _DAY)
            tx.referrals.update(referral)
            assert len(published) == 1
            tx.commit()
        assert published[1:] == [
            changed(T0 + _DAY, ReferralStatus.QUALIFIED),
            changed(T0 + 2 * _DAY, ReferralStatus.REWARDED),
        ]
