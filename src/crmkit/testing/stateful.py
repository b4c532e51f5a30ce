"""A Hypothesis state machine that holds a storage adapter to crmkit's in-memory model.

`AdapterStateMachine` performs one random sequence of operations on two sides at once: the
adapter under test, and crmkit's reference adapter (`crmkit.adapters.memory`), the *model*. It
registers customers (often with an email, external id or id that is already taken), updates
profiles, races a stale update against a newer one, records interactions (some with an external
reference), replays them, changes consent, registers and updates accounts, abandons or rolls
back units of work, and lets time pass, in two tenants. Both sides share one `FixedClock` and
start from identical `SequentialIds`, so they must end every step holding exactly the same data.

Both sides' CRMs track the lifecycle models `LIFECYCLES` (`crmkit.CUSTOMER_LIFECYCLE`, a small
guarded ``onboarding`` model of the machine's own, and `crmkit.DEAL_PIPELINE` for accounts), so
registering through the `CRM` enters the models and recording an interaction through it runs
their progression rules (for the customer and the customer's account). The machine also moves
customers and accounts by hand (often to a stage the model allows next, sometimes to one it
does not, past a guard that fails, at an instant before the last change, with a stale expected
version, or for a subject the tenant does not hold), puts subjects into a model at a chosen
stage, applies the rules to one subject, re-evaluates a whole tenant (twice at the same
``as_of``, now and then: the second run must change nothing), and races a stale copy of a
history against a newer move.

Both sides' CRMs also run the loyalty programme `LOYALTY` (spend and event rules, a tier with
a multiplier, a daily cap, a pending period and an expiry shorter than the time the machine
lets pass, a redemption minimum and step, a reward, a referral policy), so recording an
interaction through the `CRM` earns points (purchases are mostly in EUR, so that they do).
The machine earns points for registered customers and for members of its own (`MEMBERS`),
refunds recorded purchases (in part, in full or for the rest, naming the purchase by id or
external reference; sometimes naming another customer's purchase, an interaction that is no
purchase or nothing stored, which both sides must refuse alike), redeems points (a share of
the balance, all of it, more than it, a reward, an amount off the step, sometimes with a key
already used), adjusts balances up and down, runs the points job (now or days ago, page by
page, and twice at the same ``as_of``: the second run must report and change nothing; also
after time passes, as a scheduler would), and records referrals (of newcomers, of other
customers, of the referrer themselves or of someone already referred: the last two must be
refused with `crmkit.errors.ReferralRefused` on both sides).

Every operation must have the same outcome on both sides (the same value, or the same crmkit
error type), and after every step every read must agree: customers and interactions streamed,
counted, listed page by page, looked up by id, email, external id and external reference, the
timelines, the accounts, the stage histories (streamed per model in small and large batches
and by stage, counted by stage, and read per customer and account), the stored points
balances, each customer's balance now, each member's statement (entry by entry, field by
field: ids come from `SequentialIds` on both sides) and tier, the referrals, and the events
published (`crmkit.StageChanged` and the loyalty events included). Every history the adapter
holds must be a path through its model, of a subject the tenant holds, and every stage change
stored must have been announced by one `crmkit.StageChanged` event. For every member, the
adapter's points must add up (nothing negative; earned and adjusted in equal redeemed,
expired, reversed, adjusted out, available and pending, now and in the past), the balance it
reads now must be what `CRM.points_state` adds up to now, and relaunching the points job at
the last run's ``as_of`` must change nothing. Where the contract suite
(`crmkit.testing.contract`) checks one behaviour at a time from a known state, the machine
searches for the sequences nobody thought to write down, and Hypothesis shrinks any
disagreement to the shortest program that shows it.

To check an adapter, subclass the machine, override `AdapterStateMachine.open_storage` to
return ``(tenant, publish) -> UnitOfWork`` over fresh, empty storage (the same function the
contract's ``open_unit_of_work`` fixture returns) and, if that storage needs cleaning up,
`AdapterStateMachine.close_storage`. Then expose its ``TestCase`` to pytest or unittest:

```python
from hypothesis import settings

from crmkit.app.context import OpenUnitOfWork
from crmkit.testing.stateful import AdapterStateMachine


class MyAdapterMachine(AdapterStateMachine):
    def open_storage(self) -> OpenUnitOfWork:
        self.store = MyStore.create_empty()
        return self.store.unit_of_work

    def close_storage(self) -> None:
        self.store.drop()


TestMyAdapter = MyAdapterMachine.TestCase
TestMyAdapter.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
```

`open_storage` runs once per example (each run of the machine), so every example starts empty.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, TypeVar, cast

import attrs
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from crmkit import segments
from crmkit.adapters.memory import InMemoryStore
from crmkit.app.clocks import FixedClock, SequentialIds
from crmkit.app.context import OpenUnitOfWork, opens_read_only
from crmkit.app.lifecycle import ProgressionReport
from crmkit.app.loyalty import PointsJobReport
from crmkit.app.progression import facts_of
from crmkit.app.unit_of_work import Publisher
from crmkit.domain import (
    CUSTOMER_LIFECYCLE,
    DEAL_PIPELINE,
    PROFILE_FIELDS,
    Account,
    AccountId,
    AccountLink,
    Channel,
    CompanySize,
    ConsentRecord,
    Customer,
    CustomerId,
    DomainEvent,
    EmailAddress,
    EntryKind,
    EventRule,
    Interaction,
    InteractionId,
    InteractionKind,
    LedgerState,
    LifecycleModel,
    Money,
    Multiplier,
    Outcome,
    Period,
    PeriodCap,
    PointsBalance,
    Programme,
    ProgressionRule,
    Redemption,
    Referral,
    ReferralPolicy,
    Reward,
    SpendRule,
    Stage,
    StageChanged,
    StageHistory,
    SubjectKind,
    TenantId,
    Tier,
    TierPolicy,
    TimeInStage,
    Transition,
)
from crmkit.errors import (
    ConcurrencyConflict,
    CrmError,
    DuplicateCustomer,
    IdempotencyConflict,
    InsufficientPoints,
    NotFound,
    ReferralRefused,
)
from crmkit.front import CRM
from crmkit.ports import Page, UnitOfWork
from crmkit.segments import days, field, tagged
from crmkit.testing import strategies

__all__ = ["LIFECYCLES", "LOYALTY", "TENANTS", "AdapterStateMachine"]

T = TypeVar("T")

#: Where the shared clock starts.
START: Final = datetime(2024, 1, 1, tzinfo=UTC)
#: The two tenants the machine works in (names no other suite is likely to use, so that a
#: shared test database can be cleaned tenant by tenant).
TENANTS: Final = (TenantId("stateful_a"), TenantId("stateful_b"))
#: Tags the machine sets and lists customers by.
TAGS: Final = ("vip", "b2b", "newsletter")
#: Host systems that know customers by an external id.
SOURCES: Final = ("shop", "billing")

#: A small customer model of the machine's own, next to the presets: a guard on a tag the
#: machine sets and one on the time spent in a stage, rules over a 30-day window (so that time
#: passing flips them back and forth), a rule whose transition is guarded, one that time alone
#: triggers, and a terminal stage.
ONBOARDING: Final = LifecycleModel(
    "onboarding",
    stages=[
        Stage("invited"),
        Stage("active"),
        Stage("champion"),
        Stage("dormant"),
        Stage("closed", terminal=True, outcome=Outcome.LOST),
    ],
    transitions=[
        ("invited", "active"),
        ("invited", "closed"),
        Transition("active", "champion", guard=tagged("vip")),
        ("active", "dormant"),
        ("champion", "dormant"),
        ("dormant", "active"),
        Transition("dormant", "closed", guard=TimeInStage(30)),
    ],
    rules=[
        ProgressionRule(
            "activated",
            "active",
            segments.interactions(last=days(30)).count() >= 1,
            sources={"invited", "dormant"},
        ),
        ProgressionRule(
            "championed",
            "champion",
            field("email").exists() & (segments.interactions(last=days(60)).count() >= 2),
        ),
        ProgressionRule(
            "went_quiet", "dormant", ~(segments.interactions(last=days(30)).count() >= 1)
        ),
        ProgressionRule("expired", "closed", TimeInStage(60), sources={"invited"}),
    ],
)
#: The lifecycle models both sides' CRMs track: two for customers, one for accounts.
LIFECYCLES: Final = (CUSTOMER_LIFECYCLE, ONBOARDING, DEAL_PIPELINE)
CUSTOMER_MODELS: Final = tuple(m for m in LIFECYCLES if m.subject is SubjectKind.CUSTOMER)
#: A stage no model has, to ask for now and then.
NOWHERE: Final = "nowhere"
#: Interactions are often recorded some time in the last year, so that the rules' windows
#: (30 to 365 days) count them.
YEAR_MINUTES: Final = 365 * 24 * 60
#: The interaction kinds the models' rules and guards count: drawn often, so that they move.
LIFECYCLE_KINDS: Final = (
    InteractionKind.PURCHASE.value,
    InteractionKind.REFERRAL.value,
    InteractionKind.MEETING.value,
)

#: The loyalty programme both sides' CRMs run, so that recording an interaction through the
#: CRM earns points (and a refund naming its purchase reverses them):
#:
#: - ``spend``: 1 point per EUR spent on a purchase (``per=Money(100, "EUR")``), the exact
#:   figure times the multipliers rounded once, half up: 12.50 EUR earns 13 points, 19 in
#:   silver. Other currencies earn nothing.
#: - ``review``, ``referral`` and ``welcome``: 15 points per ``review``, 40 per ``referral``
#:   and 10 per ``sign_up`` (rounded down after the multipliers). A qualified referral earns
#:   through them (`ReferralPolicy`: a ``referral`` for the referrer, a ``sign_up`` for the
#:   referee).
#: - ``app_bonus``: an interaction in the app earns twice as much.
#: - ``silver``: reached with 150 points earned (net of reversals) in a 60-day window, kept 14
#:   days more; its members earn 1.5 times as much.
#: - At most 600 points per member for the interactions of one (UTC) day.
#: - Points are pending for 3 days, then available for 30 before they expire: less than the
#:   time `AdapterStateMachine.let_time_pass` lets pass, so the job matures and expires them.
#: - Redemptions take at least 10 points, in steps of 5; the ``coffee`` reward costs 25.
LOYALTY: Final = Programme(
    "stateful",
    rules=[
        SpendRule("spend", 1, Money(100, "EUR"), rounding=ROUND_HALF_UP),
        EventRule("review", InteractionKind.REVIEW.value, 15),
        EventRule("referral", InteractionKind.REFERRAL.value, 40),
        EventRule("welcome", InteractionKind.SIGN_UP.value, 10),
    ],
    multipliers=[Multiplier("app_bonus", 2, channels={Channel.APP})],
    tiers=[Tier("silver", 150, multiplier=Decimal("1.5"))],
    tier_policy=TierPolicy(window_days=60, retention_days=14),
    period_caps=[PeriodCap(Period.DAY, 600)],
    pending_days=3,
    expiry_days=30,
    redemption=Redemption(minimum=10, step=5),
    rewards=[Reward("coffee", 25)],
    referrals=ReferralPolicy(
        InteractionKind.REFERRAL.value, referee_kind=InteractionKind.SIGN_UP.value
    ),
)
#: The kinds the programme rewards (besides those of `LIFECYCLE_KINDS`): drawn often too.
LOYALTY_KINDS: Final = (
    InteractionKind.PURCHASE.value,
    InteractionKind.REVIEW.value,
    InteractionKind.SIGN_UP.value,
)
#: Customers the loyalty rules earn, redeem and adjust points for besides those registered by
#: `AdapterStateMachine.register_customer`: each joins (is registered) when it first earns.
MEMBERS: Final = (CustomerId("member-1"), CustomerId("member-2"))
#: Keys redemptions and adjustments are made with, from a small pool: replays are frequent.
POINTS_KEYS: Final = ("order-1", "order-2")
#: What a refund names as its purchase (``refund_of``): the purchase by id or by external
#: reference, a purchase of another customer, an interaction of the customer that is no
#: purchase, nothing stored, or no purchase at all (a refund that reverses nothing).
REFUND_TARGETS: Final = ("id", "id", "ref", "other", "not_a_purchase", "unknown", "none")
#: An id no interaction has.
NO_SUCH_PURCHASE: Final = "no-such-purchase"

_Key = tuple[TenantId, CustomerId]
_AccountKey = tuple[TenantId, AccountId]
_Recorded = tuple[TenantId, Interaction]


@attrs.frozen
class _Raised:
    """The outcome of an operation that raised a crmkit error: equal when the types are."""

    error: type[CrmError]
    message: str = attrs.field(eq=False)


class _Abandon(Exception):
    """Raised by the machine inside a unit of work, to check that an error rolls it back."""


def _attempt(action: Callable[[], T]) -> T | _Raised:
    try:
        return action()
    except CrmError as error:
        return _Raised(type(error), str(error))


def _agree(what: str, model: object, adapter: object) -> None:
    if model != adapter:
        raise AssertionError(
            f"{what}: the adapter disagrees with the model\n"
            f"  model:   {model!r}\n"
            f"  adapter: {adapter!r}\n"
            f"  first difference: {_difference(model, adapter)}"
        )


def _difference(model: object, adapter: object, path: str = "") -> str:
    """Where two unequal answers first differ: lists item by item, dicts key by key, and
    attrs classes (ledger entries, statement lines, balances …) field by field."""
    here = path or "the answer"
    if isinstance(model, list) and isinstance(adapter, list):
        for index, (mine, theirs) in enumerate(zip(model, adapter, strict=False)):
            if mine != theirs:
                return _difference(mine, theirs, f"{path}[{index}]")
        return f"{here}: the model has {len(model)} items, the adapter {len(adapter)}"
    if isinstance(model, dict) and isinstance(adapter, dict):
        for key in sorted({*model, *adapter}, key=repr):
            if key not in model or key not in adapter:
                return f"{path}[{key!r}]: held on one side only"
            if model[key] != adapter[key]:
                return _difference(model[key], adapter[key], f"{path}[{key!r}]")
    kind = type(model)
    if kind is type(adapter) and attrs.has(kind):
        for field in attrs.fields(kind):
            if not field.eq:
                continue
            mine, theirs = getattr(model, field.name), getattr(adapter, field.name)
            if mine != theirs:
                return _difference(mine, theirs, f"{path}.{field.name}")
    return f"{here}: model {model!r}, adapter {adapter!r}"


def _check(what: str, expected: object, actual: object) -> None:
    """A property both sides must have (not a comparison of the two): ``actual`` is expected."""
    if expected != actual:
        raise AssertionError(f"{what}\n  expected: {expected!r}\n  got:      {actual!r}")


def _pages(list_page: Callable[..., Page[T]], **query: Any) -> list[Page[T]]:
    """Every page of a listing, following ``next_cursor`` to the end."""
    pages = [list_page(cursor=None, **query)]
    while pages[-1].next_cursor is not None:
        if len(pages) > 10_000:
            raise AssertionError(f"listing with {query} never ends: {pages[-3:]!r}")
        pages.append(list_page(cursor=pages[-1].next_cursor, **query))
    return pages


def _got(get: Callable[[T], object], key: T) -> object:
    """What ``get(key)`` returns, or the type of crmkit error it raises."""
    return _attempt(functools.partial(get, key))


def _rarely() -> st.SearchStrategy[bool]:
    """True about one time in five; shrinks to False."""
    return st.integers(0, 4).map(lambda n: n == 4)


def _usually() -> st.SearchStrategy[bool]:
    """True about four times in five; shrinks to True."""
    return st.integers(0, 4).map(lambda n: n != 4)


def _sometimes(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """``None`` four times in five, else a value of ``strategy``."""
    return _rarely().flatmap(lambda yes: strategy if yes else st.none())


def _mostly(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """A value of ``strategy`` four times in five, else ``None``."""
    return _rarely().flatmap(lambda no: st.none() if no else strategy)


def _names() -> st.SearchStrategy[str | None]:
    letters = st.characters(codec="utf-8", categories=("L", "N", "P", "Zs"))
    return st.none() | st.text(letters, min_size=1, max_size=20)


def _account_links(account_ids: Bundle[AccountId]) -> st.SearchStrategy[AccountLink]:
    return st.builds(AccountLink, account_ids, st.sampled_from(["contact", "billing"]))


def _profile_changes(
    emails: Bundle[EmailAddress],
    external_keys: Bundle[tuple[str, str]],
    account_ids: Bundle[AccountId],
    *,
    keys: bool = True,
) -> st.SearchStrategy[dict[str, Any]]:
    """Changes for `Customer.update_profile`; with ``keys``, also of email and external ids
    (drawn from small pools, so they are often taken)."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "given_name": _names(),
        "family_name": _names(),
        "locale": st.none() | st.sampled_from(["en", "de-DE", "fr-CA"]),
        "tags": st.frozensets(st.sampled_from(TAGS)),
        "phone": st.none() | strategies.phone_numbers(),
        "address": st.none() | strategies.postal_addresses(),
        "account": st.none() | _account_links(account_ids),
    }
    if keys:
        optional["email"] = st.none() | emails
        optional["external_ids"] = st.lists(external_keys, max_size=2).map(dict)
    return st.fixed_dictionaries({}, optional=optional)


