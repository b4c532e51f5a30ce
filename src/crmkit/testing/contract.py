"""The adapter contract suite: what every storage adapter must do, as pytest tests.

To prove an adapter, subclass `AdapterContract` in a test module, name the class
``Test…`` and override the ``open_unit_of_work`` fixture so that it returns a function
``(tenant, publish) -> UnitOfWork`` over fresh, empty storage (yield it to clean up after):

```python
class TestMyAdapter(AdapterContract):
    @pytest.fixture
    def open_unit_of_work(self):
        store = MyStore.create_empty()
        yield store.unit_of_work
        store.drop()
```

Every adapter crmkit ships runs this same class, so a third-party adapter is held to
exactly the standard of the built-in ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from crmkit.app.clocks import FixedClock, SequentialIds
from crmkit.app.context import OpenUnitOfWork, opens_read_only
from crmkit.domain import (
    Account,
    AccountId,
    AccountLink,
    Channel,
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerId,
    CustomerRegistered,
    DomainEvent,
    EmailAddress,
    EnteredSegment,
    Facts,
    Interaction,
    InteractionId,
    InteractionKind,
    LeftSegment,
    LifecycleModel,
    MembershipChange,
    Money,
    PhoneNumber,
    PointsBalance,
    PointsEarned,
    PointsExpired,
    PointsLedger,
    PointsRedeemed,
    PostalAddress,
    Programme,
    ProgressionRule,
    Referral,
    ReferralChanged,
    ReferralStatus,
    SegmentSnapshot,
    SpendRule,
    StageChange,
    StageChanged,
    StageHistory,
    SubjectKind,
    TenantId,
    Tier,
    TierChanged,
)
from crmkit.errors import (
    ConcurrencyConflict,
    DuplicateAccount,
    DuplicateCustomer,
    IdempotencyConflict,
    NotFound,
    ReferralRefused,
    UsageError,
    ValidationError,
)
from crmkit.front import CRM
from crmkit.ports import UnitOfWork
from crmkit.segments import Condition, field, purchases, tagged
from crmkit.testing._contract_bulk import BulkImportContract
from crmkit.testing._contract_text import ExactTextContract

__all__ = ["AdapterContract"]

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


#: The moment the segment-query tests evaluate at; their window is the last 10 days before it.
AS_OF = T0 + timedelta(days=100)
_MINUTES_TO_AS_OF = 100 * 24 * 60
_WINDOW_START = 90 * 24 * 60  # minutes: an interaction exactly here is outside the window
_RECENT = purchases(last=10).count()  # purchases in (AS_OF - 10 days, AS_OF]


def _segment_customers(tx: UnitOfWork) -> None:
    """Seven customers of varied country, tags and purchases (see the segment-query tests).

    ======  =======  =====  =========================================================
    id      country  tags   interactions (minutes after T0)
    ======  =======  =====  =========================================================
    c001    DE       vip    purchases at AS_OF (the window's end, inside) and 95 days
    c002    DE              a purchase exactly at the window's start (outside)
    c003    FR       vip    a purchase at 91 days
    c004    (none)          a support case at 95 days (not a purchase)
    c005    DE       vip    a purchase 1 minute into the window, one 1 minute after AS_OF
    c006    (none)   vip    none
    c007    FR              a purchase at T0 (long before the window)
    ======  =======  =====  =========================================================
    """
    profiles: dict[int, tuple[str | None, set[str]]] = {
        1: ("DE", {"vip"}),
        2: ("DE", set()),
        3: ("FR", {"vip"}),
        4: (None, set()),
        5: ("DE", {"vip"}),
        6: (None, {"vip"}),
        7: ("FR", set()),
    }
    for n, (country, tags) in profiles.items():
        address = None if country is None else PostalAddress(country, city="Somewhere")
        tx.customers.add(_customer(n, address=address, tags=tags))
    day = 24 * 60
    for interaction in (
        _interaction(1, "c001", _MINUTES_TO_AS_OF),
        _interaction(2, "c001", 95 * day),
        _interaction(3, "c002", _WINDOW_START),
        _interaction(4, "c003", 91 * day),
        _interaction(5, "c005", _WINDOW_START + 1),
        _interaction(6, "c005", _MINUTES_TO_AS_OF + 1),
        _interaction(7, "c007", 0),
        _interaction(8, "c004", 95 * day, kind=InteractionKind.SUPPORT_CASE, amount=None),
    ):
        tx.interactions.add(interaction)


def _all_matching_ids(tx: UnitOfWork, rule: Condition, limit: int) -> list[str]:
    """Every id ``matching_ids`` pages through at ``limit`` per page, checking each page."""
    seen: list[str] = []
    cursor = None
    while True:
        page = tx.customers.matching_ids(rule, as_of=AS_OF, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        seen.extend(page.items)
        if page.next_cursor is None:
            return seen
        assert page.items, "a page with a next cursor has items"
        cursor = page.next_cursor


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


class AdapterContract(ExactTextContract, BulkImportContract):
    """The repository and unit-of-work contract. Subclass it and override
    ``open_unit_of_work``."""

    @pytest.fixture
    def open_unit_of_work(self) -> OpenUnitOfWork:
        """Override: return (or yield) ``(tenant, publish) -> UnitOfWork`` on empty storage."""
        pytest.fail("override the open_unit_of_work fixture to supply your adapter")

    @pytest.fixture
    def published(self) -> list[DomainEvent]:
        """The events published by units of work opened with ``uow``."""
        return []

    @pytest.fixture
    def uow(self, open_unit_of_work: OpenUnitOfWork, published: list[DomainEvent]) -> OpenFor:
        """Opens units of work (tenant ``alpha`` unless given) that record what they publish."""

        reads_only = opens_read_only(open_unit_of_work)

        def open_for(tenant: TenantId = TENANT, *, read_only: bool = False) -> UnitOfWork:
            if read_only and reads_only:
                opener: Any = open_unit_of_work
                return opener(tenant, published.extend, read_only=True)  # type: ignore[no-any-return]
            return open_unit_of_work(tenant, published.extend)

        return open_for

    @pytest.fixture
    def crm(self, open_unit_of_work: OpenUnitOfWork) -> CRM:
        """A CRM on the adapter, with a fixed clock and sequential ids."""
        return CRM(open_unit_of_work, tenant=TENANT, clock=FixedClock(T0), ids=SequentialIds())

    # Customers

    def test_an_added_customer_reads_back_equal_at_version_1(self, uow: OpenFor) -> None:
        customer = _customer(1, given_name="Ada", tags={"vip"}, traits={"plan": "pro"})
        with uow() as tx:
            tx.customers.add(customer)
            tx.commit()
        with uow() as tx:
            stored = tx.customers.get(customer.id)
        assert stored == customer
        assert stored.version == 1

    def test_phone_extensions_read_back(self, uow: OpenFor) -> None:
        desk = PhoneNumber("+493012345678", "5")
        customer = _customer(1, phone=desk, other_contacts=[ContactPoint(desk, "work")])
        with uow() as tx:
            tx.customers.add(customer)
            tx.commit()
        with uow() as tx:
            stored = tx.customers.get(customer.id)
        assert stored.phone == desk
        assert stored.other_contacts[0].value == desk

    def test_getting_an_unknown_customer_raises_not_found(self, uow: OpenFor) -> None:
        with uow() as tx, pytest.raises(NotFound):
            tx.customers.get(CustomerId("nobody"))

    def test_customers_are_found_by_email_and_external_id(self, uow: OpenFor) -> None:
        customer = _customer(1, external_ids={"shop": "42"})
        with uow() as tx:
            tx.customers.add(customer)
            tx.commit()
        with uow() as tx:
            by_email = tx.customers.find_by_email(EmailAddress("PERSON1@example.com"))
            by_ref = tx.customers.find_by_external_id("shop", "42")
            assert by_email is not None
            assert by_ref is not None
            assert by_email.id == by_ref.id == customer.id
            assert tx.customers.find_by_email(EmailAddress("else@example.com")) is None
            assert tx.customers.find_by_external_id("shop", "43") is None
            assert tx.customers.find_by_external_id("crm", "42") is None

    def test_a_second_customer_with_the_same_email_is_refused(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        twin = Customer.register(
            CustomerId("c999"), at=T0, email=EmailAddress("person1@example.com")
        )
        with uow() as tx, pytest.raises(DuplicateCustomer):
            tx.customers.add(twin)
            tx.commit()
        with uow() as tx:
            assert tx.customers.find(CustomerId("c999")) is None

    def test_a_second_customer_with_the_same_external_id_is_refused(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1, external_ids={"shop": "42"}))
            tx.commit()
        with uow() as tx, pytest.raises(DuplicateCustomer):
            tx.customers.add(_customer(2, external_ids={"shop": "42"}))
            tx.commit()

    def test_an_update_bumps_the_version_and_is_read_back(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        with uow() as tx:
            customer = tx.customers.get(CustomerId("c001"))
            customer.update_profile(at=T0, family_name="Lovelace", tags={"a", "b"})
            tx.customers.update(customer)
            tx.commit()
        with uow() as tx:
            stored = tx.customers.get(CustomerId("c001"))
        assert stored.version == 2
        assert stored.family_name == "Lovelace"
        assert stored.tags == {"a", "b"}

    def test_a_stale_update_raises_a_retryable_conflict_and_changes_nothing(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        # Their copy is read before our commit (a storage may let only one unit of work
        # write at a time: theirs reads, then saves in a later unit).
        with uow(read_only=True) as reader, uow() as first:
            theirs = reader.customers.get(CustomerId("c001"))
            mine = first.customers.get(CustomerId("c001"))
            mine.update_profile(at=T0, given_name="Mine")
            first.customers.update(mine)
            first.commit()
        with uow() as second:
            theirs.update_profile(at=T0, given_name="Theirs")
            with pytest.raises(ConcurrencyConflict) as caught:
                second.customers.update(theirs)
                second.commit()
            assert caught.value.retryable
        with uow() as tx:
            stored = tx.customers.get(CustomerId("c001"))
        assert (stored.given_name, stored.version) == ("Mine", 2)

    def test_updating_an_email_frees_the_old_one(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        with uow() as tx:
            customer = tx.customers.get(CustomerId("c001"))
            customer.update_profile(at=T0, email=EmailAddress("new@example.com"))
            tx.customers.update(customer)
            tx.commit()
        with uow() as tx:
            assert tx.customers.find_by_email(EmailAddress("person1@example.com")) is None
            tx.customers.add(
                Customer.register(
                    CustomerId("c002"), at=T0, email=EmailAddress("person1@example.com")
                )
            )
            tx.commit()

    def test_listing_pages_through_every_customer_once(self, uow: OpenFor) -> None:
        with uow() as tx:
            for n in range(1, 8):
                tx.customers.add(_customer(n, tags={"even"} if n % 2 == 0 else set()))
            tx.commit()
        seen: list[str] = []
        cursor = None
        with uow() as tx:
            while True:
                page = tx.customers.list(limit=3, cursor=cursor)
                seen.extend(c.id for c in page.items)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            even = tx.customers.list(tag="even")
            assert tx.customers.count() == 7
        assert seen == [f"c{n:03d}" for n in range(1, 8)]
        assert [c.id for c in even.items] == ["c002", "c004", "c006"]

    def test_listing_by_account_finds_its_contacts(self, uow: OpenFor) -> None:
        link = AccountLink(AccountId("a1"), "billing")
        with uow() as tx:
            tx.customers.add(_customer(1, account=link))
            tx.customers.add(_customer(2))
            tx.commit()
        with uow() as tx:
            page = tx.customers.list(account_id=AccountId("a1"))
        assert [c.id for c in page.items] == ["c001"]
        assert page.items[0].account == link

    def test_streaming_yields_every_customer_in_id_order(self, uow: OpenFor) -> None:
        with uow() as tx:
            for n in (3, 1, 2):
                tx.customers.add(_customer(n))
            tx.commit()
        with uow() as tx:
            assert [c.id for c in tx.customers.stream(batch_size=2)] == ["c001", "c002", "c003"]

    def test_consent_history_round_trips(self, uow: OpenFor) -> None:
        grant = ConsentRecord("marketing", Channel.EMAIL, "granted", T0, "signup_form")
        withdraw = ConsentRecord(
            "marketing", None, "withdrawn", T0 + timedelta(days=1), "unsubscribe"
        )
        with uow() as tx:
            tx.customers.add(_customer(1, consents=[grant]))
            tx.commit()
        with uow() as tx:
            customer = tx.customers.get(CustomerId("c001"))
            customer.record_consent(withdraw, at=T0)
            tx.customers.update(customer)
            tx.commit()
        with uow() as tx:
            stored = tx.customers.get(CustomerId("c001"))
        assert stored.consents == (grant, withdraw)
        assert stored.may_contact(Channel.EMAIL, "marketing", T0)
        assert not stored.may_contact(Channel.EMAIL, "marketing", T0 + timedelta(days=2))

    # Units of work

    def test_leaving_without_commit_stores_nothing(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.interactions.add(_interaction(1, "c001", 0))
        with uow() as tx:
            assert tx.customers.count() == 0
            assert tx.interactions.count() == 0

    def test_an_exception_inside_rolls_everything_back(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        with pytest.raises(RuntimeError), uow() as tx:
            customer = tx.customers.get(CustomerId("c001"))
            customer.update_profile(at=T0, given_name="Changed")
            tx.customers.update(customer)
            tx.customers.add(_customer(2))
            tx.accounts.add(Account.register(AccountId("a1"), name="Acme", at=T0))
            tx.interactions.add(_interaction(1, "c001", 0))
            raise RuntimeError("boom")
        with uow() as tx:
            assert tx.customers.get(CustomerId("c001")).given_name is None
            assert tx.customers.count() == 1
            assert tx.accounts.find(AccountId("a1")) is None
            assert tx.interactions.count() == 0

    def test_events_are_published_after_commit_only(
        self, uow: OpenFor, published: list[DomainEvent]
    ) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
        assert published == []
        with uow() as tx:
            tx.customers.add(_customer(2))
            tx.commit()
        assert published == [CustomerRegistered(T0, customer_id=CustomerId("c002"))]

    def test_a_unit_of_work_outside_its_block_refuses_work(self, uow: OpenFor) -> None:
        tx = uow()
        with pytest.raises(UsageError):
            tx.commit()

    # Interactions

    def test_a_timeline_is_ordered_and_filtered(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.interactions.add(_interaction(3, "c001", 30, channel=Channel.EMAIL))
            tx.interactions.add(_interaction(1, "c001", 10))
            tx.interactions.add(_interaction(2, "c001", 20, kind=InteractionKind.NOTE, amount=None))
            tx.interactions.add(_interaction(4, "c002", 15))
            tx.commit()
        with uow() as tx:
            timeline = tx.interactions.timeline(CustomerId("c001"))
            assert [i.id for i in timeline] == ["i001", "i002", "i003"]
            newest = tx.interactions.timeline(CustomerId("c001"), newest_first=True, limit=2)
            assert [i.id for i in newest] == ["i003", "i002"]
            web = tx.interactions.timeline(CustomerId("c001"), channels={Channel.WEB})
            assert [i.id for i in web] == ["i001", "i002"]
            notes = tx.interactions.timeline(CustomerId("c001"), kinds={"note"})
            assert [i.id for i in notes] == ["i002"]
            window = tx.interactions.timeline(
                CustomerId("c001"),
                since=T0 + timedelta(minutes=10),
                until=T0 + timedelta(minutes=30),
            )
            assert [i.id for i in window] == ["i001", "i002"]  # since inclusive, until exclusive

    def test_a_reversed_timeline_window_is_refused(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.commit()
        with uow() as tx:
            later = T0 + timedelta(minutes=10)
            with pytest.raises(ValidationError) as caught:
                tx.interactions.timeline(CustomerId("c001"), since=later, until=T0)
            assert caught.value.paths == ("until",)
            assert tx.interactions.timeline(CustomerId("c001"), since=T0, until=T0) == []

    def test_an_interaction_reads_back_equal(self, uow: OpenFor) -> None:
        original = _interaction(
            1,
            "c001",
            5,
            metadata={"sku": "A-1", "qty": 2, "gift": True},
            external_ref="order-1",
            owner="alice",
            team="sales",
            campaign="spring",
            kind="correction",  # a host's kind: a purchase's amount is never negative
            amount=Money(-123456789, "JPY"),
        )
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.interactions.add(original)
            tx.commit()
        with uow() as tx:
            assert tx.interactions.get(original.id) == original
            assert tx.interactions.find_by_external_ref("order-1") == original
            assert tx.interactions.find_by_external_ref("order-2") is None
            with pytest.raises(NotFound):
                tx.interactions.get(InteractionId("missing"))

    def test_a_second_interaction_with_the_same_external_ref_is_refused(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.interactions.add(_interaction(1, "c001", 0, external_ref="order-1"))
            tx.commit()
        with uow() as tx, pytest.raises(IdempotencyConflict):
            tx.interactions.add(_interaction(2, "c001", 0, external_ref="order-1"))
            tx.commit()
        with uow() as tx:
            assert tx.interactions.count() == 1

    def test_streaming_interactions_yields_all_in_time_order(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            for n, minute in ((1, 30), (2, 10), (3, 20)):
                tx.interactions.add(_interaction(n, "c001", minute))
            tx.commit()
        with uow() as tx:
            assert [i.id for i in tx.interactions.stream(batch_size=2)] == ["i002", "i003", "i001"]

    # Accounts

    def test_accounts_round_trip_and_refuse_a_duplicate_domain(self, uow: OpenFor) -> None:
        acme = Account.register(
            AccountId("a1"), name="Acme", at=T0, domain="acme.com", size="10-49"
        )
        with uow() as tx:
            tx.accounts.add(acme)
            tx.commit()
        with uow() as tx:
            assert tx.accounts.get(AccountId("a1")) == acme
            assert tx.accounts.find_by_domain("acme.com") == acme
            with pytest.raises(DuplicateAccount):
                tx.accounts.add(
                    Account.register(AccountId("a2"), name="X", at=T0, domain="acme.com")
                )
                tx.commit()

    def test_a_stale_account_update_conflicts(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.accounts.add(Account.register(AccountId("a1"), name="Acme", at=T0))
            tx.commit()
        with uow(read_only=True) as reader, uow() as first:
            theirs = reader.accounts.get(AccountId("a1"))
            mine = first.accounts.get(AccountId("a1"))
            mine.update(at=T0, name="Acme GmbH")
            first.accounts.update(mine)
            first.commit()
        with uow() as second:
            theirs.update(at=T0, name="Acme Inc")
            with pytest.raises(ConcurrencyConflict):
                second.accounts.update(theirs)
                second.commit()
        with uow() as tx:
            assert tx.accounts.get(AccountId("a1")).name == "Acme GmbH"

    # Stage histories

    def test_an_added_stage_history_reads_back_equal_at_version_1(self, uow: OpenFor) -> None:
        history = _history("c001", "customer")
        history.progress(FUNNEL, Facts(as_of=T0 + timedelta(days=9), tags={"quiet"}))
        assert history.changes[-1].rule == "went_quiet"
        with uow() as tx:
            tx.stage_histories.add(history)
            tx.commit()
        with uow() as tx:
            stored = tx.stage_histories.get("funnel", "c001")
        assert stored == history
        assert (stored.version, stored.current, len(stored.changes)) == (1, "lapsed", 3)

    def test_an_unknown_stage_history_is_not_found(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.stage_histories.add(_history("c001"))
            tx.commit()
        with uow() as tx:
            assert tx.stage_histories.find("funnel", "c002") is None
            assert tx.stage_histories.find("advocacy", "c001") is None
            assert (
                tx.stage_histories.find("funnel", "c001", subject_kind=SubjectKind.ACCOUNT) is None
            )
            with pytest.raises(NotFound):
                tx.stage_histories.get("funnel", "c002")
            with pytest.raises(NotFound):
                tx.stage_histories.update(_history("c002", "customer"))

    def test_a_stage_history_update_appends_changes_and_bumps_the_version(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            tx.stage_histories.add(_history("c001"))
            tx.commit()
        with uow() as tx:
            history = tx.stage_histories.get("funnel", "c001")
            history.move(FUNNEL, "customer", at=T0 + timedelta(days=1), actor="ada")
            tx.stage_histories.update(history)
            history.move(FUNNEL, "lapsed", at=T0 + timedelta(days=2), reason="quiet")
            tx.stage_histories.update(history)  # twice in one unit of work
            tx.commit()
        with uow() as tx:
            stored = tx.stage_histories.get("funnel", "c001")
            assert stored == history
            assert (stored.version, stored.current) == (3, "lapsed")
            stored.move(FUNNEL, "customer", at=T0 + timedelta(days=3))
            tx.stage_histories.update(stored)
            tx.commit()
        with uow() as tx:
            again = tx.stage_histories.get("funnel", "c001")
        assert again == stored
        assert [c.to_stage for c in again.changes] == ["lead", "customer", "lapsed", "customer"]
        assert again.version == 4

    def test_a_stale_stage_history_update_raises_a_retryable_conflict_and_changes_nothing(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            tx.stage_histories.add(_history("c001"))
            tx.commit()
        with uow(read_only=True) as reader, uow() as first:
            theirs = reader.stage_histories.get("funnel", "c001")
            mine = first.stage_histories.get("funnel", "c001")
            mine.move(FUNNEL, "customer", at=T0 + timedelta(days=1), actor="mine")
            first.stage_histories.update(mine)
            first.commit()
        with uow() as second:
            theirs.move(FUNNEL, "customer", at=T0 + timedelta(days=2), actor="theirs")
            with pytest.raises(ConcurrencyConflict) as caught:
                second.stage_histories.update(theirs)
                second.commit()
            assert caught.value.retryable
        with uow() as tx:
            stored = tx.stage_histories.get("funnel", "c001")
        assert stored == mine
        assert (stored.version, stored.changes[-1].actor) == (2, "mine")

    def test_an_update_that_rewrites_stage_history_is_refused_and_changes_nothing(
        self, uow: OpenFor
    ) -> None:
        original = _history("c001", "customer")
        with uow() as tx:
            tx.stage_histories.add(original)
            tx.commit()
        other_entry = StageChange(None, "customer", T0)
        with uow() as tx:
            rewritten = StageHistory(SubjectKind.CUSTOMER, "c001", "funnel", (other_entry,), 1)
            with pytest.raises(ValidationError):
                tx.stage_histories.update(rewritten)
            shortened = tx.stage_histories.get("funnel", "c001")
            shortened.changes = shortened.changes[:1]
            with pytest.raises(ValidationError):
                tx.stage_histories.update(shortened)
            assert tx.stage_histories.get("funnel", "c001") == original
            assert tx.stage_histories.count_by_stage("funnel") == {"customer": 1}
            tx.commit()
        with uow() as tx:
            stored = tx.stage_histories.get("funnel", "c001")
            assert tx.stage_histories.count_by_stage("funnel") == {"customer": 1}
        assert stored == original
        assert stored.version == 1

    def test_a_second_stage_history_for_the_same_key_conflicts(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.stage_histories.add(_history("c001", "customer"))
            tx.commit()
        with uow() as tx:
            with pytest.raises(ConcurrencyConflict):
                tx.stage_histories.add(_history("c001"))
            tx.stage_histories.add(_history("c001", model=ADVOCACY))  # another model is fine
            tx.stage_histories.add(_history("c001", model=PIPELINE))  # so is an account c001
            tx.commit()
        with uow() as tx:
            assert tx.stage_histories.get("funnel", "c001").current == "customer"
            assert len(tx.stage_histories.for_subject("c001")) == 2

    def test_racing_adds_of_one_stage_history_let_only_the_first_in(self, uow: OpenFor) -> None:
        with uow(read_only=True) as reader, uow() as first:
            assert reader.stage_histories.find("funnel", "c001") is None  # the loser looked
            first.stage_histories.add(_history("c001", "customer"))
            first.commit()
        with uow() as second:
            with pytest.raises(ConcurrencyConflict) as caught:
                second.stage_histories.add(_history("c001"))
                second.commit()
            assert caught.value.retryable
        with uow() as tx:
            stored = tx.stage_histories.get("funnel", "c001")
        assert (stored.current, stored.version) == ("customer", 1)

    def test_for_subject_returns_each_model_in_order_and_nothing_of_others(
        self, uow: OpenFor
    ) -> None:
        funnel = _history("c001", "customer")
        advocacy = _history("c001", "promoter", model=ADVOCACY)
        account = _history("c001", "won", model=PIPELINE)
        with uow() as tx:
            for history in (funnel, _history("c002"), account, advocacy, _history("c000")):
                tx.stage_histories.add(history)
            tx.commit()
        with uow() as tx:
            assert tx.stage_histories.for_subject("c001") == [advocacy, funnel]
            assert tx.stage_histories.for_subject("c001", subject_kind=SubjectKind.ACCOUNT) == [
                account
            ]
            assert tx.stage_histories.for_subject("c999") == []

    def test_streaming_stage_histories_orders_and_filters_by_stage(self, uow: OpenFor) -> None:
        made = {
            "c005": _history("c005", "customer"),
            "c001": _history("c001", "customer", "lapsed"),
            "c004": _history("c004"),
            "c002": _history("c002", "customer"),
            "c003": _history("c003", "customer", "lapsed", "customer"),
        }
        with uow() as tx:
            for history in made.values():
                tx.stage_histories.add(history)
            tx.stage_histories.add(_history("c000", "promoter", model=ADVOCACY))
            tx.commit()
        ordered = [made[k] for k in sorted(made)]
        with uow() as tx:
            assert list(tx.stage_histories.stream("funnel")) == ordered
            assert list(tx.stage_histories.stream("funnel", batch_size=2)) == ordered
            customers = list(tx.stage_histories.stream("funnel", stage="customer", batch_size=2))
            assert [h.subject_id for h in customers] == ["c002", "c003", "c005"]
            assert customers == [made["c002"], made["c003"], made["c005"]]
            assert [h.subject_id for h in tx.stage_histories.stream("advocacy")] == ["c000"]
            assert list(tx.stage_histories.stream("funnel", stage="nowhere")) == []
            assert list(tx.stage_histories.stream("unknown")) == []

    def test_counting_by_stage_counts_current_stages_only(self, uow: OpenFor) -> None:
        with uow() as tx:
            for n, moves in enumerate([(), ("customer",), ("customer", "lapsed"), ("customer",)]):
                tx.stage_histories.add(_history(f"c{n:03d}", *moves))
            tx.stage_histories.add(_history("a1", model=PIPELINE))
            tx.commit()
        with uow() as tx:
            assert tx.stage_histories.count_by_stage("funnel") == {
                "lead": 1,
                "customer": 2,
                "lapsed": 1,
            }
            assert tx.stage_histories.count_by_stage("pipeline") == {"new": 1}
            assert tx.stage_histories.count_by_stage("unknown") == {}

    def test_a_rolled_back_unit_of_work_leaves_no_stage_history(self, uow: OpenFor) -> None:
        original = _history("c001")
        with uow() as tx:
            tx.stage_histories.add(original)
            tx.commit()
        with pytest.raises(RuntimeError), uow() as tx:
            history = tx.stage_histories.get("funnel", "c001")
            history.move(FUNNEL, "customer", at=T0 + timedelta(days=1))
            tx.stage_histories.update(history)
            tx.stage_histories.add(_history("c002"))
            raise RuntimeError("boom")
        with uow() as tx:
            tx.stage_histories.add(_history("c003"))
        with uow() as tx:
            assert tx.stage_histories.get("funnel", "c001") == original
            assert tx.stage_histories.find("funnel", "c002") is None
            assert tx.stage_histories.find("funnel", "c003") is None
            assert tx.stage_histories.count_by_stage("funnel") == {"lead": 1}

    def test_stage_changes_are_published_after_commit_only(
        self, uow: OpenFor, published: list[DomainEvent]
    ) -> None:
        with uow() as tx:
            tx.customers.add(_customer(1))
            tx.accounts.add(Account.register(AccountId("a1"), name="Acme", at=T0))
            tx.commit()
        published.clear()
        with uow() as tx:
            tx.stage_histories.add(_history("c001"))
        assert published == []
        with uow() as tx:
            tx.stage_histories.add(_history("c001"))
            tx.stage_histories.add(_history("a1", model=PIPELINE))
            tx.commit()
        entered = StageChanged(
            T0,
            subject_kind=SubjectKind.CUSTOMER,
            subject_id="c001",
            model="funnel",
            from_stage=None,
            to_stage="lead",
            reason="signed up",
            actor="web",
        )
        assert published[0] == entered
        assert published[1].aggregate_id == "a1"
        published.clear()
        with uow() as tx:
            history = tx.stage_histories.get("funnel", "c001")
            history.move(FUNNEL, "customer", at=T0 + timedelta(days=1), actor="ada")
            tx.stage_histories.update(history)
            assert published == []
            tx.commit()
        assert published == [
            StageChanged(
                T0 + timedelta(days=1),
                subject_kind=SubjectKind.CUSTOMER,
                subject_id="c001",
                model="funnel",
                from_stage="lead",
                to_stage="customer",
                actor="ada",
            )
        ]

    def test_no_stage_history_of_one_tenant_is_visible_to_another(self, uow: OpenFor) -> None:
        with uow(TENANT) as tx:
            tx.stage_histories.add(_history("c001", "customer"))
            tx.commit()
        with uow(OTHER) as tx:
            assert tx.stage_histories.find("funnel", "c001") is None
            assert tx.stage_histories.for_subject("c001") == []
            assert list(tx.stage_histories.stream("funnel")) == []
            assert tx.stage_histories.count_by_stage("funnel") == {}
            stolen = _history("c001", "customer")
            stolen.version = 1
            with pytest.raises(NotFound):
                tx.stage_histories.update(stolen)

    # Segment memberships.

    def test_an_added_snapshot_reads_back_with_its_members_in_id_order(self, uow: OpenFor) -> None:
        snapshot = _snapshot("vip", ["c003", "c001", "c002"])
        with uow() as tx:
            assert tx.segment_memberships.find("vip") is None
            tx.segment_memberships.add(snapshot)
            assert snapshot.version == 1
            assert list(tx.segment_memberships.members("vip")) == ["c001", "c002", "c003"]
            tx.commit()
        with uow() as tx:
            assert tx.segment_memberships.find("vip") == SegmentSnapshot("vip", T0, 3, 1)
            assert list(tx.segment_memberships.members("vip", batch_size=2)) == [
                "c001",
                "c002",
                "c003",
            ]
            assert list(tx.segment_memberships.members("vip", after="c001")) == ["c002", "c003"]
            assert tx.segment_memberships.contains("vip", CustomerId("c002"))
            assert not tx.segment_memberships.contains("vip", CustomerId("c004"))
            assert not tx.segment_memberships.contains("other", CustomerId("c002"))
            assert list(tx.segment_memberships.members("other")) == []

    def test_an_update_removes_the_left_and_adds_the_entered_and_bumps_the_version(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            tx.segment_memberships.add(_snapshot("vip", ["c001", "c002"]))
            tx.commit()
        later = T0 + timedelta(days=1)
        with uow() as tx:
            stored = tx.segment_memberships.find("vip")
            assert stored is not None
            stored.refresh(MembershipChange("vip", later, ["c003"], ["c001"], members=2))
            tx.segment_memberships.update(stored)
            stored.leave(CustomerId("c003"), at=later)  # twice in one unit of work
            stored.enter(CustomerId("c001"), at=later)
            tx.segment_memberships.update(stored)
            assert list(tx.segment_memberships.members("vip")) == ["c001", "c002"]
            tx.commit()
        with uow() as tx:
            assert tx.segment_memberships.find("vip") == SegmentSnapshot("vip", later, 2, 3)
            assert list(tx.segment_memberships.members("vip")) == ["c001", "c002"]

    def test_a_stale_snapshot_update_conflicts_and_changes_nothing(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.segment_memberships.add(_snapshot("vip", ["c001"]))
            tx.commit()
        later = T0 + timedelta(hours=1)
        with uow(read_only=True) as reader, uow() as first:
            theirs = reader.segment_memberships.find("vip")
            mine = first.segment_memberships.find("vip")
            assert mine is not None
            assert theirs is not None
            mine.enter(CustomerId("c002"), at=later)
            first.segment_memberships.update(mine)
            first.commit()
        with uow() as second:
            theirs.enter(CustomerId("c003"), at=later)
            with pytest.raises(ConcurrencyConflict) as raised:
                second.segment_memberships.update(theirs)
                second.commit()
            assert raised.value.retryable
        with uow() as tx:
            assert list(tx.segment_memberships.members("vip")) == ["c001", "c002"]
            assert tx.segment_memberships.find("vip") == SegmentSnapshot("vip", T0, 2, 2)
            with pytest.raises(NotFound):
                tx.segment_memberships.update(_snapshot("unknown", [], version=1))
            with pytest.raises(ConcurrencyConflict):
                tx.segment_memberships.add(_snapshot("vip", []))

    def test_membership_events_are_published_after_commit_only(
        self, uow: OpenFor, published: list[DomainEvent]
    ) -> None:
        with uow() as tx:
            tx.segment_memberships.add(_snapshot("vip", ["c001"]))
        assert published == []
        with uow() as tx:
            assert tx.segment_memberships.find("vip") is None  # rolled back
            tx.segment_memberships.add(_snapshot("vip", ["c002", "c001"]))
            tx.commit()
        assert published == [
            EnteredSegment(T0, customer_id=CustomerId("c001"), segment="vip"),
            EnteredSegment(T0, customer_id=CustomerId("c002"), segment="vip"),
        ]
        with uow() as tx:
            stored = tx.segment_memberships.find("vip")
            assert stored is not None
            stored.leave(CustomerId("c001"), at=T0)
            tx.segment_memberships.update(stored)
            tx.commit()
        assert published[-1] == LeftSegment(T0, customer_id=CustomerId("c001"), segment="vip")

    def test_no_membership_of_one_tenant_is_visible_to_another(self, uow: OpenFor) -> None:
        with uow(TENANT) as tx:
            tx.segment_memberships.add(_snapshot("vip", ["c001"]))
            tx.commit()
        with uow(OTHER) as tx:
            assert tx.segment_memberships.find("vip") is None
            assert list(tx.segment_memberships.members("vip")) == []
            assert not tx.segment_memberships.contains("vip", CustomerId("c001"))
            with pytest.raises(NotFound):
                tx.segment_memberships.update(_snapshot("vip", [], version=1))

    def test_tenants_may_reuse_stage_history_keys(self, uow: OpenFor) -> None:
        for tenant, moves in ((TENANT, ("customer",)), (OTHER, ())):
            with uow(tenant) as tx:
                tx.stage_histories.add(_history("c001", *moves))
                tx.commit()
        with uow(OTHER) as tx:
            history = tx.stage_histories.get("funnel", "c001")
            history.move(FUNNEL, "customer", at=T0 + timedelta(days=5))
            history.move(FUNNEL, "lapsed", at=T0 + timedelta(days=6))
            tx.stage_histories.update(history)
            tx.commit()
        with uow(TENANT) as tx:
            mine = tx.stage_histories.get("funnel", "c001")
            assert (mine.current, mine.version, len(mine.changes)) == ("customer", 1, 2)
            assert tx.stage_histories.count_by_stage("funnel") == {"customer": 1}
        with uow(OTHER) as tx:
            assert tx.stage_histories.get("funnel", "c001") == history
            assert tx.stage_histories.count_by_stage("funnel") == {"lapsed": 1}

    # Points ledgers

    def test_an_added_ledger_reads_back_equal_at_version_1_with_its_balance(
        self, uow: OpenFor
    ) -> None:
        full = _every_entry_kind("c001")
        pending = _ledger("c002", 3, programme=CLUB)
        empty = PointsLedger(CustomerId("c003"), CLUB)
        with uow() as tx:
            for ledger in (full, pending, empty):
                tx.points_ledgers.add(ledger)
                assert ledger.version == 1
            tx.commit()
        with uow() as tx:
            for ledger in (full, pending, empty):
                stored = tx.points_ledgers.find(CLUB, ledger.customer_id)
                balance = tx.points_ledgers.balance("club", ledger.customer_id)
                assert stored == ledger
                assert balance == ledger.summary()
                assert stored is not None
                assert balance is not None
                assert (stored.version, balance.version) == (1, 1)
        assert (full.summary().available, full.summary().tier) == (5, "gold")
        assert pending.summary().next_due_at == _hour(3) + _PENDING
        assert empty.summary().last_at is None

    def test_a_second_ledger_for_a_member_in_a_programme_conflicts(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1))
            tx.commit()
        with uow() as tx:
            with pytest.raises(ConcurrencyConflict):
                tx.points_ledgers.add(_ledger("c001", 2))
            tx.points_ledgers.add(_ledger("c002", 3))
            with pytest.raises(ConcurrencyConflict):
                tx.points_ledgers.add(_ledger("c002", 4))  # the first is only staged
            tx.points_ledgers.add(_ledger("c001", 5, programme=CLUB))  # another programme
            tx.commit()
        with uow() as tx:
            assert tx.points_ledgers.find(SHOP, CustomerId("c001")) == _stored(_ledger("c001", 1))
            assert tx.points_ledgers.find(SHOP, CustomerId("c002")) == _stored(_ledger("c002", 3))
            assert tx.points_ledgers.find(CLUB, CustomerId("c001")) == _stored(
                _ledger("c001", 5, programme=CLUB)
            )

    def test_racing_adds_of_one_ledger_let_only_the_first_in(self, uow: OpenFor) -> None:
        with uow(read_only=True) as reader, uow() as first:
            assert reader.points_ledgers.find(SHOP, CustomerId("c001")) is None
            first.points_ledgers.add(_ledger("c001", 1))
            first.commit()
        with uow() as second:
            with pytest.raises(ConcurrencyConflict) as caught:
                second.points_ledgers.add(_ledger("c001", 2))
                second.commit()
            assert caught.value.retryable
        with uow() as tx:
            assert tx.points_ledgers.find(SHOP, CustomerId("c001")) == _stored(_ledger("c001", 1))
            balance = tx.points_ledgers.balance("shop", CustomerId("c001"))
        assert balance == _stored(_ledger("c001", 1)).summary()

    def test_adding_a_ledger_that_is_not_new_is_refused(self, uow: OpenFor) -> None:
        ledger = _ledger("c001", 1)
        ledger.version = 1
        with uow() as tx:
            with pytest.raises(ValidationError):
                tx.points_ledgers.add(ledger)
            tx.commit()
        with uow() as tx:
            assert tx.points_ledgers.find(SHOP, CustomerId("c001")) is None
            assert tx.points_ledgers.balance("shop", CustomerId("c001")) is None

    def test_a_ledger_update_appends_entries_bumps_the_version_and_moves_the_balance(
        self, uow: OpenFor
    ) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1))
            tx.commit()
        with uow() as tx:
            ledger = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            assert ledger is not None
            ledger.earn(_interaction(2, "c001", 120), at=_hour(2))
            tx.points_ledgers.update(ledger)
            ledger.earn(_interaction(3, "c001", 180), at=_hour(3))
            ledger.redeem(_hour(4), "r1", points=4)
            tx.points_ledgers.update(ledger)  # twice in one unit of work
            assert tx.points_ledgers.balance("shop", CustomerId("c001")) == ledger.summary()
            tx.commit()
        with uow() as tx:
            stored = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            assert stored == ledger
            assert stored is not None
            assert stored.version == 3
            assert tx.points_ledgers.balance("shop", CustomerId("c001")) == ledger.summary()
            stored.earn(_interaction(5, "c001", 300), at=_hour(5))
            tx.points_ledgers.update(stored)
            tx.commit()
        with uow() as tx:
            again = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            balance = tx.points_ledgers.balance("shop", CustomerId("c001"))
        assert again == stored
        assert again is not None
        assert [e.points for e in again.entries] == [1, 2, 3, 4, 5]
        assert again.entries[:4] == ledger.entries
        assert balance == stored.summary()
        assert balance is not None
        assert (balance.available, balance.entries, balance.version) == (7, 5, 4)

    def test_a_stale_ledger_update_conflicts_and_stores_and_publishes_nothing(
        self, uow: OpenFor, published: list[DomainEvent]
    ) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1))
            tx.commit()
        published.clear()
        with uow(read_only=True) as reader, uow() as first:
            theirs = reader.points_ledgers.find(SHOP, CustomerId("c001"))
            mine = first.points_ledgers.find(SHOP, CustomerId("c001"))
            assert mine is not None
            assert theirs is not None
            mine.earn(_interaction(2, "c001", 120), at=_hour(2))
            first.points_ledgers.update(mine)
            first.commit()
        with uow() as second:
            theirs.earn(_interaction(3, "c001", 180), at=_hour(3))
            with pytest.raises(ConcurrencyConflict) as caught:
                second.points_ledgers.update(theirs)
                second.commit()
            assert caught.value.retryable
        with uow() as tx:
            stored = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            balance = tx.points_ledgers.balance("shop", CustomerId("c001"))
        assert stored == mine
        assert balance == mine.summary()
        assert balance is not None
        assert (balance.available, balance.entries, balance.version) == (3, 2, 2)
        assert published == [
            PointsEarned(
                _hour(2),
                customer_id=CustomerId("c001"),
                points=2,
                rule="base",
                interaction_id="i002",
            )
        ]

    def test_an_update_never_changes_the_entries_already_stored(self, uow: OpenFor) -> None:
        original = _ledger("c001", 1, 2)
        with uow() as tx:
            tx.points_ledgers.add(original)
            tx.commit()
        with uow() as tx:
            rewritten = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            assert rewritten is not None
            rewritten.entries[0] = attrs.evolve(rewritten.entries[0], points=100, rule="forged")
            rewritten.earn(_interaction(3, "c001", 180), at=_hour(3))
            # An adapter may refuse the update (the in-memory one does) or store only the new
            # entry; never the forgery, nor a balance that counts it.
            with contextlib.suppress(ValidationError):
                tx.points_ledgers.update(rewritten)
                tx.commit()
        with uow() as tx:
            stored = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            balance = tx.points_ledgers.balance("shop", CustomerId("c001"))
        assert stored is not None
        assert stored.entries[:2] == original.entries
        assert balance == stored.summary()

    def test_updating_a_ledger_never_added_is_not_found(self, uow: OpenFor) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1))
            tx.commit()
        with uow() as tx:
            stranger = _ledger("c002", 1)
            stranger.version = 1
            with pytest.raises(NotFound):
                tx.points_ledgers.update(stranger)
            elsewhere = _ledger("c001", 1, programme=CLUB)
            elsewhere.version = 1
            with pytest.raises(NotFound):
                tx.points_ledgers.update(elsewhere)
            tx.commit()
        with uow() as tx:
            assert tx.points_ledgers.find(SHOP, CustomerId("c002")) is None
            assert tx.points_ledgers.find(CLUB, CustomerId("c001")) is None

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

    def test_a_rolled_back_unit_of_work_leaves_no_ledger(self, uow: OpenFor) -> None:
        original = _ledger("c001", 1)
        with uow() as tx:
            tx.points_ledgers.add(original)
            tx.commit()
        with pytest.raises(RuntimeError), uow() as tx:
            ledger = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            assert ledger is not None
            ledger.earn(_interaction(2, "c001", 120), at=_hour(2))
            tx.points_ledgers.update(ledger)
            tx.points_ledgers.add(_ledger("c002", 2, programme=CLUB))
            raise RuntimeError("boom")
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c003", 3, programme=CLUB))
        with uow() as tx:
            assert tx.points_ledgers.find(SHOP, CustomerId("c001")) == original
            assert tx.points_ledgers.balance("shop", CustomerId("c001")) == original.summary()
            for customer in ("c002", "c003"):
                assert tx.points_ledgers.find(CLUB, CustomerId(customer)) is None
                assert tx.points_ledgers.balance("club", CustomerId(customer)) is None
            assert list(tx.points_ledgers.stream_balances("club")) == []
            assert tx.points_ledgers.due("club", T0 + 1000 * _DAY) == []

    def test_ledger_events_are_published_after_commit_only(
        self, uow: OpenFor, published: list[DomainEvent]
    ) -> None:
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 1))
        assert published == []
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c001", 2))
            tx.commit()
        c001 = CustomerId("c001")
        assert published == [
            PointsEarned(_hour(2), customer_id=c001, points=2, rule="base", interaction_id="i002")
        ]
        with uow() as tx:
            ledger = tx.points_ledgers.find(SHOP, c001)
            assert ledger is not None
            ledger.redeem(_hour(3), "r1", points=2)
            tx.points_ledgers.update(ledger)
            assert len(published) == 1
            tx.commit()
        assert published[1:] == [PointsRedeemed(_hour(3), customer_id=c001, points=2)]
        published.clear()
        c002 = CustomerId("c002")
        with uow() as tx:
            tx.points_ledgers.add(_ledger("c002", 12, programme=CLUB))
            tx.commit()
        assert published == [
            TierChanged(_hour(12), customer_id=c002, from_tier=None, to_tier="gold"),
            PointsEarned(
                _hour(12), customer_id=c002, points=12, rule="base", interaction_id="i012"
            ),
        ]
        published.clear()
        with uow() as tx:
            club = tx.points_ledgers.find(CLUB, c002)
            assert club is not None
            club.mature_and_expire(T0 + 60 * _DAY)
            tx.points_ledgers.update(club)
            tx.commit()
        assert published == [PointsExpired(T0 + 60 * _DAY, customer_id=c002, points=12)]

    # Referrals

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

    # Loyalty and tenants

    def test_no_ledger_or_referral_of_one_tenant_is_visible_to_another(self, uow: OpenFor) -> None:
        with uow(TENANT) as tx:
            tx.points_ledgers.add(_ledger("c001", 1, programme=CLUB))
            tx.referrals.add(_referral(1, "c002", "c001", programme="club"))
            tx.commit()
        c001 = CustomerId("c001")
        with uow(OTHER) as tx:
            assert tx.points_ledgers.find(CLUB, c001) is None
            assert tx.points_ledgers.find_many(CLUB, [c001]) == {}
            assert tx.points_ledgers.balance("club", c001) is None
            assert tx.points_ledgers.due("club", T0 + 1000 * _DAY) == []
            assert list(tx.points_ledgers.stream_balances("club")) == []
            stolen = _ledger("c001", 1, programme=CLUB)
            stolen.version = 1
            with pytest.raises(NotFound):
                tx.points_ledgers.update(stolen)
            with pytest.raises(NotFound):
                tx.referrals.get("r001")
            assert tx.referrals.for_referee("club", c001) is None
            assert tx.referrals.by_referrer("club", CustomerId("c002")) == []
            with pytest.raises(NotFound):
                tx.referrals.update(_referral(1, "c002", "c001", programme="club", version=1))

    def test_tenants_may_reuse_ledger_and_referral_keys(self, uow: OpenFor) -> None:
        for tenant, purchase in ((TENANT, 1), (OTHER, 2)):
            with uow(tenant) as tx:
                tx.points_ledgers.add(_ledger("c001", purchase))
                tx.referrals.add(_referral(1, "c002", "c001", code=tenant))
                tx.commit()
        with uow(OTHER) as tx:
            ledger = tx.points_ledgers.find(SHOP, CustomerId("c001"))
            assert ledger is not None
            ledger.redeem(_hour(3), "r1", points=2)
            tx.points_ledgers.update(ledger)
            referral = tx.referrals.get("r001")
            referral.qualify("i001", at=T0 + _DAY)
            tx.referrals.update(referral)
            tx.commit()
        with uow(TENANT) as tx:
            mine = tx.points_ledgers.balance("shop", CustomerId("c001"))
            assert mine is not None
            assert (mine.available, mine.version) == (1, 1)
            assert tx.referrals.get("r001") == _referral(1, "c002", "c001", code=TENANT, version=1)
        with uow(OTHER) as tx:
            assert tx.points_ledgers.balance("shop", CustomerId("c001")) == ledger.summary()
            assert tx.referrals.get("r001") == referral

    # Segment queries

    def test_segment_queries_count_fields_and_tags(self, uow: OpenFor) -> None:
        with uow() as tx:
            _segment_customers(tx)
            tx.commit()
        german = field("country") == "DE"
        with uow() as tx:
            count = tx.customers.count_matching
            assert count(german, as_of=AS_OF) == 3
            assert count(tagged("vip"), as_of=AS_OF) == 4
            assert count(german & tagged("vip"), as_of=AS_OF) == 2
            assert count(german | tagged("vip"), as_of=AS_OF) == 5
            assert count(field("country").is_in(["DE", "FR"]), as_of=AS_OF) == 5
            assert count(field("country") == "PL", as_of=AS_OF) == 0

    def test_not_over_a_missing_value_holds(self, uow: OpenFor) -> None:
        with uow() as tx:
            _segment_customers(tx)
            tx.commit()
        with uow() as tx:
            page = tx.customers.matching_ids(~(field("country") == "DE"), as_of=AS_OF)
            nulls = tx.customers.matching_ids(field("country").is_null(), as_of=AS_OF)
            not_fr = tx.customers.count_matching(~(field("country") == "FR"), as_of=AS_OF)
        # No address: "country = DE" is false, so its negation holds (c004, c006).
        assert page.items == ("c003", "c004", "c006", "c007")
        assert nulls.items == ("c004", "c006")
        assert not_fr == 5

    def test_an_aggregate_window_excludes_its_start_and_includes_as_of(self, uow: OpenFor) -> None:
        with uow() as tx:
            _segment_customers(tx)
            tx.commit()
        with uow() as tx:
            bought = tx.customers.matching_ids(_RECENT >= 1, as_of=AS_OF)
            twice = tx.customers.matching_ids(_RECENT >= 2, as_of=AS_OF)
            none = tx.customers.matching_ids(_RECENT == 0, as_of=AS_OF)
            big = tx.customers.matching_ids(
                purchases(last=10).sum("EUR") > Money(400, "EUR"), as_of=AS_OF
            )
            german_buyers = tx.customers.count_matching(
                (field("country") == "DE") & (_RECENT >= 1), as_of=AS_OF
            )
        # c001: both inside; c002: exactly at the start, outside; c005: one inside, one
        # after as_of; c004 has no purchase; c006 none at all; c007 one long ago.
        assert bought.items == ("c001", "c003", "c005")
        assert twice.items == ("c001",)
        assert none.items == ("c002", "c004", "c006", "c007")
        assert big.items == ("c005",)  # 500 in the window; c001 has 100 + 200, c003 400
        assert german_buyers == 2

    def test_matching_ids_pages_cover_every_member_once_in_id_order(self, uow: OpenFor) -> None:
        with uow() as tx:
            _segment_customers(tx)
            tx.commit()
        rule = (field("country") == "DE") | tagged("vip")
        with uow() as tx:
            for limit in (1, 2, 3, 5, 6):
                assert _all_matching_ids(tx, rule, limit) == [
                    "c001",
                    "c002",
                    "c003",
                    "c005",
                    "c006",
                ], limit
            assert _all_matching_ids(tx, field("country") == "PL", 2) == []

    def test_stream_matching_yields_members_in_id_order_after_a_cursor(self, uow: OpenFor) -> None:
        with uow() as tx:
            _segment_customers(tx)
            tx.commit()
        rule = (field("country") == "DE") | tagged("vip")
        with uow() as tx:
            streamed = list(tx.customers.stream_matching(rule, as_of=AS_OF, batch_size=2))
            after = tx.customers.stream_matching(rule, as_of=AS_OF, batch_size=2, after="c002")
            later = [c.id for c in after]
            last = list(tx.customers.stream_matching(rule, as_of=AS_OF, after="c006"))
            stored = [tx.customers.get(c.id) for c in streamed]
        assert [c.id for c in streamed] == ["c001", "c002", "c003", "c005", "c006"]
        assert streamed == stored
        assert later == ["c003", "c005", "c006"]
        assert last == []

    def test_segment_queries_never_see_another_tenant(self, uow: OpenFor) -> None:
        with uow(TENANT) as tx:
            _segment_customers(tx)
            tx.commit()
        with uow(OTHER) as tx:  # the same ids, all German VIPs with a purchase at AS_OF
            for n in (1, 2, 8):
                tx.customers.add(_customer(n, address=PostalAddress("DE"), tags={"vip"}))
                tx.interactions.add(_interaction(n, f"c{n:03d}", _MINUTES_TO_AS_OF))
            tx.commit()
        rule = (field("country") == "DE") & tagged("vip") & (_RECENT >= 1)
        with uow(TENANT) as tx:
            assert tx.customers.count_matching(rule, as_of=AS_OF) == 2
            assert tx.customers.matching_ids(rule, as_of=AS_OF).items == ("c001", "c005")
            assert [c.id for c in tx.customers.stream_matching(rule, as_of=AS_OF)] == [
                "c001",
                "c005",
            ]
            assert tx.customers.count_matching(_RECENT == 0, as_of=AS_OF) == 4
        with uow(OTHER) as tx:
            assert tx.customers.count_matching(rule, as_of=AS_OF) == 3
            assert _all_matching_ids(tx, rule, 1) == ["c001", "c002", "c008"]
            streamed = tx.customers.stream_matching(rule, as_of=AS_OF, after="c001")
            assert [c.id for c in streamed] == ["c002", "c008"]
            assert tx.customers.count_matching(tagged("vip"), as_of=AS_OF) == 3

    # Tenancy

    def test_nothing_of_one_tenant_is_visible_to_another(self, uow: OpenFor) -> None:
        with uow(TENANT) as tx:
            tx.customers.add(_customer(1, external_ids={"shop": "1"}))
            tx.accounts.add(
                Account.register(AccountId("a1"), name="Acme", at=T0, domain="acme.com")
            )
            tx.interactions.add(_interaction(1, "c001", 0, external_ref="order-1"))
            tx.commit()
        with uow(OTHER) as tx:
            assert tx.customers.find(CustomerId("c001")) is None
            assert tx.customers.find_by_email(EmailAddress("person1@example.com")) is None
            assert tx.customers.find_by_external_id("shop", "1") is None
            assert tx.customers.count() == 0
            assert list(tx.customers.stream()) == []
            assert tx.customers.list().items == ()
            assert tx.accounts.find(AccountId("a1")) is None
            assert tx.accounts.find_by_domain("acme.com") is None
            assert tx.interactions.count() == 0
            assert tx.interactions.find_by_external_ref("order-1") is None
            assert tx.interactions.timeline(CustomerId("c001")) == []
            with pytest.raises(NotFound):
                tx.interactions.get(InteractionId("i001"))

    def test_tenants_may_reuse_ids_emails_and_references(self, uow: OpenFor) -> None:
        for tenant in (TENANT, OTHER):
            with uow(tenant) as tx:
                tx.customers.add(_customer(1, given_name=tenant, external_ids={"shop": "1"}))
                tx.accounts.add(
                    Account.register(AccountId("a1"), name=tenant, at=T0, domain="acme.com")
                )
                tx.interactions.add(_interaction(1, "c001", 0, external_ref="order-1"))
                tx.commit()
        for tenant in (TENANT, OTHER):
            with uow(tenant) as tx:
                assert tx.customers.get(CustomerId("c001")).given_name == tenant
                assert tx.accounts.get(AccountId("a1")).name == tenant
                assert tx.interactions.count() == 1

    def test_an_update_in_one_tenant_leaves_the_other_alone(self, uow: OpenFor) -> None:
        for tenant in (TENANT, OTHER):
            with uow(tenant) as tx:
                tx.customers.add(_customer(1))
                tx.commit()
        with uow(OTHER) as tx:
            customer = tx.customers.get(CustomerId("c001"))
            customer.update_profile(at=T0, given_name="Other")
            tx.customers.update(customer)
            tx.commit()
        with uow(TENANT) as tx:
            stored = tx.customers.get(CustomerId("c001"))
            assert (stored.given_name, stored.version) == (None, 1)

    # Through the front door

    def test_the_front_door_works_end_to_end(self, crm: CRM) -> None:
        ada = crm.register_customer(email="ada@example.com", given_name="Ada")
        crm.record_interaction(
            ada.id, kind="purchase", channel="web", amount=Money(500, "EUR"), external_ref="o-1"
        )
        crm.record_interaction(
            ada.id, kind="purchase", channel="web", amount=Money(500, "EUR"), external_ref="o-1"
        )
        assert len(crm.timeline(ada.id)) == 1
        assert crm.find_customer_by_email("ADA@example.com") == crm.get_customer(ada.id)
        assert crm.for_tenant("beta").find_customer_by_email("ada@example.com") is None
