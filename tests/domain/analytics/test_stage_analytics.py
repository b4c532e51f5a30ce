"""Stage analytics: time in each stage, stage-to-stage conversion, and cohort funnels."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit.domain.analytics.stages import (
    DurationStats,
    FunnelStep,
    StageFlow,
    funnel,
    stage_conversion,
    stage_durations,
)
from crmkit.domain.lifecycle.history import StageHistory
from crmkit.domain.lifecycle.model import LifecycleModel
from crmkit.domain.lifecycle.presets import CUSTOMER_LIFECYCLE
from crmkit.errors import ValidationError

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    """``n`` days after 1 January 2024, UTC."""
    return T0 + timedelta(days=n)


def walk(path: str, subject: str = "s") -> StageHistory:
    """A history in the customer lifecycle from ``"subscriber@0 lead@2"`` (stage@day, ...)."""
    (first, *rest) = [step.split("@") for step in path.split()]
    history = StageHistory.enter(
        CUSTOMER_LIFECYCLE, subject, stage=first[0], at=day(float(first[1]))
    )
    for stage, at in rest:
        history.move(CUSTOMER_LIFECYCLE, stage, at=day(float(at)))
    return history


def days(*values: float) -> list[timedelta]:
    """Each value as that many days."""
    return [timedelta(days=v) for v in values]


class TestStageDurations:
    """`stage_durations` gives the distribution of stay lengths in each stage."""

    HISTORIES = (
        walk("subscriber@0 lead@2 customer@5"),
        walk("subscriber@0 lead@4"),
    )

    def test_completed_stays_are_measured_from_entry_to_exit(self) -> None:
        """By day 10, the subscriber stays lasted 2 and 4 days; one lead stay ended (3 days)."""
        stats = stage_durations(self.HISTORIES, as_of=day(10))
        assert stats == {
            "subscriber": DurationStats(2, *days(6, 2, 4, 3, 2, 4)),
            "lead": DurationStats(1, *days(3, 3, 3, 3, 3, 3)),
        }

    def test_ongoing_stays_count_only_when_asked_and_end_at_as_of(self) -> None:
        """With ``include_ongoing``, the lead still in 'lead' counts 6 days, the customer 5."""
        stats = stage_durations(self.HISTORIES, as_of=day(10), include_ongoing=True)
        assert stats["lead"] == DurationStats(2, *days(9, 3, 6, 4.5, 3, 6))
        assert stats["customer"] == DurationStats(1, *days(5, 5, 5, 5, 5, 5))

    def test_a_stay_that_ends_after_as_of_is_ongoing_at_as_of(self) -> None:
        """On day 3 the first lead (who left on day 5) had been a lead for 1 day, not 3."""
        assert "lead" not in stage_durations(self.HISTORIES, as_of=day(3))
        ongoing = stage_durations(self.HISTORIES, as_of=day(3), include_ongoing=True)
        assert ongoing["lead"].total == timedelta(days=1)

    def test_stays_entered_after_as_of_are_ignored(self) -> None:
        """On day 1 nobody had become a lead or a customer yet."""
        assert set(stage_durations(self.HISTORIES, as_of=day(1), include_ongoing=True)) == {
            "subscriber"
        }

    def test_each_visit_to_a_stage_counts_as_one_stay(self) -> None:
        """A customer who lapsed and came back has two customer stays, of 10 and 4 days."""
        history = walk("customer@0 lapsed@10 customer@30 repeat@34")
        stats = stage_durations([history], as_of=day(40))["customer"]
        assert (stats.count, stats.total) == (2, timedelta(days=14))

    def test_percentiles_use_the_nearest_rank(self) -> None:
        """Of stays of 1..10 days, the median is the 5th (5 days) and p90 the 9th (9 days)."""
        histories = (walk(f"subscriber@0 lead@{n}", subject=f"s{n}") for n in range(1, 11))
        stats = stage_durations(histories, as_of=day(20))["subscriber"]
        assert (stats.median, stats.p90) == (timedelta(days=5), timedelta(days=9))
        assert stats.mean == timedelta(days=5.5)

    def test_the_mean_is_exact_and_rounds_halves_to_even(self) -> None:
        """Stays of 1 and 2 microseconds average 1.5 µs, which rounds to 2 µs."""
        histories = []
        for n in (1, 2):
            history = StageHistory.enter(CUSTOMER_LIFECYCLE, f"s{n}", at=T0)
            history.move(CUSTOMER_LIFECYCLE, "lead", at=T0 + timedelta(microseconds=n))
            histories.append(history)
        stats = stage_durations(histories, as_of=day(1))["subscriber"]
        assert stats.total == timedelta(microseconds=3)
        assert stats.mean == timedelta(microseconds=2)

    def test_no_histories_give_no_stages(self) -> None:
        """An empty population has no stays to describe."""
        assert stage_durations([], as_of=day(0)) == {}

    def test_a_naive_as_of_is_refused(self) -> None:
        """A datetime without a time zone is ambiguous."""
        with pytest.raises(ValidationError) as caught:
            stage_durations(self.HISTORIES, as_of=datetime(2024, 1, 10))
        assert caught.value.paths == ("as_of",)


class TestStageConversion:
    """`stage_conversion` says where the entries into each stage during a period went next."""

    HISTORIES = (
        walk("subscriber@0 lead@2 customer@5", subject="a"),
        walk("subscriber@1 customer@3", subject="b"),
        walk("subscriber@1", subject="c"),
        walk("subscriber@-5 lead@1", subject="d"),
    )

    def test_each_entry_in_the_period_is_followed_to_its_next_stage(self) -> None:
        """From day 0 to 4: of three new subscribers, one became a lead, one a customer."""
        flows = stage_conversion(self.HISTORIES, since=day(0), until=day(4))
        assert flows == {
            "subscriber": StageFlow("subscriber", 3, {"lead": 1, "customer": 1}, 1),
            "lead": StageFlow("lead", 2, {}, 2),
            "customer": StageFlow("customer", 1, {}, 1),
        }

    def test_rates_are_shares_of_the_entries(self) -> None:
        """A third of the subscribers became leads, and a third had not moved on."""
        subscriber = stage_conversion(self.HISTORIES, since=day(0), until=day(4))["subscriber"]
        assert subscriber.conversion_rate("lead") == pytest.approx(1 / 3)
        assert subscriber.conversion_rate("churned") == 0.0
        assert subscriber.drop_off_rate == pytest.approx(1 / 3)
        assert subscriber.moved_on == 2

    def test_the_period_includes_since_and_excludes_until(self) -> None:
        """The lead entered on day 2 counts; its move on day 5, at ``until``, does not."""
        flows = stage_conversion(self.HISTORIES, since=day(2), until=day(5))
        assert flows == {
            "lead": StageFlow("lead", 1, {}, 1),
            "customer": StageFlow("customer", 1, {}, 1),
        }

    def test_a_flow_with_no_entries_has_zero_rates(self) -> None:
        """Nothing to divide gives 0.0, not an error."""
        empty = StageFlow("lead", 0, {}, 0)
        assert (empty.conversion_rate("customer"), empty.drop_off_rate) == (0.0, 0.0)

    def test_the_next_stage_counts_cannot_be_changed(self) -> None:
        """A result is a value: its mapping is read-only."""
        flow = stage_conversion(self.HISTORIES, since=day(0), until=day(4))["subscriber"]
        with pytest.raises(TypeError):
            flow.moved_to["lead"] = 5  # type: ignore[index]

    @pytest.mark.parametrize(
        ("since", "until", "path"),
        [
            (day(4), day(4), "until"),
            (day(5), day(4), "until"),
            (datetime(2024, 1, 1), day(4), "since"),
            (day(0), "2024-01-04", "until"),
        ],
    )
    def test_a_bad_period_is_refused(self, since: Any, until: Any, path: str) -> None:
        """``since`` must be an aware datetime before ``until``."""
        with pytest.raises(ValidationError) as caught:
            stage_conversion(self.HISTORIES, since=since, until=until)
        assert caught.value.paths == (path,)


class TestFunnel:
    """`funnel` follows a cohort through ordered steps."""

    STEPS = ("subscriber", "lead", "customer", "repeat")
    HISTORIES = (
        walk("subscriber@0 lead@1 customer@2 repeat@3", subject="a"),
        walk("subscriber@0 customer@2", subject="b"),
        walk("subscriber@0 lead@1", subject="c"),
        walk("subscriber@0", subject="d"),
    )

    def test_each_step_counts_who_got_at_least_that_far(self) -> None:
        """Of four subscribers, three got to lead, two to customer, one to repeat."""
        result = funnel(self.HISTORIES, self.STEPS, as_of=day(10))
        assert result.cohort == 4
        assert result.steps == (
            FunnelStep("subscriber", 4, 1.0, 1.0, 0),
            FunnelStep("lead", 3, 0.75, 0.75, 1),
            FunnelStep("customer", 2, 2 / 3, 0.5, 1),
            FunnelStep("repeat", 1, 0.5, 0.25, 1),
        )

    def test_skipping_a_step_counts_as_passing_it(self) -> None:
        """A subscriber who bought without being a lead has passed the lead step."""
        result = funnel([walk("subscriber@0 customer@2")], self.STEPS, as_of=day(10))
        assert [step.reached for step in result.steps] == [1, 1, 1, 0]

    def test_leaving_a_stage_later_does_not_undo_reaching_it(self) -> None:
        """A customer who lapsed was still a customer once."""
        result = funnel([walk("customer@0 lapsed@200")], ["customer"], as_of=day(300))
        assert result.steps[0].reached == 1

    def test_a_subject_who_never_reached_the_first_step_drops_there(self) -> None:
        """The first step's share and drop are measured against the cohort."""
        result = funnel(self.HISTORIES, ["lead", "customer"], as_of=day(10))
        assert result.steps[0] == FunnelStep("lead", 3, 0.75, 0.75, 1)

    def test_only_moves_by_as_of_count(self) -> None:
        """On day 1.5 nobody had bought yet; a subject entering later is not in the cohort."""
        late = walk("subscriber@5", subject="late")
        result = funnel([*self.HISTORIES, late], self.STEPS, as_of=day(1.5))
        assert result.cohort == 4
        assert [step.reached for step in result.steps] == [4, 2, 0, 0]

    def test_a_move_at_as_of_counts(self) -> None:
        """As of the very moment of the purchase, the subscriber has become a customer."""
        result = funnel([walk("subscriber@0 customer@2")], self.STEPS, as_of=day(2))
        assert [step.reached for step in result.steps] == [1, 1, 1, 0]

    def test_the_cohort_is_who_entered_the_model_in_the_window(self) -> None:
        """Entering on day 0 is in ``[day 0, day 1)``; entering on day 1 is not."""
        histories = [*self.HISTORIES, walk("subscriber@1 lead@3", subject="e")]
        early = funnel(
            histories, self.STEPS, as_of=day(10), entered_since=day(0), entered_until=day(1)
        )
        late = funnel(histories, self.STEPS, as_of=day(10), entered_since=day(1))
        assert (early.cohort, late.cohort) == (4, 1)
        assert late.steps[1].reached == 1

    def test_an_empty_cohort_has_zero_rates(self) -> None:
        """Nothing to divide gives 0.0, not an error."""
        result = funnel([], self.STEPS, as_of=day(10))
        assert result.cohort == 0
        assert all(step == FunnelStep(step.stage, 0, 0.0, 0.0, 0) for step in result.steps)

    @pytest.mark.parametrize(
        ("steps", "path"),
        [
            ([], "steps"),
            ("lead", "steps"),
            (["lead", "customer", "lead"], "steps[2]"),
            (["lead", 3], "steps[1]"),
            (["Lead"], "steps[0]"),
        ],
    )
    def test_steps_must_be_distinct_stage_names(self, steps: Any, path: str) -> None:
        """An empty, repeated or malformed step list is refused, naming the bad item."""
        with pytest.raises(ValidationError) as caught:
            funnel(self.HISTORIES, steps, as_of=day(10))
        assert caught.value.paths == (path,)

    @pytest.mark.parametrize(
        ("arguments", "path"),
        [
            ({"as_of": datetime(2024, 1, 10)}, "as_of"),
            ({"as_of": day(10), "entered_since": datetime(2024, 1, 1)}, "entered_since"),
            ({"as_of": day(10), "entered_since": day(2), "entered_until": day(2)}, "entered_until"),
        ],
    )
    def test_bad_instants_are_refused(self, arguments: dict[str, Any], path: str) -> None:
        """Instants must be timezone-aware, and the window must not be empty or inverted."""
        with pytest.raises(ValidationError) as caught:
            funnel(self.HISTORIES, self.STEPS, **arguments)
        assert caught.value.paths == (path,)


