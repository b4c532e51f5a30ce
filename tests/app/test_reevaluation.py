"""`crm.lifecycle.reevaluate_all` asks the store set-wise who is due, and moves exactly the
customers that asking each one in turn moves, on every backend."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import crmkit.app.reevaluation as reevaluation
from crmkit import CRM, Customer, CustomerId, FixedClock, SequentialIds
from crmkit.domain import TimeInStage
from crmkit.lifecycle import CUSTOMER_LIFECYCLE, LifecycleModel, ProgressionRule, Transition
from crmkit.segments import Condition, Facts, days, field, purchases
from tests.conftest import MakeCrm, crm_maker

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TRIAL = LifecycleModel(
    "trial",
    stages=["trial", "expired", "paying", "quiet"],
    transitions=[
        ("trial", "expired"),
        ("trial", "paying"),
        Transition("paying", "quiet", guard=field("email").exists() & TimeInStage(20)),
    ],
    rules=[
        ProgressionRule("paid", "paying", purchases().count() >= 1),
        ProgressionRule("ended", "expired", TimeInStage(14)),
        ProgressionRule("went_quiet", "quiet", purchases(last=days(30)).count() == 0),
    ],
)
MODELS = (CUSTOMER_LIFECYCLE, TRIAL)
INSTANTS = [10, 14, 30, 45, 200, 400, 600]


@pytest.fixture
def make_crm(any_store: object) -> MakeCrm:
    return crm_maker(any_store, T0, lifecycles=MODELS)


def _populate(crm: CRM, seed: int) -> None:
    """Customers registered over a month, some imported (no history), buying at random."""
    rng = random.Random(seed)
    clock = crm.settings.clock
    assert isinstance(clock, FixedClock)
    people = []
    for n in range(24):
        clock.advance(timedelta(hours=rng.randint(0, 30)))
        email = f"p{n}@example.com" if rng.random() < 0.7 else None
        people.append(crm.customers.register(given_name=f"P{n}", email=email).id)
    imported = [Customer.register(CustomerId(f"imp-{n}"), at=clock.now()) for n in range(5)]
    crm.customers.import_many(imported)
    for _ in range(30):
        who = rng.choice(people + [c.id for c in imported])
        at = T0 + timedelta(days=rng.randint(0, 420), microseconds=rng.randint(0, 5))
        crm.interactions.record(who, kind="purchase", channel="web", occurred_at=at)


def _stages(crm: CRM) -> dict[str, dict[str, str | None]]:
    return {
        c.id: {m.name: crm.lifecycle.current_stage(c.id, model=m.name) for m in MODELS}
        for c in crm.customers.stream()
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_set_wise_moves_exactly_whom_one_by_one_moves(
    make_crm: MakeCrm, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    setwise = make_crm("alpha", ids=SequentialIds("p"))
    twin = make_crm("beta", ids=SequentialIds("p"))  # the same ids in another tenant
    _populate(setwise, seed)
    _populate(twin, seed)
    for day in INSTANTS:
        as_of = T0 + timedelta(days=day)
        fast = setwise.lifecycle.reevaluate_all(as_of=as_of, batch_size=4)
        with monkeypatch.context() as patched:
            patched.setattr(reevaluation, "_due", lambda models: None)
            slow = twin.lifecycle.reevaluate_all(as_of=as_of, batch_size=4)
        assert (fast.examined, fast.entered, fast.moved) == (
            slow.examined,
            slow.entered,
            slow.moved,
        )
        assert sorted(_moves(fast)) == sorted(_moves(slow))
        assert _stages(setwise) == _stages(twin)
    assert setwise.lifecycle.reevaluate_all(as_of=as_of).changes == ()


def _moves(report: Any) -> list[tuple[str, str, str | None, str]]:
    return [(c.subject_id, c.model, c.from_stage, c.to_stage) for c in report.changes]


def test_a_model_with_a_host_condition_is_evaluated_one_by_one(make_crm: MakeCrm) -> None:
    class Vip(Condition):
        kind = "vip_by_host"

        def holds(self, facts: Facts) -> bool:
            return "vip" in facts.tags

        def describe(self) -> str:
            return "tagged vip by the host's rule"

    custom = LifecycleModel(
        "custom",
        stages=["regular", "vip"],
        transitions=[("regular", "vip")],
        rules=[ProgressionRule("promoted", "vip", Vip())],
    )
    crm = make_crm(lifecycles=(custom,))
    ada = crm.customers.register(given_name="Ada")
    crm.customers.register(given_name="Bob")
    crm.customers.update(ada.id, tags=["vip"])
    report = crm.lifecycle.reevaluate_all()
    assert (report.examined, report.moved) == (2, 1)
    assert crm.lifecycle.current_stage(ada.id) == "vip"
