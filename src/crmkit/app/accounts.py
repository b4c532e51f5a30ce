"""Use cases on B2B accounts and their contacts."""

from __future__ import annotations

from typing import Any

from crmkit.app.customers import CustomerUseCases
from crmkit.app.progression import enter_models
from crmkit.app.retries import retry_conflicts
from crmkit.domain import Account, AccountId, AccountLink, CompanySize, Customer, SubjectKind
from crmkit.domain._arguments import expected_version_of
from crmkit.domain.values.ids import check_id
from crmkit.errors import ConcurrencyConflict, DuplicateAccount

__all__ = ["AccountUseCases"]


class AccountUseCases(CustomerUseCases):
    """The account use cases of the `CRM` front door."""

    def register_account(
        self,
        *,
        name: str,
        domain: str | None = None,
        industry: str | None = None,
        size: CompanySize | str | None = None,
        account_id: str | None = None,
    ) -> Account:
        """Register a company; a second account with the same web domain is refused with
        `DuplicateAccount`. The account enters each of the CRM's account lifecycle models."""
        new_id, at = AccountId(account_id or self._new_id()), self._now()

        def register() -> Account:  # built afresh at each attempt, as `register_customer`
            account = Account.register(
                new_id, name=name, at=at, domain=domain, industry=industry, size=size
            )
            with self.unit_of_work() as uow:
                if account.domain is not None:
                    owner = uow.accounts.find_by_domain(account.domain)
                    if owner is not None:
                        raise DuplicateAccount("domain", account.domain, owner.id)
                uow.accounts.add(account)
                models = self._models_for(SubjectKind.ACCOUNT)
                enter_models(uow, models, account.id, at=account.created_at, reason="registered")
                uow.commit()
            return account

        # A racing registration of the same domain is retried: the next attempt finds it.
        return retry_conflicts(register)

    def get_account(self, account_id: str) -> Account:
        """The account with that id; raises `NotFound`."""
        with self._reading() as uow:
            return uow.accounts.get(AccountId(check_id("account_id", account_id)))

    def update_account(
        self, account_id: str, *, expected_version: int | None = None, **changes: Any
    ) -> Account:
        """Change ``name``, ``domain``, ``industry`` or ``size``; return the stored account.

        With ``expected_version``, a change of the account by anyone else since is refused
        with `ConcurrencyConflict`; without, the change is applied to what they stored."""
        expected_version = expected_version_of(expected_version)
        at = self._now()

        def attempt() -> Account:
            with self.unit_of_work() as uow:
                account = uow.accounts.get(AccountId(check_id("account_id", account_id)))
                if expected_version is not None and account.version != expected_version:
                    raise ConcurrencyConflict("account", account_id, expected_version)
                if account.update(at=at, **changes):
                    owner = account.domain and uow.accounts.find_by_domain(account.domain)
                    if owner and owner.id != account.id:
                        raise DuplicateAccount("domain", account.domain, owner.id)
                    uow.accounts.update(account)
                    uow.commit()
                return account

        return attempt() if expected_version is not None else retry_conflicts(attempt)

    def link_to_account(
        self, customer_id: str, account_id: str, *, role: str = "contact"
    ) -> Customer:
        """Make the customer a contact of the account, in ``role`` (a slug)."""
        link = AccountLink(AccountId(check_id("account_id", account_id)), role)
        return self.update_profile(customer_id, account=link)

    def unlink_from_account(self, customer_id: str) -> Customer:
        """Remove the customer's link to an account."""
        return self.update_profile(customer_id, account=None)

    def account_contacts(self, account_id: str) -> list[Customer]:
        """Every customer linked to the account, in id order."""
        account = AccountId(check_id("account_id", account_id))
        contacts: list[Customer] = []
        with self._reading() as uow:
            uow.accounts.get(account)
            cursor: str | None = None
            while True:
                page = uow.customers.list(account_id=account, cursor=cursor)
                contacts.extend(page.items)
                if page.next_cursor is None:
                    return contacts
                cursor = page.next_cursor
