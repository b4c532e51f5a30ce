"""Strategies for what members hold: ledger entries, ledgers, balances and referrals."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from hypothesis import strategies as st

from crmkit.domain import (
    Interaction,
    InteractionId,
)
from crmkit.domain.loyalty import (
    EntryKind,
    EventRule,
    LedgerEntry,
    LotState,
    PointsBalance,
    PointsLedger,
    Referral,
    ReferralStatus,
    SpendRule,
    StatementLine,
)
from crmkit.testing.strategies._loyalty import loyalty_programmes
from crmkit.testing.strategies._parts import _customer_pairs, _gaps, _history_starts, _short_slugs
from crmkit.testing.strategies._values import _text, customer_ids, ids, money, utc_datetimes


@st.composite
def _ledger_entry(draw: st.DrawFn) -> LedgerEntry:
    kind = draw(st.sampled_from(EntryKind))
    low = -10_000 if kind is EntryKind.ADJUST else 0
    maybe_at = st.none() | utc_datetimes()
    return LedgerEntry(
        draw(st.integers(0, 10_000)),
        kind,
        draw(st.integers(low, 10_000)),
        draw(utc_datetimes()),
        draw(ids()),
        rule=draw(st.none() | _short_slugs()),
        interaction_id=draw(st.none() | ids()),
        reference=draw(st.none() | ids()),
        lot=draw(st.none() | ids()),
        takes=draw(st.lists(st.tuples(ids(), st.integers(1, 10_000)), max_size=3)),
        spend=draw(st.integers(0, 10**9)),
        occurred_at=draw(maybe_at),
        available_from=draw(maybe_at),
        expires_at=draw(maybe_at),
        shortfall=draw(st.integers(0, 1_000)),
    )


def ledger_entries() -> st.SearchStrategy[LedgerEntry]:
    """Ledger entries, each valid on its own (any kind, points > 0 or, for adjustments,
    signed, optional references and datetimes, some ``takes``); they do not add up to a
    consistent ledger: book points through a `PointsLedger` for that."""
    return _ledger_entry()


@cache
def _referral_codes() -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(["FRIEND10", "spring-2024"]) | _text(20)


@st.composite
def _referral(draw: st.DrawFn, programme: str | None, status: ReferralStatus | None) -> Referral:
    referrer, referee = draw(_customer_pairs())
    created_at = draw(_history_starts())
    reached = draw(st.sampled_from(ReferralStatus)) if status is None else status
    qualified_at = rewarded_at = interaction = None
    if reached is not ReferralStatus.PENDING:
        qualified_at = created_at + draw(_gaps())
        interaction = draw(ids())
        if reached is ReferralStatus.REWARDED:
            rewarded_at = qualified_at + draw(_gaps())
    return Referral(
        draw(ids()),
        draw(_short_slugs()) if programme is None else programme,
        referrer,
        referee,
        created_at,
        code=draw(_referral_codes()),
        status=reached,
        qualified_at=qualified_at,
        qualifying_interaction_id=interaction,
        rewarded_at=rewarded_at,
        version=draw(st.integers(0, 10)),
    )


def referrals(
    *, programme: str | None = None, status: ReferralStatus | str | None = None
) -> st.SearchStrategy[Referral]:
    """Referrals as stored (no pending events), of two different customers, in any status
    (or ``status``) under a random programme slug (or ``programme``).

    The timestamps are those the referral's moves would have set: ``qualified_at`` (and the
    qualifying interaction) exactly when it is qualified or rewarded, ``rewarded_at`` exactly
    when it is rewarded, each at or after the one before (ties included), from
    ``created_at`` on. Versions run from 0 to 10; the code is sometimes set.
    """
    wanted = None if status is None else ReferralStatus(status)
    return _referral(programme, wanted)


@st.composite
def _points_balance(draw: st.DrawFn, programme: str | None) -> PointsBalance:
    customer = draw(customer_ids())
    name = draw(_short_slugs()) if programme is None else programme
    entries = draw(st.integers(0, 500))
    if entries == 0:
        return PointsBalance(customer, name, 0, 0, None, 0, None, None, draw(st.integers(0, 10)))
    available, pending = draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6))
    last_at = draw(utc_datetimes())
    due = st.integers(-30 * 86_400, 730 * 86_400).map(lambda s: last_at + timedelta(seconds=s))
    # A pending lot matures some day; available points may expire, or not; none left: nothing.
    next_due_at: datetime | None = None
    if pending or available:
        next_due_at = draw(due if pending else st.none() | due)
    return PointsBalance(
        customer,
        name,
        available,
        pending,
        draw(st.none() | _short_slugs()),
        entries,
        last_at,
        next_due_at,
        draw(st.integers(0, 50)),
    )


def points_balances(*, programme: str | None = None) -> st.SearchStrategy[PointsBalance]:
    """Points balances as storage keeps them beside a ledger, under a random programme slug
    (or ``programme``). They hold together as a ledger's summary would: a balance with no
    entries has no points, no tier and no instants; one with pending points has a
    ``next_due_at`` (when they mature), one with only available points may have one (when
    they expire), and one with no points left has none."""
    return _points_balance(programme)


# --- Ledgers booked through their own methods ------------------------------------------------


def _rule_kinds(rule: SpendRule | EventRule) -> frozenset[str]:
    return rule.kinds if isinstance(rule, SpendRule) else frozenset({rule.kind})


@st.composite
def _points_ledger(draw: st.DrawFn, opened: bool) -> PointsLedger:
    """A ledger booked through its own methods (earnings, adjustments, the batch job) in time
    order, as stored (no pending events); ``opened``: it starts with an adjustment, so that
    it holds a lot and a statement line."""
    programme = draw(loyalty_programmes())
    ledger = PointsLedger(draw(customer_ids()), programme)
    kinds = sorted(frozenset().union(*map(_rule_kinds, programme.rules)))
    spent = sorted({r.per.currency for r in programme.rules if isinstance(r, SpendRule)})
    at = draw(_history_starts())
    if opened:
        ledger.adjust(draw(st.integers(1, 1_000)), at, "opening", "welcome")
    for number in range(draw(st.integers(0, 4))):
        at += draw(_gaps())
        step = draw(st.sampled_from(["earn", "adjust", "job"]))
        if step == "earn":
            amount = draw(st.none() | money(draw(st.sampled_from(spent or ["EUR"])), 1, 10**6))
            kind = draw(st.sampled_from(kinds))
            interaction = Interaction(
                InteractionId(f"i{number}"), ledger.customer_id, at, kind, "web", amount=amount
            )
            ledger.earn(interaction, at)
        elif step == "adjust":
            ledger.adjust(draw(st.integers(1, 1_000)), at, f"a{number}", "goodwill")
        else:
            ledger.mature_and_expire(at)
    ledger.pull_events()
    ledger.version = draw(st.integers(0, 10))
    return ledger


# --- Ledgers and what they derive, for ``st.from_type`` (see `_registry`) ------------------


@cache
def _ledgers() -> st.SearchStrategy[PointsLedger]:
    return _points_ledger(False)


def _lot_states() -> st.SearchStrategy[LotState]:
    return _points_ledger(True).flatmap(lambda ledger: st.sampled_from(ledger.state().lots))


def _statement_lines() -> st.SearchStrategy[StatementLine]:
    return _points_ledger(True).flatmap(lambda ledger: st.sampled_from(ledger.statement()))
