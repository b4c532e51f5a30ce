"""The ledger head: booking on a ledger restored from its head books exactly what the whole
ledger books, without reading the stored entries, and the head it keeps is always the head
folded from all the entries."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from crmkit.domain.loyalty import EntryKind, PointsLedger, TierPolicy
from crmkit.domain.loyalty.head import EntriesHistory, LedgerHead, StoredEntries
from crmkit.errors import InsufficientPoints
from tests.domain.loyalty.test_loyalty_tiers import (
    CUSTOMER,
    LOTS,
    POLICIES,
    STEPS,
    T0,
    THRESHOLDS,
    Lots,
    Step,
    buy,
    programme,
    refund,
)


def from_scratch(book: PointsLedger) -> LedgerHead:
    """The head folded from every entry of ``book``, as a ledger never restored keeps it."""
    return PointsLedger(CUSTOMER, book.programme, list(book.entries)).head()


def restored(book: PointsLedger) -> tuple[PointsLedger, EntriesHistory]:
    """``book`` as a store restores it from its head (and its history of entries)."""
    history = EntriesHistory(list(book.entries))
    ledger = PointsLedger.from_head(
        CUSTOMER, book.programme, book.head(), history, version=book.version, last_at=book.last_at
    )
    assert ledger is not None
    return ledger, history


def step(
    whole: PointsLedger, book: PointsLedger, when: object, op: str, n: int, m: int | None
) -> None:
    """Book one generated operation on both ledgers (choosing it from ``whole``'s entries)."""
    size = len(whole.entries)
    purchases = sorted({str(e.interaction_id) for e in whole.entries if e.kind is EntryKind.EARN})
    for ledger in (whole, book):
        ledger.mature_and_expire(when)  # type: ignore[arg-type]
        if op == "buy":
            ledger.earn(buy(f"p{size}", f"{n}.{(m or 0) % 100:02d}", when), when)  # type: ignore[arg-type]
        elif op == "refund" and purchases:
            ledger.refund(
                refund(f"r{size}", None if m is None else str(m), when),  # type: ignore[arg-type]
                purchase_id=purchases[n % len(purchases)],
                at=when,  # type: ignore[arg-type]
            )
        elif op == "redeem":
            with contextlib.suppress(InsufficientPoints):
                ledger.redeem(when, f"k{size}", points=n)  # type: ignore[arg-type]
        elif op == "adjust":
            with contextlib.suppress(InsufficientPoints):
                ledger.adjust(n if m is None else -n, when, f"a{size}", "correction")  # type: ignore[arg-type]
        elif op == "replay" and purchases:
            # The same purchase again: it earns nothing the second time.
            ledger.earn(buy(purchases[n % len(purchases)], "10.00", when), when)  # type: ignore[arg-type]


REPLAYS = st.tuples(st.integers(0, 5 * 86_400), st.just("replay"), st.integers(1, 400), st.none())


@given(
    POLICIES,
    THRESHOLDS,
    LOTS,
    st.lists(STEPS | REPLAYS, max_size=25),
    st.lists(st.booleans(), min_size=25, max_size=25),
)
def test_a_ledger_restored_from_its_head_books_what_the_whole_ledger_books(
    policy: TierPolicy,
    thresholds: tuple[int, ...],
    lots: Lots,
    steps: list[Step],
    restore: list[bool],
) -> None:
    """After any sequence of earnings, replays, refunds, redemptions, adjustments and job
    runs, restored from its head now and then: the same entries, summary and events as the
    whole ledger, the stored entries never read whole, and the head kept equals the head
    folded from every entry."""
    whole = PointsLedger(CUSTOMER, programme(policy, thresholds, lots))
    book, history = restored(whole)
    when = T0
    for (gap, op, n, m), again in zip(steps, restore, strict=False):
        when += timedelta(seconds=gap)
        step(whole, book, when, op, n, m)
        assert isinstance(book.entries, StoredEntries)
        assert history.reads == 0  # booking never read the stored entries whole
        assert book.summary() == whole.summary()
        assert book.pull_events() == whole.pull_events()
        assert book.head() == from_scratch(whole)
        if again:
            book, history = restored(whole)
    assert book.entries == whole.entries


def test_a_restored_ledger_reads_its_history_only_for_the_past() -> None:
    """Booking needs only the head; a statement or a past instant reads every entry once."""
    whole = PointsLedger(CUSTOMER, programme(TierPolicy(window_days=30), lots=(0, None)))
    for day in range(5):
        whole.earn(buy(f"p{day}", "25.00", T0 + timedelta(days=day)), T0 + timedelta(days=day))
    book, history = restored(whole)
    book.earn(buy("p9", "5.00", T0 + timedelta(days=9)), T0 + timedelta(days=9))
    assert history.reads == 0
    assert len(book.entries) == 6
    assert [line.available for line in book.statement()] == [25, 50, 75, 100, 125, 130]
    assert history.reads == 1
    assert book.balance(T0 + timedelta(days=2)) == 75
    assert history.reads == 1


def test_a_head_that_looks_back_less_than_the_tiers_do_is_not_used() -> None:
    """A head kept for a shorter tier window (or no tiers) cannot tell a longer window's tier."""
    short = PointsLedger(CUSTOMER, programme(TierPolicy(window_days=7), lots=(0, None)))
    for day in range(0, 40, 4):
        short.earn(buy(f"p{day}", "30.00", T0 + timedelta(days=day)), T0 + timedelta(days=day))
    longer = programme(TierPolicy(window_days=365), lots=(0, None))
    history = EntriesHistory(short.entries)
    head = short.head()
    assert PointsLedger.from_head(CUSTOMER, longer, head, history, version=1, last_at=None) is None
    same = PointsLedger.from_head(CUSTOMER, short.programme, head, history, version=0, last_at=None)
    assert same is not None
    assert same.summary() == short.summary()
