"""Accounts (B2B companies) in ``crmkit_accounts``: the repository and its row mapping."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import exc, insert, select, update

from crmkit.adapters._arguments import check_batch, check_page
from crmkit.adapters.sqlalchemy.accounts.tables import accounts
from crmkit.adapters.sqlalchemy.rows import from_us, hydrate, to_us
from crmkit.adapters.sqlalchemy.session import Session, is_about, survives_refusals
from crmkit.domain import Account, AccountId, CompanySize
from crmkit.domain._arguments import instance_of
from crmkit.errors import ConcurrencyConflict, DuplicateAccount, NotFound, ValidationError
from crmkit.ports import Page

__all__ = ["SqlAccounts", "account_from_row", "account_row"]


def account_row(tenant: str, account: Account) -> dict[str, Any]:
    """The ``crmkit_accounts`` row of an account."""
    return {
        "tenant_id": tenant,
        "id": account.id,
        "version": account.version,
        "name": account.name,
        "domain": account.domain,
        "industry": account.industry,
        "size": account.size.value if account.size else None,
        "created_at_us": to_us(account.created_at),
        "updated_at_us": to_us(account.updated_at),
    }


def account_from_row(row: Mapping[Any, Any]) -> Account:
    """An account from its row."""
    return hydrate(
        Account,
        id=AccountId(row["id"]),
        name=row["name"],
        created_at=from_us(row["created_at_us"]),
        updated_at=from_us(row["updated_at_us"]),
        domain=row["domain"],
        industry=row["industry"],
        size=CompanySize(row["size"]) if row["size"] else None,
        version=row["version"],
        _events=[],
    )


class SqlAccounts:
    """Accounts in ``crmkit_accounts``."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, account: Account) -> None:
        instance_of(account, Account, "account")
        if account.version != 0:
            raise ValidationError.single("version", account.version, "a new account has version 0")
        self._refuse_duplicate(account)
        row = account_row(self._s.tenant, account)
        row["version"] = 1
        try:
            self._s.connection.execute(insert(accounts), [row])
        except exc.IntegrityError as error:
            field = "domain" if is_about(error, "domain") else "id"
            raise DuplicateAccount(field, getattr(account, field), "another account") from None
        account.version = 1
        self._s._track(account)

    def update(self, account: Account) -> None:
        instance_of(account, Account, "account")
        row = account_row(self._s.tenant, account)
        row["version"] = account.version + 1
        a = accounts.c
        connection = self._s.connection
        try:  # versioned first, as for customers
            result = connection.execute(
                update(accounts)
                .where(
                    a.tenant_id == self._s.tenant,
                    a.id == account.id,
                    a.version == account.version,
                )
                .values(row)
            )
        except exc.IntegrityError:
            if survives_refusals(connection):
                self._refuse_duplicate(account)
            raise DuplicateAccount("domain", account.domain, None) from None
        if result.rowcount != 1:
            if self.find(account.id) is None:
                raise NotFound("account", account.id)
            raise ConcurrencyConflict("account", account.id, account.version)
        account.version += 1
        self._s._track(account)

    def _refuse_duplicate(self, account: Account) -> None:
        if account.domain is None:
            return
        owner = self.find_by_domain(account.domain)
        if owner is not None and owner.id != account.id:
            raise DuplicateAccount("domain", account.domain, owner.id)

    def get(self, account_id: AccountId) -> Account:
        found = self.find(account_id)
        if found is None:
            raise NotFound("account", account_id)
        return found

    def find(self, account_id: AccountId) -> Account | None:
        return self._one(accounts.c.id == account_id)

    def find_by_domain(self, domain: str) -> Account | None:
        return self._one(accounts.c.domain == domain)

    def _one(self, condition: Any) -> Account | None:
        row = (
            self._s.connection.execute(
                select(accounts).where(accounts.c.tenant_id == self._s.tenant, condition)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return account_from_row(row)

    def list(self, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        check_page(limit, cursor)
        found = self._page(cursor, limit + 1)
        more = len(found) > limit
        return Page(tuple(found[:limit]), found[limit - 1].id if more else None)

    def _page(self, after: str | None, limit: int) -> builtins.list[Account]:
        a = accounts.c
        query = select(accounts).where(a.tenant_id == self._s.tenant)
        if after is not None:
            query = query.where(a.id > after)
        rows = self._s.connection.execute(query.order_by(a.id).limit(limit)).mappings()
        return [account_from_row(r) for r in rows]

    def stream(self, *, batch_size: int = 1000) -> Iterator[Account]:
        check_batch(batch_size)
        last: str | None = None
        while True:
            batch = self._page(last, batch_size)
            yield from batch
            if len(batch) < batch_size:
                return
            last = batch[-1].id
