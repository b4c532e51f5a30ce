"""Datetimes at the ends of the calendar: every datetime entering crmkit converts to UTC or is
refused with a `ValidationError` naming the parameter, and arithmetic near the ends (windows
reaching back before the year 1, expiries after 9999) gives exact answers, not
``OverflowError``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from hypothesis import given

from crmkit import CRM, ConsentRecord, Customer, FixedClock, Interaction, Money, Settings
from crmkit.domain import Facts, LedgerEntry, Programme, Window
from crmkit.domain.values.timestamps import EARLIEST, LATEST, earlier, ensure_utc, later
from crmkit.errors import ValidationError
from crmkit.lifecycle import LifecycleModel, ProgressionRule
from crmkit.loyalty import EventRule, SpendRule, Tier, TierPolicy
from crmkit.segments import days, purchases
from crmkit.serialization import from_json
from tests.conftest import MakeCrm, crm_maker
from tests.strategies import T0, any_datetimes

#: 0001-01-01 00:00 at UTC+14 is in the year 0 in UTC; 9999-12-31 23:00 at UTC-14 is in 10000.
TOO_EARLY = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
TOO_LATE = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14)))
#: Just inside the range, near each end.
YEAR_ONE = datetime(1, 1, 5, tzinfo=UTC)
YEAR_9999 = datetime(9999, 12, 20, tzinfo=UTC)


def in_range_in_utc(value: datetime) -> bool:
    """Whether ``value``'s instant is one a UTC datetime can hold (computed without it)."""
    offset = value.utcoffset()
    assert offset is not None
    naive = value.replace(tzinfo=None)
    return naive - datetime.min >= offset and datetime.max - naive >= -offset


def _refusal(call: Callable[[], object]) -> ValidationError | None:
    try:
        call()
    except ValidationError as error:
        return error
    return None


def refused_naming(path: str, call: Callable[[], object]) -> None:
    """``call`` raises a `ValidationError` whose only path is ``path``."""
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.paths == (path,)


class TestEnsureUtc:
    """`ensure_utc`, the one conversion every datetime entering crmkit goes through."""

    @pytest.mark.parametrize("value", [TOO_EARLY, TOO_LATE], ids=["too_early", "too_late"])
    def test_a_datetime_outside_the_range_in_utc_is_refused_by_name(self, value: datetime) -> None:
        """Not an ``OverflowError``: a `ValidationError` at the given path."""
        refused_naming("occurred_at", lambda: ensure_utc(value, "occurred_at"))

    @given(any_datetimes())
    def test_any_datetime_converts_to_the_same_instant_or_is_refused(self, value: datetime) -> None:
        """Over the whole range and every offset: the same instant in UTC when there is one,
        a `ValidationError` naming the path exactly when there is none."""
        if in_range_in_utc(value):
            converted = ensure_utc(value, "at")
            assert converted.tzinfo is UTC
            assert converted == value
        else:
            refused_naming("at", lambda: ensure_utc(value, "at"))

    def test_a_time_zone_answering_an_impossible_offset_is_refused(self) -> None:
        """A broken ``tzinfo`` (an offset of a day or more) is bad input, not a crash."""

        class Broken(tzinfo):
            def utcoffset(self, dt: datetime | None) -> timedelta:
                return timedelta(days=2)

        refused_naming("at", lambda: ensure_utc(datetime(2024, 1, 1, tzinfo=Broken()), "at"))

    def test_earlier_and_later_say_when_the_calendar_ends(self) -> None:
        """``None`` beyond the ends, the plain result inside."""
        assert earlier(YEAR_ONE, timedelta(days=90)) is None
        assert later(YEAR_9999, timedelta(days=30)) is None
        assert earlier(YEAR_ONE, timedelta(days=4)) == EARLIEST
        assert later(LATEST, timedelta(0)) == LATEST


def _record(crm: CRM, occurred_at: datetime) -> object:
    ada = crm.customers.register(given_name="Ada")
    return crm.interactions.record(ada.id, kind="note", channel="web", occurred_at=occurred_at)


