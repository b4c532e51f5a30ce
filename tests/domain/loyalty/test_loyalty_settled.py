"""What storage keeps beside a ledger (`PointsLedger.summary`) and what a member sees at any
instant (`PointsLedger.settled`): the two must agree whenever nothing fell due, which is what
lets a balance read skip the ledger."""

from __future__ import annotations

import copy
from datetime import timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from crmkit.domain.loyalty import PointsLedger, fold
from tests.domain.loyalty.test_loyalty_ledger import (
    DAY,
    SCRIPTS,
    T0,
    Step,
    buy,
    funded,
    ledger,
    replay_script,
)


def test_a_summary_holds_the_booked_figures_and_when_something_falls_due() -> None:
    book = ledger()
    book.earn(buy("p1", "40"), T0)
    summary = book.summary()
    assert (summary.available, summary.pending, summary.entries) == (0, 40, 1)
    assert summary.next_due_at == T0 + 14 * DAY  # the return window ends
    matured = funded("40").summary()
    assert matured.next_due_at == T0 + (14 + 60) * DAY  # then the lot expires


def test_settled_counts_due_points_as_matured_and_expired_before_the_job_runs() -> None:
    book = ledger()
    book.earn(buy("p1", "40"), T0)
    assert book.settled(T0 + 13 * DAY).pending == 40
    assert book.settled(T0 + 14 * DAY).available == 40
    late = book.settled(T0 + 80 * DAY)
    assert (late.available, late.expired) == (0, 40)
    assert book.entries[-1].kind == "earn"  # nothing was booked


def _job_copy(book: PointsLedger, when: object) -> PointsLedger:
    twin = copy.deepcopy(book)
    twin.mature_and_expire(when)  # type: ignore[arg-type]
    return twin


@given(SCRIPTS, st.integers(0, 900))
def test_settled_is_what_the_job_would_book(steps: list[Step], days: int) -> None:
    """At any instant after the last entry, the settled state equals the state after
    actually running the job then."""
    book = replay_script(steps)
    last = book.entries[-1].at if book.entries else T0
    when = last + timedelta(days=days)
    settled = book.settled(when)
    booked = _job_copy(book, when).state()
    assert (settled.available, settled.pending, settled.expired) == (
        booked.available,
        booked.pending,
        booked.expired,
    )


@given(SCRIPTS, st.integers(0, 900))
def test_before_next_due_the_stored_summary_is_what_the_member_sees(
    steps: list[Step], days: int
) -> None:
    """Whenever the summary says nothing is due yet, its booked figures are exact: the
    property that lets a balance read use one stored row."""
    book = replay_script(steps)
    summary = book.summary()
    last = book.entries[-1].at if book.entries else T0
    when = last + timedelta(days=days)
    settled = book.settled(when)
    if summary.settled_at(when):
        assert (summary.available, summary.pending) == (settled.available, settled.pending)
    else:
        assert summary.next_due_at is not None
        assert summary.next_due_at <= when
    state = book.state()
    assert (summary.available, summary.pending, summary.entries) == (
        state.available,
        state.pending,
        len(book.entries),
    )


@given(SCRIPTS)
def test_the_ledgers_running_tally_is_the_fold_of_its_entries(steps: list[Step]) -> None:
    """The state a ledger keeps up to date as it books is exactly the fold of its entries,
    after every booking and after its entries were replaced."""
    book = replay_script(steps)
    assert book.state() == fold(book.entries)
    assert book.summary().available == fold(book.entries).available
    book.entries = book.entries[: len(book.entries) // 2]
    assert book.state() == fold(book.entries)


@given(SCRIPTS, SCRIPTS)
def test_a_ledger_restored_with_its_tally_is_the_fold_of_its_entries(
    before: list[Step], after: list[Step]
) -> None:
    """A store hands a ledger's running tally back with its entries: the restored ledger
    adds up exactly as a fold of them, and booking on it (or on the ledger the tally was
    taken from) leaves the kept tally alone."""
    book = replay_script(before)
    kept, entries, summary, last = book.tally(), tuple(book.entries), book.summary(), book.last_at
    restored = PointsLedger.restore(
        book.customer_id, book.programme, entries, version=1, last_at=last, tally=kept
    )
    assert restored.state() == fold(entries)
    when = restored.last_at or T0
    for gap, _, n, _ in after:
        when += timedelta(days=gap)
        for each in (restored, book):  # the ledger it was taken from books on, too
            each.mature_and_expire(when)
            each.earn(buy(f"later{len(each.entries)}", str(n), when), when)
    assert restored.state() == fold(restored.entries)
    assert book.state() == fold(book.entries)
    again = PointsLedger.restore(
        book.customer_id, book.programme, entries, version=1, last_at=last, tally=kept
    )
    assert again.state() == fold(entries)
    assert again.summary() == attrs.evolve(summary, version=1)


def test_a_tally_of_other_entries_is_ignored() -> None:
    """A tally that does not hold exactly the given entries is not trusted."""
    book = funded("40")
    stale = book.tally()
    book.redeem(T0 + 20 * DAY, "k", points=10)
    restored = PointsLedger.restore(
        book.customer_id, book.programme, book.entries, version=1, last_at=None, tally=stale
    )
    assert restored.balance() == 30
