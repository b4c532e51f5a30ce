"""One refund convention: a refund's amount is what was given back, positive like a
purchase's; the other sign is refused; a refund names only a purchase of its customer; and
segments measure net spend (purchases minus refunds) the same way in memory and in SQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import Interaction, InteractionId, Money
from crmkit.domain import AggregateCondition, Facts, Measure, Op, Window
from crmkit.domain.rules.evaluate import compile_condition
from crmkit.errors import ValidationError
from crmkit.loyalty import Programme, SpendRule
from crmkit.segments import Segment, days, interactions, purchases
from crmkit.serialization import from_json, to_json
from crmkit.testing import strategies as cst
from tests.conftest import MakeCrm, crm_maker

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PROGRAMME = Programme("club", [SpendRule("spend", 1, Money.of("1.00", "EUR"))], pending_days=14)


@pytest.fixture
def make(any_store: object) -> MakeCrm:
    return crm_maker(any_store, START)


def _interaction(kind: str, amount: Money | None, n: int = 1) -> Interaction:
    return Interaction(InteractionId(f"i{n}"), "c1", START, kind, "web", amount=amount)


class TestTheSignOfAnAmount:
    @pytest.mark.parametrize("kind", ["refund", "purchase"])
    def test_a_negative_refund_or_purchase_is_refused_naming_the_amount(self, kind: str) -> None:
        with pytest.raises(ValidationError, match="must not be negative") as caught:
            _interaction(kind, Money.of("-9.90", "EUR"))
        assert caught.value.paths == ("amount",)

    @pytest.mark.parametrize("kind", ["refund", "purchase"])
    def test_zero_and_positive_amounts_and_no_amount_are_accepted(self, kind: str) -> None:
        for amount in (Money.zero("EUR"), Money.of("9.90", "EUR"), None):
            assert _interaction(kind, amount).amount == amount

    def test_a_host_kind_may_still_carry_a_negative_amount(self) -> None:
        """Only purchases and refunds have a sign convention; a host's own kinds do not."""
        credit = _interaction("credit_note", Money.of("-5", "EUR"))
        assert credit.amount == Money.of("-5", "EUR")

    def test_the_front_door_refuses_a_negative_refund_and_stores_nothing(
        self, make: MakeCrm
    ) -> None:
        crm = make()
        ada = crm.customers.register(email="ada@example.com").id
        with pytest.raises(ValidationError) as caught:
            crm.interactions.record(
                ada, kind="refund", channel="web", amount=Money.of("-9.90", "EUR")
            )
        assert caught.value.paths == ("amount",)
        with pytest.raises(ValidationError):
            crm.interactions.record(
                ada, kind="purchase", channel="web", amount=Money.of("-1", "EUR")
            )
        assert crm.interactions.timeline(ada) == []


class TestWhatARefundNames:
    def test_refund_of_a_note_is_refused_without_a_loyalty_programme(self, make: MakeCrm) -> None:
        """Today's main stored it silently when the CRM had no programme."""
        crm = make()
        ada = crm.customers.register(email="ada@example.com").id
        note = crm.interactions.record(ada, kind="note", channel="phone", external_ref="t-1")
        for named in (note.id, "t-1", "never-recorded"):
            with pytest.raises(ValidationError, match="must name a purchase") as caught:
                crm.interactions.record(ada, kind="refund", channel="web", refund_of=named)
            assert caught.value.paths == ("metadata.refund_of",)
        assert [i.kind for i in crm.interactions.timeline(ada)] == ["note"]

    def test_refund_of_another_customers_purchase_is_refused(self, make: MakeCrm) -> None:
        crm = make()
        ada = crm.customers.register(email="ada@example.com").id
        bob = crm.customers.register(email="bob@example.com").id
        bobs = crm.interactions.record(bob, kind="purchase", channel="web", external_ref="o-1")
        with pytest.raises(ValidationError, match="must name a purchase"):
            crm.interactions.record(ada, kind="refund", channel="web", refund_of=bobs.id)
        assert crm.interactions.timeline(ada) == []

    def test_only_a_refund_may_name_a_purchase(self, make: MakeCrm) -> None:
        crm = make()
        ada = crm.customers.register(email="ada@example.com").id
        crm.interactions.record(ada, kind="purchase", channel="web", external_ref="o-1")
        for more in ({"refund_of": "o-1"}, {"metadata": {"refund_of": "o-1"}}):
            with pytest.raises(ValidationError, match="only a refund names a purchase"):
                crm.interactions.record(ada, kind="purchase", channel="web", **more)  # type: ignore[arg-type]
        assert len(crm.interactions.timeline(ada)) == 1

    def test_a_refund_of_a_stored_purchase_is_recorded_without_a_programme(
        self, make: MakeCrm
    ) -> None:
        crm = make()
        ada = crm.customers.register(email="ada@example.com").id
        crm.interactions.record(
            ada, kind="purchase", channel="web", amount=Money.of("50", "EUR"), external_ref="o-1"
        )
        refund = crm.interactions.record(
            ada, kind="refund", channel="web", amount=Money.of("20", "EUR"), refund_of="o-1"
        )
        assert refund.metadata["refund_of"] == "o-1"

    def test_a_positive_partial_refund_takes_back_its_share_of_the_points(
        self, any_store: object
    ) -> None:
        crm = crm_maker(any_store, START, loyalty=PROGRAMME)()
        ada = crm.customers.register(email="ada@example.com").id
        crm.interactions.record(
            ada, kind="purchase", channel="web", amount=Money.of("100", "EUR"), external_ref="o-1"
        )
        crm.interactions.record(
            ada, kind="refund", channel="web", amount=Money.of("40", "EUR"), refund_of="o-1"
        )
        assert crm.loyalty.balance(ada).pending == 60


