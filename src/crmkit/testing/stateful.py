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

Every operation must have the same outcome on both sides (the same value, or the same crmkit
error type), and after every step every read must agree: customers and interactions streamed,
counted, listed page by page, looked up by id, email, external id and external reference, the
timelines, the accounts, the stage histories (streamed per model in small and large batches
and by stage, counted by stage, and read per customer and account), and the events published
(`crmkit.StageChanged` included). Every history the adapter holds must be a path through its
model, of a subject the tenant holds, and every stage change stored must have been announced
by one `crmkit.StageChanged` event. Where the contract suite (`crmkit.testing.contract`)
checks one behaviour at a time from a known state, the machine searches for the sequences
nobody thought to write down, and Hypothesis shrinks any disagreement to the shortest program
that shows it.

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
    rule,
)

from crmkit.adapters.memory import InMemoryStore
from crmkit.app.clocks import FixedClock, SequentialIds
from crmkit.app.context import OpenUnitOfWork
from crmkit.app.lifecycle import ProgressionReport
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
    HasField,
    HasTag,
    Interaction,
    InteractionCount,
    InteractionId,
    InteractionKind,
    LifecycleModel,
    Outcome,
    ProgressionRule,
    Stage,
    StageChanged,
    StageHistory,
    SubjectKind,
    TenantId,
    TimeInStage,
    Transition,
)
from crmkit.errors import ConcurrencyConflict, CrmError, IdempotencyConflict, NotFound
from crmkit.front import CRM
from crmkit.ports import Page, UnitOfWork
from crmkit.testing import strategies

