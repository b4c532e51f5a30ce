"""`crm.accounts`: B2B accounts and the customers who are their contacts."""

from __future__ import annotations

import builtins
from collections.abc import Iterator

from crmkit.app.context import Context
from crmkit.app.customers import CustomerService
from crmkit.app.progression import enter_models
from crmkit.app.retries import retry_conflicts
from crmkit.domain import (
    UNCHANGED,
    Account,
    AccountId,
    AccountLink,
    CompanySize,
    Customer,
    SubjectKind,
)
from crmkit.domain._arguments import expected_version_of, page_limit
from crmkit.domain.values.ids import check_id
from crmkit.errors import ConcurrencyConflict, DuplicateAccount
from crmkit.ports import Page

__all__ = ["AccountService"]


class AccountService:
    """The B2B accounts of one tenant: ``crm.accounts``."""

    def __init__(self, context: Context, customers: CustomerService) -> None:
        self._context = context
        self._customers = customers

    def register(
        self,
        *,
        name: str,
        domain: str | None = None,
        industry: str | None = None,
        size: CompanySize | str | None = None,
        account_id: str | None = None,
    ) -> Account:
        """Register a company and return it; it enters each of the settings' account
        lifecycle models.

        Returns:
            The stored `Account`.

        Raises:
            DuplicateAccount: another account has the web ``domain``.
            ValidationError: a value is invalid.
        """
        ctx = self._context
        new_id, at = AccountId(account_id or ctx.new_id()), ctx.now()

        def register() -> Account:  # built afresh at each attempt, as a customer's
            account = Account.register(
                new_id, name=name, at=at, domain=domain, industry=industry, size=size
            )
            with ctx.unit_of_work() as uow:
                if account.domain is not None:
                    owner = uow.accounts.find_by_domain(account.domain)
                    if owner is not None:
                        raise DuplicateAccount("domain", account.domain, owner.id)
                uow.accounts.add(account)
                models = ctx.models_for(SubjectKind.ACCOUNT)
                enter_models(uow, models, account.id, at=account.created_at, reason="registered")
                uow.commit()
            return account

        # A racing registration of the same domain is retried: the next attempt finds it.
        return retry_conflicts(register)

    def get(self, account_id: str) -> Account:
        """The account with that id.

        Returns:
            The stored `Account`.

        Raises:
            NotFound: the tenant holds no such account.
        """
        with self._context.reading() as uow:
            return uow.accounts.get(AccountId(check_id("account_id", account_id)))

    def list(self, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        """One page of the tenant's accounts in id order; pass ``next_cursor`` for the next.

        Raises:
            ValidationError: ``limit`` is not an int from 1 to 10,000.
        """
        page_limit(limit)
        with self._context.reading() as uow:
            return uow.accounts.list(limit=limit, cursor=cursor)

    def stream(self, *, batch_size: int = 1000) -> Iterator[Account]:
        """Every account of the tenant in id order, a page of ``batch_size`` at a time, each
        page in its own short transaction (no connection is held between pages)."""
        page_limit(batch_size, "batch_size")
        cursor: str | None = None
        while True:
            page = self.list(limit=batch_size, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def update(
        self,
        account_id: str,
        *,
        name: str = UNCHANGED,
        domain: str | None = UNCHANGED,
        industry: str | None = UNCHANGED,
        size: CompanySize | str | None = UNCHANGED,
        expected_version: int | None = None,
    ) -> Account:
        """Change the fields given and return the stored account.

        With ``expected_version``, a change of the account by anyone else since is refused
        with `ConcurrencyConflict`; without, the change is applied to what they stored.

        Returns:
            The account as stored.

        Raises:
            NotFound: no such account.
            DuplicateAccount: another account has the new web ``domain``.
        """
        expected_version = expected_version_of(expected_version)
        fields = {"name": name, "domain": domain, "industry": industry, "size": size}
        changes = {k: v for k, v in fields.items() if v is not UNCHANGED}
        at = self._context.now()
        wanted = AccountId(check_id("account_id", account_id))

        def attempt() -> Account:
            with self._context.unit_of_work() as uow:
                account = uow.accounts.get(wanted)
                if expected_version is not None and account.version != expected_version:
                    raise ConcurrencyConflict("account", wanted, expected_version)
                if account.update(at=at, **changes):
                    owner = account.domain and uow.accounts.find_by_domain(account.domain)
                    if owner and owner.id != account.id:
                        raise DuplicateAccount("domain", account.domain, owner.id)
                    uow.accounts.update(account)
                    uow.commit()
                return account

        return attempt() if expected_version is not None else retry_conflicts(attempt)

    def link(self, customer_id: str, account_id: str, *, role: str = "contact") -> Customer:
        """Make the customer a contact of the account, in ``role`` (a slug); returns the
        stored customer.

        Returns:
            The customer as stored.

        Raises:
            NotFound: no such customer or account.
            ValidationError: ``role`` is no slug.
        """
        link = AccountLink(AccountId(check_id("account_id", account_id)), role)
        return self._customers.update(customer_id, account=link)

    def unlink(self, customer_id: str) -> Customer:
        """Remove the customer's link to an account; returns the stored customer.

        Returns:
            The customer as stored.

        Raises:
            NotFound: no such customer.
        """
        return self._customers.update(customer_id, account=None)

    def contacts(self, account_id: str) -> builtins.list[Customer]:
        """Every customer linked to the account, in id order.

        Returns:
            The linked customers (empty when there are none).

        Raises:
            NotFound: no such account.
        """
        account = AccountId(check_id("account_id", account_id))
        contacts: builtins.list[Customer] = []
        with self._context.reading() as uow:
            uow.accounts.get(account)
            cursor: str | None = None
            while True:
                page = uow.customers.list(account_id=account, cursor=cursor)
                contacts.extend(page.items)
                if page.next_cursor is None:
                    return contacts
                cursor = page.next_cursor