class TestNetSpend:
    def test_spent_over_500_this_year_means_purchases_minus_refunds(self, make: MakeCrm) -> None:
        """The same answer in memory and on every SQL backend (the store parametrises)."""
        crm = make()
        ada = crm.customers.register(email="ada@example.com").id
        ben = crm.customers.register(email="ben@example.com").id
        for who, kind, euros, ago in [
            (ada, "purchase", "600", 30),
            (ada, "refund", "150", 10),
            (ben, "purchase", "520", 20),
            (ben, "refund", "400", 400),  # refunded last year: not this year's spend
            (ben, "note", "999", 5),  # another kind adds nothing
        ]:
            crm.interactions.record(
                who,
                kind=kind,
                channel="web",
                amount=Money.of(euros, "EUR"),
                occurred_at=START - timedelta(days=ago),
            )
        this_year = interactions(last=days(365))
        net = this_year.net_spend("EUR") > 500
        gross = interactions(kinds=["purchase", "refund"], last=days(365)).sum("EUR") > 500
        assert [c.id for c in crm.segments.stream(net, as_of=START)] == [ben]
        assert [c.id for c in crm.segments.stream(gross, as_of=START)] == [ada, ben]
        assert crm.segments.count(this_year.net_spend("EUR") == 450, as_of=START) == 1
        assert crm.segments.count(interactions().net_spend("EUR") == 120, as_of=START) == 1

    def test_net_spend_takes_no_kinds(self) -> None:
        with pytest.raises(ValidationError) as caught:
            purchases(last=days(365)).net_spend("EUR")
        assert caught.value.paths == ("kinds",)
        with pytest.raises(ValidationError) as caught:
            AggregateCondition(
                Measure.NET_SPEND, Op.GT, Money.of("1", "EUR"), currency="EUR", kinds=["refund"]
            )
        assert caught.value.paths == ("kinds",)

    def test_net_spend_compares_with_money_in_its_currency(self) -> None:
        with pytest.raises(ValidationError) as caught:
            interactions().net_spend("EUR") > Money.of("1", "USD")  # noqa: B015
        assert caught.value.paths == ("currency",)
        assert (interactions().net_spend("JPY") >= 500).value == Money.of("500", "JPY")

    def test_a_net_spend_rule_round_trips_through_json(self) -> None:
        rule = interactions(channels=["web"], last=days(365)).net_spend("EUR").between(10, 500)
        text = to_json(rule)
        assert '"measure": "net_spend"' in text
        assert from_json(text, type(rule)) == rule

    def test_a_json_net_spend_with_kinds_is_refused_at_its_path(self) -> None:
        rule = {
            "type": "aggregate",
            "measure": "net_spend",
            "op": "gt",
            "value": {"amount": "500", "currency": "EUR"},
            "currency": "EUR",
            "kinds": ["purchase"],
        }
        document = {"version": 1, "name": "big_spenders", "rule": rule}
        with pytest.raises(ValidationError) as caught:
            from_json(json.dumps(document), Segment)
        assert caught.value.paths == ("rule.kinds",)


def _in_window(facts: Facts, window: Window, kind: str, currency: str) -> int:
    return sum(
        i.amount.minor
        for i in facts.interactions
        if i.kind == kind
        and i.amount is not None
        and i.amount.currency == currency
        and window.contains(i.occurred_at, facts.as_of)
    )


@given(facts=cst.segment_facts(), window=cst.windows(), currency=st.sampled_from(["EUR", "USD"]))
def test_net_spend_is_purchases_minus_refunds_in_the_window_per_currency(
    facts: Facts, window: Window, currency: str
) -> None:
    expected = _in_window(facts, window, "purchase", currency) - _in_window(
        facts, window, "refund", currency
    )
    probe = AggregateCondition(
        Measure.NET_SPEND, Op.EQ, Money.zero(currency), window=window, currency=currency
    )
    assert probe.measure_of(facts) == expected
    if abs(expected) < 2**63:  # a Money operand; the compiled evaluator says the same
        exact = AggregateCondition(
            Measure.NET_SPEND, Op.EQ, Money(expected, currency), window=window, currency=currency
        )
        assert exact.holds(facts)
        assert compile_condition(exact)(facts)
        assert not compile_condition(~exact)(facts)
