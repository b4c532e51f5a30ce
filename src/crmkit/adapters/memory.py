"""The in-memory adapter: the reference implementation of every port.

It is a real, transactional implementation, not a mock: a unit of work stages its writes and
applies them all at once on commit, under a lock, after checking versions and unique keys
again, so a failed or abandoned unit of work leaves nothing behind and concurrent writers get
`ConcurrencyConflict` exactly as with a database. Objects handed out are copies, so changing
one in place never changes what is stored.
"""

from __future__ import annotations

import builtins
import copy
import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs

from crmkit.adapters._arguments import check_batch, check_page, check_rule, check_window
from crmkit.adapters._bulk import is_replayed_customer, is_replayed_interaction
from crmkit.adapters._memory_loyalty import (
    LedgerKey,
    PointsLedgers,
    Referrals,
    StoredLedger,
    referral_copy,
)
from crmkit.domain import (
    Account,
    AccountId,
    Channel,
    Condition,
    Customer,
    CustomerId,
    DomainEvent,
    EmailAddress,
    Facts,
    Interaction,
    InteractionId,
    PointsBalance,
    PointsLedger,
    Referral,
    SegmentSnapshot,
    StageHistory,
    SubjectKind,
    TenantId,
)
from crmkit.domain._arguments import instance_of
from crmkit.domain.rules.evaluate import compile_condition
from crmkit.domain.values.ids import check_tenant
from crmkit.errors import (
    ConcurrencyConflict,
    DuplicateAccount,
    DuplicateCustomer,
    IdempotencyConflict,
    NotFound,
    ReferralRefused,
    ValidationError,
)
from crmkit.ports import (
    BaseUnitOfWork,
    ImportResult,
    OnExisting,
    OutboxMessage,
    OutboxReader,
    Page,
    Publisher,
    check_on_existing,
)

__all__ = ["InMemoryOutbox", "InMemoryStore", "InMemoryUnitOfWork"]

A = TypeVar("A", Customer, Account)
H = TypeVar("H", Customer, Account, StageHistory)
_HistoryKey = tuple[str, SubjectKind, str]  # (model, subject kind, subject id)


@attrs.define
class _Tables:
    customers: dict[CustomerId, Customer] = attrs.Factory(dict)
    accounts: dict[AccountId, Account] = attrs.Factory(dict)
    interactions: dict[InteractionId, Interaction] = attrs.Factory(dict)
    by_customer: dict[CustomerId, list[InteractionId]] = attrs.Factory(dict)
    emails: dict[EmailAddress, CustomerId] = attrs.Factory(dict)
    external_ids: dict[tuple[str, str], CustomerId] = attrs.Factory(dict)
    domains: dict[str, AccountId] = attrs.Factory(dict)
    refs: dict[str, InteractionId] = attrs.Factory(dict)
    histories: dict[_HistoryKey, StageHistory] = attrs.Factory(dict)
    snapshots: dict[str, SegmentSnapshot] = attrs.Factory(dict)
    members: dict[str, dict[CustomerId, datetime]] = attrs.Factory(dict)  # id -> since
    ledgers: dict[LedgerKey, StoredLedger] = attrs.Factory(dict)
    referrals: dict[str, Referral] = attrs.Factory(dict)


