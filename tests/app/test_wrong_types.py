"""An argument of the wrong type is a `ValidationError` naming the parameter: never an
``AttributeError`` from deep inside, never a misleading error (a version given as text read
as another writer's), never silently taken (a truthy string where ``True`` is meant)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmkit import CRM, Customer, FixedClock, Interaction, SequentialIds, Settings
from crmkit.domain import CustomerId, InteractionId
from crmkit.errors import ValidationError
from crmkit.lifecycle import CUSTOMER_LIFECYCLE
from crmkit.loyalty import EventRule, Programme
from crmkit.segments import tagged
from tests.front_door import public_methods
from tests.strategies import T0

CLUB = Programme("club", [EventRule("welcome", "sign_up", 10)])
NOT_VERSIONS: list[Any] = ["1", True, False, 1.5, -1, 2**31, [1]]
NOT_FLAGS: list[Any] = ["yes", "", 1, 0, None, [True]]


def refused_naming(path: str, call: Callable[[], object]) -> ValidationError:
    """``call`` raises a `ValidationError` whose only path is ``path``."""
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.paths == (path,), caught.value
    return caught.value


@pytest.fixture
def crm() -> CRM:
    return CRM.in_memory(
        Settings(
            clock=FixedClock(T0),
            ids=SequentialIds("t"),
            lifecycles=[CUSTOMER_LIFECYCLE],
            loyalty=CLUB,
        )
    )


def _takes(name: str, annotation: str) -> list[str]:
    """Every public method of the front door with a parameter ``name`` annotated
    ``annotation``, by its path (``"customers.update"``)."""
    found = []
    for path, function in public_methods():
        parameter = inspect.signature(function).parameters.get(name)
        if parameter is not None and parameter.annotation == annotation:
            found.append(path)
    return found


VERSIONED = _takes("expected_version", "int | None")


class TestExpectedVersion:
    def test_every_method_taking_an_expected_version_is_covered(self) -> None:
        assert set(VERSIONED) == {
            "customers.update",
            "customers.set_traits",
            "accounts.update",
            "lifecycle.move",
        }

    @pytest.mark.parametrize("version", NOT_VERSIONS, ids=repr)
    @pytest.mark.parametrize("method", VERSIONED)
    def test_a_version_that_is_no_int_is_a_validation_error_not_a_conflict(
        self, crm: CRM, method: str, version: Any
    ) -> None:
        """``"1"`` on a version-1 customer is no other writer's change; ``True`` is no int."""
        ada = crm.customers.register(given_name="Ada")
        acme = crm.accounts.register(name="Acme")
        stage = crm.lifecycle.current_stage(ada.id)
        calls: dict[str, Callable[[], object]] = {
            "customers.update": lambda: crm.customers.update(
                ada.id, expected_version=version, given_name="Eve"
            ),
            "customers.set_traits": lambda: crm.customers.set_traits(
                ada.id, {"plan": "pro"}, expected_version=version
            ),
            "accounts.update": lambda: crm.accounts.update(
                acme.id, expected_version=version, name="Acme Ltd"
            ),
            "lifecycle.move": lambda: crm.lifecycle.move(
                ada.id, "customer", expected_version=version
            ),
        }
        refused_naming("expected_version", calls[method])
        assert crm.customers.get(ada.id) == ada
        assert crm.accounts.get(acme.id) == acme
        assert crm.lifecycle.current_stage(ada.id) == stage

    def test_the_right_version_as_an_int_is_taken(self, crm: CRM) -> None:
        ada = crm.customers.register(given_name="Ada")
        assert crm.customers.update(ada.id, expected_version=1, given_name="Eve").version == 2


FLAGGED = _takes("newest_first", "bool") + _takes("earn_points", "bool")


class TestFlags:
    @pytest.mark.parametrize("value", NOT_FLAGS, ids=repr)
    def test_a_flag_that_is_no_bool_is_refused(self, crm: CRM, value: Any) -> None:
        ada = crm.customers.register(given_name="Ada")
        refused_naming(
            "newest_first", lambda: crm.interactions.timeline(ada.id, newest_first=value)
        )
        refused_naming("earn_points", lambda: crm.interactions.import_many([], earn_points=value))
        refused_naming("include_ongoing", lambda: crm.lifecycle.durations(include_ongoing=value))
        refused_naming("all_tenants", lambda: crm.events.outbox(all_tenants=value))

    def test_every_flag_of_the_front_door_is_covered(self) -> None:
        flags = {
            (method, name)
            for name in ("newest_first", "earn_points", "include_ongoing", "all_tenants", "migrate")
            for method in _takes(name, "bool")
        }
        assert flags == {
            ("interactions.timeline", "newest_first"),
            ("interactions.import_many", "earn_points"),
            ("lifecycle.durations", "include_ongoing"),
            ("events.outbox", "all_tenants"),
            ("sqlite", "migrate"),
            ("from_url", "migrate"),
        }

    def test_migrate_must_be_a_bool(self, tmp_path: Path) -> None:
        refused_naming("migrate", lambda: CRM.sqlite(tmp_path / "crm.db", migrate="no"))  # type: ignore[arg-type]
        assert list(tmp_path.iterdir()) == []


