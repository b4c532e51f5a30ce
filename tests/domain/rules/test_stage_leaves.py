"""A customer's stage in a lifecycle model, and how long they have been in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import Customer, CustomerId
from crmkit.errors import ValidationError
from crmkit.segments import Condition, Facts, StageCondition, stage
from crmkit.serialization import from_json, to_json

AS_OF = datetime(2024, 6, 1, 12, tzinfo=UTC)
ADA = Customer(CustomerId("ada"), created_at=AS_OF, updated_at=AS_OF)


def facts_in(stage_name: str | None, entered: datetime | None, as_of: datetime = AS_OF) -> Facts:
    """Ada's facts, in ``stage_name`` of the customer lifecycle since ``entered``."""
    stages = {} if stage_name is None else {"customer_lifecycle": stage_name}
    since = {} if entered is None else {"customer_lifecycle": entered}
    return Facts.of_customer(ADA, [], as_of, stages=stages, stages_entered_at=since)


class TestTimeInAStage:
    trial_two_weeks = stage("customer_lifecycle").is_in(["trial"], at_least_days=14)

    def test_holds_from_the_exact_instant_the_days_are_up(self) -> None:
        assert self.trial_two_weeks.holds(facts_in("trial", AS_OF - timedelta(days=14)))
        assert not self.trial_two_weeks.holds(
            facts_in("trial", AS_OF - timedelta(days=14) + timedelta(microseconds=1))
        )

    def test_needs_the_stage_too(self) -> None:
        assert not self.trial_two_weeks.holds(facts_in("paying", AS_OF - timedelta(days=99)))
        assert not self.trial_two_weeks.holds(facts_in(None, None))

    def test_an_entry_after_as_of_is_not_yet_in_the_stage_for_zero_days(self) -> None:
        rule = StageCondition("customer_lifecycle", ["trial"], at_least_days=0)
        assert rule.holds(facts_in("trial", AS_OF))
        assert not rule.holds(facts_in("trial", AS_OF + timedelta(microseconds=1)))

    def test_without_days_the_entry_time_does_not_matter(self) -> None:
        assert (stage("customer_lifecycle") == "trial").holds(facts_in("trial", None))

    def test_describes_the_wait(self) -> None:
        assert self.trial_two_weeks.describe() == (
            "customer_lifecycle stage in ['trial'] for at least 14 days"
        )

    @pytest.mark.parametrize("days", [-1, 36_601, 1.5, True, "14"])
    def test_refuses_days_out_of_range(self, days: object) -> None:
        with pytest.raises(ValidationError) as caught:
            StageCondition("customer_lifecycle", ["trial"], at_least_days=days)  # type: ignore[arg-type]
        assert caught.value.paths == ("at_least_days",)

    def test_json_leaves_the_days_out_when_unset(self) -> None:
        assert "at_least_days" not in to_json(stage("customer_lifecycle") == "trial")
        assert from_json(to_json(self.trial_two_weeks), Condition) == self.trial_two_weeks

    @given(
        days=st.integers(0, 400),
        held=st.integers(-3 * 86_400_000_000, 400 * 86_400_000_000),
        stage_name=st.sampled_from(["trial", "paying"]),
    )
    def test_holds_exactly_when_in_the_stage_that_long(
        self, days: int, held: int, stage_name: str
    ) -> None:
        rule = stage("customer_lifecycle").is_in(["trial"], at_least_days=days)
        entered = AS_OF - timedelta(microseconds=held)
        want = stage_name == "trial" and held >= days * 86_400_000_000
        assert rule.holds(facts_in(stage_name, entered)) is want
