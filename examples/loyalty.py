"""A loyalty programme on a SQLite file: a bookshop's reading club, simulated day by day.

Members earn points on purchases (1 per euro, rounded down), a welcome bonus and reviews;
points wait out a 14-day return window, then stay available for a year. Members who earn
300 points in 365 days become "bookworms" and earn half as much again. A member who brings
a friend earns a bonus when the friend first buys, and so does the friend. Along the way
there is a partial refund, a refund of a purchase whose points were already spent, an
idempotent redemption replayed by the till, a goodwill adjustment and the nightly job that
matures and expires points. The report prints every member's balance and tier, a balance
at a past date, the referrals, the totals of the nightly job and one member's statement.

Run it with ``python examples/loyalty.py [--db PATH | --memory]``. By default it writes a
fresh SQLite file in a temporary directory; ``--db`` keeps the file where you say (it must
not exist yet), ``--memory`` runs without the SQL adapter. It uses a fixed clock and
sequential ids, so every run prints the same report.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from crmkit import CRM, FixedClock, Money, SequentialIds, Settings
from crmkit.domain import (
    EventRule,
    PointsEarned,
    PointsExpired,
    PointsRedeemed,
    Programme,
    Redemption,
    ReferralChanged,
    ReferralPolicy,
    Reward,
    SpendRule,
    Tier,
    TierBasis,
    TierChanged,
    TierPolicy,
)
from crmkit.errors import InsufficientPoints

START = date(2024, 1, 1)
DAYS = 456  # 1 January 2024 to 31 March 2025

READING_CLUB = Programme(
    "reading_club",
    [
        SpendRule("per_euro", 1, Money.of("1", "EUR")),  # rounded down: no point for cents
        EventRule("welcome", "sign_up", 25),
        EventRule("review", "review", 10),
        EventRule("referral_bonus", "referral", 50),
        EventRule("friend_bonus", "referred_welcome", 25),
    ],
    custom_kinds={"referred_welcome"},
    tiers=[Tier("reader", 0), Tier("bookworm", 300, multiplier=Decimal("1.5"))],
    tier_policy=TierPolicy(TierBasis.POINTS_EARNED, window_days=365, retention_days=30),
    pending_days=14,
    expiry_days=365,
    redemption=Redemption(minimum=100, step=50),
    rewards=[Reward("voucher_5", 100), Reward("voucher_15", 250)],
    referrals=ReferralPolicy("referral", referee_kind="referred_welcome"),
)

MEMBERS: dict[str, dict[str, Any]] = {
    "ada": {"given_name": "Ada", "email": "ada@example.com"},
    "grace": {"given_name": "Grace", "email": "grace@example.com"},
    "edsger": {"given_name": "Edsger", "email": "edsger@example.com"},
}
LATE_JOINERS: dict[int, dict[str, dict[str, Any]]] = {
    95: {"barbara": {"given_name": "Barbara", "email": "barbara@example.com"}},
}
# What happens, by day: (member, what, argument). Purchases carry the order number and the
# amount in euros; refunds name the order they refund and the amount (None: all of it).
EVENTS: dict[int, list[tuple[str, str, Any]]] = {
    0: [("ada", "sign_up", None), ("grace", "sign_up", None), ("edsger", "sign_up", None)],
    3: [("ada", "purchase", ("B-1001", "64.90"))],
    10: [("grace", "purchase", ("B-1002", "23.50"))],
    12: [("ada", "review", None)],
    20: [("edsger", "purchase", ("B-1003", "119.00"))],
    25: [("edsger", "refund", ("B-1003", "40.00"))],  # one book of three sent back
    40: [("ada", "purchase", ("B-1004", "88.00"))],
    60: [("ada", "redeem", ("voucher_5", "till-7:order-5101"))],
    61: [("ada", "redeem", ("voucher_5", "till-7:order-5101"))],  # the till resends it
    75: [("ada", "purchase", ("B-1005", "152.40"))],
    90: [("ada", "refer", "barbara")],  # Barbara has not joined yet: see day 96
    96: [("ada", "refer", "barbara")],
    110: [("barbara", "purchase", ("B-1006", "31.00"))],  # qualifies Ada's referral
    120: [("ada", "purchase", ("B-1007", "45.00"))],  # earns as a bookworm
    150: [("grace", "redeem", ("voucher_5", "web:cart-88"))],  # not enough points
    180: [("ada", "redeem", ("voucher_15", "till-2:order-7730"))],
    185: [("ada", "refund", ("B-1005", None))],  # its points were partly spent already
    200: [("edsger", "adjust", (30, "goodwill: damaged delivery"))],
    300: [("grace", "purchase", ("B-1008", "18.20"))],
}


def open_crm(args: argparse.Namespace, clock: FixedClock) -> CRM:
    """The CRM on the storage chosen on the command line."""
    ids = SequentialIds("id")
    if args.memory:
        return CRM.in_memory(Settings(loyalty=READING_CLUB, clock=clock, ids=ids))
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="crmkit-demo-")) / "crm.db"
    if path.exists():
        raise SystemExit(f"{path} exists already: the demo starts from an empty database")
    print(f"Storing everything in the SQLite file {path}\n")
    return CRM.sqlite(path, Settings(loyalty=READING_CLUB, clock=clock, ids=ids))


def simulate(crm: CRM, clock: FixedClock) -> tuple[dict[str, str], Counter[str], list[str]]:
    """Run the shop for DAYS days; return the ids by name, the job's totals and the notes
    of what the till was told."""
    ids: dict[str, str] = {}
    totals: Counter[str] = Counter()
    notes: list[str] = []
    clock.set(datetime.combine(START, time(9, 0), tzinfo=UTC))
    for name, profile in MEMBERS.items():
        ids[name] = crm.customers.register(**profile).id
    for day in range(DAYS):
        today = START + timedelta(days=day)
        if day:  # the nightly job, at midnight starting each day
            midnight = datetime.combine(today, time(0, 0), tzinfo=UTC)
            clock.set(midnight)
            report = crm.loyalty.run_job(as_of=midnight)
            totals.update(matured=report.matured, expired=report.expired, runs=1)
        clock.set(datetime.combine(today, time(10, 0), tzinfo=UTC))
        for name, profile in LATE_JOINERS.get(day, {}).items():
            ids[name] = crm.customers.register(**profile).id
        for who, what, argument in EVENTS.get(day, []):
            note = happen(crm, ids, who, what, argument)
            if note:
                notes.append(f"{today:%Y-%m-%d} {who}: {note}")
            clock.advance(timedelta(minutes=30))
    return ids, totals, notes


def happen(crm: CRM, ids: dict[str, str], who: str, what: str, argument: Any) -> str | None:
    """One event of the day; return a note for the report, if there is one."""
    member = ids[who]
    if what == "purchase":
        order, euros = argument
        crm.interactions.record(
            member, kind="purchase", channel="in_person", amount=Money.of(euros, "EUR"),
            external_ref=order,
        )  # fmt: skip
    elif what == "refund":
        order, euros = argument
        amount = Money.of(euros, "EUR") if euros is not None else None
        crm.interactions.record(
            member, kind="refund", channel="in_person", amount=amount, refund_of=order,
            external_ref=f"refund-{order}",
        )  # fmt: skip
    elif what in ("sign_up", "review"):
        crm.interactions.record(member, kind=what, channel="web")
    elif what == "redeem":
        reward, key = argument
        try:
            entry = crm.loyalty.redeem(member, reward=reward, key=key)
        except InsufficientPoints as error:
            return f"{reward} refused: {error.available} of {error.requested} points available"
        return f"{reward} for {entry.points} points (key {key}: ledger entry #{entry.seq})"
    elif what == "adjust":
        points, reason = argument
        crm.loyalty.adjust(member, points, reason=reason, key=f"adjust-{who}-1")
    elif what == "refer":
        if argument not in ids:
            return f"cannot refer {argument} yet: not a customer"
        referral = crm.loyalty.referrals.refer(member, ids[argument], code=f"{who.upper()}-FRIENDS")
        return f"referred {argument} with code {referral.code}"
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="the SQLite file to create (default: a temporary one)")
    parser.add_argument("--memory", action="store_true", help="keep everything in memory")
    args = parser.parse_args(argv)
    clock = FixedClock(datetime.combine(START, time(0, 0), tzinfo=UTC))
    crm = open_crm(args, clock)
    received: Counter[str] = Counter()
    for kind in (PointsEarned, PointsRedeemed, PointsExpired, TierChanged, ReferralChanged):
        crm.events.subscribe(kind, lambda event: received.update([type(event).__name__]))
    ids, totals, notes = simulate(crm, clock)
    print_report(crm, clock.now(), ids, totals, notes, received)


def print_report(
    crm: CRM,
    now: datetime,
    ids: dict[str, str],
    totals: Counter[str],
    notes: list[str],
    received: Counter[str],
) -> None:
    names = {v: k for k, v in ids.items()}
    print(f"crmkit loyalty — programme {READING_CLUB.name!r}, as of {now:%Y-%m-%d} UTC")

    print("\nAt the till")
    for note in notes:
        print(f"  {note}")

    print("\nBalances (stored rows, as the nightly job left them) and tiers now")
    print(f"  {'member':<10}{'available':>10}{'pending':>9}{'entries':>9}  tier")
    for balance in crm.loyalty.stream_balances():
        tier = crm.loyalty.tier(balance.customer_id)
        print(
            f"  {names[balance.customer_id]:<10}{balance.available:>10}{balance.pending:>9}"
            f"{balance.entries:>9}  {tier}"
        )

    past = datetime(2024, 6, 1, tzinfo=UTC)
    then = crm.loyalty.balance(ids["ada"], as_of=past)
    print(
        f"\nAda on {past:%Y-%m-%d}: {then.available} available, {then.pending} pending,"
        f" tier {then.tier}"
    )

    print("\nReferrals")
    for name in ids:
        for referral in crm.loyalty.referrals.list_by_referrer(ids[name]):
            print(
                f"  {name} referred {names[referral.referee_id]} (code {referral.code}):"
                f" {referral.status}, qualified {referral.qualified_at:%Y-%m-%d}"
            )

    print(
        f"\nNightly job: {totals['runs']} runs, {totals['matured']} points matured,"
        f" {totals['expired']} expired"
    )

    state = crm.loyalty.state(ids["ada"])
    print(
        f"\nAda's statement (earned {state.earned}, adjusted +{state.adjusted_in}"
        f" -{state.adjusted_out}, redeemed {state.redeemed}, expired {state.expired},"
        f" reversed {state.reversed}; {state.available} available, {state.pending} pending)"
    )
    print(f"  {'booked':<17}{'entry':<9}{'rule':<16}{'change':>7}{'avail':>7}{'pend':>6}")
    for line in crm.loyalty.statement(ids["ada"]):
        entry = line.entry
        forgiven = f"  ({entry.shortfall} already spent: forgiven)" if entry.shortfall else ""
        print(
            f"  {entry.at:%Y-%m-%d %H:%M} {entry.kind:<9}{entry.rule or '-':<16}"
            f"{entry.change:>+7}{line.available:>7}{line.pending:>6}{forgiven}"
        )

    shown = ", ".join(f"{kind} {count}" for kind, count in sorted(received.items()))
    print(f"\nLoyalty events received after commit: {shown}")


if __name__ == "__main__":
    main()
