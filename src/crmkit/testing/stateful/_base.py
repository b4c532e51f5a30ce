"""The base class of the machine's rule groups: shared state, bundles and helpers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, MultipleResults, RuleBasedStateMachine, initialize, multiple

from crmkit.adapters.memory import InMemoryStore
from crmkit.app.clocks import FixedClock
from crmkit.domain import (
    AccountId,
    Customer,
    CustomerId,
    EmailAddress,
    Interaction,
    InteractionId,
    TenantId,
)
from crmkit.errors import DuplicateCustomer, UsageError
from crmkit.ports import Store
from crmkit.testing import strategies
from crmkit.testing.stateful._config import (
    MEMBERS,
    SOURCES,
    START,
    TENANTS,
    _AccountKey,
    _Key,
    _Recorded,
)
from crmkit.testing.stateful._model import T, _agree, _attempt, _Raised, _Side

#: The bundles the rules draw keys from and add keys to (Hypothesis knows them by name).
customer_keys: Bundle[_Key] = Bundle("customer_keys")
account_keys: Bundle[_AccountKey] = Bundle("account_keys")
recorded: Bundle[_Recorded] = Bundle("recorded")
emails: Bundle[EmailAddress] = Bundle("emails")
external_keys: Bundle[tuple[str, str]] = Bundle("external_keys")
refs: Bundle[str] = Bundle("refs")
account_ids: Bundle[AccountId] = Bundle("account_ids")
domains: Bundle[str] = Bundle("domains")


class MachineState(RuleBasedStateMachine):
    """The state every rule group shares: the clock, the two sides, the bundles and the
    bookkeeping of what was stored (which the reads cover), the hooks an adapter's test
    overrides, the small pools of keys drawn first, and the helpers that run one
    operation on both sides."""

    customer_keys: Bundle[_Key] = customer_keys
    account_keys: Bundle[_AccountKey] = account_keys
    recorded: Bundle[_Recorded] = recorded
    emails: Bundle[EmailAddress] = emails
    external_keys: Bundle[tuple[str, str]] = external_keys
    refs: Bundle[str] = refs
    account_ids: Bundle[AccountId] = account_ids
    domains: Bundle[str] = domains

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(START)
        self.model = _Side(InMemoryStore(), self.clock)
        self.adapter = _Side(self.open_storage(), self.clock)
        self._emails: list[EmailAddress] = []
        self._external_keys: list[tuple[str, str]] = []
        self._refs: list[str] = []
        self._account_ids: list[AccountId] = []
        self._domains: list[str] = []
        self._customer_ids: set[CustomerId] = set()
        self._interaction_ids: set[InteractionId] = set()
        # What the loyalty rules pick from and the reads cover: the interactions stored
        # (purchases among them, to refund), the referrals made, their referees and everyone
        # a referral was asked for, when each tenant's points job last ran, when the points
        # invariants were last checked in each tenant, and the `MEMBERS` who joined.
        self._logged: list[_Recorded] = []
        self._referral_ids: set[str] = set()
        self._parties: set[CustomerId] = set()
        self._referees: dict[TenantId, list[CustomerId]] = {}
        self._last_job: dict[TenantId, datetime] = {}
        self._points_checked: dict[TenantId, datetime] = {}
        self._joined: set[_Key] = set()

    # The hooks an adapter's test overrides.

    def open_storage(self) -> Store:
        """Override: return a `crmkit.ports.Store` over fresh, empty storage.

        Called once per example, from ``__init__``, so that no example sees another's data.
        """
        raise UsageError(
            f"{type(self).__name__} must override open_storage() to supply the adapter under test"
        )

    def close_storage(self) -> None:
        """Override to release the storage `open_storage` made; called after every example."""

    def teardown(self) -> None:
        """Release the adapter's storage (see `close_storage`)."""
        self.close_storage()

    # Small pools of keys, so that duplicates are frequent.

    @initialize(
        target=emails,
        found=st.lists(strategies.emails(), min_size=2, max_size=4, unique_by=str),
    )
    def pick_emails(self, found: list[EmailAddress]) -> MultipleResults[EmailAddress]:
        """The emails customers get and are looked up by."""
        self._emails.extend(found)
        return multiple(*found)

    @initialize(
        target=external_keys,
        found=st.lists(
            st.tuples(st.sampled_from(SOURCES), strategies.ids()),
            min_size=2,
            max_size=4,
            unique=True,
        ),
    )
    def pick_external_ids(self, found: list[tuple[str, str]]) -> MultipleResults[tuple[str, str]]:
        """The (source, external id) pairs customers get and are looked up by."""
        self._external_keys.extend(found)
        return multiple(*found)

    @initialize(target=refs, found=st.lists(strategies.ids(), min_size=2, max_size=4, unique=True))
    def pick_external_refs(self, found: list[str]) -> MultipleResults[str]:
        """The external references interactions are recorded (and looked up) with."""
        self._refs.extend(found)
        return multiple(*found)

    @initialize(
        target=account_ids,
        found=st.lists(strategies.account_ids(), min_size=1, max_size=3, unique=True),
    )
    def pick_account_ids(self, found: list[AccountId]) -> MultipleResults[AccountId]:
        """The ids accounts are registered with and customers are linked to."""
        self._account_ids.extend(found)
        return multiple(*found)

    @initialize(
        target=domains,
        found=st.lists(strategies.web_domains(), min_size=1, max_size=3, unique=True),
    )
    def pick_domains(self, found: list[str]) -> MultipleResults[str]:
        """The web domains accounts get and are looked up by."""
        self._domains.extend(found)
        return multiple(*found)

    # Helpers.

    def _log(self, tenant: TenantId, interaction: Interaction) -> None:
        """Note an interaction stored in ``tenant`` (refunds name purchases among them)."""
        self._interaction_ids.add(interaction.id)
        if (tenant, interaction) not in self._logged:
            self._logged.append((tenant, interaction))

    def _on_both(self, operation: str, what: str, action: Callable[[_Side], T]) -> T | _Raised:
        """Run ``action`` on the model, then on the adapter; the outcomes must agree.

        The outcome is also noted as a Hypothesis ``event``, so that
        ``--hypothesis-show-statistics`` tells how often each operation met each error.
        """
        model = _attempt(functools.partial(action, self.model))
        adapter = _attempt(functools.partial(action, self.adapter))
        _agree(what, model, adapter)
        event(operation, model.error.__name__ if isinstance(model, _Raised) else "ok")
        return model

    @staticmethod
    def _other(tenant: TenantId) -> TenantId:
        return TENANTS[1] if tenant == TENANTS[0] else TENANTS[0]

    def _where(self, key: _Key, elsewhere: bool) -> _Key:
        tenant, customer_id = key
        return (self._other(tenant) if elsewhere else tenant), customer_id

    def _member(self, key: _Key) -> _Key:
        """``key``, unless it is one of `MEMBERS` that has not joined while another of the
        tenant has: then that one (so that points are mostly redeemed, adjusted and referred
        by someone there)."""
        tenant, customer_id = key
        joined = sorted(k for k in self._joined if k[0] == tenant)
        if customer_id in MEMBERS and key not in self._joined and joined:
            return joined[0]
        return key

    def _join(self, tenant: TenantId, customer_id: CustomerId) -> None:
        """Register one of `MEMBERS` through the front door."""
        self._customer_ids.add(customer_id)

        def join(side: _Side) -> Customer:
            return side.crms[tenant].customers.register(customer_id=customer_id, given_name="Max")

        outcome = self._on_both(
            "a member joins", f"registering the member {customer_id!r} in {tenant!r}", join
        )
        if not isinstance(outcome, _Raised) or outcome.error is DuplicateCustomer:
            self._joined.add((tenant, customer_id))
