"""The in-memory adapter's customers: `crmkit.ports.CustomerRepository` over a unit of work."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from crmkit.adapters._arguments import check_batch, check_page, check_rule
from crmkit.adapters._bulk import add_each, is_replayed_customer
from crmkit.adapters._lookups import check_search_text, search_matches
from crmkit.adapters.memory.tables import keyset_page
from crmkit.domain import (
    AccountId,
    Condition,
    Customer,
    CustomerId,
    EmailAddress,
    Facts,
    Interaction,
    PhoneNumber,
    SubjectKind,
)
from crmkit.domain._arguments import instance_of
from crmkit.domain.rules.evaluate import compile_condition
from crmkit.errors import ConcurrencyConflict, DuplicateCustomer, NotFound, ValidationError
from crmkit.ports import ImportResult, OnExisting, Page

if TYPE_CHECKING:
    from crmkit.adapters.memory.unit_of_work import InMemoryUnitOfWork

__all__ = ["Customers"]


class Customers:
    """`crmkit.ports.CustomerRepository` over an in-memory unit of work."""

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
        return add_each(customers, self._add, batch_size=batch_size, on_existing=on_existing)

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

    def find_by_phone(self, phone: PhoneNumber) -> Customer | None:
        """The customer whose phone has the E.164 part of ``phone``, extensions ignored.

        Args:
            phone: the number to look for.

        Returns:
            The matching customer (of several, the one with the smallest id), or ``None``.

        Raises:
            ValidationError: ``phone`` is not a `PhoneNumber`.
        """
        instance_of(phone, PhoneNumber, "phone")
        matching = [
            c
            for c in self._uow._all_customers()
            if c.phone is not None and c.phone.e164 == phone.e164
        ]
        if not matching:
            return None
        return self._uow._handing_out(min(matching, key=lambda c: c.id))

    def search(self, text: str, *, limit: int = 20, cursor: str | None = None) -> Page[Customer]:
        """The customers whose email, given name or family name starts with ``text``.

        Args:
            text: the prefix, compared case-insensitively (`search_matches`).
            limit: the page size, as `list`'s.
            cursor: the ``next_cursor`` of the previous page, or ``None`` for the first.

        Returns:
            A page of the matching customers in id order, each once.

        Raises:
            ValidationError: ``text`` is empty or not text, or ``limit`` or ``cursor`` is bad.
        """
        check_search_text(text)
        chosen = [c for c in self._uow._all_customers() if search_matches(c, text)]
        page = keyset_page(chosen, limit, cursor)
        return Page(tuple(self._uow._handing_out(c) for c in page.items), page.next_cursor)

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
        page = keyset_page(chosen, limit, cursor)
        return Page(tuple(self._uow._handing_out(c) for c in page.items), page.next_cursor)

    def stream_page(
        self, *, limit: int = 1000, cursor: str | None = None
    ) -> tuple[Iterator[Customer], str | None]:
        page = self.list(limit=limit, cursor=cursor)
        return iter(page.items), page.next_cursor

    def stream(self, *, batch_size: int = 1000) -> Iterator[Customer]:
        check_batch(batch_size)
        for customer in sorted(self._uow._all_customers(), key=lambda c: c.id):
            yield self._uow._handing_out(customer)

    def _matching(
        self,
        condition: Condition,
        as_of: datetime,
        *,
        after: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[Customer]:
        """The customers for whom ``condition`` holds at ``as_of``, in id order: after id
        ``after`` and at most ``limit`` of them, when given (the rest are not evaluated)."""
        moment = check_rule(condition, as_of)
        uow = self._uow
        stages: dict[str, dict[str, str]] = {}
        entered: dict[str, dict[str, datetime]] = {}
        for history in uow._all_histories():
            if history.subject_kind is SubjectKind.CUSTOMER:
                stages.setdefault(history.subject_id, {})[history.model] = history.current
                entered.setdefault(history.subject_id, {})[history.model] = history.entered_at
        interactions: dict[str, list[Interaction]] = {}
        for interaction in uow._all_interactions():
            interactions.setdefault(interaction.customer_id, []).append(interaction)
        matcher = compile_condition(condition)  # once per query, not a re-walk per customer
        found: builtins.list[Customer] = []
        chosen = (c for c in uow._all_customers() if after is None or c.id > after)
        for customer in sorted(chosen, key=lambda c: c.id):
            if limit is not None and len(found) == limit:
                break
            link = customer.account
            facts = Facts.of_customer(
                customer,
                interactions.get(customer.id, ()),
                moment,
                account=None if link is None else uow._account(link.account_id),
                stages=stages.get(customer.id),
                stages_entered_at=entered.get(customer.id),
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
        # One more than the page, so keyset_page knows whether another page follows.
        found = self._matching(condition, as_of, after=cursor, limit=limit + 1)
        page = keyset_page(found, limit, None)
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
        for customer in self._matching(condition, as_of, after=after):
            yield self._uow._handing_out(customer)

    def count(self) -> int:
        return len(self._uow._all_customers())
