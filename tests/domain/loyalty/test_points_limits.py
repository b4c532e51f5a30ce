"""Points are bounded by what storage holds, in the domain: every backend refuses the same
adjustment, earning or balance with a `ValidationError`, never an ``OverflowError``, and the
refusal writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import CRM, FixedClock, Money
from crmkit.domain import CustomerId, EntryKind, LedgerEntry, PointsLedger
from crmkit.domain.values.timestamps import LATEST
from crmkit.errors import InsufficientPoints, ValidationError
from crmkit.loyalty import EventRule, Programme, SpendRule
from tests.conftest import MakeCrm, crm_maker
from tests.strategies import T0

MAX_BIGINT = 2**63 - 1
#: One point per cent spent, and a welcome bonus of half of what storage holds.
BIG = Programme(
    "big",
    [SpendRule("spend", 100, Money.of(1, "EUR")), EventRule("welcome", "sign_up", 2**62)],
    pending_days=14,
    expiry_days=365,
)


@pytest.fixture
def make_crm(any_store: object) -> MakeCrm:
    """CRMs on each store in turn: memory, SQLite, PostgreSQL, MariaDB."""
    return crm_maker(any_store, T0, loyalty=BIG)


def _member(crm: CRM) -> str:
    return crm.customers.register(given_name="Ada").id


class TestAdjustments:
    @pytest.mark.parametrize("points", [10**20, -(10**20), MAX_BIGINT + 1])
    def test_an_adjustment_beyond_bigint_is_refused_naming_points(
        self, make_crm: MakeCrm, points: int
    ) -> None:
        crm = make_crm()
        member = _member(crm)
        with pytest.raises(ValidationError) as caught:
            crm.loyalty.adjust(member, points, reason="x")
        assert caught.value.paths == ("points",)
        assert crm.loyalty.statement(member) == []

    def test_the_largest_adjustment_storage_holds_is_taken(self, make_crm: MakeCrm) -> None:
        crm = make_crm()
        member = _member(crm)
        crm.loyalty.adjust(member, MAX_BIGINT, reason="x")
        assert crm.loyalty.balance(member).available == MAX_BIGINT
        crm.loyalty.adjust(member, -MAX_BIGINT, reason="x")
        assert crm.loyalty.balance(member).available == 0

    def test_two_adjustments_that_pass_bigint_together_are_refused(self, make_crm: MakeCrm) -> None:
        """Each fits, the balance would not: the second is refused and nothing of it is kept."""
        crm = make_crm()
        member = _member(crm)
        crm.loyalty.adjust(member, 9 * 10**18, reason="x")
        with pytest.raises(ValidationError, match="most storage holds") as caught:
            crm.loyalty.adjust(member, 9 * 10**18, reason="x")
        assert caught.value.paths == ("points",)
        assert crm.loyalty.balance(member).available == 9 * 10**18
        assert len(crm.loyalty.statement(member)) == 1


class TestEarning:
    def test_earning_past_bigint_is_refused_and_records_nothing(self, make_crm: MakeCrm) -> None:
        """Pending points count too: two welcome bonuses of 2**62 are more than BIGINT."""
        crm = make_crm()
        member = _member(crm)
        crm.interactions.record(member, kind="sign_up", channel="web")
        with pytest.raises(ValidationError) as caught:
            crm.interactions.record(member, kind="sign_up", channel="web")
        assert caught.value.paths == ("points",)
        assert crm.loyalty.balance(member).pending == 2**62
        assert len(crm.interactions.timeline(member)) == 1

    def test_a_purchase_on_the_last_day_with_a_pending_period_ends_at_the_last_instant(
        self, make_crm: MakeCrm
    ) -> None:
        """9999-12-31 with ``pending_days=14``: pending until `LATEST`, never an overflow."""
        clock = FixedClock(datetime(9999, 12, 31, 12, tzinfo=UTC))
        crm = make_crm(clock=clock)
        member = _member(crm)
        crm.interactions.record(member, kind="purchase", channel="web", amount=Money.of(3, "EUR"))
        (line,) = crm.loyalty.statement(member)
        assert (line.entry.available_from, line.entry.expires_at) == (LATEST, None)
        assert crm.loyalty.balance(member).pending == 300
        clock.set(LATEST - timedelta(microseconds=1))
        crm.loyalty.run_job()
        assert crm.loyalty.balance(member).pending == 300


def test_a_ledger_entry_beyond_bigint_cannot_be_built() -> None:
    """A restored or hand-built entry is held to the same bound."""
    for points in (MAX_BIGINT + 1, -(MAX_BIGINT + 1)):
        with pytest.raises(ValidationError) as caught:
            LedgerEntry(0, EntryKind.ADJUST, points, T0, "adjust:k", rule="x")
        assert caught.value.paths == ("points",)


@given(st.lists(st.integers(-(2**66), 2**66).filter(bool), max_size=12))
def test_any_adjustments_keep_the_balance_within_bigint_and_refusals_write_nothing(
    adjustments: list[int],
) -> None:
    """Over any sequence of adjustments, however large: each is booked exactly when the
    balance stays within 0..2**63-1; a refused one leaves the ledger as it was."""
    ledger = PointsLedger(CustomerId("ada"), BIG)
    expected = 0
    for n, points in enumerate(adjustments):
        before = list(ledger.entries)
        try:
            ledger.adjust(points, T0, f"k{n}", "x")
        except (ValidationError, InsufficientPoints):
            assert ledger.entries == before
            assert abs(points) > MAX_BIGINT or not 0 <= expected + points <= MAX_BIGINT
        else:
            expected += points
        assert ledger.balance() == expected
        assert 0 <= expected <= MAX_BIGINT
