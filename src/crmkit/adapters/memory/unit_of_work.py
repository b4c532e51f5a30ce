"""The in-memory unit of work: staged writes, applied all at once on commit.

Writes are staged on the unit of work and checked again under the store's lock on commit
(versions, unique keys), so a failed or abandoned unit of work leaves nothing behind and
concurrent writers get `ConcurrencyConflict` exactly as with a database. The repositories
(one module per capability) read through the staged writes with the helpers here.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmkit.adapters.memory.accounts import Accounts
from crmkit.adapters.memory.customers import Customers
from crmkit.adapters.memory.interactions import Interactions
from crmkit.adapters.memory.lifecycle import StageHistories
from crmkit.adapters.memory.loyalty import (
    LedgerKey,
    PointsLedgers,
    Referrals,
    StoredLedger,
    referral_copy,
)
from crmkit.adapters.memory.segments import SegmentMemberships, snapshot_copy
from crmkit.adapters.memory.tables import A, H, HistoryKey, clone, history_key
from crmkit.domain import (
    Account,
    AccountId,
    Customer,
    CustomerId,
    DomainEvent,
    Interaction,
    InteractionId,
    PointsBalance,
    PointsLedger,
    Referral,
    SegmentSnapshot,
    StageHistory,
    TenantId,
)
from crmkit.errors import (
    ConcurrencyConflict,
    DuplicateAccount,
    DuplicateCustomer,
    IdempotencyConflict,
    ReferralRefused,
)
from crmkit.ports import BaseUnitOfWork, Publisher

if TYPE_CHECKING:
    from crmkit.adapters.memory.store import InMemoryStore

__all__ = ["InMemoryUnitOfWork"]


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
        self._histories: dict[HistoryKey, tuple[int, StageHistory]] = {}
        self.customers = Customers(self)
        self.accounts = Accounts(self)
        self.interactions = Interactions(self)
        self.stage_histories = StageHistories(self)
        self._snapshots: dict[str, tuple[int, SegmentSnapshot]] = {}
        # Per segment: members added (with since) and removed; an added one wins.
        self._members: dict[str, tuple[dict[CustomerId, datetime], set[CustomerId]]] = {}
        self.segment_memberships = SegmentMemberships(self)
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
            t.histories[history_key(history)] = history
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

    def _history(self, key: HistoryKey) -> StageHistory | None:
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
        self._histories[history_key(history)] = (base, clone(history))

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
        self._snapshots[snapshot.segment] = (base, snapshot_copy(snapshot))

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
        return clone(aggregate)

    def _stage_customer(self, customer: Customer, base: int) -> None:
        self._customers[customer.id] = (base, clone(customer))

    def _stage_account(self, account: Account, base: int) -> None:
        self._accounts[account.id] = (base, clone(account))

    def _stage_interaction(self, interaction: Interaction) -> None:
        self._interactions[interaction.id] = interaction
        if interaction.external_ref is not None:
            self._staged_refs[interaction.external_ref] = interaction.id

    def _base(self, staged: dict[str, tuple[int, A]], key: str, fallback: int) -> int:
        entry = staged.get(key)
        return entry[0] if entry is not None else fallback
