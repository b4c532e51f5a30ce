"""crmkit end to end on a SQLite file: customers, consent, interactions, an account, events,
tenants and the outbox.

Run it with ``make demo`` or ``python examples/quickstart.py [--db PATH | --memory]``. By
default it writes a fresh SQLite file in a temporary directory; ``--db`` keeps the file where
you say (it must not exist yet), ``--memory`` runs without the SQL adapter. It uses a fixed
clock and sequential ids, so every run prints the same report.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crmkit import (
    CRM,
    FixedClock,
    Money,
    PostalAddress,
    SequentialIds,
    Settings,
    TraitDefinition,
    TraitSchema,
)
from crmkit.errors import ConcurrencyConflict, DuplicateCustomer, ValidationError
from crmkit.events import DomainEvent

TRAITS = TraitSchema(
    {
        "plan": TraitDefinition("string", description="The subscription plan"),
        "seats": TraitDefinition("integer"),
    }
)


def open_crm(args: argparse.Namespace, clock: FixedClock) -> CRM:
    """The CRM on the storage chosen on the command line."""
    ids = SequentialIds("id")
    if args.memory:
        return CRM.in_memory(
            Settings(clock=clock, ids=ids, trait_schema=TRAITS, default_region="GB")
        )
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="crmkit-demo-")) / "crm.db"
    if path.exists():
        raise SystemExit(f"{path} exists already: the demo starts from an empty database")
    print(f"Storing everything in the SQLite file {path}\n")
    return CRM.sqlite(
        path, Settings(clock=clock, ids=ids, trait_schema=TRAITS, default_region="GB")
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="the SQLite file to create (default: a temporary one)")
    parser.add_argument("--memory", action="store_true", help="keep everything in memory")
    args = parser.parse_args(argv)
    clock = FixedClock(datetime(2024, 5, 1, 9, 0, tzinfo=UTC))
    crm = open_crm(args, clock)
    events: list[DomainEvent] = []
    crm.events.subscribe(DomainEvent, events.append)

    # Customers: input is normalised, duplicates and stale edits are refused.
    ada = crm.customers.register(
        email=" Ada@Example.com ",
        phone="020 7946 0958",
        given_name="Ada",
        family_name="Lovelace",
        tags={"VIP"},
        traits={"plan": "pro", "seats": 3},
    )
    grace = crm.customers.register(email="grace@example.com", given_name="Grace")
    clock.advance(timedelta(hours=1))
    ada = crm.customers.update(
        ada.id, expected_version=1, address=PostalAddress("GB", city="London")
    )
    refusals = []
    try:
        crm.customers.register(email="ADA@example.com")
    except DuplicateCustomer as error:
        refusals.append(f"DuplicateCustomer: {error}")
    try:
        crm.customers.update(ada.id, expected_version=1, family_name="King")
    except ConcurrencyConflict as error:
        refusals.append(f"ConcurrencyConflict: {error}")
    try:
        crm.customers.set_traits(ada.id, {"seats": "many"})
    except ValidationError as error:
        refusals.append(f"ValidationError: {error}")

    # Consent: an append-only history; the latest decision wins, no record means no.
    crm.consent.record(
        ada.id, purpose="newsletter", channel="email", status="granted", source="signup_form"
    )
    crm.consent.record(
        grace.id, purpose="newsletter", channel="email", status="granted", source="signup_form"
    )
    clock.advance(timedelta(days=14))
    crm.consent.record(
        grace.id, purpose="newsletter", channel=None, status="withdrawn", source="unsubscribe"
    )

    # Interactions: append-only, idempotent by the host's own reference.
    for _delivery in range(2):  # the shop's webhook arrives twice; it is stored once
        crm.interactions.record(
            ada.id,
            kind="purchase",
            channel="web",
            amount=Money.of("49.90", "EUR"),
            external_ref="order-1001",
        )
    crm.interactions.record(
        ada.id,
        kind="support_case",
        channel="phone",
        occurred_at=datetime(2024, 5, 3, 14, 30, tzinfo=UTC),
        team="support",
    )
    clock.advance(timedelta(days=2))
    crm.interactions.record(
        ada.id,
        kind="refund",
        channel="web",
        direction="outbound",
        amount=Money.of("9.90", "EUR"),  # what was given back: always positive
        refund_of="order-1001",  # the purchase it refunds (checked: it must be stored)
        external_ref="refund-1001",
    )

    # Accounts: a company with its contacts.
    acme = crm.accounts.register(name="Acme Engines Ltd", domain="https://www.acme.example/")
    crm.accounts.link(ada.id, acme.id, role="decision_maker")
    crm.accounts.link(grace.id, acme.id, role="billing")

    # Tenants: the same storage, another business, nothing shared.
    other = crm.for_tenant("another-shop")
    other_sees_ada = other.customers.find_by_email("ada@example.com") is not None

    print_report(crm, clock.now(), refusals, events, other_sees_ada)


def print_report(
    crm: CRM,
    now: datetime,
    refusals: list[str],
    events: list[DomainEvent],
    other_sees_ada: bool,
) -> None:
    print(f"crmkit quickstart — tenant {crm.tenant!r}, as of {now:%Y-%m-%d %H:%M} UTC")

    print("\nCustomers")
    for customer in crm.customers.stream():
        tags = ", ".join(sorted(customer.tags)) or "-"
        link = customer.account.role if customer.account else "-"
        print(
            f"  {customer.id}  {customer.display_name:<14} {customer.email!s:<20}"
            f" v{customer.version}  tags: {tags:<4} account role: {link}"
        )

    print("\nRefused, as they should be")
    for refusal in refusals:
        print(f"  {refusal}")

    print("\nMay we send the newsletter by email?")
    for customer in crm.customers.stream():
        now_ok = crm.consent.may_contact(customer.id, "email", "newsletter")
        then_ok = crm.consent.may_contact(
            customer.id, "email", "newsletter", as_of=datetime(2024, 5, 2, tzinfo=UTC)
        )
        print(
            f"  {customer.display_name:<14} now: {_yes_no(now_ok):<3}  "
            f"on 2024-05-02: {_yes_no(then_ok)}"
        )

    ada = crm.customers.find_by_email("ada@example.com")
    assert ada is not None
    print(f"\nTimeline of {ada.display_name}")
    total = Money.zero("EUR")
    for interaction in crm.interactions.timeline(ada.id):
        amount = str(interaction.amount) if interaction.amount else ""
        line = (
            f"  {interaction.occurred_at:%Y-%m-%d %H:%M}  {interaction.kind:<13}"
            f" {interaction.channel:<6} {amount}"
        )
        print(line.rstrip())
        if interaction.amount and interaction.kind == "purchase":
            total += interaction.amount
        elif interaction.amount and interaction.kind == "refund":
            total -= interaction.amount  # a refund's amount is positive: subtract it
    print(f"  net spend: {total}")

    print(f"\nEvents received after commit ({len(events)})")
    for kind, count in _count_by_type(events).items():
        print(f"  {count} x {kind}")

    print(f"\nAnother tenant sees Ada: {_yes_no(other_sees_ada)}")

    outbox = getattr(crm.store, "outbox", None)
    if outbox is not None:
        pending = outbox().fetch(limit=1000)
        print(f"\nOutbox: {len(pending)} events stored with their changes, awaiting a relay")


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _count_by_type(events: list[DomainEvent]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        name = type(event).__name__
        counts[name] = counts.get(name, 0) + 1
    return counts


if __name__ == "__main__":
    main()
