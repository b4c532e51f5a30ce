"""The rules on customers: registering, updating profiles (also from a stale copy) and consent."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import MultipleResults, multiple, rule

from crmkit.domain import (
    PROFILE_FIELDS,
    AccountLink,
    ConsentRecord,
    Customer,
    CustomerId,
    EmailAddress,
    TenantId,
)
from crmkit.errors import ConcurrencyConflict
from crmkit.testing import strategies
from crmkit.testing.stateful._base import (
    MachineState,
    account_ids,
    customer_keys,
    emails,
    external_keys,
)
from crmkit.testing.stateful._config import TENANTS, _Key
from crmkit.testing.stateful._draws import (
    _account_links,
    _customer_templates,
    _profile_changes,
    _rarely,
)
from crmkit.testing.stateful._model import _agree, _attempt, _Raised, _save, _Side


class CustomerRules(MachineState):
    """Register customers, change their profiles and consent, and race a stale update."""

    @rule(
        target=customer_keys,
        tenant=st.sampled_from(TENANTS),
        customer_id=st.sampled_from(["c1", "c2", "c3"]).map(CustomerId) | strategies.customer_ids(),
        template=_customer_templates(),
        email=st.none() | emails,
        external=st.lists(external_keys, max_size=2),
        link=st.none() | _account_links(account_ids),
        front_door=st.booleans(),
    )
    def register_customer(
        self,
        tenant: TenantId,
        customer_id: CustomerId,
        template: Customer,
        email: EmailAddress | None,
        external: list[tuple[str, str]],
        link: AccountLink | None,
        front_door: bool,
    ) -> MultipleResults[_Key]:
        """Register a customer, directly or through the `CRM`; a taken id, email or external
        id must be refused alike on both sides."""
        profile = {name: getattr(template, name) for name in PROFILE_FIELDS}
        profile.update(email=email, external_ids=dict(external), account=link)
        at = self.clock.now()
        self._customer_ids.add(customer_id)

        def register(side: _Side) -> Customer:
            if front_door:
                return side.crms[tenant].customers.register(
                    customer_id=customer_id,
                    traits=template.traits,
                    consents=template.consents,
                    **profile,
                )
            customer = Customer.register(
                customer_id, at=at, traits=template.traits, consents=template.consents, **profile
            )
            with side.uow(tenant) as uow:
                uow.customers.add(customer)
                uow.commit()
            return customer

        outcome = self._on_both(
            "register customer", f"registering {customer_id!r} in {tenant!r}", register
        )
        return multiple() if isinstance(outcome, _Raised) else multiple((tenant, customer_id))

    @rule(
        key=customer_keys,
        elsewhere=_rarely(),
        changes=_profile_changes(emails, external_keys, account_ids),
        front_door=st.booleans(),
    )
    def update_profile(
        self, key: _Key, elsewhere: bool, changes: dict[str, Any], front_door: bool
    ) -> None:
        """Change a customer's profile (in the other tenant, sometimes: it is not there)."""
        tenant, customer_id = self._where(key, elsewhere)
        at = self.clock.now()

        def update(side: _Side) -> object:
            if front_door:
                return side.crms[tenant].customers.update(customer_id, **changes)
            with side.uow(tenant) as uow:
                customer = uow.customers.get(customer_id)
                changed = customer.update_profile(at=at, **changes)
                return changed, _save(uow, customer)

        self._on_both(
            "update profile", f"updating {customer_id!r} in {tenant!r} with {changes}", update
        )

    @rule(
        key=customer_keys,
        theirs=_profile_changes(emails, external_keys, account_ids),
        mine=_profile_changes(emails, external_keys, account_ids, keys=False),
    )
    def update_a_stale_copy(self, key: _Key, theirs: dict[str, Any], mine: dict[str, Any]) -> None:
        """Load a customer, let another unit of work save it, then save the stale copy: it
        must raise `ConcurrencyConflict` on both sides and change nothing. (The stale change
        leaves email and external ids alone, so that only its version can make it fail.)
        The copy is read in a read-only unit of work open across the other save (a storage
        may let one unit of work write at a time) and saved in a later one."""
        tenant, customer_id = key
        at = self.clock.now()

        def race(side: _Side) -> tuple[object, object, Customer]:
            with side.reader(tenant) as reader:
                stale = reader.customers.get(customer_id)
                newer = _attempt(functools.partial(self._change, side, key, theirs))
            stale.update_profile(at=at, **mine)
            with side.uow(tenant) as first:
                late = _attempt(functools.partial(_save, first, stale))
            with side.uow(tenant) as uow:
                return newer, late, uow.customers.get(customer_id)

        outcome = self._on_both("stale update", f"racing a stale update of {customer_id!r}", race)
        if isinstance(outcome, _Raised):
            return
        newer, late, stored = outcome
        if not isinstance(newer, _Raised):
            _agree("the stale update", _Raised(ConcurrencyConflict, ""), late)
            _agree("the customer after a refused stale update", newer, stored)

    @rule(
        key=customer_keys,
        elsewhere=_rarely(),
        record=strategies.consent_records(),
        front_door=st.booleans(),
    )
    def change_consent(
        self, key: _Key, elsewhere: bool, record: ConsentRecord, front_door: bool
    ) -> None:
        """Append a consent decision to a customer's history."""
        tenant, customer_id = self._where(key, elsewhere)
        at = self.clock.now()

        def change(side: _Side) -> object:
            if front_door:
                return side.crms[tenant].consent.record(
                    customer_id,
                    purpose=record.purpose,
                    channel=record.channel,
                    status=record.status,
                    source=record.source,
                    at=record.at,
                    method=record.method,
                    evidence=record.evidence,
                    double_opt_in=record.double_opt_in,
                )
            with side.uow(tenant) as uow:
                customer = uow.customers.get(customer_id)
                customer.record_consent(record, at=at)
                return _save(uow, customer)

        self._on_both(
            "change consent", f"recording consent of {customer_id!r} in {tenant!r}", change
        )

    def _change(self, side: _Side, key: _Key, changes: Mapping[str, Any]) -> Customer:
        """Update a customer's profile in a unit of work of its own."""
        tenant, customer_id = key
        with side.uow(tenant) as uow:
            customer = uow.customers.get(customer_id)
            customer.update_profile(at=self.clock.now(), **changes)
            return _save(uow, customer)
