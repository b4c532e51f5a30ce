"""The customer capability: customers and accounts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Protocol

from crmkit.domain import (
    Account,
    AccountId,
    Condition,
    Customer,
    CustomerId,
    EmailAddress,
    PhoneNumber,
)
from crmkit.ports.pages import ImportResult, OnExisting, Page

__all__ = ["AccountRepository", "CustomerRepository", "CustomerStorage"]


class CustomerRepository(Protocol):
    """The customers of one tenant."""

    def add(self, customer: Customer) -> None:
        """Store a new customer (version 0); it becomes version 1.
        Raises `DuplicateCustomer` if its id, email or an external id is taken."""
        ...

    def add_many(
        self,
        customers: Iterable[Customer],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        """Bulk-insert new customers (a data import): faster than `add`, records no events.
        A duplicate raises `DuplicateCustomer`, except that with ``on_existing="skip"`` a
        customer whose id is stored with the same content (`Customer.same_content`) is
        skipped. Returns what was stored and skipped; finding stored rows costs one query per
        batch, and only with ``"skip"``."""
        ...

    def get(self, customer_id: CustomerId) -> Customer:
        """The customer with that id; raises `NotFound`."""
        ...

    def find(self, customer_id: CustomerId) -> Customer | None:
        """The customer with that id, or ``None``."""
        ...

    def find_by_email(self, email: EmailAddress) -> Customer | None:
        """The customer whose primary email is ``email``, or ``None``."""
        ...

    def find_by_external_id(self, source: str, external_id: str) -> Customer | None:
        """The customer known to host system ``source`` as ``external_id``, or ``None``."""
        ...

    def find_by_phone(self, phone: PhoneNumber) -> Customer | None:
        """The customer whose phone's E.164 part is ``phone``'s (extensions ignored; of
        several, the smallest id), or ``None``."""
        ...

    def search(self, text: str, *, limit: int = 20, cursor: str | None = None) -> Page[Customer]:
        """Customers whose email, given or family name starts with non-empty ``text``
        (``value.lower().startswith(text.lower())``), in id order, a keyset page at a time."""
        ...

    def update(self, customer: Customer) -> None:
        """Save a changed customer whose stored version is still ``customer.version``, then
        bump it; raises `ConcurrencyConflict` if another writer got there first."""
        ...

    def list(
        self,
        *,
        tag: str | None = None,
        account_id: AccountId | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Customer]:
        """Customers in id order, optionally only those with ``tag`` (in its stored form, see
        `normalize_tag`) or linked to an account."""
        ...

    def stream(self, *, batch_size: int = 1000) -> Iterator[Customer]:
        """Every customer in id order, fetched in batches so memory stays bounded."""
        ...

    def stream_page(
        self, *, limit: int = 1000, cursor: str | None = None
    ) -> tuple[Iterator[Customer], str | None]:
        """One page of `list` (no filter): its customers and the next page's cursor (``None``
        on the last). The page is read before this returns, so the unit of work may end
        before the customers are consumed; they are built one at a time as the iterator
        is consumed, so a caller that drops each never holds a page of them at once."""
        ...

    def count(self) -> int:
        """How many customers the tenant has."""
        ...

    def count_matching(self, condition: Condition, *, as_of: datetime) -> int:
        """How many customers match segment rule ``condition`` at ``as_of``."""
        ...

    def matching_ids(
        self,
        condition: Condition,
        *,
        as_of: datetime,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[CustomerId]:
        """The ids of the customers matching ``condition`` at ``as_of``, in id order, a
        keyset page at a time. Raises `ValidationError` for a rule a segment cannot hold
        (`TimeInStage`)."""
        ...

    def stream_matching(
        self,
        condition: Condition,
        *,
        as_of: datetime,
        batch_size: int = 1000,
        after: str | None = None,
    ) -> Iterator[Customer]:
        """The customers matching ``condition`` at ``as_of``, in id order (those with an id
        above ``after`` when given), fetched in batches so memory stays bounded."""
        ...


class AccountRepository(Protocol):
    """The B2B accounts of one tenant."""

    def add(self, account: Account) -> None:
        """Store a new account (version 0); raises `DuplicateAccount` if id or domain is taken."""
        ...

    def get(self, account_id: AccountId) -> Account:
        """The account with that id; raises `NotFound`."""
        ...

    def find(self, account_id: AccountId) -> Account | None:
        """The account with that id, or ``None``."""
        ...

    def find_by_domain(self, domain: str) -> Account | None:
        """The account with that (normalised) web domain, or ``None``."""
        ...

    def update(self, account: Account) -> None:
        """Save a changed account; raises `ConcurrencyConflict` on a stale version."""
        ...

    def list(self, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        """Accounts in id order."""
        ...

    def stream(self, *, batch_size: int = 1000) -> Iterator[Account]:
        """Every account in id order, in batches."""
        ...


class CustomerStorage(Protocol):
    """The customer capability of a unit of work: customers and accounts."""

    @property
    def customers(self) -> CustomerRepository:
        """The tenant's customers."""
        ...

    @property
    def accounts(self) -> AccountRepository:
        """The tenant's accounts."""
        ...