def _plain_customers() -> st.SearchStrategy[Customer]:
    """Customers with a few plain fields: cheap to draw, so that runs can be long."""
    return st.builds(
        functools.partial(Customer, id=CustomerId("template"), created_at=START, updated_at=START),
        given_name=st.none() | st.sampled_from(["Ada", "Grace", "Émilie"]),
        tags=st.frozensets(st.sampled_from(TAGS)),
        consents=st.lists(strategies.consent_records(), max_size=1),
    )


def _customer_templates() -> st.SearchStrategy[Customer]:
    """Mostly plain customers; one time in five, one with every field exercised
    (`strategies.customers`), to hold the adapter's mapping of each field to the model's."""
    return _rarely().flatmap(lambda rich: strategies.customers() if rich else _plain_customers())


def _plain_interactions() -> st.SearchStrategy[Interaction]:
    """Interactions with only the required fields: cheap to draw."""
    return st.builds(
        Interaction,
        id=strategies.ids().map(InteractionId),
        customer_id=st.just(CustomerId("c1")),
        occurred_at=st.just(START),
        kind=st.sampled_from(InteractionKind),
        channel=st.sampled_from(Channel),
    )


def _kinds() -> st.SearchStrategy[str | None]:
    """``None`` (the template's kind, any), or a kind the lifecycle rules or the loyalty
    programme count."""
    return st.none() | st.sampled_from(LIFECYCLE_KINDS) | st.sampled_from(LOYALTY_KINDS)


def _euros() -> st.SearchStrategy[Money | None]:
    """What a purchase spends, four times in five: up to 300 EUR (so that it earns up to
    300 points, more with the multipliers); else ``None``, the template's amount."""
    return _mostly(st.builds(Money, st.integers(0, 30_000), st.just("EUR")))


def _members(customer_keys: Bundle[_Key]) -> st.SearchStrategy[_Key]:
    """A customer registered, or one of `MEMBERS` (registered or not) in either tenant."""
    return customer_keys | st.tuples(st.sampled_from(TENANTS), st.sampled_from(MEMBERS))


def _record_through(crm: CRM, interaction: Interaction) -> Interaction:
    """Record ``interaction``'s content through the front door (a new id, idempotent by ref)."""
    return crm.record_interaction(
        interaction.customer_id,
        kind=interaction.kind,
        channel=interaction.channel,
        occurred_at=interaction.occurred_at,
        direction=interaction.direction,
        amount=interaction.amount,
        owner=interaction.owner,
        team=interaction.team,
        campaign=interaction.campaign,
        metadata=interaction.metadata,
        external_ref=interaction.external_ref,
    )


def _own_writes(uow: UnitOfWork, customer: Customer, interaction: Interaction) -> object:
    """What a unit of work reads of its own uncommitted writes (it must see them all)."""
    customers, interactions, histories = uow.customers, uow.interactions, uow.stage_histories
    model = CUSTOMER_LIFECYCLE.name
    return {
        "customers.count()": customers.count(),
        "customers.find(new)": customers.find(customer.id),
        "customers.find_by_email(new)": customer.email and customers.find_by_email(customer.email),
        "customers.list()": customers.list(limit=1000).items,
        "interactions.count()": interactions.count(),
        "interactions.get(new)": _got(interactions.get, interaction.id),
        "interactions.timeline()": interactions.timeline(interaction.customer_id),
        "stage_histories.find(new)": histories.find(model, customer.id),
        "stage_histories.for_subject(new)": histories.for_subject(customer.id),
        "stage_histories.stream()": list(histories.stream(model, batch_size=2)),
        "stage_histories.count_by_stage()": histories.count_by_stage(model),
    }


def _save(uow: UnitOfWork, customer: Customer) -> Customer:
    uow.customers.update(customer)
    uow.commit()
    return customer


def _save_history(uow: UnitOfWork, history: StageHistory) -> StageHistory:
    uow.stage_histories.update(history)
    uow.commit()
    return history


