"""A Hypothesis state machine that holds a storage adapter to crmkit's in-memory model.

`AdapterStateMachine` performs one random sequence of operations on two sides at once: the
adapter under test, and crmkit's reference adapter (`crmkit.adapters.memory`), the *model*. It
registers customers (often with an email, external id or id that is already taken), updates
profiles, races a stale update against a newer one, records interactions (some with an external
reference), replays them, changes consent, registers and updates accounts, abandons or rolls
back units of work, and lets time pass, in two tenants. Both sides share one `FixedClock` and
start from identical `SequentialIds`, so they must end every step holding exactly the same data.

Every operation must have the same outcome on both sides (the same value, or the same crmkit
error type), and after every step every read must agree: customers and interactions streamed,
counted, listed page by page, looked up by id, email, external id and external reference, the
timelines, the accounts, and the events published. Where the contract suite
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
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

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
from crmkit.app.unit_of_work import Publisher
from crmkit.domain import (
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
    Interaction,
    InteractionId,
    InteractionKind,
    TenantId,
)
from crmkit.errors import ConcurrencyConflict, CrmError, IdempotencyConflict, NotFound
from crmkit.front import CRM
from crmkit.ports import Page, UnitOfWork
from crmkit.testing import strategies

__all__ = ["TENANTS", "AdapterStateMachine"]

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
        "account": _sometimes(_account_links(account_ids)),
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
    customers, interactions = uow.customers, uow.interactions
    return {
        "customers.count()": customers.count(),
        "customers.find(new)": customers.find(customer.id),
        "customers.find_by_email(new)": customer.email and customers.find_by_email(customer.email),
        "customers.list()": customers.list(limit=1000).items,
        "interactions.count()": interactions.count(),
        "interactions.get(new)": _got(interactions.get, interaction.id),
        "interactions.timeline()": interactions.timeline(interaction.customer_id),
    }


def _save(uow: UnitOfWork, customer: Customer) -> Customer:
    uow.customers.update(customer)
    uow.commit()
    return customer


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
            crm = CRM(self._open, tenant=tenant, clock=clock, ids=ids)
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

    def contents(self, tenant: TenantId) -> tuple[list[Customer], list[Interaction]]:
        """Everything ``tenant`` has stored, in one unit of work."""
        with self.reader(tenant) as uow:
            return list(uow.customers.stream()), list(uow.interactions.stream())


class AdapterStateMachine(RuleBasedStateMachine):
    """Drives an adapter and crmkit's in-memory model with the same random operations, and
    checks after every step that they agree on every outcome and every read.

    Override `open_storage` (and `close_storage` if needed); everything else is inherited.
    Run it through its ``TestCase`` (with your Hypothesis ``settings``) or with
    `hypothesis.stateful.run_state_machine_as_test`. The machine works in the tenants
    `TENANTS`, starts the shared clock ``clock`` at 2024-01-01 UTC and moves it forward
    itself.
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
        link=_sometimes(_account_links(account_ids)),
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
        minutes=st.none() | st.integers(-5, 5),
        ref=_mostly(refs),
    )
    def record_interaction(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        minutes: int | None,
        ref: str | None,
    ) -> MultipleResults[_Recorded]:
        """Append an interaction to the log; a taken id or reference must be refused alike."""
        return self._record(key, elsewhere, template, minutes, ref, front_door=False)

    @rule(
        target=recorded,
        key=customer_keys,
        elsewhere=_rarely(),
        template=strategies.interactions(),
        minutes=st.none() | st.integers(-5, 5),
        ref=_mostly(refs),
    )
    def record_interaction_through_the_front_door(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        minutes: int | None,
        ref: str | None,
    ) -> MultipleResults[_Recorded]:
        """Record an interaction with `CRM.record_interaction` (idempotent by reference)."""
        return self._record(key, elsewhere, template, minutes, ref, front_door=True)

    def _record(
        self,
        key: _Key,
        elsewhere: bool,
        template: Interaction,
        minutes: int | None,
        ref: str | None,
        *,
        front_door: bool,
    ) -> MultipleResults[_Recorded]:
        # Often at the same instant as another interaction, so that the id breaks the tie.
        tenant, customer_id = self._where(key, elsewhere)
        occurred_at = template.occurred_at
        if minutes is not None:
            occurred_at = self.clock.now() + timedelta(minutes=minutes)
        interaction = attrs.evolve(
            template, customer_id=customer_id, occurred_at=occurred_at, external_ref=ref
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
        """Register, update and record in one unit of work, then leave it without a commit,
        raise inside it, or roll back and commit something else: only that is stored."""
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
        for side, (customers, interactions) in zip(sides, befores, strict=True):
            if ending == "rollback_then_commit" and not isinstance(outcome, _Raised):
                interactions = sorted([*interactions, later], key=lambda i: (i.occurred_at, i.id))
            _agree(
                f"what is stored after {ending}", (customers, interactions), side.contents(tenant)
            )

    # Accounts.

    @rule(
        target=account_keys,
        tenant=st.sampled_from(TENANTS),
        account_id=account_ids,
        name=st.sampled_from(["Acme", "Initech", "Globex"]),
        domain=st.none() | domains,
        size=st.none() | st.sampled_from(CompanySize),
    )
    def register_account(
        self,
        tenant: TenantId,
        account_id: AccountId,
        name: str,
        domain: str | None,
        size: CompanySize | None,
    ) -> MultipleResults[_AccountKey]:
        """Register an account; a taken id or web domain must be refused alike."""
        at = self.clock.now()

        def register(side: _Side) -> Account:
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
        is stored (so that a write that leaks into another tenant is caught at once).
        """
        touched = self.model.touched | self.adapter.touched
        for tenant in TENANTS:
            model = self._reads(self.model, tenant, every=tenant in touched)
            adapter = self._reads(self.adapter, tenant, every=tenant in touched)
            for what, answer in model.items():
                _agree(f"{what} in tenant {tenant!r}", answer, adapter.get(what))
        _agree("the events published", self.model.published, self.adapter.published)
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
            if not every:
                return reads
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