class InMemoryStore:
    """Every tenant's data, in process memory. Share one store between CRMs to share data."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._tenants: dict[TenantId, _Tables] = {}
        self._outbox: list[tuple[OutboxMessage, bool]] = []  # (message, delivered)
        self._positions = itertools.count(1)

    def outbox(self, *, tenant: str | None = None) -> InMemoryOutbox:
        """The outbox reader, for every tenant or just ``tenant`` (as the SQL adapter's)."""
        return InMemoryOutbox(self, None if tenant is None else check_tenant(tenant))

    def _append_events(self, tenant: TenantId, events: list[DomainEvent]) -> None:
        for event in events:
            position = next(self._positions)
            message = OutboxMessage(position, tenant, event.aggregate_id, event, event.at)
            self._outbox.append((message, False))

    def tables(self, tenant: TenantId) -> _Tables:
        """The tables of ``tenant`` (created empty on first use)."""
        with self.lock:
            return self._tenants.setdefault(tenant, _Tables())

    def unit_of_work(
        self, tenant: TenantId, publish: Publisher | None = None, *, read_only: bool = False
    ) -> InMemoryUnitOfWork:
        """A unit of work on ``tenant``'s data. ``read_only`` (a promise to only read) changes
        nothing here: the store takes no lock for a unit of work."""
        return InMemoryUnitOfWork(self, tenant, publish)


def _clone(aggregate: H) -> H:
    twin = copy.copy(aggregate)
    twin._events = []  # the twin starts with no events of its own
    return twin


def _page(items: list[A], limit: int, cursor: str | None) -> Page[A]:
    check_page(limit, cursor)
    ordered = sorted((i for i in items if cursor is None or i.id > cursor), key=lambda i: i.id)
    chosen = ordered[:limit]
    more = len(ordered) > limit
    return Page(tuple(chosen), chosen[-1].id if more else None)


class InMemoryUnitOfWork(BaseUnitOfWork):
    """A unit of work over an `InMemoryStore`, bound to one tenant."""

    def __init__(
        self, store: InMemoryStore, tenant: TenantId, publish: Publisher | None = None
    ) -> None:
        super().__init__(tenant, publish)
        self._store = store
        self._tables = store.tables(tenant)
        self._customers: dict[CustomerId, tuple[int, Customer]] = {}
        self._accounts: dict[AccountId, tuple[int, Account]] = {}
        self._interactions: dict[InteractionId, Interaction] = {}
        # The staged interactions by external_ref: a bulk import asks for each row's.
        self._staged_refs: dict[str, InteractionId] = {}
        self._histories: dict[_HistoryKey, tuple[int, StageHistory]] = {}
        self.customers = _Customers(self)
        self.accounts = _Accounts(self)
        self.interactions = _Interactions(self)
        self.stage_histories = _StageHistories(self)
        self._snapshots: dict[str, tuple[int, SegmentSnapshot]] = {}
        # Per segment: members added (with since) and removed; an added one wins.
        self._members: dict[str, tuple[dict[CustomerId, datetime], set[CustomerId]]] = {}
        self.segment_memberships = _SegmentMemberships(self)
        self._ledgers: dict[LedgerKey, tuple[int, StoredLedger]] = {}
        self._referrals: dict[str, tuple[int, Referral]] = {}
        self.points_ledgers = PointsLedgers(self)
        self.referrals = Referrals(self)

    def _begin(self) -> None:
        self._forget()

    def _rollback(self) -> None:
        self._forget()

    def _forget(self) -> None:
        self._customers, self._accounts, self._interactions = {}, {}, {}
        self._staged_refs, self._histories = {}, {}
        self._snapshots, self._members = {}, {}
        self._ledgers, self._referrals = {}, {}

    def _commit(self, events: list[DomainEvent]) -> None:
        t = self._tables
        with self._store.lock:
            self._check_versions(t.customers, self._customers, "customer")
            self._check_versions(t.accounts, self._accounts, "account")
            self._check_versions(t.histories, self._histories, "stage history")
            self._check_versions(t.snapshots, self._snapshots, "segment snapshot")
            self._check_versions(t.referrals, self._referrals, "referral")
            self._check_ledgers()
            self._check_referees()
            self._check_customer_keys()
            self._check_account_keys()
            for interaction in self._interactions.values():
                self._check_interaction(interaction)
            self._apply(events)
        self._forget()

    @staticmethod
    def _check_versions(
        stored: Mapping[Any, Customer | Account | StageHistory | SegmentSnapshot | Referral],
        staged: Mapping[
            Any, tuple[int, Customer | Account | StageHistory | SegmentSnapshot | Referral]
        ],
        kind: str,
    ) -> None:
        for key, (base, _) in staged.items():
            current = stored.get(key)
            if (current.version if current is not None else 0) != base:
                raise ConcurrencyConflict(kind, key, base)

    def _check_ledgers(self) -> None:
        for key, (base, _) in self._ledgers.items():
            current = self._tables.ledgers.get(key)
            if (current[1].version if current is not None else 0) != base:
                raise ConcurrencyConflict("points ledger", key, base)

    def _check_referees(self) -> None:
        stored = {(r.programme, r.referee_id): r.id for r in self._tables.referrals.values()}
        for _, referral in self._referrals.values():
            owner = stored.get((referral.programme, referral.referee_id))
            if owner not in (None, referral.id):
                raise ReferralRefused.already_referred(referral.referee_id)

    def _check_customer_keys(self) -> None:
        t = self._tables
        for _, customer in self._customers.values():
            if customer.email is not None:
                owner = t.emails.get(customer.email)
                if owner not in (None, customer.id) and owner not in self._customers:
                    raise DuplicateCustomer("email", str(customer.email), owner)
            for key in customer.external_ids.items():
                owner = t.external_ids.get(key)
                if owner not in (None, customer.id) and owner not in self._customers:
                    raise DuplicateCustomer(f"external_ids.{key[0]}", key[1], owner)

    def _check_account_keys(self) -> None:
        t = self._tables
        for _, account in self._accounts.values():
            if account.domain is not None:
                owner = t.domains.get(account.domain)
                if owner not in (None, account.id) and owner not in self._accounts:
                    raise DuplicateAccount("domain", account.domain, owner)

    def _check_interaction(self, interaction: Interaction) -> None:
        t = self._tables
        stored = t.interactions.get(interaction.id)
        if stored is not None:
            differing = stored.differing_fields(interaction)
            raise IdempotencyConflict("id", interaction.id, stored.id, differing=differing)
        if interaction.external_ref is not None and interaction.external_ref in t.refs:
            ref = interaction.external_ref
            stored = t.interactions[t.refs[ref]]
            differing = stored.differing_fields(interaction)
            raise IdempotencyConflict("external_ref", ref, stored.id, differing=differing)

    def _apply(self, events: list[DomainEvent]) -> None:
        t = self._tables
        for _, customer in self._customers.values():
            old = t.customers.get(customer.id)
            if old is not None:
                if old.email is not None:
                    t.emails.pop(old.email, None)
                for key in old.external_ids.items():
                    t.external_ids.pop(key, None)
            t.customers[customer.id] = customer
        for _, customer in self._customers.values():
            if customer.email is not None:
                t.emails[customer.email] = customer.id
            for key in customer.external_ids.items():
                t.external_ids[key] = customer.id
        for _, account in self._accounts.values():
            old_account = t.accounts.get(account.id)
            if old_account is not None and old_account.domain is not None:
                t.domains.pop(old_account.domain, None)
            t.accounts[account.id] = account
        for _, account in self._accounts.values():
            if account.domain is not None:
                t.domains[account.domain] = account.id
        for _, history in self._histories.values():
            t.histories[_key(history)] = history
        for segment, (_, snapshot) in self._snapshots.items():
            t.snapshots[segment] = snapshot
        for key, (_, stored) in self._ledgers.items():
            t.ledgers[key] = stored
        for referral_id, (_, referral) in self._referrals.items():
            t.referrals[referral_id] = referral
        for segment, (added, removed) in self._members.items():
            members = t.members.setdefault(segment, {})
            for customer_id in removed:
                members.pop(customer_id, None)
            members.update(added)
        for interaction in self._interactions.values():
            t.interactions[interaction.id] = interaction
            t.by_customer.setdefault(interaction.customer_id, []).append(interaction.id)
            if interaction.external_ref is not None:
                t.refs[interaction.external_ref] = interaction.id
        self._store._append_events(self.tenant, events)

    # Reads through the staged writes.

    def _customer(self, customer_id: CustomerId) -> Customer | None:
        self._require_open()
        staged = self._customers.get(customer_id)
        if staged is not None:
            return staged[1]
        with self._store.lock:
            return self._tables.customers.get(customer_id)

    def _all_customers(self) -> list[Customer]:
        self._require_open()
        with self._store.lock:
            merged = dict(self._tables.customers)
        merged.update({k: c for k, (_, c) in self._customers.items()})
        return list(merged.values())

    def _account(self, account_id: AccountId) -> Account | None:
        self._require_open()
        staged = self._accounts.get(account_id)
        if staged is not None:
            return staged[1]
        with self._store.lock:
            return self._tables.accounts.get(account_id)

    def _all_accounts(self) -> list[Account]:
        self._require_open()
        with self._store.lock:
            merged = dict(self._tables.accounts)
        merged.update({k: a for k, (_, a) in self._accounts.items()})
        return list(merged.values())

    def _interaction(self, interaction_id: InteractionId) -> Interaction | None:
        self._require_open()
        with self._store.lock:
            stored = self._tables.interactions.get(interaction_id)
        return stored if stored is not None else self._interactions.get(interaction_id)

    def _customer_interactions(self, customer_id: CustomerId) -> list[Interaction]:
        self._require_open()
        with self._store.lock:
            t = self._tables
            found = [t.interactions[i] for i in t.by_customer.get(customer_id, ())]
        found.extend(i for i in self._interactions.values() if i.customer_id == customer_id)
        return found

    def _all_interactions(self) -> list[Interaction]:
        self._require_open()
        with self._store.lock:
            found = list(self._tables.interactions.values())
        found.extend(self._interactions.values())
        return found

    def _history(self, key: _HistoryKey) -> StageHistory | None:
        self._require_open()
        staged = self._histories.get(key)
        if staged is not None:
            return staged[1]
        with self._store.lock:
            return self._tables.histories.get(key)

    def _all_histories(self) -> list[StageHistory]:
        self._require_open()
        with self._store.lock:
            merged = dict(self._tables.histories)
        merged.update({k: h for k, (_, h) in self._histories.items()})
        return list(merged.values())

    def _stage_history(self, history: StageHistory, base: int) -> None:
        self._histories[_key(history)] = (base, _clone(history))

    def _snapshot(self, segment: str) -> SegmentSnapshot | None:
        self._require_open()
        staged = self._snapshots.get(segment)
        if staged is not None:
            return staged[1]
        with self._store.lock:
            return self._tables.snapshots.get(segment)

    def _stage_snapshot(self, snapshot: SegmentSnapshot, base: int) -> None:
        entered, left = snapshot.pending
        added, removed = self._members.setdefault(snapshot.segment, ({}, set()))
        for customer_id in left:
            added.pop(customer_id, None)
            removed.add(customer_id)
        added.update(entered)
        self._snapshots[snapshot.segment] = (base, _snapshot_copy(snapshot))

    def _segment_members(self, segment: str) -> builtins.list[CustomerId]:
        self._require_open()
        with self._store.lock:
            merged = dict(self._tables.members.get(segment, {}))
        added, removed = self._members.get(segment, ({}, set()))
        for customer_id in removed:
            merged.pop(customer_id, None)
        merged.update(added)
        return sorted(merged)

    def _ledger(self, key: LedgerKey) -> StoredLedger | None:
        self._require_open()
        staged = self._ledgers.get(key)
        if staged is not None:
            return staged[1]
        with self._store.lock:
            return self._tables.ledgers.get(key)

    def _all_balances(self, programme: str) -> builtins.list[PointsBalance]:
        self._require_open()
        with self._store.lock:
            merged = dict(self._tables.ledgers)
        merged.update({k: stored for k, (_, stored) in self._ledgers.items()})
        return [stored[1] for (name, _), stored in merged.items() if name == programme]

    def _stage_ledger(self, ledger: PointsLedger, base: int) -> None:
        key = (ledger.programme.name, ledger.customer_id)
        self._ledgers[key] = (base, (tuple(ledger.entries), ledger.summary(), ledger.tally()))

    def _referral(self, referral_id: str) -> Referral | None:
        self._require_open()
        staged = self._referrals.get(referral_id)
        if staged is not None:
            return staged[1]
        with self._store.lock:
            return self._tables.referrals.get(referral_id)

    def _all_referrals(self) -> builtins.list[Referral]:
        self._require_open()
        with self._store.lock:
            merged = dict(self._tables.referrals)
        merged.update({k: r for k, (_, r) in self._referrals.items()})
        return list(merged.values())

    def _stage_referral(self, referral: Referral, base: int) -> None:
        self._referrals[referral.id] = (base, referral_copy(referral))

    def _handing_out(self, aggregate: H) -> H:
        return _clone(aggregate)

    def _stage_customer(self, customer: Customer, base: int) -> None:
        self._customers[customer.id] = (base, _clone(customer))

    def _stage_account(self, account: Account, base: int) -> None:
        self._accounts[account.id] = (base, _clone(account))

    def _stage_interaction(self, interaction: Interaction) -> None:
        self._interactions[interaction.id] = interaction
        if interaction.external_ref is not None:
            self._staged_refs[interaction.external_ref] = interaction.id

    def _base(self, staged: dict[str, tuple[int, A]], key: str, fallback: int) -> int:
        entry = staged.get(key)
        return entry[0] if entry is not None else fallback


class _Customers:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def add(self, customer: Customer) -> None:
        instance_of(customer, Customer, "customer")
        self._add(customer)
        self._uow._track(customer)

    def add_many(
        self,
        customers: Iterable[Customer],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        check_batch(batch_size)
        skip = check_on_existing(on_existing) == "skip"
        imported, skipped = 0, []
        for position, customer in enumerate(customers):
            if self._add(customer, skip=skip):
                imported += 1
            else:
                skipped.append(position)
        return ImportResult(imported, tuple(skipped))

    def _add(self, customer: Customer, *, skip: bool = False) -> bool:
        uow = self._uow
        if customer.version != 0:
            raise ValidationError.single(
                "version", customer.version, "a new customer has version 0"
            )
        if is_replayed_customer(customer, uow._customer(customer.id), skip=skip):
            return False
        self._check_unique(customer)
        customer.version = 1
        uow._stage_customer(customer, 0)
        return True

    def update(self, customer: Customer) -> None:
        instance_of(customer, Customer, "customer")
        uow = self._uow
        current = uow._customer(customer.id)
        if current is None:
            raise NotFound("customer", customer.id)
        if current.version != customer.version:
            raise ConcurrencyConflict("customer", customer.id, customer.version)
        self._check_unique(customer)
        base = uow._base(uow._customers, customer.id, current.version)  # type: ignore[arg-type]
        customer.version += 1
        uow._stage_customer(customer, base)
        uow._track(customer)

    def _check_unique(self, customer: Customer) -> None:
        if customer.email is not None:
            owner = self.find_by_email(customer.email)
            if owner is not None and owner.id != customer.id:
                raise DuplicateCustomer("email", str(customer.email), owner.id)
        for source, ref in customer.external_ids.items():
            owner = self.find_by_external_id(source, ref)
            if owner is not None and owner.id != customer.id:
                raise DuplicateCustomer(f"external_ids.{source}", ref, owner.id)

    def get(self, customer_id: CustomerId) -> Customer:
        found = self.find(customer_id)
        if found is None:
            raise NotFound("customer", customer_id)
        return found

    def find(self, customer_id: CustomerId) -> Customer | None:
        found = self._uow._customer(customer_id)
        return None if found is None else self._uow._handing_out(found)

    def _find_where(
        self, match: Callable[[Customer], bool], indexed: CustomerId | None
    ) -> Customer | None:
        uow = self._uow
        for _, staged in uow._customers.values():
            if match(staged):
                return uow._handing_out(staged)
        if indexed is not None and indexed not in uow._customers:
            return self.find(indexed)
        return None

    def find_by_email(self, email: EmailAddress) -> Customer | None:
        self._uow._require_open()
        with self._uow._store.lock:
            indexed = self._uow._tables.emails.get(email)
        return self._find_where(lambda c: c.email == email, indexed)

    def find_by_external_id(self, source: str, external_id: str) -> Customer | None:
        self._uow._require_open()
        with self._uow._store.lock:
            indexed = self._uow._tables.external_ids.get((source, external_id))
        return self._find_where(lambda c: c.external_ids.get(source) == external_id, indexed)

    def list(
        self,
        *,
        tag: str | None = None,
        account_id: AccountId | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Customer]:
        chosen = [
            c
            for c in self._uow._all_customers()
            if (tag is None or tag in c.tags)
            and (
                account_id is None or (c.account is not None and c.account.account_id == account_id)
            )
        ]
        page = _page(chosen, limit, cursor)
        return Page(tuple(self._uow._handing_out(c) for c in page.items), page.next_cursor)

    def stream(self, *, batch_size: int = 1000) -> Iterator[Customer]:
        check_batch(batch_size)
        for customer in sorted(self._uow._all_customers(), key=lambda c: c.id):
            yield self._uow._handing_out(customer)

    def _matching(self, condition: Condition, as_of: datetime) -> builtins.list[Customer]:
        """The customers for whom ``condition`` holds at ``as_of``, in id order."""
        moment = check_rule(condition, as_of)
        uow = self._uow
        stages: dict[str, dict[str, str]] = {}
        for history in uow._all_histories():
            if history.subject_kind is SubjectKind.CUSTOMER:
                stages.setdefault(history.subject_id, {})[history.model] = history.current
        interactions: dict[str, list[Interaction]] = {}
        for interaction in uow._all_interactions():
            interactions.setdefault(interaction.customer_id, []).append(interaction)
        matcher = compile_condition(condition)  # once per query, not a re-walk per customer
        found = []
        for customer in sorted(uow._all_customers(), key=lambda c: c.id):
            link = customer.account
            facts = Facts.of_customer(
                customer,
                interactions.get(customer.id, ()),
                moment,
                account=None if link is None else uow._account(link.account_id),
                stages=stages.get(customer.id),
            )
            if matcher(facts):
                found.append(customer)
        return found

    def count_matching(self, condition: Condition, *, as_of: datetime) -> int:
        return len(self._matching(condition, as_of))

    def matching_ids(
        self,
        condition: Condition,
        *,
        as_of: datetime,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[CustomerId]:
        check_page(limit, cursor)
        page = _page(
            [c for c in self._matching(condition, as_of) if cursor is None or c.id > cursor],
            limit,
            None,
        )
        return Page(tuple(c.id for c in page.items), page.next_cursor)

    def stream_matching(
        self,
        condition: Condition,
        *,
        as_of: datetime,
        batch_size: int = 1000,
        after: str | None = None,
    ) -> Iterator[Customer]:
        check_batch(batch_size)
        check_page(1, after)
        for customer in self._matching(condition, as_of):
            if after is None or customer.id > after:
                yield self._uow._handing_out(customer)

    def count(self) -> int:
        return len(self._uow._all_customers())


class _Accounts:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def add(self, account: Account) -> None:
        instance_of(account, Account, "account")
        uow = self._uow
        if account.version != 0:
            raise ValidationError.single("version", account.version, "a new account has version 0")
        if uow._account(account.id) is not None:
            raise DuplicateAccount("id", account.id, account.id)
        self._check_unique(account)
        account.version = 1
        uow._stage_account(account, 0)
        uow._track(account)

    def update(self, account: Account) -> None:
        instance_of(account, Account, "account")
        uow = self._uow
        current = uow._account(account.id)
        if current is None:
            raise NotFound("account", account.id)
        if current.version != account.version:
            raise ConcurrencyConflict("account", account.id, account.version)
        self._check_unique(account)
        base = uow._base(uow._accounts, account.id, current.version)  # type: ignore[arg-type]
        account.version += 1
        uow._stage_account(account, base)
        uow._track(account)

    def _check_unique(self, account: Account) -> None:
        if account.domain is not None:
            owner = self.find_by_domain(account.domain)
            if owner is not None and owner.id != account.id:
                raise DuplicateAccount("domain", account.domain, owner.id)

    def get(self, account_id: AccountId) -> Account:
        found = self.find(account_id)
        if found is None:
            raise NotFound("account", account_id)
        return found

    def find(self, account_id: AccountId) -> Account | None:
        found = self._uow._account(account_id)
        return None if found is None else self._uow._handing_out(found)

    def find_by_domain(self, domain: str) -> Account | None:
        for account in self._uow._all_accounts():
            if account.domain == domain:
                return self._uow._handing_out(account)
        return None

    def list(self, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        page = _page(self._uow._all_accounts(), limit, cursor)
        return Page(tuple(self._uow._handing_out(a) for a in page.items), page.next_cursor)

    def stream(self, *, batch_size: int = 1000) -> Iterator[Account]:
        check_batch(batch_size)
        for account in sorted(self._uow._all_accounts(), key=lambda a: a.id):
            yield self._uow._handing_out(account)


def _in(value: str, allowed: Collection[str] | None) -> bool:
    return allowed is None or value in allowed


class _Interactions:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def add(self, interaction: Interaction) -> None:
        instance_of(interaction, Interaction, "interaction")
        self._add(interaction)
        self._uow._track(interaction)

    def _add(self, interaction: Interaction, *, skip: bool = False) -> bool:
        uow = self._uow
        if not isinstance(interaction, Interaction):
            raise ValidationError.single("interaction", interaction, "must be an Interaction")
        ref = interaction.external_ref
        by_id = uow._interaction(interaction.id)
        by_ref = None if ref is None else self.find_by_external_ref(ref)
        if is_replayed_interaction(interaction, by_id, by_ref, skip=skip):
            return False
        uow._stage_interaction(interaction)
        return True

    def add_many(
        self,
        interactions: Iterable[Interaction],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        check_batch(batch_size)
        skip = check_on_existing(on_existing) == "skip"
        imported, skipped = 0, []
        for position, interaction in enumerate(interactions):
            if self._add(interaction, skip=skip):
                imported += 1
            else:
                skipped.append(position)
        return ImportResult(imported, tuple(skipped))

    def get(self, interaction_id: InteractionId) -> Interaction:
        found = self._uow._interaction(interaction_id)
        if found is None:
            raise NotFound("interaction", interaction_id)
        return found

    def find_by_external_ref(self, external_ref: str) -> Interaction | None:
        uow = self._uow
        uow._require_open()
        with uow._store.lock:
            stored = uow._tables.refs.get(external_ref)
        if stored is not None:
            return uow._interaction(stored)
        staged = uow._staged_refs.get(external_ref)
        return None if staged is None else uow._interactions[staged]

    def timeline(
        self,
        customer_id: CustomerId,
        *,
        channels: Collection[Channel] | None = None,
        kinds: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Interaction]:
        since, until = check_window(since, until, limit)
        chosen = [
            i
            for i in self._uow._customer_interactions(customer_id)
            if _in(i.channel, channels)
            and _in(i.kind, kinds)
            and (since is None or i.occurred_at >= since)
            and (until is None or i.occurred_at < until)
        ]
        chosen.sort(key=lambda i: (i.occurred_at, i.id), reverse=newest_first)
        return chosen if limit is None else chosen[:limit]

    def stream(self, *, batch_size: int = 1000) -> Iterator[Interaction]:
        check_batch(batch_size)
        yield from sorted(self._uow._all_interactions(), key=lambda i: (i.occurred_at, i.id))

    def count(self) -> int:
        return len(self._uow._all_interactions())


def _key(history: StageHistory) -> _HistoryKey:
    return (history.model, history.subject_kind, history.subject_id)


class _StageHistories:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def add(self, history: StageHistory) -> None:
        instance_of(history, StageHistory, "history")
        uow = self._uow
        if history.version != 0:
            raise ValidationError.single("version", history.version, "a new history has version 0")
        if uow._history(_key(history)) is not None:
            raise ConcurrencyConflict("stage history", _key(history), 0, "it already exists")
        history.version = 1
        uow._stage_history(history, 0)
        uow._track(history)

    def update(self, history: StageHistory) -> None:
        instance_of(history, StageHistory, "history")
        uow = self._uow
        key = _key(history)
        current = uow._history(key)
        if current is None:
            raise NotFound("stage history", key)
        if current.version != history.version:
            raise ConcurrencyConflict("stage history", key, history.version)
        if history.changes[: len(current.changes)] != current.changes:
            raise ValidationError.single("changes", history.changes, "are append-only")
        entry = uow._histories.get(key)
        base = entry[0] if entry is not None else current.version
        history.version += 1
        uow._stage_history(history, base)
        uow._track(history)

    def find(
        self, model: str, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> StageHistory | None:
        found = self._uow._history((model, SubjectKind(subject_kind), subject_id))
        return None if found is None else self._uow._handing_out(found)

    def get(
        self, model: str, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> StageHistory:
        found = self.find(model, subject_id, subject_kind=subject_kind)
        if found is None:
            raise NotFound("stage history", (model, subject_kind, subject_id))
        return found

    def for_subject(
        self, subject_id: str, *, subject_kind: SubjectKind = SubjectKind.CUSTOMER
    ) -> list[StageHistory]:
        mine = [
            h
            for h in self._uow._all_histories()
            if h.subject_id == subject_id and h.subject_kind == subject_kind
        ]
        return [self._uow._handing_out(h) for h in sorted(mine, key=lambda h: h.model)]

    def stream(
        self, model: str, *, stage: str | None = None, batch_size: int = 1000
    ) -> Iterator[StageHistory]:
        check_batch(batch_size)
        chosen = [
            h
            for h in self._uow._all_histories()
            if h.model == model and (stage is None or h.current == stage)
        ]
        for history in sorted(chosen, key=lambda h: (h.subject_kind.value, h.subject_id)):
            yield self._uow._handing_out(history)

    def count_by_stage(self, model: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for history in self._uow._all_histories():
            if history.model == model:
                counts[history.current] = counts.get(history.current, 0) + 1
        return counts


def _snapshot_copy(snapshot: SegmentSnapshot) -> SegmentSnapshot:
    # A fresh object: no pending changes or events of the original.
    return SegmentSnapshot(snapshot.segment, snapshot.as_of, snapshot.members, snapshot.version)


class _SegmentMemberships:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def find(self, segment: str) -> SegmentSnapshot | None:
        found = self._uow._snapshot(segment)
        return None if found is None else _snapshot_copy(found)

    def add(self, snapshot: SegmentSnapshot) -> None:
        instance_of(snapshot, SegmentSnapshot, "snapshot")
        uow = self._uow
        if snapshot.version != 0:
            raise ValidationError.single(
                "version", snapshot.version, "a new snapshot has version 0"
            )
        if uow._snapshot(snapshot.segment) is not None:
            raise ConcurrencyConflict("segment snapshot", snapshot.segment, 0, "it already exists")
        snapshot.version = 1
        uow._stage_snapshot(snapshot, 0)
        snapshot.saved()
        uow._track(snapshot)

    def update(self, snapshot: SegmentSnapshot) -> None:
        instance_of(snapshot, SegmentSnapshot, "snapshot")
        uow = self._uow
        current = uow._snapshot(snapshot.segment)
        if current is None:
            raise NotFound("segment snapshot", snapshot.segment)
        if current.version != snapshot.version:
            raise ConcurrencyConflict("segment snapshot", snapshot.segment, snapshot.version)
        entry = uow._snapshots.get(snapshot.segment)
        base = entry[0] if entry is not None else current.version
        snapshot.version += 1
        uow._stage_snapshot(snapshot, base)
        snapshot.saved()
        uow._track(snapshot)

    def members(
        self, segment: str, *, batch_size: int = 1000, after: str | None = None
    ) -> Iterator[CustomerId]:
        check_batch(batch_size)
        check_page(1, after)
        for customer_id in self._uow._segment_members(segment):
            if after is None or customer_id > after:
                yield customer_id

    def contains(self, segment: str, customer_id: CustomerId) -> bool:
        uow = self._uow
        uow._require_open()
        added, removed = uow._members.get(segment, ({}, set()))
        if customer_id in added:
            return True
        if customer_id in removed:
            return False
        with uow._store.lock:
            return customer_id in uow._tables.members.get(segment, {})


class InMemoryOutbox(OutboxReader):
    """The in-memory store's outbox: the same behaviour as the SQL one, for tests."""

    def __init__(self, store: InMemoryStore, tenant: TenantId | None) -> None:
        self._store = store
        self._tenant = tenant

    def _mine(self, message: OutboxMessage) -> bool:
        return self._tenant is None or message.tenant == self._tenant

    def _fetch(self, limit: int) -> list[OutboxMessage]:
        with self._store.lock:
            waiting = [m for m, done in self._store._outbox if not done and self._mine(m)]
        return waiting[:limit]

    def _acknowledge(self, positions: list[int]) -> int:
        wanted = set(positions)
        marked = 0
        with self._store.lock:
            entries = self._store._outbox
            for index, (message, done) in enumerate(entries):
                if message.position in wanted and not done and self._mine(message):
                    entries[index] = (message, True)
                    marked += 1
        return marked

    def pending(self) -> int:
        """How many messages wait for delivery."""
        with self._store.lock:
            return sum(1 for m, done in self._store._outbox if not done and self._mine(m))

    def purge(self) -> int:
        """Forget delivered messages (positions are never reused); returns how many."""
        with self._store.lock:
            entries = self._store._outbox
            kept = [(m, done) for m, done in entries if not (done and self._mine(m))]
            purged = len(entries) - len(kept)
            entries[:] = kept
            return purged