def _bad_path(model: LifecycleModel, history: StageHistory) -> str | None:
    """What is wrong with a stored history of ``model``, if anything."""
    stages = [change.to_stage for change in history.changes]
    if (history.model, history.subject_kind) != (model.name, model.subject):
        return f"it is a history of {history.subject_kind} in {history.model}"
    if not model.is_path(stages):
        return f"{stages} is not a path through {model.name}"
    if history.current != history.changes[-1].to_stage:
        return f"its current stage {history.current!r} is not the last one entered"
    if history.version < 1:
        return f"it is stored at version {history.version}"
    return None


def _check_totals(what: str, state: LedgerState) -> None:
    """Nothing in ``state`` is negative, and every point is accounted for: ``earned +
    adjusted_in == redeemed + expired + reversed + adjusted_out + available + pending``."""
    negative = [lot for lot in state.lots if lot.remaining < 0]
    if state.available < 0 or state.pending < 0 or negative:
        raise AssertionError(
            f"{what}: negative points\n  available {state.available}, pending "
            f"{state.pending}, lots {negative!r}"
        )
    _check(
        f"{what}: earned + adjusted in, against redeemed + expired + reversed + adjusted out "
        f"+ available + pending ({state!r})",
        state.earned + state.adjusted_in,
        state.redeemed
        + state.expired
        + state.reversed
        + state.adjusted_out
        + state.available
        + state.pending,
    )


def _check_announced(histories: list[StageHistory], published: list[DomainEvent]) -> None:
    """Every stage change in ``histories`` (of every tenant) was published as one
    `StageChanged` event, and no other was."""
    stored = Counter(
        (h.subject_kind, h.subject_id, h.model, c.from_stage, c.to_stage, c.at, c.actor, c.rule)
        for h in histories
        for c in h.changes
    )
    announced = Counter(
        (e.subject_kind, e.subject_id, e.model, e.from_stage, e.to_stage, e.at, e.actor, e.rule)
        for e in published
        if isinstance(e, StageChanged)
    )
    if stored != announced:
        raise AssertionError(
            "the stage changes stored and the StageChanged events published differ\n"
            f"  stored, never announced: {sorted(map(repr, stored - announced))}\n"
            f"  announced, never stored: {sorted(map(repr, announced - stored))}"
        )


class _Side:
    """One side of the comparison: an adapter, the events it published, a CRM per tenant,
    a CRM per tenant for reading (whose work does not count as work on the tenant), and the
    tenants worked on since the last comparison."""

    def __init__(self, open_unit_of_work: OpenUnitOfWork, clock: FixedClock) -> None:
        self.open_unit_of_work = open_unit_of_work
        self.published: list[DomainEvent] = []
        self.touched: set[TenantId] = set()
        ids = SequentialIds("id")
        self.crms: dict[TenantId, CRM] = {}
        self.readers: dict[TenantId, CRM] = {}
        for tenant in TENANTS:
            for crms, opener in ((self.crms, self._open), (self.readers, open_unit_of_work)):
                crm = CRM(
                    opener,
                    tenant=tenant,
                    clock=clock,
                    ids=ids,
                    lifecycles=LIFECYCLES,
                    loyalty=LOYALTY,
                )
                crm.subscribe(DomainEvent, self.published.append)
                crms[tenant] = crm

    def _open(self, tenant: TenantId, publish: Publisher) -> UnitOfWork:
        self.touched.add(tenant)
        return self.open_unit_of_work(tenant, publish)

    def uow(self, tenant: TenantId) -> UnitOfWork:
        """A new unit of work on ``tenant`` whose committed events are recorded."""
        return self._open(tenant, self.published.extend)

    def reader(self, tenant: TenantId) -> UnitOfWork:
        """A unit of work for reading only: it does not count as work on ``tenant``, and is
        opened read-only where the storage offers it (it takes no lock)."""
        if opens_read_only(self.open_unit_of_work):
            opener: Any = self.open_unit_of_work
            return opener(tenant, self.published.extend, read_only=True)  # type: ignore[no-any-return]
        return self.open_unit_of_work(tenant, self.published.extend)

    def contents(
        self, tenant: TenantId
    ) -> tuple[list[Customer], list[Interaction], list[StageHistory]]:
        """Everything ``tenant`` has stored, in one unit of work."""
        with self.reader(tenant) as uow:
            return (
                list(uow.customers.stream()),
                list(uow.interactions.stream()),
                [h for m in LIFECYCLES for h in uow.stage_histories.stream(m.name)],
            )

    def points(self, tenant: TenantId) -> tuple[list[PointsBalance], int]:
        """The balances ``tenant`` stores (one per ledger: any entry booked changes its
        version) and how many events were published so far: what a write would change."""
        balances = list(self.readers[tenant].stream_points_balances(batch_size=2))
        return balances, len(self.published)