class TestConstructors:
    @pytest.mark.parametrize("clock", [datetime.now(UTC), T0, T0.date(), "now", 1.5], ids=repr)
    def test_a_clock_must_be_a_clock(self, clock: Any) -> None:
        """An aware datetime is no clock: the error says so, not "naive datetime"."""
        error = refused_naming("clock", lambda: CRM.in_memory(Settings(clock=clock)))
        assert "must be a Clock" in str(error)
        assert "naive" not in str(error)

    @pytest.mark.parametrize("ids", ["x", 7, object()], ids=repr)
    def test_ids_must_be_an_id_source(self, ids: Any) -> None:
        refused_naming("ids", lambda: CRM.in_memory(Settings(ids=ids)))

    @pytest.mark.parametrize("tenant", [123, None, "", "Beta"], ids=repr)
    def test_a_tenant_must_be_a_tenant_id(self, crm: CRM, tenant: Any) -> None:
        refused_naming("tenant", lambda: CRM.in_memory(Settings(tenant=tenant)))
        refused_naming("tenant", lambda: crm.for_tenant(tenant))

    @pytest.mark.parametrize("store", ["x", 1, object()], ids=repr)
    def test_a_store_must_be_a_store(self, store: Any) -> None:
        refused_naming("store", lambda: CRM(store))
        refused_naming("store", lambda: CRM(store))


class TestOtherParameters:
    def test_a_stage_must_be_text(self, crm: CRM) -> None:
        ada = crm.customers.register(given_name="Ada")
        refused_naming("to", lambda: crm.lifecycle.move(ada.id, 1.5))  # type: ignore[arg-type]
        refused_naming("stage", lambda: list(crm.lifecycle.stream_histories(stage=["lead"])))  # type: ignore[arg-type]

    @pytest.mark.parametrize("items", [5, "lead", b"lead", {"lead": 1}], ids=repr)
    def test_lists_must_be_lists(self, crm: CRM, items: Any) -> None:
        refused_naming("steps", lambda: crm.lifecycle.funnel(items))
        refused_naming("consents", lambda: crm.customers.register(given_name="A", consents=items))

    @pytest.mark.parametrize("limit", [0, 10_001, 10**19, "10", True], ids=repr)
    def test_a_page_is_1_to_10000(self, crm: CRM, limit: Any) -> None:
        refused_naming("limit", lambda: crm.segments.members(tagged("vip"), limit=limit))
        refused_naming("limit", lambda: crm.segments.snapshot_members("vips", limit=limit))

    def test_the_largest_page_is_taken(self, crm: CRM) -> None:
        crm.customers.register(given_name="Ada")
        assert len(crm.segments.members(tagged("vip"), limit=10_000).items) == 0
        assert crm.segments.snapshot_members("vips", limit=10_000).items == ()


def _interaction(customer: str, n: int) -> Interaction:
    return Interaction(
        id=InteractionId(f"i{n}"),
        customer_id=CustomerId(customer),
        occurred_at=T0,
        channel="web",
        kind="sign_up",
    )


class TestStorage:
    """Repositories and bulk imports, on every adapter."""

    @pytest.fixture
    def make(self, any_store: object) -> CRM:
        return CRM(any_store, Settings(clock=FixedClock(T0), ids=SequentialIds("t")))  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("repository", "path"),
        [
            ("customers", "customer"),
            ("accounts", "account"),
            ("interactions", "interaction"),
            ("stage_histories", "history"),
            ("segment_memberships", "snapshot"),
            ("points_ledgers", "ledger"),
            ("referrals", "referral"),
        ],
    )
    @pytest.mark.parametrize("verb", ["add", "update"])
    def test_a_repository_given_no_aggregate_refuses_it_by_name(
        self, make: CRM, repository: str, path: str, verb: str
    ) -> None:
        if (repository, verb) == ("interactions", "update"):
            pytest.skip("interactions are append-only")
        with make.unit_of_work() as uow:
            method = getattr(getattr(uow, repository), verb)
            refused_naming(path, lambda: method("x"))

    def test_saving_many_ledgers_refuses_what_is_no_ledger(self, make: CRM) -> None:
        with make.unit_of_work() as uow:
            refused_naming("ledgers[0]", lambda: uow.points_ledgers.save_many(["x"]))  # type: ignore[list-item]

    def test_a_bulk_import_names_the_index_of_the_bad_item_and_stores_nothing(
        self, make: CRM
    ) -> None:
        def ada() -> Customer:
            return Customer.register(CustomerId("ada"), at=T0, given_name="Ada")

        refused_naming("customers[1]", lambda: make.customers.import_many([ada(), "x"]))  # type: ignore[list-item]
        assert make.customers.list().items == ()
        make.customers.import_many([ada()])
        good = _interaction("ada", 1)
        refused_naming("interactions[1]", lambda: make.interactions.import_many([good, 7]))  # type: ignore[list-item]
        assert make.interactions.timeline("ada") == []

    @pytest.mark.parametrize("items", ["x", 5, None, {"a": 1}], ids=repr)
    def test_a_bulk_import_of_no_list_is_refused(self, make: CRM, items: Any) -> None:
        refused_naming("customers", lambda: make.customers.import_many(items))
        refused_naming("interactions", lambda: make.interactions.import_many(items))
