"""The sample data the contract tests share: tenants, customers, interactions, lifecycle
models, snapshots, loyalty programmes, ledgers and referrals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from crmkit.domain import (
    Channel,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    InteractionId,
    InteractionKind,
    LifecycleModel,
    MembershipChange,
    Money,
    PointsBalance,
    PointsLedger,
    Programme,
    ProgressionRule,
    Referral,
    SegmentSnapshot,
    SpendRule,
    StageHistory,
    SubjectKind,
    TenantId,
    Tier,
)
from crmkit.ports import UnitOfWork
from crmkit.segments import tagged

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TENANT = TenantId("alpha")
OTHER = TenantId("beta")

#: Opens a unit of work on a tenant (``alpha`` by default).
OpenFor = Callable[..., UnitOfWork]


def _customer(n: int, **profile: object) -> Customer:
    return Customer.register(
        CustomerId(f"c{n:03d}"),
        at=T0,
        email=EmailAddress(f"person{n}@example.com"),
        **profile,  # type: ignore[arg-type]
    )


def _interaction(n: int, customer: str, minutes: int, **fields: object) -> Interaction:
    values: dict[str, object] = {
        "kind": InteractionKind.PURCHASE,
        "channel": Channel.WEB,
        "amount": Money(100 * n, "EUR"),
        **fields,
    }
    return Interaction(
        id=InteractionId(f"i{n:03d}"),
        customer_id=CustomerId(customer),
        occurred_at=T0 + timedelta(minutes=minutes),
        **values,  # type: ignore[arg-type]
    )


#: The lifecycle models of the stage-history tests: two for customers (``advocacy`` sorts
#: before ``funnel``) and one for accounts.
FUNNEL = LifecycleModel(
    "funnel",
    stages=["lead", "customer", "lapsed"],
    transitions=[("lead", "customer"), ("customer", "lapsed"), ("lapsed", "customer")],
    rules=[ProgressionRule("went_quiet", "lapsed", tagged("quiet"), description="went quiet")],
)
ADVOCACY = LifecycleModel(
    "advocacy", stages=["silent", "promoter"], transitions=[("silent", "promoter")]
)
PIPELINE = LifecycleModel(
    "pipeline",
    stages=["new", "won"],
    transitions=[("new", "won")],
    subject=SubjectKind.ACCOUNT,
)


def _history(subject: str, *moves: str, model: LifecycleModel = FUNNEL) -> StageHistory:
    """``subject`` entered ``model`` at T0 and made ``moves``, one a day, by hand."""
    history = StageHistory.enter(model, subject, at=T0, reason="signed up", actor="web")
    for day, stage in enumerate(moves, 1):
        history.move(model, stage, at=T0 + timedelta(days=day), reason=f"day {day}", actor="ada")
    return history


def _snapshot(segment: str, members: list[str], *, version: int = 0) -> SegmentSnapshot:
    snapshot = SegmentSnapshot.empty(segment, T0)
    snapshot.refresh(MembershipChange(segment, T0, members, members=len(members)))
    snapshot.version = version
    return snapshot


#: The loyalty programmes of the ledger tests. In both a purchase of n EUR earns n points.
#: In ``shop`` they are available at once and never expire; in ``club`` they stay pending
#: for 14 days, expire 30 days after that, and 10 points earned make a member ``gold``.
_EUR = Money.of("1.00", "EUR")
SHOP = Programme("shop", [SpendRule("base", 1, _EUR)])
CLUB = Programme(
    "club",
    [SpendRule("base", 1, _EUR)],
    tiers=[Tier("gold", 10)],
    pending_days=14,
    expiry_days=30,
)
_DAY = timedelta(days=1)
_PENDING = 14 * _DAY  # CLUB's pending period


def _hour(n: int) -> datetime:
    return T0 + timedelta(hours=n)


def _ledger(customer: str, *purchases: int, programme: Programme = SHOP) -> PointsLedger:
    """``customer``'s new ledger in ``programme`` after purchases ``n`` (interaction ``i{n}``
    of n EUR, made and booked ``n`` hours after T0), given in increasing ``n``."""
    ledger = PointsLedger(CustomerId(customer), programme)
    for n in purchases:
        ledger.earn(_interaction(n, customer, 60 * n), at=_hour(n))
    return ledger


def _every_entry_kind(customer: str) -> PointsLedger:
    """``customer``'s new ``club`` ledger with an entry of every kind, every field used:

    earns 10 and 2 (T0, T0+1h; ``gold``), both mature (day 15), redeems 3 (day 15), a refund
    reverses 1 of the 2 (day 16), adjusts +5 and -1 (day 21), and what is left of both
    earnings expires (day 50). It ends with 5 points available, due to expire on day 51."""
    ledger = PointsLedger(CustomerId(customer), CLUB)
    ledger.earn(_interaction(10, customer, 0), at=T0)
    ledger.earn(_interaction(2, customer, 60), at=_hour(1))
    ledger.mature_and_expire(T0 + 15 * _DAY)
    ledger.redeem(T0 + 15 * _DAY, "r1", points=3)
    refund = _interaction(
        3, customer, 16 * 24 * 60, kind=InteractionKind.REFUND, amount=Money(100, "EUR")
    )
    ledger.refund(refund, purchase_id="i002", at=T0 + 16 * _DAY)
    ledger.adjust(5, T0 + 21 * _DAY, "a1", "goodwill")
    ledger.adjust(-1, T0 + 21 * _DAY, "a2", "correction")
    ledger.mature_and_expire(T0 + 50 * _DAY)
    return ledger


def _stored(ledger: PointsLedger) -> PointsLedger:
    """``ledger`` as a first `add` leaves it: at version 1."""
    ledger.version = 1
    return ledger


def _balances(*ledgers: PointsLedger) -> list[PointsBalance]:
    return [ledger.summary() for ledger in ledgers]


def _referral(
    n: int,
    referrer: str,
    referee: str,
    *,
    programme: str = "shop",
    day: int = 0,
    code: str | None = None,
    version: int = 0,
) -> Referral:
    """Referral ``r{n}`` of ``referee`` by ``referrer``, recorded ``day`` days after T0 (as
    stored at ``version``, if given)."""
    referral = Referral.record(
        f"r{n:03d}",
        programme,
        CustomerId(referrer),
        CustomerId(referee),
        T0 + day * _DAY,
        code=code,
    )
    referral.version = version
    return referral
