"""The invariant: every read agrees on both sides, and what the adapter holds can be."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from hypothesis.stateful import invariant

from crmkit.domain import (
    CUSTOMER_LIFECYCLE,
    DEAL_PIPELINE,
    Account,
    Channel,
    Customer,
    CustomerId,
    InteractionKind,
    PointsBalance,
    StageHistory,
    SubjectKind,
    TenantId,
)
from crmkit.front import CRM
from crmkit.ports import UnitOfWork
from crmkit.testing.stateful._base import MachineState
from crmkit.testing.stateful._checks import _bad_path, _check_announced, _check_totals
from crmkit.testing.stateful._config import LIFECYCLES, START, TAGS, TENANTS
from crmkit.testing.stateful._model import _agree, _check, _got, _pages, _Side


class ReadInvariants(MachineState):
    """Compare every read of the two sides after every step, and check the adapter's stage
    histories, stage events and points."""

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
        """What ``tenant`` stores, read on ``side``; with ``every``, also read every other way
        (page by page, by key, by stage, by subject), in one unit of work."""
        with side.reader(tenant) as uow:
            reads, occupied = self._stored_reads(uow)
            if every:
                reads.update(self._history_reads(uow, occupied))
                reads.update(self._lookup_reads(uow))
        return reads

    @staticmethod
    def _stored_reads(uow: UnitOfWork) -> tuple[dict[str, object], dict[str, list[str]]]:
        """Everything stored, streamed and counted, and the stages each model counts someone
        in (which `_history_reads` streams)."""
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
        return reads, occupied

    def _lookup_reads(self, uow: UnitOfWork) -> Iterator[tuple[str, object]]:
        """The listings page by page, and every lookup by a key the machine has used."""
        customers, interactions, accounts = uow.customers, uow.interactions, uow.accounts
        yield "customers.list()", _pages(customers.list, limit=3)
        yield "accounts.list()", _pages(accounts.list, limit=2)
        for tag in TAGS:
            yield f"customers.list(tag={tag!r})", _pages(customers.list, tag=tag, limit=2)
        for account_id in self._account_ids:
            listed = _pages(customers.list, account_id=account_id)
            yield f"customers.list(account_id={account_id!r})", listed
            yield f"accounts.find({account_id!r})", accounts.find(account_id)
        for domain in self._domains:
            yield f"accounts.find_by_domain({domain!r})", accounts.find_by_domain(domain)
        for email in self._emails:
            yield f"customers.find_by_email({email})", customers.find_by_email(email)
        for source, ref in self._external_keys:
            found = customers.find_by_external_id(source, ref)
            yield f"customers.find_by_external_id({source!r}, {ref!r})", found
        for ref in self._refs:
            yield (
                f"interactions.find_by_external_ref({ref!r})",
                interactions.find_by_external_ref(ref),
            )
        for interaction_id in sorted(self._interaction_ids):
            yield f"interactions.get({interaction_id!r})", _got(interactions.get, interaction_id)
        for customer_id in sorted(self._customer_ids):
            yield f"customers.get({customer_id!r})", _got(customers.get, customer_id)
            yield from self._timelines(uow, customer_id)

    def _points_reads(self, side: _Side, tenant: TenantId, *, every: bool) -> dict[str, object]:
        """The loyalty reads, through the side's reading `CRM`: every stored balance (keyed
        by member; each side must stream them in customer id order); with ``every``, each
        customer's balance now, each member's ledger (its statement compared line by line,
        entry field by field, and its tier now: what `CRM.points_statement` and
        `CRM.loyalty_tier` derive from it), the referrals of each customer a referral was
        asked for, and every referral by id. (The ledger is read once per member, and
        referrals only for those concerned, to keep every step cheap on SQL backends.)"""
        crm = side.readers[tenant]
        balances = list(crm.loyalty.stream_balances(batch_size=2))
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
            reads[f"points_balance({customer_id!r})"] = _got(crm.loyalty.balance, customer_id)
        for member in members:
            ledger = crm.loyalty.ledger(member)
            reads[f"points_statement({member!r})"] = ledger.statement()
            reads[f"loyalty_tier({member!r})"] = ledger.tier(now)
        for customer_id in sorted(self._parties):
            reads[f"referral_of({customer_id!r})"] = _got(
                crm.loyalty.referrals.find_by_referee, customer_id
            )
            reads[f"referrals_made({customer_id!r})"] = _got(
                crm.loyalty.referrals.list_by_referrer, customer_id
            )
        for referral_id in sorted(self._referral_ids):
            reads[f"get_referral({referral_id!r})"] = _got(crm.loyalty.referrals.get, referral_id)
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
            self._check_member_points(crm, tenant, stored, now)
        as_of = self._last_job.get(tenant)
        if as_of is not None and every:
            self._check_job_relaunch(crm, tenant, as_of)

    @staticmethod
    def _check_member_points(
        crm: CRM, tenant: TenantId, stored: PointsBalance, now: datetime
    ) -> None:
        """The points of the member whose stored balance is ``stored`` add up, now and in
        the past, and the balances read and stored are what `CRM.points_state` adds up to."""
        member = stored.customer_id
        what = f"the points of {member!r} in tenant {tenant!r}"
        state = crm.loyalty.state(member)
        _check_totals(f"{what} now", state)
        read = crm.loyalty.balance(member)
        figures = (state.available, state.pending)
        read_now = (read.available, read.pending)
        _check(f"{what}: points_balance() now, against points_state()", figures, read_now)
        if stored.settled_at(now):
            kept = (stored.available, stored.pending)
            _check(f"{what}: the stored balance, nothing having fallen due", figures, kept)
        if stored.last_at is not None:
            past = START + (stored.last_at - START) / 2
            _check_totals(f"{what} at {past}", crm.loyalty.state(member, as_of=past))

    def _check_job_relaunch(self, crm: CRM, tenant: TenantId, as_of: datetime) -> None:
        """Relaunching the points job of ``tenant`` at the last run's ``as_of`` reports and
        stores nothing (on the adapter)."""
        before = self.adapter.points(tenant)
        report = crm.loyalty.run_job(as_of=as_of)
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
