"""A rule naming a lifecycle model, stage or trait the CRM does not know is refused.

Such a rule is valid on its own and matches nobody: a typo would go unnoticed. Checked
against the CRM's settings wherever a rule is evaluated or stored, it is a `ValidationError`
naming the rule path, the unknown name and the closest known one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from crmkit import CRM, Money, Settings, TraitDefinition, TraitSchema
from crmkit.app.clocks import FixedClock
from crmkit.domain import SubjectKind, Transition
from crmkit.domain.loyalty import Multiplier, Programme, SpendRule
from crmkit.errors import ValidationError
from crmkit.lifecycle import CUSTOMER_LIFECYCLE, LifecycleModel
from crmkit.segments import Segment, field, stage, tagged, trait

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SCHEMA = TraitSchema({"plan": TraitDefinition("string"), "seats": TraitDefinition("integer")})
ACCOUNT_MODEL = LifecycleModel(
    "account_health",
    stages=["healthy", "at_risk"],
    transitions=[("healthy", "at_risk")],
    subject=SubjectKind.ACCOUNT,
)


def _crm(**options: Any) -> CRM:
    settings: dict[str, Any] = {"lifecycles": [CUSTOMER_LIFECYCLE], "trait_schema": SCHEMA}
    return CRM.in_memory(Settings(clock=FixedClock(T0), **{**settings, **options}))


def _refused(call: Callable[[], object]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value


USE_CASES: dict[str, Callable[[CRM, Any], object]] = {
    "count_segment": lambda crm, rule: crm.segments.count(rule),
    "segment_members": lambda crm, rule: crm.segments.members(rule),
    "stream_segment": lambda crm, rule: list(crm.segments.stream(rule)),
    "refresh_segment": lambda crm, rule: crm.segments.refresh(Segment("typo", rule)),
}


@pytest.mark.parametrize("use", USE_CASES.values(), ids=USE_CASES.keys())
class TestEvaluatingARule:
    """Every segment use case checks the rule's names first."""

    def test_a_misspelt_lifecycle_model_suggests_the_closest(self, use: Any) -> None:
        """``stage("customer_lifecyle")`` is no model of this CRM."""
        error = _refused(lambda: use(_crm(), stage("customer_lifecyle") == "lapsed"))
        assert error.paths == ("rule.model",)
        assert "did you mean 'customer_lifecycle'?" in str(error)
        assert error.errors[0].value == "customer_lifecyle"

    def test_a_misspelt_stage_suggests_the_closest(self, use: Any) -> None:
        """``"lapsd"`` is no stage of the model; the path leads to the leaf."""
        rule = (field("country") == "DE") & stage("customer_lifecycle").is_in(["lead", "lapsd"])
        error = _refused(lambda: use(_crm(), rule))
        assert error.paths == ("rule.conditions[1].stages",)
        assert "is not a stage of customer_lifecycle: did you mean 'lapsed'?" in str(error)

    def test_a_misspelt_trait_suggests_the_closest(self, use: Any) -> None:
        """A trait the schema does not declare, compared or only tested for."""
        error = _refused(lambda: use(_crm(), (trait("plna") == "pro") | trait("seets").exists()))
        assert error.paths == ("rule.conditions[0].name", "rule.conditions[1].name")
        assert "did you mean 'plan'?" in str(error)
        assert "did you mean 'seats'?" in str(error)

    def test_every_unknown_name_is_reported_at_once(self, use: Any) -> None:
        """One error lists them all, each at its own path."""
        rule = ~((stage("lifecycle") == "lead") & (stage("customer_lifecycle") == "leed"))
        error = _refused(lambda: use(_crm(), rule))
        assert error.paths == (
            "rule.condition.conditions[0].model",
            "rule.condition.conditions[1].stages",
        )

    def test_known_names_are_accepted(self, use: Any) -> None:
        """The check refuses typos, nothing else."""
        rule = stage("customer_lifecycle").is_in(["lead", "lapsed"]) & (trait("plan") == "pro")
        use(_crm(), rule | tagged("vip"))

    def test_a_crm_without_lifecycle_models_refuses_any_stage(self, use: Any) -> None:
        """No customer is in a stage of a model the CRM does not track."""
        error = _refused(lambda: use(_crm(lifecycles=()), stage("customer_lifecycle") == "lead"))
        assert "is not a customer lifecycle model of this CRM: there are none" in str(error)

    def test_an_account_model_is_no_customer_stage(self, use: Any) -> None:
        """A segment of customers never finds one in an account lifecycle."""
        crm = _crm(lifecycles=[CUSTOMER_LIFECYCLE, ACCOUNT_MODEL])
        error = _refused(lambda: use(crm, stage("account_health") == "healthy"))
        assert error.paths == ("rule.model",)
        assert "account lifecycle" in str(error)


