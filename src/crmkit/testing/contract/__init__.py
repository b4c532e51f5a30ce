"""The adapter contract suite: what every storage adapter must do, as pytest tests.

To prove an adapter, subclass `AdapterContract` in a test module, name the class
``Test…`` and override the ``store`` fixture so that it returns a store on fresh, empty
storage (yield it to clean up after). A store is what `InMemoryStore` and `SqlStore` are:
an object with ``unit_of_work(tenant, publish=None, *, read_only=False)`` and
``outbox(*, tenant=None)``.

```python
class TestMyAdapter(AdapterContract):
    @pytest.fixture
    def store(self):
        store = MyStore.create_empty()
        yield store
        store.drop()
```

Every adapter crmkit ships runs this same class, so a third-party adapter is held to
exactly the standard of the built-in ones.

The suite is one class per capability port, and `AdapterContract` composes them all. An
adapter that implements only some ports (say, a store of customers alone, for now) runs
only their classes, each of which needs nothing but the ``store`` fixture:

```python
class TestMyCustomerStore(CustomerContract, UnitOfWorkContract):
    @pytest.fixture
    def store(self):
        return MyStore.create_empty()
```

The classes, by port:

- `CustomerContract`: ``uow.customers`` (`CustomerRepository`).
- `AccountContract`: ``uow.accounts`` (`AccountRepository`).
- `InteractionContract`: ``uow.interactions`` (`InteractionRepository`).
- `UnitOfWorkContract`: atomicity, rollback, events after commit, a closed unit of work
  refusing work (over customers, accounts and interactions).
- `TenancyContract`: tenants see nothing of each other across customers, accounts,
  interactions, points ledgers and referrals (the classes below check their own port's).
- `StageHistoryContract`: ``uow.stage_histories`` (`StageHistoryRepository`).
- `SegmentMembershipContract`: ``uow.segment_memberships`` (`SegmentMembershipRepository`).
- `SegmentQueryContract`: segment queries on ``uow.customers`` (``count_matching``,
  ``matching_ids``, ``stream_matching``) over customers and interactions.
- `PointsLedgerContract`: ``uow.points_ledgers`` (`PointsLedgerRepository`).
- `ReferralContract`: ``uow.referrals`` (`ReferralRepository`).
- `BulkImportContract`: re-running a bulk import (``add_many(..., on_existing=...)``).
- `ExactTextContract`: every text key compared by its exact text, spaces and all.

`ContractBase` holds the fixtures they share: ``store`` (to override), ``uow`` (opens a
unit of work on it, tenant ``alpha`` unless given), ``published`` (the events those units
of work published) and ``crm`` (a CRM on the store).
"""

from __future__ import annotations

from crmkit.domain import Money
from crmkit.front import CRM
from crmkit.testing.contract._accounts import AccountContract
from crmkit.testing.contract._base import ContractBase
from crmkit.testing.contract._bulk import BulkImportContract
from crmkit.testing.contract._customers import CustomerContract
from crmkit.testing.contract._interactions import InteractionContract
from crmkit.testing.contract._lookups import LookupContract
from crmkit.testing.contract._points_ledgers import PointsLedgerContract
from crmkit.testing.contract._referrals import ReferralContract
from crmkit.testing.contract._segment_memberships import SegmentMembershipContract
from crmkit.testing.contract._segment_queries import SegmentQueryContract
from crmkit.testing.contract._stage_histories import StageHistoryContract
from crmkit.testing.contract._tenancy import TenancyContract
from crmkit.testing.contract._text import ExactTextContract
from crmkit.testing.contract._units_of_work import UnitOfWorkContract

__all__ = [
    "AccountContract",
    "AdapterContract",
    "BulkImportContract",
    "ContractBase",
    "CustomerContract",
    "ExactTextContract",
    "InteractionContract",
    "LookupContract",
    "PointsLedgerContract",
    "ReferralContract",
    "SegmentMembershipContract",
    "SegmentQueryContract",
    "StageHistoryContract",
    "TenancyContract",
    "UnitOfWorkContract",
]


class AdapterContract(
    CustomerContract,
    LookupContract,
    AccountContract,
    InteractionContract,
    UnitOfWorkContract,
    TenancyContract,
    StageHistoryContract,
    SegmentMembershipContract,
    SegmentQueryContract,
    PointsLedgerContract,
    ReferralContract,
    BulkImportContract,
    ExactTextContract,
):
    """The whole contract: every port's class, and the front door on top. Subclass it and
    override ``store``."""

    def test_the_front_door_works_end_to_end(self, crm: CRM) -> None:
        ada = crm.customers.register(email="ada@example.com", given_name="Ada")
        crm.interactions.record(
            ada.id, kind="purchase", channel="web", amount=Money(500, "EUR"), external_ref="o-1"
        )
        crm.interactions.record(
            ada.id, kind="purchase", channel="web", amount=Money(500, "EUR"), external_ref="o-1"
        )
        assert len(crm.interactions.timeline(ada.id)) == 1
        assert crm.customers.find_by_email("ADA@example.com") == crm.customers.get(ada.id)
        assert crm.for_tenant("beta").customers.find_by_email("ada@example.com") is None
