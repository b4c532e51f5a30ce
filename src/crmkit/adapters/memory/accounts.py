"""The in-memory adapter's accounts: `crmkit.ports.AccountRepository` over a unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from crmkit.adapters._arguments import check_batch
from crmkit.adapters.memory.tables import keyset_page
from crmkit.domain import Account, AccountId
from crmkit.domain._arguments import instance_of
from crmkit.errors import ConcurrencyConflict, DuplicateAccount, NotFound, ValidationError
from crmkit.ports import Page

if TYPE_CHECKING:
    from crmkit.adapters.memory.unit_of_work import InMemoryUnitOfWork

__all__ = ["Accounts"]


class Accounts:
    """`crmkit.ports.AccountRepository` over an in-memory unit of work."""

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
        page = keyset_page(self._uow._all_accounts(), limit, cursor)
        return Page(tuple(self._uow._handing_out(a) for a in page.items), page.next_cursor)

    def stream(self, *, batch_size: int = 1000) -> Iterator[Account]:
        check_batch(batch_size)
        for account in sorted(self._uow._all_accounts(), key=lambda a: a.id):
            yield self._uow._handing_out(account)