class AdapterStateMachine(RuleBasedStateMachine):
    """Drives an adapter and crmkit's in-memory model with the same random operations, and
    checks after every step that they agree on every outcome and every read.

    Override `open_storage` (and `close_storage` if needed); everything else is inherited.
    Run it through its ``TestCase`` (with your Hypothesis ``settings``) or with
    `hypothesis.stateful.run_state_machine_as_test`. The machine works in the tenants
    `TENANTS`, starts the shared clock ``clock`` at 2024-01-01 UTC and moves it forward
    itself; its CRMs track the lifecycle models `LIFECYCLES` and run the loyalty programme
    `LOYALTY`, so the adapter must implement ``UnitOfWork.stage_histories``,
    ``UnitOfWork.points_ledgers`` and ``UnitOfWork.referrals`` too.
    """

    customer_keys: Bundle[_Key] = Bundle("customer_keys")
    account_keys: Bundle[_AccountKey] = Bundle("account_keys")
    recorded: Bundle[_Recorded] = Bundle("recorded")
    emails: Bundle[EmailAddress] = Bundle("emails")
    external_keys: Bundle[tuple[str, str]] = Bundle("external_keys")
    refs: Bundle[str] = Bundle("refs")
    account_ids: Bundle[AccountId] = Bundle("account_ids")
    domains: Bundle[str] = Bundle("domains")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(START)
        self.model = _Side(InMemoryStore().unit_of_work, self.clock)
        self.adapter = _Side(self.open_storage(), self.clock)
        self._emails: list[EmailAddress] = []
        self._external_keys: list[tuple[str, str]] = []
        self._refs: list[str] = []
        self._account_ids: list[AccountId] = []
        self._domains: list[str] = []
        self._customer_ids: set[CustomerId] = set()
        self._interaction_ids: set[InteractionId] = set()
        # What the loyalty rules pick from and the reads cover: the interactions stored
        # (purchases among them, to refund), the referrals made, their referees and everyone
        # a referral was asked for, when each tenant's points job last ran, when the points
        # invariants were last checked in each tenant, and the `MEMBERS` who joined.
        self._logged: list[_Recorded] = []
        self._referral_ids: set[str] = set()
        self._parties: set[CustomerId] = set()
        self._referees: dict[TenantId, list[CustomerId]] = {}
        self._last_job: dict[TenantId, datetime] = {}
        self._points_checked: dict[TenantId, datetime] = {}
        self._joined: set[_Key] = set()

    # The hooks an adapter's test overrides.

    def open_storage(self) -> OpenUnitOfWork:
        """Override: return ``(tenant, publish) -> UnitOfWork`` over fresh, empty storage.

        Called once per example, from ``__init__``, so that no example sees another's data.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must override open_storage() to supply the adapter under test"
        )

    def close_storage(self) -> None:
        """Override to release the storage `open_storage` made; called after every example."""

    def teardown(self) -> None:
        """Release the adapter's storage (see `close_storage`)."""
        self.close_storage()

    # Small pools of keys, so that duplicates are frequent.

    @initialize(
        target=emails,
        found=st.lists(strategies.emails(), min_size=2, max_size=4, unique_by=str),
    )
    def pick_emails(self, found: list[EmailAddress]) -> MultipleResults[EmailAddress]:
        """The emails customers get and are looked up by."""
        self._emails.extend(found)
        return multiple(*found)

    @initialize(
        target=external_keys,
        found=st.lists(
            st.tuples(st.sampled_from(SOURCES), strategies.ids()),
            min_size=2,
            max_size=4,
            unique=True,
        ),
    )
    def pick_external_ids(self, found: list[tuple[str, str]]) -> MultipleResults[tuple[str, str]]:
        """The (source, external id) pairs customers get and are looked up by."""
        self._external_keys.extend(found)
        return multiple(*found)

    @initialize(target=refs, found=st.lists(strategies.ids(), min_size=2, max_size=4, unique=True))
    def pick_external_refs(self, found: list[str]) -> MultipleResults[str]:
        """The external references interactions are recorded (and looked up) with."""
        self._refs.extend(found)
        return multiple(*found)

    @initialize(
        target=account_ids,
        found=st.lists(strategies.account_ids(), min_size=1, max_size=3, unique=True),
    )
    def pick_account_ids(self, found: list[AccountId]) -> MultipleResults[AccountId]:
        """The ids accounts are registered with and customers are linked to."""
        self._account_ids.extend(found)
        return multiple(*found)

    @initialize(
        target=domains,
        found=st.lists(strategies.web_domains(), min_size=1, max_size=3, unique=True),
    )
    def pick_domains(self, found: list[str]) -> MultipleResults[str]:
        """The web domains accounts get and are looked up by."""
        self._domains.extend(found)
        return multiple(*found)

    # Customers.

    @rule(
        target=customer_keys,
        tenant=st.sampled_from(TENANTS),
        customer_id=st.sampled_from(["c1", "c2", "c3"]).map(CustomerId) | strategies.customer_ids(),
        template=_customer_templates(),
        email=st.none() | emails,
        external=st.lists(external_keys, max_size=2),
        link=st.none() | _account_links(account_ids),
        front_door=st.booleans(),
    )
    def register_customer(
        self,
        tenant: TenantId,
        customer_id: CustomerId,
        template: Customer,
        email: EmailAddress | None,
        external: list[tuple[str, str]],
        link: AccountLink | None,
        front_door: bool,
    ) -> MultipleResults[_Key]:
        """Register a customer, directly or through the `CRM`; a taken id, email or external
        id must be refused alike on both sides."""
        profile = {name: getattr(template, name) for name in PROFILE_FIELDS}
        profile.update(email=email, external_ids=dict(external), account=link)
        at = self.clock.now()
        self._customer_ids.add(customer_id)

        def register(side: _Side) -> Customer:
            if front_door:
                return side.crms[tenant].register_customer(
                    customer_id=customer_id,
                    traits=template.traits,
                    consents=template.consents,
                    **profile,
                )
            customer = Customer.register(
                customer_id, at=at, traits=template.traits, consents=template.consents, **profile
            )
            with side.uow(tenant) as uow:
                uow.customers.add(customer)
                uow.commit()
            return customer

        outcome = self._on_both(
            "register customer", f"registering {customer_id!r} in {tenant!r}", register
        )
        return multiple() if isinstance(outcome, _Raised) else multiple((tenant, customer_id))

    @rule(
        key=customer_keys,
        elsewhere=_rarely(),
        changes=_profile_changes(emails, external_keys, account_ids),
        front_door=st.booleans(),
    )
    def update_profile(
        self, key: _Key, elsewhere: bool, changes: dict[str, Any], front_door: bool
    ) -> None:
        """Change a customer's profile (in the other tenant, sometimes: it is not there)."""
        tenant, customer_id = self._where(key, elsewhere)
        at = self.clock.now()

        def update(side: _Side) -> object:
            if front_door:
                return side.crms[tenant].update_profile(customer_id, **changes)
            with side.uow(tenant) as uow:
                customer = uow.customers.get(customer_id)
                changed = customer.update_profile(at=at, **changes)
                return changed, _save(uow, customer)

        self._on_both(
            "update profile", f"updating {customer_id!r} in {tenant!r} with {changes}", update
        )

    @rule(
        key=customer_keys,
        theirs=_profile_changes(emails, external_keys, account_ids),
        mine=_profile_changes(emails, external_keys, account_ids, keys=False),
    )
    def update_a_stale_copy(self, key: _Key, theirs: dict[str, Any], mine: dict[str, Any]) -> None:
        """Load a customer, let another unit of work save it, then save the stale copy: it
        must raise `ConcurrencyConflict` on both sides and change nothing. (The stale change
        leaves email and external ids alone, so that only its version can make it fail.)
        The copy is read in a read-only unit of work open across the other save (a storage
        may let one unit of work write at a time) and saved in a later one."""
        tenant, customer_id = key
        at = self.clock.now()

        def race(side: _Side) -> tuple[object, object, Customer]:
            with side.reader(tenant) as reader:
                stale = reader.customers.get(customer_id)
                newer = _attempt(functools.partial(self._change, side, key, theirs))
            stale.update_profile(at=at, **mine)
            with side.uow(tenant) as first:
                late = _attempt(functools.partial(_save, first, stale))
            with side.uow(tenant) as uow:
                return newer, late, uow.customers.get(customer_id)

        outcome = self._on_both("stale update", f"racing a stale update of {customer_id!r}", race)
        if isinstance(outcome, _Raised):
            return
        newer, late, stored = outcome
        if not isinstance(newer, _Raised):
            _agree("the stale update", _Raised(ConcurrencyConflict, ""), late)
            _agree("the customer after a refused stale update", newer, stored)

    @rule(
        key=customer_keys,
        elsewhere=_rarely(),
        record=strategies.consent_records(),
        front_door=st.booleans(),
    )
    def change_consent(
        self, key: _Key, elsewhere: bool, record: ConsentRecord, front_door: bool
    ) -> None:
        """Append a consent decision to a customer's history."""
        tenant, customer_id = self._where(key, elsewhere)
        at = self.clock.now()

        def change(side: _Side) -> object:
            if front_door:
                return side.crms[tenant].record_consent(
                    customer_id,
                    purpose=record.purpose,
                    channel=record.channel,
                    status=record.status,
                    source=record.source,
                    at=record.at,
                    method=record.method,
                    evidence=record.evidence,
                    double_opt_in=record.double_opt_in,
                )
            with side.uow(tenant) as uow:
                customer = uow.customers.get(customer_id)
                customer.record_consent(record, at=at)
                return _save(uow, customer)

        self._on_both(
            "change consent", f"recording consent of {customer_id!r} in {tenant!r}", change
        )

    # Interactions.

    @rule(
        target=recorded,
        key=customer_keys,
        elsewhere=_rarely(),
        template=strategies.interactions(),
        kind=_kinds(),
        minutes=st.none() | st.integers(-5, 5) | st.integers(-YEAR_MINUTES, 0),
        ref=_mostly(refs),
        euros=_euros(),
    )
    def record_interaction(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        kind: str | None,
        minutes: int | None,
        ref: str | None,
        euros: Money | None,
    ) -> MultipleResults[_Recorded]:
        """Append an interaction to the log; a taken id or reference must be refused alike.
        (Stages do not move and nothing is earned: the log is written to directly.)"""
        return self._record(key, elsewhere, template, kind, minutes, ref, euros, front_door=False)

    @rule(
        target=recorded,
        key=customer_keys,
        elsewhere=_rarely(),
        template=strategies.interactions(),
        kind=_kinds(),
        minutes=st.none() | st.integers(-5, 5) | st.integers(-YEAR_MINUTES, 0),
        ref=_mostly(refs),
        euros=_euros(),
    )
    def record_interaction_through_the_front_door(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        kind: str | None,
        minutes: int | None,
        ref: str | None,
        euros: Money | None,
    ) -> MultipleResults[_Recorded]:
        """Record an interaction with `CRM.record_interaction` (idempotent by reference); the
        progression rules then run for the customer and the customer's account, and the
        interaction earns its points (a purchase, mostly in EUR, by the money spent; a
        referred customer's first purchase rewards the referral)."""
        return self._record(key, elsewhere, template, kind, minutes, ref, euros, front_door=True)

    def _record(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        kind: str | None,
        minutes: int | None,
        ref: str | None,
        euros: Money | None,
        *,
        front_door: bool,
    ) -> MultipleResults[_Recorded]:
        # Often at the same instant as another interaction, so that the id breaks the tie;
        # often in the last year, so that the lifecycle rules' windows count it. A purchase
        # mostly spends EUR, so that it earns.
        tenant, customer_id = self._where(key, elsewhere)
        occurred_at = template.occurred_at
        if minutes is not None:
            occurred_at = self.clock.now() + timedelta(minutes=minutes)
        kind = template.kind if kind is None else kind
        amount = template.amount
        if kind == InteractionKind.PURCHASE and euros is not None:
            amount = euros
        interaction = attrs.evolve(
            template,
            customer_id=customer_id,
            occurred_at=occurred_at,
            external_ref=ref,
            kind=kind,
            amount=amount,
        )
        self._interaction_ids.add(interaction.id)

        def record(side: _Side) -> Interaction:
            if front_door:
                return _record_through(side.crms[tenant], interaction)
            with side.uow(tenant) as uow:
                uow.interactions.add(interaction)
                uow.commit()
            return interaction

        outcome = self._on_both(
            "record interaction" + (" (front door)" if front_door else ""),
            f"recording {interaction!r} in {tenant!r}",
            record,
        )
        if isinstance(outcome, _Raised):
            return multiple()
        self._log(tenant, outcome)
        return multiple((tenant, outcome))

    @rule(entry=recorded, new_id=_mostly(strategies.ids().map(InteractionId)))
    def replay_interaction(self, entry: _Recorded, new_id: InteractionId | None) -> None:
        """Append a stored interaction again, as it is or under a new id: a taken id or
        reference is refused with `IdempotencyConflict`, and the log still holds it once."""
        tenant, original = entry
        replay = original if new_id is None else attrs.evolve(original, id=new_id)
        self._replay(tenant, tenant, original, replay, front_door=False)

    @rule(entry=recorded, changed=st.booleans(), elsewhere=_rarely())
    def replay_interaction_through_the_front_door(
        self, entry: _Recorded, changed: bool, elsewhere: bool
    ) -> None:
        """Record a stored interaction's content again with `CRM.record_interaction`: with
        its reference, the stored one is returned (or, if the content changed,
        `IdempotencyConflict` raised) and the log still holds it once. In the other
        tenant, the reference is free."""
        home, original = entry
        replay = original
        if changed:
            replay = attrs.evolve(original, owner=None if original.owner else "carol")
        tenant = self._other(home) if elsewhere else home
        self._replay(home, tenant, original, replay, front_door=True)

    def _replay(
        self,
        home: TenantId,
        tenant: TenantId,
        original: Interaction,
        replay: Interaction,
        *,
        front_door: bool,
    ) -> None:
        self._interaction_ids.add(replay.id)

        def replay_it(side: _Side) -> Interaction:
            if front_door:
                return _record_through(side.crms[tenant], replay)
            with side.uow(tenant) as uow:
                uow.interactions.add(replay)
                uow.commit()
            return replay

        outcome = self._on_both(
            "replay interaction" + (" (front door)" if front_door else ""),
            f"recording {replay!r} again in {tenant!r}",
            replay_it,
        )
        if not isinstance(outcome, _Raised):
            self._log(tenant, outcome)
        ref = original.external_ref
        if ref is None or tenant != home:
            return
        if front_door and outcome == _Raised(NotFound, ""):
            pass  # the front door records only for a customer of the tenant
        elif front_door and original.same_content(replay):
            _agree("a replay through the front door", original, outcome)
        else:
            _agree("a replay", _Raised(IdempotencyConflict, ""), outcome)
        for side in (self.model, self.adapter):
            stored = [i for i in side.contents(home)[1] if i.external_ref == ref]
            _agree(f"the interactions with external_ref {ref!r}", [original], stored)

    # Units of work that end without a commit.

    @rule(
        tenant=st.sampled_from(TENANTS),
        customer_id=strategies.customer_ids(),
        template=_plain_customers(),
        email=st.none() | emails,
        key=st.none() | customer_keys,
        changes=_profile_changes(emails, external_keys, account_ids, keys=False),
        interaction=_plain_interactions(),
        ending=st.sampled_from(["leave", "raise", "rollback_then_commit"]),
    )
    def abandon_a_unit_of_work(
        self,
        tenant: TenantId,
        customer_id: CustomerId,
        template: Customer,
        email: EmailAddress | None,
        key: _Key | None,
        changes: dict[str, Any],
        interaction: Interaction,
        ending: str,
    ) -> None:
        """Register, update, enter a lifecycle and record in one unit of work, then leave it
        without a commit, raise inside it, or roll back and commit something else: only that
        is stored."""
        at = self.clock.now()
        later = attrs.evolve(
            interaction, id=InteractionId(f"{interaction.id}-2"), external_ref=None
        )
        self._customer_ids.add(customer_id)
        self._interaction_ids.update((interaction.id, later.id))

        def work(side: _Side) -> dict[str, object]:
            customer = attrs.evolve(template, id=customer_id, email=email, version=0)
            seen: dict[str, object] = {}
            try:
                with side.uow(tenant) as uow:
                    uow.customers.add(customer)
                    existing = None if key is None else uow.customers.find(key[1])
                    if existing is not None:
                        existing.update_profile(at=at, **changes)
                        uow.customers.update(existing)
                    uow.interactions.add(interaction)
                    model = CUSTOMER_LIFECYCLE
                    if uow.stage_histories.find(model.name, customer_id) is None:
                        entered = StageHistory.enter(model, customer_id, at=at, reason="abandoned")
                        uow.stage_histories.add(entered)
                    seen["before the end"] = _own_writes(uow, customer, interaction)
                    if ending == "raise":
                        raise _Abandon
                    if ending == "rollback_then_commit":
                        uow.rollback()
                        seen["after rollback"] = _own_writes(uow, customer, interaction)
                        uow.interactions.add(later)
                        uow.commit()
            except _Abandon:
                pass
            return seen

        sides = (self.model, self.adapter)
        befores = [side.contents(tenant) for side in sides]
        outcome = self._on_both(
            f"abandon ({ending})", f"abandoning a unit of work ({ending}) in {tenant!r}", work
        )
        for side, (customers, interactions, histories) in zip(sides, befores, strict=True):
            if ending == "rollback_then_commit" and not isinstance(outcome, _Raised):
                interactions = sorted([*interactions, later], key=lambda i: (i.occurred_at, i.id))
            _agree(
                f"what is stored after {ending}",
                (customers, interactions, histories),
                side.contents(tenant),
            )

    # Accounts.

    @rule(
        target=account_keys,
        tenant=st.sampled_from(TENANTS),
        account_id=account_ids,
        name=st.sampled_from(["Acme", "Initech", "Globex"]),
        domain=st.none() | domains,
        size=st.none() | st.sampled_from(CompanySize),
        front_door=st.booleans(),
    )
    def register_account(
        self,
        tenant: TenantId,
        account_id: AccountId,
        name: str,
        domain: str | None,
        size: CompanySize | None,
        front_door: bool,
    ) -> MultipleResults[_AccountKey]:
        """Register an account, directly or through the `CRM` (which enters it into the deal
        pipeline); a taken id or web domain must be refused alike."""
        at = self.clock.now()

        def register(side: _Side) -> Account:
            if front_door:
                return side.crms[tenant].register_account(
                    account_id=account_id, name=name, domain=domain, size=size
                )
            account = Account.register(
                account_id,
                name=name,
                at=at,
                domain=domain,
                size=size,
            )
            with side.uow(tenant) as uow:
                uow.accounts.add(account)
                uow.commit()
            return account

        outcome = self._on_both(
            "register account", f"registering account {account_id!r} in {tenant!r}", register
        )
        return multiple() if isinstance(outcome, _Raised) else multiple((tenant, account_id))

    @rule(
        key=account_keys,
        elsewhere=_rarely(),
        changes=st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(["Acme", "Initech", "Globex"]),
                "domain": st.none() | domains,
                "industry": st.none() | st.sampled_from(["retail", "software"]),
            },
        ),
    )
    def update_account(self, key: _AccountKey, elsewhere: bool, changes: dict[str, Any]) -> None:
        """Change an account (a taken domain must be refused alike)."""
        home, account_id = key
        tenant = self._other(home) if elsewhere else home
        at = self.clock.now()

        def update(side: _Side) -> Account:
            with side.uow(tenant) as uow:
                account = uow.accounts.get(account_id)
                account.update(at=at, **changes)
                uow.accounts.update(account)
                uow.commit()
            return account

        self._on_both("update account", f"updating account {account_id!r} in {tenant!r}", update)

    # Lifecycle stages.

    @rule(
        key=customer_keys,
        elsewhere=_rarely(),
        stranger=_sometimes(strategies.customer_ids()),
        model=st.sampled_from(CUSTOMER_MODELS),
        legal=_usually(),
        pick=st.integers(0, 9),
        minutes=_sometimes(st.integers(-5, 5)),
        expected_version=_sometimes(st.integers(0, 3)),
        reason=_names(),
        actor=st.none() | st.sampled_from(["alice", "bob"]),
    )
    def move_stage(
        self,
        key: _Key,
        elsewhere: bool,
        stranger: CustomerId | None,
        model: LifecycleModel,
        legal: bool,
        pick: int,
        minutes: int | None,
        expected_version: int | None,
        reason: str | None,
        actor: str | None,
    ) -> None:
        """Move a customer by hand with `CRM.move_stage`: mostly to a stage the model allows
        next (whose guard may fail), else to any stage or one of no model; sometimes a
        customer of the other tenant or none at all, sometimes at an earlier instant than
        the last change or with a stale expected version."""
        tenant, customer_id = self._where(key, elsewhere)
        if stranger is not None:
            customer_id = stranger
        self._move(
            model, tenant, customer_id, legal, pick, minutes, expected_version, reason, actor
        )

    @rule(
        key=account_keys,
        elsewhere=_rarely(),
        action=st.sampled_from(["move", "enter", "evaluate", "move"]),
        legal=_usually(),
        pick=st.integers(0, 9),
        minutes=_sometimes(st.integers(-5, 5)),
        expected_version=_sometimes(st.integers(0, 3)),
    )
    def move_account_through_the_pipeline(
        self,
        key: _AccountKey,
        elsewhere: bool,
        action: str,
        legal: bool,
        pick: int,
        minutes: int | None,
        expected_version: int | None,
    ) -> None:
        """Move an account in the deal pipeline (its guards look at the account's domain and
        its contacts' meetings; ``won`` is final), put it in the pipeline at some stage, or
        apply the pipeline's rules to it."""
        home, account_id = key
        tenant = self._other(home) if elsewhere else home
        if action == "move":
            self._move(
                DEAL_PIPELINE,
                tenant,
                account_id,
                legal,
                pick,
                minutes,
                expected_version,
                None,
                None,
            )
        elif action == "enter":
            self._enter(DEAL_PIPELINE, tenant, account_id, pick, minutes)
        else:
            self._evaluate(SubjectKind.ACCOUNT, tenant, account_id)

    @rule(
        key=customer_keys,
        elsewhere=_rarely(),
        model=st.sampled_from(CUSTOMER_MODELS),
        pick=st.integers(0, 11),
        minutes=_sometimes(st.integers(-5, 5)),
    )
    def enter_lifecycle(
        self,
        key: _Key,
        elsewhere: bool,
        model: LifecycleModel,
        pick: int,
        minutes: int | None,
    ) -> None:
        """Put a customer into a model with `CRM.enter_lifecycle`, at its initial stage or
        another (sometimes one of no model); a customer already in it is refused alike."""
        tenant, customer_id = self._where(key, elsewhere)
        self._enter(model, tenant, customer_id, pick, minutes)

    @rule(key=customer_keys, elsewhere=_rarely())
    def evaluate_progression(self, key: _Key, elsewhere: bool) -> None:
        """Apply every customer model's rules to one customer as of now with
        `CRM.evaluate_progression`; evaluating again at the same instant must move nothing."""
        tenant, customer_id = self._where(key, elsewhere)
        self._evaluate(SubjectKind.CUSTOMER, tenant, customer_id)

    @rule(
        tenant=st.sampled_from(TENANTS),
        subject=st.sampled_from(SubjectKind),
        days=st.sampled_from([0, 0, 0, -1, 200]),
        batch_size=st.sampled_from([1, 2, 500]),
        twice=st.booleans(),
    )
    def reevaluate_all(
        self, tenant: TenantId, subject: SubjectKind, days: int, batch_size: int, twice: bool
    ) -> None:
        """Re-evaluate every customer (or account) of a tenant with `CRM.reevaluate_all`, as
        of now (or a day ago, or 200 days ahead), page by page; those with no history enter
        the models first. Run twice at the same ``as_of``, the second run must report no
        move and no entry, publish nothing and leave what is stored as it was."""
        as_of = self.clock.now() + timedelta(days=days)

        def reevaluate(side: _Side) -> tuple[ProgressionReport, ProgressionReport | None, bool]:
            crm = side.crms[tenant]
            first = crm.reevaluate_all(as_of=as_of, subject=subject, batch_size=batch_size)
            if not twice:
                return first, None, True
            stored, published = side.contents(tenant), len(side.published)
            second = crm.reevaluate_all(as_of=as_of, subject=subject, batch_size=batch_size)
            unchanged = side.contents(tenant) == stored and len(side.published) == published
            return first, second, unchanged

        outcome = self._on_both(
            "reevaluate all" + (" twice" if twice else ""),
            f"re-evaluating every {subject} of {tenant!r} as of {as_of}",
            reevaluate,
        )
        if isinstance(outcome, _Raised) or outcome[1] is None:
            return
        first, second, unchanged = outcome
        _check(
            "a second re-evaluation at the same as_of",
            attrs.evolve(first, entered=0, moved=0, changes=()),
            second,
        )
        _check("what is stored after a second re-evaluation at the same as_of", True, unchanged)

    @rule(
        key=customer_keys,
        model=st.sampled_from(CUSTOMER_MODELS),
        theirs=st.integers(0, 9),
        mine=st.integers(0, 9),
    )
    def move_a_stale_history(
        self, key: _Key, model: LifecycleModel, theirs: int, mine: int
    ) -> None:
        """Load a customer's history, let `CRM.move_stage` move it meanwhile, then move and
        save the stale copy: it must raise `ConcurrencyConflict` on both sides and change
        nothing."""
        tenant, customer_id = key
        at = self.clock.now()
        their_stage = self._target(model, tenant, customer_id, legal=True, pick=theirs)
        my_stage = self._target(model, tenant, customer_id, legal=True, pick=mine)

        def race(side: _Side) -> tuple[int, object, object, object, object] | None:
            # Read-only across the other move, saved in a later unit (as a stale update).
            with side.reader(tenant) as reader:
                stale = reader.stage_histories.find(model.name, customer_id)
                if stale is None:
                    return None
                base = stale.version
                facts = facts_of(reader, model.subject, customer_id, at)
                newer = _attempt(
                    functools.partial(
                        side.crms[tenant].move_stage, customer_id, their_stage, model=model.name
                    )
                )
            move = functools.partial(stale.move, model, my_stage, at=at, facts=facts)
            moved = _attempt(move)
            late: object = moved
            if not isinstance(moved, _Raised):
                with side.uow(tenant) as first:
                    late = _attempt(functools.partial(_save_history, first, stale))
            with side.reader(tenant) as uow:
                return base, newer, moved, late, uow.stage_histories.find(model.name, customer_id)

        outcome = self._on_both(
            "stale stage move", f"racing a stale move of {customer_id!r} in {model.name}", race
        )
        if isinstance(outcome, _Raised) or outcome is None:
            return
        base, newer, moved, late, stored = outcome
        if isinstance(newer, StageHistory) and newer.version > base:
            # The stale copy's own move may be refused first (illegal, guarded, too early).
            refused = late if isinstance(moved, _Raised) else _Raised(ConcurrencyConflict, "")
            _check("saving a stale stage history", refused, late)
            _check("the history after a refused stale move", newer, stored)

    def _target(
        self, model: LifecycleModel, tenant: TenantId, subject_id: str, *, legal: bool, pick: int
    ) -> str:
        """A stage to move a subject to: with ``legal``, one the model allows next from the
        subject's stage (as the model side holds it), if any; else any stage, or none."""
        with self.model.reader(tenant) as uow:
            found = uow.stage_histories.find(model.name, subject_id, subject_kind=model.subject)
        current = model.initial if found is None else found.current
        options = model.allowed_from(current) if legal else ()
        if not options:
            options = (*model.stage_names, NOWHERE)
        return options[pick % len(options)]

    def _at(self, minutes: int | None) -> datetime | None:
        return None if minutes is None else self.clock.now() + timedelta(minutes=minutes)

    def _move(
        self,
        model: LifecycleModel,
        tenant: TenantId,
        subject_id: str,
        legal: bool,
        pick: int,
        minutes: int | None,
        expected_version: int | None,
        reason: str | None,
        actor: str | None,
    ) -> None:
        to = self._target(model, tenant, subject_id, legal=legal, pick=pick)
        at = self._at(minutes)

        def move(side: _Side) -> StageHistory:
            return side.crms[tenant].move_stage(
                subject_id,
                to,
                model=model.name,
                reason=reason,
                actor=actor,
                at=at,
                expected_version=expected_version,
            )

        outcome = self._on_both(
            f"move stage ({model.subject})",
            f"moving {subject_id!r} of {tenant!r} to {to!r} in {model.name}",
            move,
        )
        if not isinstance(outcome, _Raised):
            _check(f"the stage of {subject_id!r} after moving it to {to!r}", to, outcome.current)

    def _enter(
        self,
        model: LifecycleModel,
        tenant: TenantId,
        subject_id: str,
        pick: int,
        minutes: int | None,
    ) -> None:
        stages = (None, *model.stage_names, NOWHERE)  # None: the initial stage
        stage = stages[pick % len(stages)]
        at = self._at(minutes)

        def enter(side: _Side) -> StageHistory:
            return side.crms[tenant].enter_lifecycle(
                subject_id, model=model.name, stage=stage, at=at, reason="imported"
            )

        self._on_both(
            f"enter lifecycle ({model.subject})",
            f"putting {subject_id!r} of {tenant!r} into {model.name} at {stage!r}",
            enter,
        )

    def _evaluate(self, subject: SubjectKind, tenant: TenantId, subject_id: str) -> None:
        as_of = self.clock.now()

        def evaluate(side: _Side) -> tuple[object, object]:
            crm = side.crms[tenant]
            first = crm.evaluate_progression(subject_id, subject=subject)
            second = crm.evaluate_progression(subject_id, subject=subject, as_of=as_of)
            return first, second

        outcome = self._on_both(
            f"evaluate progression ({subject})",
            f"evaluating the rules for {subject} {subject_id!r} of {tenant!r}",
            evaluate,
        )
        if not isinstance(outcome, _Raised):
            _check(f"evaluating {subject_id!r} again at the same as_of", [], outcome[1])

    # Loyalty.

    @rule(
        target=recorded,
        key=_members(customer_keys),
        kind=st.sampled_from(
            [
                *([InteractionKind.PURCHASE.value] * 3),
                *LOYALTY_KINDS[1:],
                InteractionKind.REFERRAL.value,
            ]
        ),
        cents=st.integers(0, 30_000),
        channel=st.sampled_from([Channel.WEB, Channel.APP, Channel.IN_PERSON]),
        days=st.none() | st.integers(-10, 0),
        ref=_sometimes(refs),
    )
    def earn_points(
        self,
        key: _Key,
        kind: str,
        cents: int,
        channel: Channel,
        days: int | None,
        ref: str | None,
    ) -> MultipleResults[_Recorded]:
        """Record, through the front door, an interaction that earns: mostly a purchase in
        EUR, else a review, a sign-up or a referral; now or up to 10 days ago (so that its
        points may be available at once), on the web, in the app (which doubles them) or in
        person; for a customer, or for one of `MEMBERS` (who joins first, if need be).
        Drawn often, so that members have points to redeem, refund and expire."""
        tenant, customer_id = key
        if customer_id in MEMBERS and key not in self._joined:
            self._join(tenant, customer_id)
        now = self.clock.now()
        occurred_at = now if days is None else now + timedelta(days=days)
        amount = Money(cents, "EUR") if kind == InteractionKind.PURCHASE else None

        def earn(side: _Side) -> Interaction:
            return side.crms[tenant].record_interaction(
                customer_id,
                kind=kind,
                channel=channel,
                occurred_at=occurred_at,
                amount=amount,
                external_ref=ref,
            )

        outcome = self._on_both(
            f"earn points ({kind})",
            f"recording a {kind} of {customer_id!r} in {tenant!r} for {amount}",
            earn,
        )
        if isinstance(outcome, _Raised):
            return multiple()
        self._log(tenant, outcome)
        return multiple((tenant, outcome))

    @precondition(lambda self: any(i.kind == InteractionKind.PURCHASE for _, i in self._logged))
    @rule(
        target=recorded,
        pick=st.integers(0, 63),
        named=st.sampled_from(REFUND_TARGETS),
        quarters=st.none() | st.integers(1, 4),
        elsewhere=_rarely(),
        ref=_sometimes(refs),
    )
    def refund_a_purchase(
        self, pick: int, named: str, quarters: int | None, elsewhere: bool, ref: str | None
    ) -> MultipleResults[_Recorded]:
        """Record a refund of a stored purchase with `CRM.record_interaction`, naming it with
        ``refund_of`` by id or external reference: for a quarter to all of its amount, or
        (without an amount) for the rest; it reverses what the purchase earned. Sometimes it
        names a purchase of another customer, an interaction that is no purchase or nothing
        stored (refused alike), names no purchase, or is recorded in the other tenant.
        Refunded in full, the purchase has taken back exactly what it earned."""
        purchases = [(t, i) for t, i in self._logged if i.kind == InteractionKind.PURCHASE]
        home, purchase = purchases[pick % len(purchases)]
        customer_id = purchase.customer_id
        refund_of: str | None = None
        if named == "id":
            refund_of = purchase.id
        elif named == "ref":
            refund_of = purchase.external_ref or purchase.id
        elif named in ("other", "not_a_purchase", "unknown"):
            refund_of = self._refund_target(home, purchase, named, pick)
        amount = None
        if quarters is not None and purchase.amount is not None:
            amount = Money(purchase.amount.minor * quarters // 4, purchase.amount.currency)
        tenant = self._other(home) if elsewhere else home

        def refund(side: _Side) -> Interaction:
            return side.crms[tenant].record_interaction(
                customer_id,
                kind=InteractionKind.REFUND,
                channel=purchase.channel,
                amount=amount,
                external_ref=ref,
                refund_of=refund_of,
            )

        outcome = self._on_both(
            f"refund a purchase (by {named})",
            f"refunding {amount} of {purchase!r} in {tenant!r}, naming {refund_of!r}",
            refund,
        )
        if isinstance(outcome, _Raised):
            return multiple()
        self._log(tenant, outcome)
        if named in ("id", "ref") and quarters in (None, 4) and ref is None and not elsewhere:
            self._check_refunded_in_full(tenant, outcome, purchase)
        return multiple((tenant, outcome))

    def _refund_target(self, tenant: TenantId, purchase: Interaction, named: str, pick: int) -> str:
        """What a refund of ``purchase`` that must be refused names: another customer's
        purchase, an interaction of the customer that is no purchase, or nothing stored."""
        if named == "other":
            found = [
                i
                for t, i in self._logged
                if t == tenant
                and i.kind == InteractionKind.PURCHASE
                and i.customer_id != purchase.customer_id
            ]
        elif named == "not_a_purchase":
            found = [
                i
                for t, i in self._logged
                if t == tenant
                and i.kind != InteractionKind.PURCHASE
                and i.customer_id == purchase.customer_id
            ]
        else:
            found = []
        return found[pick % len(found)].id if found else NO_SUCH_PURCHASE

    def _check_refunded_in_full(
        self, tenant: TenantId, refund: Interaction, purchase: Interaction
    ) -> None:
        """After a refund of the whole (or the rest of the) purchase, every refund of it took
        back, or forgave as already spent, exactly what it earned (read on the adapter)."""
        ledger = self.adapter.readers[tenant].points_ledger(refund.customer_id)
        reversed_ = [e for e in ledger.entries if e.interaction_id == refund.id]
        purchase_id = reversed_[0].reference if reversed_ else purchase.id
        earned = sum(
            e.points
            for e in ledger.entries
            if e.kind is EntryKind.EARN and e.interaction_id == purchase_id
        )
        taken = sum(
            e.points + e.shortfall
            for e in ledger.entries
            if e.kind is EntryKind.REVERSE and e.reference == purchase_id
        )
        _check(
            f"the points refunds of {purchase_id!r} took back or forgave, after refunding all of "
            f"it (with {refund!r})",
            earned,
            taken,
        )

    @rule(
        key=_members(customer_keys),
        elsewhere=_rarely(),
        how=st.sampled_from(["part", "part", "all", "beyond", "reward", "invalid"]),
        share=st.integers(1, 4),
        token=_sometimes(st.sampled_from(POINTS_KEYS)),
    )
    def redeem_points(
        self, key: _Key, elsewhere: bool, how: str, share: int, token: str | None
    ) -> None:
        """Redeem points with `CRM.redeem_points`: a share of the balance (the model's, now)
        or all of it, rounded to the programme's step; more than the balance (which raises
        `InsufficientPoints` and writes nothing); the ``coffee`` reward; or an amount off the
        step, or a reward the catalogue lacks. Sometimes with a key from a small pool: a
        replay returns the first redemption, or conflicts if it asked for something else."""
        tenant, customer_id = self._where(self._member(key), elsewhere)
        available = self._available(tenant, customer_id)
        step, minimum = LOYALTY.redemption.step, LOYALTY.redemption.minimum
        points: int | None = None
        reward: str | None = None
        if how == "part":
            points = max(minimum, available * share // 4 // step * step)
        elif how == "all":
            points = max(minimum, available // step * step)
        elif how == "beyond":
            points = max(minimum, (available // step + 1) * step)
        elif how == "reward":
            reward = "coffee"
        elif share % 2:
            points = minimum + step * share + 1
        else:
            reward = "caviar"
        before = self.adapter.points(tenant)

        def redeem(side: _Side) -> object:
            return side.crms[tenant].redeem_points(
                customer_id, points=points, reward=reward, key=token
            )

        outcome = self._on_both(
            f"redeem points ({how})",
            f"redeeming {points} points (reward {reward!r}, key {token!r}) of {customer_id!r} "
            f"in {tenant!r}, whose balance is {available}",
            redeem,
        )
        if how == "beyond" and token is None and outcome != _Raised(NotFound, ""):
            _check("redeeming more than the balance", _Raised(InsufficientPoints, ""), outcome)
        if outcome == _Raised(InsufficientPoints, ""):
            _check("what is stored after a refused redemption", before, self.adapter.points(tenant))

    @rule(
        key=_members(customer_keys),
        elsewhere=_rarely(),
        points=st.integers(-40, 60),
        reason=st.sampled_from(["goodwill", "correction", "goodwill", "correction", " "]),
        token=_sometimes(st.sampled_from(POINTS_KEYS)),
    )
    def adjust_points(
        self, key: _Key, elsewhere: bool, points: int, reason: str, token: str | None
    ) -> None:
        """Correct a balance by hand with `CRM.adjust_points`: up (a lot available at once,
        that never expires) or down (beyond the balance: `InsufficientPoints`); zero points
        or a blank reason are refused alike. Sometimes with a key from a small pool."""
        tenant, customer_id = self._where(self._member(key), elsewhere)

        def adjust(side: _Side) -> object:
            return side.crms[tenant].adjust_points(customer_id, points, reason=reason, key=token)

        self._on_both(
            "adjust points",
            f"adjusting the points of {customer_id!r} in {tenant!r} by {points} ({reason!r}, "
            f"key {token!r})",
            adjust,
        )

    @rule(
        tenant=st.sampled_from(TENANTS),
        days=st.sampled_from([0, 0, 0, -1, -4]),
        batch_size=st.sampled_from([1, 2, 500]),
        twice=st.booleans(),
    )
    def run_points_job(self, tenant: TenantId, days: int, batch_size: int, twice: bool) -> None:
        """Mature and expire points with `CRM.run_points_job`, as of now or some days ago
        (members with later entries are skipped), page by page. Run twice at the same
        ``as_of``, the second run must report nothing matured, expired or changed, publish
        nothing and leave what is stored as it was."""
        self._run_job(tenant, self.clock.now() + timedelta(days=days), batch_size, twice=twice)

    def _run_job(self, tenant: TenantId, as_of: datetime, batch_size: int, *, twice: bool) -> None:
        def run(side: _Side) -> tuple[PointsJobReport, PointsJobReport | None, bool]:
            crm = side.crms[tenant]
            first = crm.run_points_job(as_of=as_of, batch_size=batch_size)
            if not twice:
                return first, None, True
            stored = side.points(tenant)
            second = crm.run_points_job(as_of=as_of, batch_size=batch_size)
            return first, second, side.points(tenant) == stored

        outcome = self._on_both(
            "run the points job" + (" twice" if twice else ""),
            f"running the points job of {tenant!r} as of {as_of}",
            run,
        )
        self._last_job[tenant] = as_of
        if isinstance(outcome, _Raised) or outcome[1] is None:
            return
        first, second, unchanged = outcome
        _check(
            "a second run of the points job at the same as_of",
            attrs.evolve(first, members=0, matured=0, expired=0),
            second,
        )
        _check("what is stored after a second run of the points job", True, unchanged)

    @rule(
        target=customer_keys,
        referrer=_members(customer_keys),
        referee=customer_keys,
        which=st.sampled_from(["newcomer", "newcomer", "another", "themselves", "again"]),
        pick=st.integers(0, 15),
        code=st.none() | st.sampled_from(["FRIEND10", "spring-24"]),
    )
    def refer_customer(
        self, referrer: _Key, referee: _Key, which: str, pick: int, code: str | None
    ) -> MultipleResults[_Key]:
        """Record a referral with `CRM.refer_customer`: of a newcomer the referrer brought
        (registered first through the front door, from a pool of three ids, so sometimes
        already there), of another customer (of the tenant, mostly: the pool of ids is
        shared), of the referrer themselves, or of a customer already referred; the last two
        raise `ReferralRefused` alike. The referee's next purchase through the front door
        qualifies the referral and rewards both."""
        referrer = self._member(referrer)
        tenant, referrer_id = referrer
        referee_id = referee[1]
        referred = self._referees.get(tenant, [])
        newcomer: MultipleResults[_Key] = multiple()
        if which == "newcomer":
            referee_id = CustomerId(f"friend-{pick % 3}")
            newcomer = self._register_newcomer(tenant, referee_id)
        elif which == "themselves":
            referee_id = referrer_id
        elif which == "again" and referred:
            referee_id = referred[pick % len(referred)]

        self._parties.update((referrer_id, referee_id))

        def refer(side: _Side) -> Referral:
            return side.crms[tenant].refer_customer(referrer_id, referee_id, code=code)

        outcome = self._on_both(
            f"refer a customer ({which})",
            f"recording that {referrer_id!r} referred {referee_id!r} in {tenant!r}",
            refer,
        )
        if not isinstance(outcome, _Raised):
            self._referral_ids.add(outcome.id)
            self._referees.setdefault(tenant, []).append(referee_id)
        joined = referrer_id not in MEMBERS or referrer in self._joined
        if joined and (which == "themselves" or (which == "again" and referred)):
            # Both are customers of the tenant: only the referral itself can be refused.
            _check(f"referring {referee_id!r} ({which})", _Raised(ReferralRefused, ""), outcome)
        return newcomer

    def _register_newcomer(
        self, tenant: TenantId, customer_id: CustomerId
    ) -> MultipleResults[_Key]:
        """Register a referred newcomer through the front door (it may be there already)."""
        self._customer_ids.add(customer_id)

        def register(side: _Side) -> Customer:
            return side.crms[tenant].register_customer(customer_id=customer_id, given_name="Friend")

        outcome = self._on_both(
            "register a referred customer",
            f"registering the newcomer {customer_id!r} in {tenant!r}",
            register,
        )
        return multiple() if isinstance(outcome, _Raised) else multiple((tenant, customer_id))

    def _member(self, key: _Key) -> _Key:
        """``key``, unless it is one of `MEMBERS` that has not joined while another of the
        tenant has: then that one (so that points are mostly redeemed, adjusted and referred
        by someone there)."""
        tenant, customer_id = key
        joined = sorted(k for k in self._joined if k[0] == tenant)
        if customer_id in MEMBERS and key not in self._joined and joined:
            return joined[0]
        return key

    def _join(self, tenant: TenantId, customer_id: CustomerId) -> None:
        """Register one of `MEMBERS` through the front door."""
        self._customer_ids.add(customer_id)

        def join(side: _Side) -> Customer:
            return side.crms[tenant].register_customer(customer_id=customer_id, given_name="Max")

        outcome = self._on_both(
            "a member joins", f"registering the member {customer_id!r} in {tenant!r}", join
        )
        if not isinstance(outcome, _Raised) or outcome.error is DuplicateCustomer:
            self._joined.add((tenant, customer_id))

    def _available(self, tenant: TenantId, customer_id: CustomerId) -> int:
        """The customer's points available now, as the model holds them (0 if it has none)."""
        balance = _attempt(
            functools.partial(self.model.readers[tenant].points_balance, customer_id)
        )
        return 0 if isinstance(balance, _Raised) else balance.available

    # Time.

    @rule(
        days=st.integers(0, 90) | st.integers(0, 6),
        seconds=st.integers(1, 24 * 3600),
        nightly=st.booleans(),
    )
    def let_time_pass(self, days: int, seconds: int, nightly: bool) -> None:
        """Move the shared clock forward: up to 90 days, or up to a week (so that pending
        points mature, some to expire later); then, as a scheduler would, sometimes run the
        points job of each tenant as of the new instant. (Days are drawn apart from seconds,
        as Hypothesis favours small integers: seconds up to 90 days would mostly stay under
        one day.)"""
        self.clock.advance(timedelta(days=days, seconds=seconds))
        if nightly:
            for tenant in TENANTS:
                self._run_job(tenant, self.clock.now(), 500, twice=False)

    # The comparison.

    @invariant()
    def every_read_agrees(self) -> None:
        """Everything either side can be asked returns the same answer on both.

        Every read is compared in the tenants the last step worked on; in the others, what
        is stored (so that a write that leaks into another tenant is caught at once). Then
        every stage history the adapter holds must be one that can be (see
        `_check_histories`), and every stage change stored must have been announced by
        exactly one `StageChanged` event, and every member's points must add up (see
        `_check_points`): were the model to agree with the adapter on something that
        cannot be, the domain or the use cases are at fault.
        """
        touched = self.model.touched | self.adapter.touched
        stored: list[StageHistory] = []
        for tenant in TENANTS:
            every = tenant in touched
            model = self._reads(self.model, tenant, every=every)
            model.update(self._points_reads(self.model, tenant, every=every))
            adapter = self._reads(self.adapter, tenant, every=every)
            adapter.update(self._points_reads(self.adapter, tenant, every=every))
            for what, answer in model.items():
                _agree(f"{what} in tenant {tenant!r}", answer, adapter.get(what))
            self._check_histories(tenant, adapter)
            for lifecycle in LIFECYCLES:
                key = f"stage_histories.stream({lifecycle.name!r})"
                stored.extend(cast("list[StageHistory]", adapter[key]))
            balances = cast("dict[CustomerId, PointsBalance]", adapter["stream_points_balances()"])
            self._check_points(tenant, list(balances.values()), every=every)
        _agree("the events published", self.model.published, self.adapter.published)
        _check_announced(stored, self.adapter.published)
        self.model.touched.clear()
        self.adapter.touched.clear()

    def _reads(self, side: _Side, tenant: TenantId, *, every: bool) -> dict[str, object]:
        with side.reader(tenant) as uow:
            customers, interactions, accounts = uow.customers, uow.interactions, uow.accounts
            reads: dict[str, object] = {
                "customers.count()": customers.count(),
                "customers.stream()": list(customers.stream(batch_size=2)),
                "interactions.count()": interactions.count(),
                "interactions.stream()": list(interactions.stream(batch_size=2)),
                "accounts.stream()": list(accounts.stream(batch_size=2)),
            }
            histories = uow.stage_histories
            occupied: dict[str, list[str]] = {}
            for model in LIFECYCLES:
                streamed = list(histories.stream(model.name))
                counts = histories.count_by_stage(model.name)
                reads[f"stage_histories.stream({model.name!r})"] = streamed
                reads[f"stage_histories.count_by_stage({model.name!r})"] = counts
                occupied[model.name] = [s for s in model.stage_names if counts.get(s)]
            if not every:
                return reads
            reads.update(self._history_reads(uow, occupied))
            reads["customers.list()"] = _pages(customers.list, limit=3)
            reads["accounts.list()"] = _pages(accounts.list, limit=2)
            for tag in TAGS:
                reads[f"customers.list(tag={tag!r})"] = _pages(customers.list, tag=tag, limit=2)
            for account_id in self._account_ids:
                reads[f"customers.list(account_id={account_id!r})"] = _pages(
                    customers.list, account_id=account_id
                )
                reads[f"accounts.find({account_id!r})"] = accounts.find(account_id)
            for domain in self._domains:
                reads[f"accounts.find_by_domain({domain!r})"] = accounts.find_by_domain(domain)
            for email in self._emails:
                reads[f"customers.find_by_email({email})"] = customers.find_by_email(email)
            for source, ref in self._external_keys:
                reads[f"customers.find_by_external_id({source!r}, {ref!r})"] = (
                    customers.find_by_external_id(source, ref)
                )
            for ref in self._refs:
                reads[f"interactions.find_by_external_ref({ref!r})"] = (
                    interactions.find_by_external_ref(ref)
                )
            for interaction_id in sorted(self._interaction_ids):
                reads[f"interactions.get({interaction_id!r})"] = _got(
                    interactions.get, interaction_id
                )
            for customer_id in sorted(self._customer_ids):
                reads[f"customers.get({customer_id!r})"] = _got(customers.get, customer_id)
                reads.update(self._timelines(uow, customer_id))
        return reads

    def _points_reads(self, side: _Side, tenant: TenantId, *, every: bool) -> dict[str, object]:
        """The loyalty reads, through the side's reading `CRM`: every stored balance (keyed
        by member; each side must stream them in customer id order); with ``every``, each
        customer's balance now, each member's ledger (its statement compared line by line,
        entry field by field, and its tier now: what `CRM.points_statement` and
        `CRM.loyalty_tier` derive from it), the referrals of each customer a referral was
        asked for, and every referral by id. (The ledger is read once per member, and
        referrals only for those concerned, to keep every step cheap on SQL backends.)"""
        crm = side.readers[tenant]
        balances = list(crm.stream_points_balances(batch_size=2))
        members = [balance.customer_id for balance in balances]
        _check(
            f"the order of stream_points_balances() in tenant {tenant!r}", sorted(members), members
        )
        reads: dict[str, object] = {
            "stream_points_balances()": {balance.customer_id: balance for balance in balances}
        }
        if not every:
            return reads
        now = self.clock.now()
        for customer_id in sorted(self._customer_ids):
            reads[f"points_balance({customer_id!r})"] = _got(crm.points_balance, customer_id)
        for member in members:
            ledger = crm.points_ledger(member)
            reads[f"points_statement({member!r})"] = ledger.statement()
            reads[f"loyalty_tier({member!r})"] = ledger.tier(now)
        for customer_id in sorted(self._parties):
            reads[f"referral_of({customer_id!r})"] = _got(crm.referral_of, customer_id)
            reads[f"referrals_made({customer_id!r})"] = _got(crm.referrals_made, customer_id)
        for referral_id in sorted(self._referral_ids):
            reads[f"get_referral({referral_id!r})"] = _got(crm.get_referral, referral_id)
        return reads

    def _check_points(
        self, tenant: TenantId, balances: list[PointsBalance], *, every: bool
    ) -> None:
        """The points invariants, on the adapter, for every member of ``tenant`` (checked
        again once the tenant is worked on or the clock moved): nothing is negative; every
        point is accounted for (`LedgerState`'s totals balance) now and at an instant in the
        past; the balance read now, and the stored one while nothing fell due, are what
        `CRM.points_state` adds up to now. Then, once the tenant is worked on, relaunching
        the points job at the last run's ``as_of`` matures, expires and stores nothing."""
        now = self.clock.now()
        if not every and self._points_checked.get(tenant) == now:
            return
        self._points_checked[tenant] = now
        crm = self.adapter.readers[tenant]
        for stored in balances:
            member = stored.customer_id
            what = f"the points of {member!r} in tenant {tenant!r}"
            state = crm.points_state(member)
            _check_totals(f"{what} now", state)
            read = crm.points_balance(member)
            figures = (state.available, state.pending)
            read_now = (read.available, read.pending)
            _check(f"{what}: points_balance() now, against points_state()", figures, read_now)
            if stored.settled_at(now):
                kept = (stored.available, stored.pending)
                _check(f"{what}: the stored balance, nothing having fallen due", figures, kept)
            if stored.last_at is not None:
                past = START + (stored.last_at - START) / 2
                _check_totals(f"{what} at {past}", crm.points_state(member, as_of=past))
        as_of = self._last_job.get(tenant)
        if as_of is None or not every:
            return
        before = self.adapter.points(tenant)
        report = crm.run_points_job(as_of=as_of)
        _check(
            f"relaunching the points job of {tenant!r} at the last run's as_of {as_of}: members "
            "changed, points matured, points expired",
            (0, 0, 0),
            (report.members, report.matured, report.expired),
        )
        _check(
            f"what is stored after relaunching the points job of {tenant!r} at {as_of}",
            before,
            self.adapter.points(tenant),
        )

    def _history_reads(
        self, uow: UnitOfWork, occupied: Mapping[str, list[str]]
    ) -> Iterator[tuple[str, object]]:
        """The stage histories read every way: in small batches, by stage (each stage the
        side counts someone in, and the initial one), and by subject.

        (Were the sides to count different stages, the counts disagree first.)"""
        histories = uow.stage_histories
        for model in LIFECYCLES:
            name = model.name
            yield (
                f"stage_histories.stream({name!r}, batch_size=2)",
                list(histories.stream(name, batch_size=2)),
            )
            stages = dict.fromkeys([model.initial, *occupied[name]])
            for stage in stages:
                yield (
                    f"stage_histories.stream({name!r}, stage={stage!r}, batch_size=1)",
                    list(histories.stream(name, stage=stage, batch_size=1)),
                )
        subjects: list[tuple[SubjectKind, str, list[str]]] = [
            (SubjectKind.CUSTOMER, CUSTOMER_LIFECYCLE.name, sorted(self._customer_ids)),
            (SubjectKind.ACCOUNT, DEAL_PIPELINE.name, sorted(self._account_ids)),
        ]
        for kind, model_name, subject_ids in subjects:
            for subject_id in subject_ids:
                yield (
                    f"stage_histories.for_subject({subject_id!r}, subject_kind={kind})",
                    histories.for_subject(subject_id, subject_kind=kind),
                )
                get = functools.partial(histories.get, model_name, subject_kind=kind)
                yield f"stage_histories.get({model_name!r}, {subject_id!r})", _got(get, subject_id)

    @staticmethod
    def _check_histories(tenant: TenantId, reads: Mapping[str, object]) -> None:
        """Every history in ``reads`` (of the adapter) is a path through its model, ends in
        its current stage, and is of a subject the tenant holds; its stages are counted as
        streamed."""
        stored: dict[SubjectKind, list[Customer] | list[Account]] = {
            SubjectKind.CUSTOMER: cast("list[Customer]", reads["customers.stream()"]),
            SubjectKind.ACCOUNT: cast("list[Account]", reads["accounts.stream()"]),
        }
        for model in LIFECYCLES:
            streamed = cast("list[StageHistory]", reads[f"stage_histories.stream({model.name!r})"])
            subjects = {str(subject.id) for subject in stored[model.subject]}
            for history in streamed:
                problem = _bad_path(model, history)
                if problem is None and history.subject_id not in subjects:
                    problem = f"there is no {model.subject} {history.subject_id!r} in the tenant"
                if problem is not None:
                    raise AssertionError(
                        f"the adapter holds a stage history that cannot be, in tenant "
                        f"{tenant!r}: {problem}\n  {history!r}"
                    )
            tally: dict[str, int] = {}
            for history in streamed:
                tally[history.current] = tally.get(history.current, 0) + 1
            _check(
                f"the adapter's count_by_stage({model.name!r}) in tenant {tenant!r}",
                tally,
                reads[f"stage_histories.count_by_stage({model.name!r})"],
            )

    def _timelines(self, uow: UnitOfWork, customer_id: CustomerId) -> Iterator[tuple[str, object]]:
        now = self.clock.now()
        queries: Mapping[str, Mapping[str, Any]] = {
            "": {},
            "newest_first=True, limit=2": {"newest_first": True, "limit": 2},
            "channels, kinds": {
                "channels": {Channel.EMAIL, Channel.WEB},
                "kinds": {InteractionKind.PURCHASE, "note"},
            },
            "since, until": {
                "since": now - timedelta(minutes=3),
                "until": now + timedelta(minutes=3),
            },
        }
        for label, query in queries.items():
            yield (
                f"interactions.timeline({customer_id!r}, {label})",
                uow.interactions.timeline(customer_id, **query),
            )

    # Helpers.

    def _log(self, tenant: TenantId, interaction: Interaction) -> None:
        """Note an interaction stored in ``tenant`` (refunds name purchases among them)."""
        self._interaction_ids.add(interaction.id)
        if (tenant, interaction) not in self._logged:
            self._logged.append((tenant, interaction))

    def _on_both(self, operation: str, what: str, action: Callable[[_Side], T]) -> T | _Raised:
        """Run ``action`` on the model, then on the adapter; the outcomes must agree.

        The outcome is also noted as a Hypothesis ``event``, so that
        ``--hypothesis-show-statistics`` tells how often each operation met each error.
        """
        model = _attempt(functools.partial(action, self.model))
        adapter = _attempt(functools.partial(action, self.adapter))
        _agree(what, model, adapter)
        event(operation, model.error.__name__ if isinstance(model, _Raised) else "ok")
        return model

    def _change(self, side: _Side, key: _Key, changes: Mapping[str, Any]) -> Customer:
        """Update a customer's profile in a unit of work of its own."""
        tenant, customer_id = key
        with side.uow(tenant) as uow:
            customer = uow.customers.get(customer_id)
            customer.update_profile(at=self.clock.now(), **changes)
            return _save(uow, customer)

    @staticmethod
    def _other(tenant: TenantId) -> TenantId:
        return TENANTS[1] if tenant == TENANTS[0] else TENANTS[0]

    def _where(self, key: _Key, elsewhere: bool) -> _Key:
        tenant, customer_id = key
        return (self._other(tenant) if elsewhere else tenant), customer_id
