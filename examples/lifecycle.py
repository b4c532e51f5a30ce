"""Lifecycle stages on a SQLite file: a year of a small shop, simulated day by day.

Customers move through the customer lifecycle (subscriber -> customer -> repeat -> loyal ->
advocate, lapsed, churned, reactivated) and two companies through the B2B deal pipeline,
by progression rules, by hand, and by a weekly re-evaluation. The report prints each
history, the count by stage, how long customers stay in each stage, the year's conversion
and the funnel of the year's cohort.

Run it with ``python examples/lifecycle.py [--db PATH | --memory]``. By default it writes a
fresh SQLite file in a temporary directory; ``--db`` keeps the file where you say (it must
not exist yet), ``--memory`` runs without the SQL adapter. It uses a fixed clock and
sequential ids, so every run prints the same report.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from crmkit import CRM, FixedClock, Money, SequentialIds, Settings
from crmkit.errors import GuardFailed, IllegalTransition
from crmkit.events import StageChanged
from crmkit.lifecycle import CUSTOMER_LIFECYCLE, DEAL_PIPELINE, StageHistory

LIFECYCLES = [CUSTOMER_LIFECYCLE, DEAL_PIPELINE]
START = date(2024, 1, 1)
DAYS = 456  # 1 January 2024 to 31 March 2025

# The customers registered on day 0 (1 January 2024), and one who joins later.
CUSTOMERS: dict[str, dict[str, Any]] = {
    "ada": {"given_name": "Ada", "email": "ada@example.com"},
    "grace": {"given_name": "Grace", "email": "grace@example.com"},
    "alan": {"given_name": "Alan"},  # no email and no phone: he cannot be qualified
    "edsger": {"given_name": "Edsger", "email": "edsger@example.com"},
    "barbara": {"given_name": "Barbara", "phone": "+442079460958"},
    "linus": {"given_name": "Linus", "email": "linus@acme.example"},  # Acme's buyer
}
LATE_JOINERS: dict[int, dict[str, dict[str, Any]]] = {
    100: {"ken": {"given_name": "Ken", "email": "ken@example.com"}}
}
# Who does what, by day: the shop's order feed and the sales team's calendar. Progression
# rules turn these interactions into stage changes.
INTERACTIONS: dict[int, list[tuple[str, str, str]]] = {
    5: [("ada", "purchase", "web")],
    12: [("grace", "meeting", "phone")],
    15: [("linus", "meeting", "in_person")],
    20: [("edsger", "purchase", "web")],
    30: [("grace", "purchase", "web")],
    40: [("ada", "purchase", "web")],
    60: [("barbara", "purchase", "in_person")],
    62: [("linus", "purchase", "web")],  # Acme signs the contract
    75: [("barbara", "purchase", "in_person")],
    90: [("ada", "purchase", "web")],
    120: [("ken", "purchase", "app")],
    150: [("ada", "purchase", "web")],
    200: [("ada", "purchase", "web")],
    210: [("ada", "referral", "web")],
    260: [("edsger", "purchase", "web")],
}
# Moves only a person can make: (customer or account, model, stage, reason, actor).
HAND_MOVES: dict[int, list[tuple[str, str, str, str, str]]] = {
    3: [
        ("grace", "customer_lifecycle", "lead", "attended the spring webinar", "user:mia"),
        ("alan", "customer_lifecycle", "lead", "asked for a catalogue", "user:mia"),
    ],
    10: [("grace", "customer_lifecycle", "qualified", "fits the trade offer", "user:mia")],
    20: [("acme", "deal_pipeline", "qualified", "budget confirmed", "sales:jo")],
    35: [("acme", "deal_pipeline", "proposal", "sent quote Q-17", "sales:jo")],
    50: [("acme", "deal_pipeline", "negotiation", "discussing volume pricing", "sales:jo")],
}


def open_crm(args: argparse.Namespace, clock: FixedClock) -> CRM:
    """The CRM on the storage chosen on the command line."""
    ids = SequentialIds("id")
    if args.memory:
        return CRM.in_memory(Settings(lifecycles=LIFECYCLES, clock=clock, ids=ids))
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="crmkit-demo-")) / "crm.db"
    if path.exists():
        raise SystemExit(f"{path} exists already: the demo starts from an empty database")
    print(f"Storing everything in the SQLite file {path}\n")
    return CRM.sqlite(path, Settings(lifecycles=LIFECYCLES, clock=clock, ids=ids))


def reevaluate(crm: CRM, today: date) -> int:
    """The batch job: re-evaluate every customer and account as of midnight starting
    ``today``; return how many subjects moved. Re-running it for the same night changes
    nothing. This shop runs it every Monday; a busier one would run it every night."""
    midnight = datetime.combine(today, time(0, 0), tzinfo=UTC)
    return sum(
        crm.lifecycle.reevaluate_all(as_of=midnight, subject=kind).moved
        for kind in ("customer", "account")
    )


def simulate(crm: CRM, clock: FixedClock) -> tuple[dict[str, str], list[str]]:
    """Run the shop for DAYS days; return the ids by name and the moves that were refused."""
    ids: dict[str, str] = {}
    refusals: list[str] = []
    for name, profile in CUSTOMERS.items():
        ids[name] = crm.customers.register(**profile).id
    ids["acme"] = crm.accounts.register(name="Acme Engines", domain="acme.example").id
    ids["globex"] = crm.accounts.register(name="Globex", domain="globex.example").id
    crm.accounts.link(ids["linus"], ids["acme"], role="decision_maker")
    crm.accounts.link(ids["grace"], ids["globex"], role="buyer")

    for day in range(DAYS):
        today = START + timedelta(days=day)
        if today.weekday() == 0:  # the weekly job, at midnight starting each Monday
            clock.set(datetime.combine(today, time(0, 0), tzinfo=UTC))
            reevaluate(crm, today)
        clock.set(datetime.combine(today, time(10, 0), tzinfo=UTC))
        for name, profile in LATE_JOINERS.get(day, {}).items():
            ids[name] = crm.customers.register(**profile).id
        for who, kind, channel in INTERACTIONS.get(day, []):
            price = "12000.00" if who == "linus" else "40.00"
            amount = Money.of(price, "EUR") if kind == "purchase" else None
            crm.interactions.record(ids[who], kind=kind, channel=channel, amount=amount)
        for who, model, stage, reason, actor in HAND_MOVES.get(day, []):
            crm.lifecycle.move(ids[who], stage, model=model, reason=reason, actor=actor)
        if day == 4:
            refusals.extend(try_refused_moves(crm, ids))
    return ids, refusals


def try_refused_moves(crm: CRM, ids: dict[str, str]) -> Iterable[str]:
    """Moves the models refuse, and what they say."""
    try:
        crm.lifecycle.move(ids["alan"], "qualified", model="customer_lifecycle")
    except GuardFailed as error:
        yield f"GuardFailed: {error}"
    try:
        crm.lifecycle.move(ids["alan"], "loyal", model="customer_lifecycle")
    except IllegalTransition as error:
        yield f"IllegalTransition: {error}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="the SQLite file to create (default: a temporary one)")
    parser.add_argument("--memory", action="store_true", help="keep everything in memory")
    args = parser.parse_args(argv)
    clock = FixedClock(datetime.combine(START, time(0, 0), tzinfo=UTC))
    crm = open_crm(args, clock)
    announced: list[StageChanged] = []
    crm.events.subscribe(StageChanged, announced.append)
    ids, refusals = simulate(crm, clock)
    print_report(crm, clock.now(), {v: k for k, v in ids.items()}, refusals, announced)


def print_report(
    crm: CRM,
    now: datetime,
    names: dict[str, str],
    refusals: list[str],
    announced: list[StageChanged],
) -> None:
    print(f"crmkit lifecycle stages — tenant {crm.tenant!r}, as of {now:%Y-%m-%d} UTC")

    for model in LIFECYCLES:
        print(f"\nStage histories in {model.name}")
        for history in crm.lifecycle.stream_histories(model=model.name):
            print_history(history, names)

    print("\nRefused, as they should be")
    for refusal in refusals:
        print(f"  {refusal}")

    for model in LIFECYCLES:
        counts = crm.lifecycle.count_by_stage(model=model.name)
        shown = ", ".join(f"{stage} {n}" for stage, n in counts.items() if n)
        print(f"\nCount by stage in {model.name}: {shown}")

    print("\nTime in stage (customer_lifecycle, finished stays, in days)")
    print(f"  {'stage':<12}{'stays':>6}{'median':>8}{'p90':>8}{'mean':>8}")
    for stage, stats in crm.lifecycle.durations(model="customer_lifecycle", as_of=now).items():
        print(
            f"  {stage:<12}{stats.count:>6}{_days(stats.median):>8}"
            f"{_days(stats.p90):>8}{_days(stats.mean):>8}"
        )

    year_start, year_end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    print("\nWhere customers went next, for entries during 2024")
    flows = crm.lifecycle.conversion(model="customer_lifecycle", since=year_start, until=year_end)
    for stage, flow in flows.items():
        onward = ", ".join(f"{to} {n}" for to, n in sorted(flow.moved_to.items())) or "-"
        print(
            f"  {stage:<12} entered {flow.entered}, moved on to: {onward};"
            f" still there {flow.still_there} ({flow.drop_off_rate:.0%})"
        )

    steps = ["subscriber", "lead", "qualified", "customer", "repeat", "loyal", "advocate"]
    funnel = crm.lifecycle.funnel(
        steps,
        model="customer_lifecycle",
        entered_since=year_start,
        entered_until=year_end,
        as_of=now,
    )
    print(f"\nFunnel of the {funnel.cohort} customers who joined in 2024, as of {now:%Y-%m-%d}")
    for step in funnel.steps:
        bar = "#" * step.reached
        print(
            f"  {step.stage:<12}{step.reached:>3}  {bar:<8}"
            f"{step.conversion_from_previous:>6.0%} of the step before"
        )

    print(f"\nStageChanged events received after commit: {len(announced)}")
    outbox = getattr(crm.store, "outbox", None)
    if outbox is not None:
        stored = [m for m in outbox().fetch(limit=1000) if isinstance(m.event, StageChanged)]
        print(f"Outbox: {len(stored)} of them stored with their changes, awaiting a relay")


def print_history(history: StageHistory, names: dict[str, str]) -> None:
    print(f"  {names.get(history.subject_id, history.subject_id)}")
    for change in history.changes:
        source = change.from_stage or "-"
        who = change.rule or change.actor or "-"
        print(
            f"    {change.at:%Y-%m-%d}  {source:>11} -> {change.to_stage:<11}"
            f" {change.reason or '-'} [{who}]"
        )


def _days(length: timedelta) -> str:
    return f"{length / timedelta(days=1):.0f}"


if __name__ == "__main__":
    main()