__all__ = ["LIFECYCLES", "TENANTS", "AdapterStateMachine"]

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
        Transition("active", "champion", guard=HasTag("vip")),
        ("active", "dormant"),
        ("champion", "dormant"),
        ("dormant", "active"),
        Transition("dormant", "closed", guard=TimeInStage(30)),
    ],
    rules=[
        ProgressionRule(
            "activated",
            "active",
            InteractionCount(within_days=30, at_least=1),
            sources={"invited", "dormant"},
        ),
        ProgressionRule(
            "championed",
            "champion",
            HasField("email") & InteractionCount(within_days=60, at_least=2),
        ),
        ProgressionRule("went_quiet", "dormant", ~InteractionCount(within_days=30, at_least=1)),
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
            f"  adapter: {adapter!r}"
        )


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
    and the tenants worked on since the last comparison."""

    def __init__(self, open_unit_of_work: OpenUnitOfWork, clock: FixedClock) -> None:
        self.open_unit_of_work = open_unit_of_work
        self.published: list[DomainEvent] = []
        self.touched: set[TenantId] = set()
        ids = SequentialIds("id")
        self.crms: dict[TenantId, CRM] = {}
        for tenant in TENANTS:
            crm = CRM(self._open, tenant=tenant, clock=clock, ids=ids, lifecycles=LIFECYCLES)
            crm.subscribe(DomainEvent, self.published.append)
            self.crms[tenant] = crm

    def _open(self, tenant: TenantId, publish: Publisher) -> UnitOfWork:
        self.touched.add(tenant)
        return self.open_unit_of_work(tenant, publish)

    def uow(self, tenant: TenantId) -> UnitOfWork:
        """A new unit of work on ``tenant`` whose committed events are recorded."""
        return self._open(tenant, self.published.extend)

    def reader(self, tenant: TenantId) -> UnitOfWork:
        """A unit of work for reading only: it does not count as work on ``tenant``."""
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


class AdapterStateMachine(RuleBasedStateMachine):
    """Drives an adapter and crmkit's in-memory model with the same random operations, and
    checks after every step that they agree on every outcome and every read.

    Override `open_storage` (and `close_storage` if needed); everything else is inherited.
    Run it through its ``TestCase`` (with your Hypothesis ``settings``) or with
    `hypothesis.stateful.run_state_machine_as_test`. The machine works in the tenants
    `TENANTS`, starts the shared clock ``clock`` at 2024-01-01 UTC and moves it forward
    itself; its CRMs track the lifecycle models `LIFECYCLES`, so the adapter must implement
    ``UnitOfWork.stage_histories`` too.
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
        leaves email and external ids alone, so that only its version can make it fail.)"""
        tenant, customer_id = key
        at = self.clock.now()

        def race(side: _Side) -> tuple[object, object, Customer]:
            with side.uow(tenant) as first:
                stale = first.customers.get(customer_id)
                newer = _attempt(functools.partial(self._change, side, key, theirs))
                stale.update_profile(at=at, **mine)
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
        kind=st.none() | st.sampled_from(LIFECYCLE_KINDS),
        minutes=st.none() | st.integers(-5, 5) | st.integers(-YEAR_MINUTES, 0),
        ref=_mostly(refs),
    )
    def record_interaction(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        kind: str | None,
        minutes: int | None,
        ref: str | None,
    ) -> MultipleResults[_Recorded]:
        """Append an interaction to the log; a taken id or reference must be refused alike.
        (Stages do not move: the log is written to directly.)"""
        return self._record(key, elsewhere, template, kind, minutes, ref, front_door=False)

    @rule(
        target=recorded,
        key=customer_keys,
        elsewhere=_rarely(),
        template=strategies.interactions(),
        kind=st.none() | st.sampled_from(LIFECYCLE_KINDS),
        minutes=st.none() | st.integers(-5, 5) | st.integers(-YEAR_MINUTES, 0),
        ref=_mostly(refs),
    )
    def record_interaction_through_the_front_door(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        kind: str | None,
        minutes: int | None,
        ref: str | None,
    ) -> MultipleResults[_Recorded]:
        """Record an interaction with `CRM.record_interaction` (idempotent by reference); the
        progression rules then run for the customer and the customer's account."""
        return self._record(key, elsewhere, template, kind, minutes, ref, front_door=True)

    def _record(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        kind: str | None,
        minutes: int | None,
        ref: str | None,
        *,
        front_door: bool,
    ) -> MultipleResults[_Recorded]:
        # Often at the same instant as another interaction, so that the id breaks the tie;
        # often in the last year, so that the lifecycle rules' windows count it.
        tenant, customer_id = self._where(key, elsewhere)
        occurred_at = template.occurred_at
        if minutes is not None:
            occurred_at = self.clock.now() + timedelta(minutes=minutes)
        interaction = attrs.evolve(
            template,
            customer_id=customer_id,
            occurred_at=occurred_at,
            external_ref=ref,
            kind=template.kind if kind is None else kind,
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
        self._interaction_ids.add(outcome.id)
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
            self._interaction_ids.add(outcome.id)
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
            with side.uow(tenant) as first:
                stale = first.stage_histories.find(model.name, customer_id)
                if stale is None:
                    return None
                base = stale.version
                facts = facts_of(first, model.subject, customer_id, at)
                newer = _attempt(
                    functools.partial(
                        side.crms[tenant].move_stage, customer_id, their_stage, model=model.name
                    )
                )
                move = functools.partial(stale.move, model, my_stage, at=at, facts=facts)
                moved = _attempt(move)
                late: object = moved
                if not isinstance(moved, _Raised):
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

    # Time.

    @rule(seconds=st.integers(1, 90 * 24 * 3600))
    def let_time_pass(self, seconds: int) -> None:
        """Move the shared clock forward."""
        self.clock.advance(timedelta(seconds=seconds))

    # The comparison.

    @invariant()
    def every_read_agrees(self) -> None:
        """Everything either side can be asked returns the same answer on both.

        Every read is compared in the tenants the last step worked on; in the others, what
        is stored (so that a write that leaks into another tenant is caught at once). Then
        every stage history the adapter holds must be one that can be (see
        `_check_histories`), and every stage change stored must have been announced by
        exactly one `StageChanged` event: were the model to agree with the adapter on
        something that cannot be, the domain or the use cases are at fault.
        """
        touched = self.model.touched | self.adapter.touched
        stored: list[StageHistory] = []
        for tenant in TENANTS:
            model = self._reads(self.model, tenant, every=tenant in touched)
            adapter = self._reads(self.adapter, tenant, every=tenant in touched)
            for what, answer in model.items():
                _agree(f"{what} in tenant {tenant!r}", answer, adapter.get(what))
            self._check_histories(tenant, adapter)
            for lifecycle in LIFECYCLES:
                key = f"stage_histories.stream({lifecycle.name!r})"
                stored.extend(cast("list[StageHistory]", adapter[key]))
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