# Properties, over random small models and random legal walks through them.

STAGE_POOL = ("lead", "trial", "customer", "lapsed", "lost")
gaps = st.one_of(
    st.just(timedelta(0)), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))
)
instants = st.timedeltas(min_value=timedelta(days=-5), max_value=timedelta(days=250)).map(
    lambda offset: T0 + offset
)

#: Distinct funnel steps, in any order, some perhaps not in the model drawn.
funnel_steps = st.lists(st.sampled_from(STAGE_POOL), min_size=1, unique=True)


@st.composite
def models(draw: st.DrawFn) -> LifecycleModel:
    """A model of 2-5 stages, each reachable from the first, with a few extra transitions."""
    names = STAGE_POOL[: draw(st.integers(2, len(STAGE_POOL)))]
    spine = [(names[draw(st.integers(0, i - 1))], names[i]) for i in range(1, len(names))]
    pairs = [(a, b) for a in names for b in names if a != b]
    extra = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=6))
    return LifecycleModel("random", stages=names, transitions=list(dict.fromkeys(spine + extra)))


@st.composite
def walks(draw: st.DrawFn, model: LifecycleModel, subject: str) -> StageHistory:
    """A history of legal moves through ``model`` at non-decreasing times."""
    at = T0 + draw(gaps)
    history = StageHistory.enter(
        model, subject, at=at, stage=draw(st.sampled_from(model.stage_names))
    )
    for _ in range(draw(st.integers(0, 6))):
        options = model.allowed_from(history.current)
        if not options:
            break
        at += draw(gaps)
        history.move(model, draw(st.sampled_from(options)), at=at)
    return history