#: Every way a datetime enters crmkit, with the name its refusal must give.
ENTRY_POINTS: dict[str, tuple[str, Callable[[datetime], object]]] = {
    "Interaction.occurred_at": (
        "occurred_at",
        lambda at: Interaction("i1", "c1", at, "note", "web"),  # type: ignore[arg-type]
    ),
    "Customer.created_at": ("created_at", lambda at: Customer("c1", at, T0)),  # type: ignore[arg-type]
    "ConsentRecord.at": (
        "at",
        lambda at: ConsentRecord("marketing", "email", "granted", at, "form"),
    ),
    "Window.since": ("since", lambda at: Window(since=at)),
    "Window.until": ("until", lambda at: Window(until=at)),
    "Facts.as_of": ("as_of", lambda at: Facts(as_of=at)),
    "LedgerEntry.at": ("at", lambda at: LedgerEntry(0, "earn", 1, at, "k")),
    "FixedClock()": ("at", FixedClock),
    "FixedClock.set": ("at", lambda at: FixedClock(T0).set(at)),
    "record_interaction": ("occurred_at", lambda at: _record(CRM.in_memory(), at)),
    "record_consent": ("at", lambda at: _consent(at)),
    "timeline since": (
        "since",
        lambda at: _timeline(since=at),
    ),
    "timeline until": ("until", lambda at: _timeline(until=at)),
    "count_segment as_of": (
        "as_of",
        lambda at: CRM.in_memory().segments.count(purchases().count() >= 1, as_of=at),
    ),
    "may_contact at": (
        "at",
        lambda at: Customer.register("c1", at=T0).may_contact("email", "marketing", at),  # type: ignore[arg-type]
    ),
    "the clock": (
        "clock",
        lambda at: CRM.in_memory(Settings(clock=_StuckClock(at))).customers.register(),
    ),
    "from_json": (
        "created_at",
        lambda at: from_json(
            f'{{"id": "c1", "created_at": "{at.isoformat()}",'
            f' "updated_at": "2024-01-01T00:00:00+00:00"}}',
            Customer,
        ),
    ),
}


def _consent(at: datetime) -> object:
    crm = CRM.in_memory()
    customer = crm.customers.register().id
    return crm.consent.record(
        customer, purpose="marketing", channel="email", status="granted", source="form", at=at
    )


def _timeline(**window: Any) -> object:
    crm = CRM.in_memory()
    return crm.interactions.timeline(crm.customers.register().id, **window)


class _StuckClock:
    """A host's clock that answers whatever it was given, unchecked."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class TestEveryEntryPoint:
    """Each datetime parameter converts what can be converted and refuses, by name, the rest."""

    @pytest.mark.parametrize("where", sorted(ENTRY_POINTS))
    @pytest.mark.parametrize("value", [TOO_EARLY, TOO_LATE], ids=["too_early", "too_late"])
    def test_an_edge_datetime_is_refused_naming_the_parameter(
        self, where: str, value: datetime
    ) -> None:
        """The finding's reproductions and their siblings: no ``OverflowError`` escapes."""
        path, call = ENTRY_POINTS[where]
        refused_naming(path, lambda: call(value))

    @pytest.mark.parametrize("where", sorted(ENTRY_POINTS))
    @given(value=any_datetimes())
    def test_a_datetime_of_any_offset_is_taken_exactly_when_it_has_a_utc_instant(
        self, where: str, value: datetime
    ) -> None:
        """Drawn from the whole range and every offset."""
        path, call = ENTRY_POINTS[where]
        if in_range_in_utc(value):
            error = _refusal(lambda: call(value))  # may be refused for another reason...
            assert error is None or "1-9999" not in str(error)  # ...never for its range
        else:
            refused_naming(path, lambda: call(value))

    def test_the_clock_cannot_be_advanced_past_the_end_of_the_calendar(self) -> None:
        """`FixedClock.advance` refuses, naming ``delta``, and stays where it was."""
        clock = FixedClock(LATEST)
        refused_naming("delta", lambda: clock.advance(timedelta(seconds=1)))
        refused_naming("delta", lambda: FixedClock(EARLIEST).advance(timedelta(days=-1)))
        assert clock.now() == LATEST

    def test_a_day_count_beyond_any_timedelta_is_refused(self) -> None:
        """``days(10**10)`` cannot be a timedelta: a `ValidationError`, checked by magnitude."""
        refused_naming("days", lambda: days(10**10))
        refused_naming("days", lambda: days("90"))  # type: ignore[arg-type]


@pytest.fixture
def make_crm(any_store: object) -> MakeCrm:
    """CRMs on each store in turn: memory, SQLite, PostgreSQL, MariaDB."""
    return crm_maker(any_store, T0)


