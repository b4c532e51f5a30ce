"""The two sides the machine compares, and how outcomes are taken and compared.

A `_Side` is one storage (the in-memory model or the adapter under test) with its CRMs and
the events it published; `_attempt` turns an operation into a value or the crmkit error it
raised, `_agree` compares the two sides' answers and says where they first differ.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from crmkit.app.clocks import FixedClock, SequentialIds
from crmkit.app.settings import Settings
from crmkit.domain import Customer, DomainEvent, Interaction, PointsBalance, StageHistory, TenantId
from crmkit.errors import CrmError
from crmkit.front import CRM
from crmkit.ports import Outbox, Page, Publisher, Store, UnitOfWork
from crmkit.testing.stateful._config import LIFECYCLES, LOYALTY, TENANTS

T = TypeVar("T")


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


def _record_through(crm: CRM, interaction: Interaction) -> Interaction:
    """Record ``interaction``'s content through the front door (a new id, idempotent by ref)."""
    return crm.interactions.record(
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


def _save(uow: UnitOfWork, customer: Customer) -> Customer:
    uow.customers.update(customer)
    uow.commit()
    return customer


def _save_history(uow: UnitOfWork, history: StageHistory) -> StageHistory:
    uow.stage_histories.update(history)
    uow.commit()
    return history


class _Touching:
    """A store that notes every tenant a unit of work is opened on (the work to compare)."""

    def __init__(self, store: Store, touched: set[TenantId]) -> None:
        self._store = store
        self._touched = touched

    def unit_of_work(
        self, tenant: TenantId, publish: Publisher | None = None, *, read_only: bool = False
    ) -> UnitOfWork:
        self._touched.add(tenant)
        return self._store.unit_of_work(tenant, publish, read_only=read_only)

    def outbox(self, *, tenant: str | None = None) -> Outbox:
        return self._store.outbox(tenant=tenant)


class _Side:
    """One side of the comparison: an adapter, the events it published, a CRM per tenant,
    a CRM per tenant for reading (whose work does not count as work on the tenant), and the
    tenants worked on since the last comparison."""

    def __init__(self, store: Store, clock: FixedClock) -> None:
        self.store = store
        self.published: list[DomainEvent] = []
        self.touched: set[TenantId] = set()
        ids = SequentialIds("id")
        self.crms: dict[TenantId, CRM] = {}
        self.readers: dict[TenantId, CRM] = {}
        for tenant in TENANTS:
            settings = Settings(
                tenant=tenant, clock=clock, ids=ids, lifecycles=LIFECYCLES, loyalty=LOYALTY
            )
            for crms, storage in (
                (self.crms, _Touching(store, self.touched)),
                (self.readers, store),
            ):
                crm = CRM(storage, settings)
                crm.events.subscribe(DomainEvent, self.published.append)
                crms[tenant] = crm

    def uow(self, tenant: TenantId) -> UnitOfWork:
        """A new unit of work on ``tenant`` whose committed events are recorded."""
        self.touched.add(tenant)
        return self.store.unit_of_work(tenant, self.published.extend)

    def reader(self, tenant: TenantId) -> UnitOfWork:
        """A unit of work for reading only: it does not count as work on ``tenant``, and is
        opened read-only (it takes no lock where the storage has locks)."""
        return self.store.unit_of_work(tenant, self.published.extend, read_only=True)

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
        balances = list(self.readers[tenant].loyalty.stream_balances(batch_size=2))
        return balances, len(self.published)