class TestBuildingACrm:
    """The rules in a CRM's settings are checked when the CRM is built."""

    def test_a_tracked_segment_with_a_typo_is_refused(self) -> None:
        """``record_interaction`` would keep a segment nobody can enter up to date."""
        typo = Segment("lapsing", stage("customer_lifecycle") == "lapsd")
        fine = Segment("vip", tagged("vip"))
        error = _refused(lambda: _crm(segments=[fine, typo]))
        assert error.paths == ("segments[1].rule.stages",)

    def test_a_guard_naming_another_models_stage_is_checked(self) -> None:
        """A lifecycle model may look at where the customer stands in another one."""
        onboarding = LifecycleModel(
            "onboarding",
            stages=["new", "done"],
            transitions=[Transition("new", "done", guard=stage("customer_lifecycle") == "custmer")],
            rules=[],
        )
        error = _refused(lambda: _crm(lifecycles=[CUSTOMER_LIFECYCLE, onboarding]))
        assert error.paths == ("lifecycles[1].transitions[0].guard.stages",)
        assert "did you mean 'customer'?" in str(error)

    def test_a_progression_rule_naming_an_unknown_trait_is_refused(self) -> None:
        """Its condition would never hold."""
        from crmkit.domain import ProgressionRule

        model = LifecycleModel(
            "trial",
            stages=["trying", "paying"],
            transitions=[("trying", "paying")],
            rules=[ProgressionRule("upgraded", "paying", trait("plna") == "pro")],
        )
        error = _refused(lambda: _crm(lifecycles=[model]))
        assert error.paths == ("lifecycles[0].rules[0].when.name",)

    def test_a_loyalty_multiplier_segment_is_checked(self) -> None:
        """A multiplier for a segment nobody is in would never apply."""
        programme = Programme(
            "club",
            [SpendRule("spend", 1, Money.of("1.00", "EUR"))],
            multipliers=[Multiplier("loyal", 2, segment=stage("customer_lifecycle") == "loyl")],
        )
        error = _refused(lambda: _crm(loyalty=programme))
        assert error.paths == ("loyalty.multipliers[0].segment.stages",)

    def test_settings_whose_names_are_known_build(self) -> None:
        """The default lifecycle, a schema, and segments using both."""
        tracked = Segment(
            "pros", (trait("plan") == "pro") & (stage("customer_lifecycle") == "lead")
        )
        assert _crm(segments=[tracked]).settings.segments == (tracked,)


class TestSegmentCheck:
    """`Segment.check` is the same check, for a host storing segments of its own."""

    def test_without_lifecycles_only_traits_are_checked(self) -> None:
        """As before: ``check(schema)`` looks at traits."""
        Segment("s", stage("anything") == "goes").check(SCHEMA)

    def test_with_lifecycles_stages_are_checked_too(self) -> None:
        """The path names the node in the segment's rule."""
        segment = Segment("s", tagged("vip") & (stage("customer_lifecycle") == "lapsd"))
        with pytest.raises(ValidationError) as caught:
            segment.check(None, lifecycles=[CUSTOMER_LIFECYCLE])
        assert caught.value.paths == ("rule.conditions[1].stages",)

    def test_a_trait_of_another_type_is_still_refused(self) -> None:
        """The schema's type wins over the value's."""
        with pytest.raises(ValidationError, match="declares seats as integer"):
            Segment("s", trait("seats") == "12").check(SCHEMA)


class TestSuggestions:
    """The message offers the closest known name, or the known names when none is close."""

    def test_the_closest_name_is_offered(self) -> None:
        """difflib's closest match."""
        from crmkit.domain.rules.names import unknown_name

        assert unknown_name("a stage", "lapsd", ["lead", "lapsed"]).endswith(
            "did you mean 'lapsed'?"
        )

    def test_without_a_close_name_the_known_ones_are_listed(self) -> None:
        """Sorted, and at most ten of them."""
        from crmkit.domain.rules.names import unknown_name

        names = [f"stage_{n:02d}" for n in range(12)]
        message = unknown_name("a stage", "zzz", names)
        assert message.startswith("is not a stage: use one of stage_00, stage_01")
        assert message.endswith("stage_09, …")


class TestGuardsSeeOtherModels:
    """A guard naming another model's stage is checked, and sees where the customer stands."""

    def test_a_guard_on_another_models_stage_holds_where_the_customer_is_in_it(self) -> None:
        """Lifecycle facts carry the customer's stages (they used to carry none, so such a
        guard never held)."""
        from crmkit.errors import GuardFailed

        onboarding = LifecycleModel(
            "onboarding",
            stages=["new", "done"],
            transitions=[
                Transition("new", "done", guard=stage("customer_lifecycle") == "customer")
            ],
        )
        crm = _crm(lifecycles=[CUSTOMER_LIFECYCLE, onboarding])
        ada = crm.customers.register(email="ada@example.com").id
        with pytest.raises(GuardFailed):
            crm.lifecycle.move(ada, "done", model="onboarding")
        for step in ("lead", "qualified", "customer"):
            crm.lifecycle.move(ada, step, model="customer_lifecycle")
        crm.lifecycle.move(ada, "done", model="onboarding")
        assert crm.lifecycle.current_stage(ada, model="onboarding") == "done"