class TestWindowsNearTheYearOne:
    """A window reaching back before the calendar begins has no start: it counts everything up
    to ``as_of``, the same on every backend (the answer is clamped, exactly)."""

    def test_a_segment_window_before_the_year_one_counts_everything(
        self, make_crm: MakeCrm
    ) -> None:
        """``purchases(last=days(90))`` at 0001-01-05 counts the purchase of 0001-01-02."""
        crm = make_crm(clock=FixedClock(YEAR_ONE))
        ada = crm.customers.register(given_name="Ada")
        crm.interactions.record(
            ada.id, kind="purchase", channel="web", occurred_at=datetime(1, 1, 2, tzinfo=UTC)
        )
        crm.interactions.record(ada.id, kind="purchase", channel="web", occurred_at=EARLIEST)
        for rule in (
            purchases(last=days(90)).count() >= 2,
            purchases(last=days(4)).count() == 1,  # (0001-01-01, 0001-01-05]: the first is out
            purchases(last=days(36_600)).sum("EUR") == Money.of(0, "EUR"),
        ):
            assert crm.segments.count(rule, as_of=YEAR_ONE) == 1, rule

    def test_an_interaction_count_within_days_before_the_year_one(self) -> None:
        """A count in a progression rule or guard clamps its window the same way."""
        first = Interaction("i1", "c1", EARLIEST, "purchase", "web")  # type: ignore[arg-type]
        facts = Facts(as_of=YEAR_ONE, interactions=[first])
        assert (purchases(last=days(90)).count() >= 1).holds(facts)

    def test_progression_at_the_first_and_last_instants(self, make_crm: MakeCrm) -> None:
        """A rule with a 90-day window moves a customer as of 0001-01-05; recording at the
        last instant of 9999 runs the rules with no instant "just after" it."""
        model = LifecycleModel(
            "journey",
            stages=["lead", "customer"],
            transitions=[("lead", "customer")],
            rules=[
                ProgressionRule(
                    "bought",
                    "customer",
                    purchases(last=days(90)).count() >= 1,
                )
            ],
        )
        early = make_crm(clock=FixedClock(YEAR_ONE), lifecycles=[model])
        ada = early.customers.register(given_name="Ada")
        early.interactions.record(ada.id, kind="purchase", channel="web", occurred_at=EARLIEST)
        assert early.lifecycle.current_stage(ada.id) == "customer"
        late = make_crm(tenant="beta", clock=FixedClock(LATEST), lifecycles=[model])
        bo = late.customers.register(given_name="Bo")
        late.interactions.record(bo.id, kind="purchase", channel="web")
        assert late.lifecycle.current_stage(bo.id) == "customer"


CLUB = Programme(
    "club",
    [SpendRule("spend", 1, Money.of(1, "EUR")), EventRule("welcome", "sign_up", 50)],
    tiers=[Tier("silver", 10)],
    tier_policy=TierPolicy(window_days=365, retention_days=90),
    pending_days=30,
    expiry_days=365,
)


class TestLoyaltyNearTheEnds:
    """Points near 9999 and tiers near the year 1 are booked without ``OverflowError``.

    An expiry after the calendar ends is "never" (no instant reaches it: exact); a pending
    period ending after it ends at its last instant (`LATEST`), so the points are pending at
    every instant before that one.
    """

    def test_the_programme_dates_near_9999(self) -> None:
        """``expires_at`` past the end is ``None``; ``available_from`` past it is `LATEST`."""
        assert CLUB.available_from(YEAR_9999) == LATEST
        assert CLUB.expires_at(YEAR_9999) is None
        assert CLUB.expires_at(datetime(9998, 1, 1, tzinfo=UTC)) == datetime(9999, 1, 1, tzinfo=UTC)

    def test_a_purchase_near_9999_earns_pending_points_that_never_expire(
        self, make_crm: MakeCrm
    ) -> None:
        """Earning, the balance, the tier and the batch job all work at the end."""
        clock = FixedClock(YEAR_9999)
        crm = make_crm(clock=clock, loyalty=CLUB)
        ada = crm.customers.register(given_name="Ada")
        crm.interactions.record(ada.id, kind="purchase", channel="web", amount=Money.of(20, "EUR"))
        (line,) = crm.loyalty.statement(ada.id)
        assert (line.entry.available_from, line.entry.expires_at) == (LATEST, None)
        assert crm.loyalty.balance(ada.id).pending == 20
        assert crm.loyalty.tier(ada.id) == "silver"
        clock.set(LATEST - timedelta(microseconds=1))
        crm.loyalty.run_job()
        assert crm.loyalty.balance(ada.id).pending == 20

    def test_a_tier_near_the_year_one(self, make_crm: MakeCrm) -> None:
        """The tier window reaching back before the year 1 counts everything up to then."""
        crm = make_crm(clock=FixedClock(YEAR_ONE), loyalty=CLUB)
        ada = crm.customers.register(given_name="Ada")
        crm.interactions.record(ada.id, kind="sign_up", channel="web")
        assert crm.loyalty.tier(ada.id) == "silver"
        assert crm.loyalty.tier(ada.id, as_of=YEAR_ONE + timedelta(days=1)) == "silver"

    @pytest.mark.parametrize("name", ["pending_days", "expiry_days"])
    def test_a_period_longer_than_a_century_is_refused_by_magnitude(self, name: str) -> None:
        """No period can make date arithmetic overflow: more than 36,600 days is refused."""
        refused_naming(name, lambda: Programme("club", CLUB.rules, **{name: 10**10}))
        refused_naming("retention_days", lambda: TierPolicy(retention_days=10**10))
