"""The rules on accounts: registering and updating them."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import MultipleResults, multiple, rule

from crmkit.domain import Account, AccountId, CompanySize, TenantId
from crmkit.testing.stateful._base import MachineState, account_ids, account_keys, domains
from crmkit.testing.stateful._config import TENANTS, _AccountKey
from crmkit.testing.stateful._draws import _rarely
from crmkit.testing.stateful._model import _Raised, _Side


class AccountRules(MachineState):
    """Register and update accounts."""

    @rule(
        target=account_keys,
        tenant=st.sampled_from(TENANTS),
        account_id=account_ids,
        name=st.sampled_from(["Acme", "Initech", "Globex"]),
        domain=st.none() | domains,
        size=st.none() | st.sampled_from(CompanySize),
        front_door=st.booleans(),
    )
    def register_account(
        self,
        tenant: TenantId,
        account_id: AccountId,
        name: str,
        domain: str | None,
        size: CompanySize | None,
        front_door: bool,
    ) -> MultipleResults[_AccountKey]:
        """Register an account, directly or through the `CRM` (which enters it into the deal
        pipeline); a taken id or web domain must be refused alike."""
        at = self.clock.now()

        def register(side: _Side) -> Account:
            if front_door:
                return side.crms[tenant].accounts.register(
                    account_id=account_id, name=name, domain=domain, size=size
                )
            account = Account.register(
                account_id,
                name=name,
                at=at,
                domain=domain,
                size=size,
            )
            with side.uow(tenant) as uow:
                uow.accounts.add(account)
                uow.commit()
            return account

        outcome = self._on_both(
            "register account", f"registering account {account_id!r} in {tenant!r}", register
        )
        return multiple() if isinstance(outcome, _Raised) else multiple((tenant, account_id))

    @rule(
        key=account_keys,
        elsewhere=_rarely(),
        changes=st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(["Acme", "Initech", "Globex"]),
                "domain": st.none() | domains,
                "industry": st.none() | st.sampled_from(["retail", "software"]),
            },
        ),
    )
    def update_account(self, key: _AccountKey, elsewhere: bool, changes: dict[str, Any]) -> None:
        """Change an account (a taken domain must be refused alike)."""
        home, account_id = key
        tenant = self._other(home) if elsewhere else home
        at = self.clock.now()

        def update(side: _Side) -> Account:
            with side.uow(tenant) as uow:
                account = uow.accounts.get(account_id)
                account.update(at=at, **changes)
                uow.accounts.update(account)
                uow.commit()
            return account

        self._on_both("update account", f"updating account {account_id!r} in {tenant!r}", update)