@attrs.frozen
class Scenario:
    """Histories in one model, an instant to look from, and a non-empty period."""

    histories: list[StageHistory]
    as_of: datetime
    since: datetime
    until: datetime


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Random histories; each instant is random or, to probe the bounds, one of their changes."""
    model = draw(models())
    histories = [draw(walks(model, f"s{i}")) for i in range(draw(st.integers(0, 6)))]
    changes = [change.at for history in histories for change in history.changes]
    moments = st.one_of(instants, st.sampled_from(changes)) if changes else instants
    since, until = sorted((draw(moments), draw(moments)))
    if since == until:
        since -= timedelta(days=1)
    return Scenario(histories, draw(moments), since, until)


class TestStageDurationProperties:
    """What holds for the durations of any histories."""

    @given(scenarios())
    def test_totals_with_ongoing_stays_add_up_to_the_time_in_the_model(self, s: Scenario) -> None:
        """Every moment between entering the model and ``as_of`` is in exactly one stay."""
        stats = stage_durations(s.histories, as_of=s.as_of, include_ongoing=True)
        in_model = [s.as_of - h.started_at for h in s.histories if h.started_at <= s.as_of]
        assert sum((d.total for d in stats.values()), timedelta(0)) == sum(in_model, timedelta(0))

    @given(scenarios())
    def test_totals_per_stage_agree_with_each_history(self, s: Scenario) -> None:
        """A stage's total is the sum of every history's `time_in_stages` for it."""
        stats = stage_durations(s.histories, as_of=s.as_of, include_ongoing=True)
        per_history = [h.time_in_stages(s.as_of) for h in s.histories]
        for stage in set(stats).union(*per_history):
            expected = sum((times.get(stage, timedelta(0)) for times in per_history), timedelta(0))
            assert (stats[stage].total if stage in stats else timedelta(0)) == expected

    @given(scenarios(), st.booleans())
    def test_counts_are_the_stays_ended_or_begun_by_as_of(
        self, s: Scenario, include_ongoing: bool
    ) -> None:
        """Each stay complete by ``as_of`` counts once; ongoing ones only when asked."""
        stays = [stay for h in s.histories for stay in h.stays() if stay.entered_at <= s.as_of]
        if not include_ongoing:
            stays = [x for x in stays if x.left_at is not None and x.left_at <= s.as_of]
        stats = stage_durations(s.histories, as_of=s.as_of, include_ongoing=include_ongoing)
        assert sum(d.count for d in stats.values()) == len(stays)

    @given(scenarios())
    def test_the_statistics_are_ordered(self, s: Scenario) -> None:
        """min <= median <= p90 <= max, the mean lies between, and mean * count ~ total."""
        for d in stage_durations(s.histories, as_of=s.as_of, include_ongoing=True).values():
            assert timedelta(0) <= d.minimum <= d.median <= d.p90 <= d.maximum
            assert d.minimum <= d.mean <= d.maximum
            assert abs(d.mean * d.count - d.total) <= timedelta(microseconds=d.count)

    @given(scenarios(), st.booleans())
    def test_a_generator_gives_what_a_list_gives(self, s: Scenario, include_ongoing: bool) -> None:
        """The histories are read once, so a stream works as well as a list."""
        streamed = stage_durations(
            (h for h in s.histories), as_of=s.as_of, include_ongoing=include_ongoing
        )
        assert streamed == stage_durations(
            s.histories, as_of=s.as_of, include_ongoing=include_ongoing
        )


class TestStageConversionProperties:
    """What holds for the flows of any histories over any period."""

    @given(scenarios())
    def test_every_entry_moved_on_or_is_still_there(self, s: Scenario) -> None:
        """``entered == sum(moved_to) + still_there``, and the rates add up to one."""
        for flow in stage_conversion(s.histories, since=s.since, until=s.until).values():
            assert flow.entered == sum(flow.moved_to.values()) + flow.still_there > 0
            rates = [flow.conversion_rate(to) for to in flow.moved_to]
            assert sum(rates) + flow.drop_off_rate == pytest.approx(1.0)

    @given(scenarios())
    def test_each_change_in_the_period_is_one_entry_followed_to_its_next_change(
        self, s: Scenario
    ) -> None:
        """Entries are the changes with ``since <= at < until``; moves, the next change if
        it came before ``until``."""
        entered: Counter[str] = Counter()
        moves: Counter[tuple[str, str]] = Counter()
        for h in s.histories:
            for change, following in zip(h.changes, (*h.changes[1:], None), strict=True):
                if s.since <= change.at < s.until:
                    entered[change.to_stage] += 1
                    if following is not None and following.at < s.until:
                        moves[change.to_stage, following.to_stage] += 1
        flows = stage_conversion(s.histories, since=s.since, until=s.until)
        assert {stage: flow.entered for stage, flow in flows.items()} == entered
        assert {(a, b): n for a, f in flows.items() for b, n in f.moved_to.items()} == moves

    @given(scenarios())
    def test_a_generator_gives_what_a_list_gives(self, s: Scenario) -> None:
        """The histories are read once, so a stream works as well as a list."""
        streamed = stage_conversion((h for h in s.histories), since=s.since, until=s.until)
        assert streamed == stage_conversion(s.histories, since=s.since, until=s.until)


class TestFunnelProperties:
    """What holds for the funnel of any cohort."""

    @given(scenarios(), funnel_steps)
    def test_counts_never_grow_down_the_funnel(self, s: Scenario, steps: list[str]) -> None:
        """Each step reaches at most what the one before did; drops account for the rest."""
        result = funnel(s.histories, steps, as_of=s.as_of)
        reached = [result.cohort, *(step.reached for step in result.steps)]
        assert reached == sorted(reached, reverse=True)
        assert [step.dropped for step in result.steps] == [a - b for a, b in pairwise(reached)]
        assert sum(step.dropped for step in result.steps) + reached[-1] == result.cohort

    @given(scenarios(), funnel_steps)
    def test_a_step_is_reached_by_entering_it_or_a_later_one_by_as_of(
        self, s: Scenario, steps: list[str]
    ) -> None:
        """Of the cohort (entered in the window, and by ``as_of``), those who by ``as_of``
        had entered this step's stage or a later step's."""
        result = funnel(
            s.histories, steps, as_of=s.as_of, entered_since=s.since, entered_until=s.until
        )
        cohort = [
            h for h in s.histories if s.since <= h.started_at < s.until and h.started_at <= s.as_of
        ]
        visited = [{c.to_stage for c in h.changes if c.at <= s.as_of} for h in cohort]
        assert result.cohort == len(cohort)
        for k, step in enumerate(result.steps):
            assert step.reached == sum(1 for stages in visited if stages & set(steps[k:]))

    @given(scenarios(), funnel_steps)
    def test_a_generator_gives_what_a_list_gives(self, s: Scenario, steps: list[str]) -> None:
        """The histories are read once, so a stream works as well as a list."""
        streamed = funnel((h for h in s.histories), steps, as_of=s.as_of)
        assert streamed == funnel(s.histories, steps, as_of=s.as_of)
