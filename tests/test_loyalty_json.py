"""Loyalty programmes and ledger entries as JSON: lossless, and safe against hostile documents."""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given

from crmkit import HasTag, Money
from crmkit.domain.loyalty import (
    EventRule,
    LedgerEntry,
    Multiplier,
    PeriodCap,
    Programme,
    Redemption,
    Reward,
    SpendRule,
    Tier,
)
from crmkit.errors import ValidationError
from crmkit.serialization import RULE_TYPES, from_json, structure, to_json, unstructure
from crmkit.testing import strategies as cs
from tests.strategies import json_values, mutated

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def coffee() -> Programme:
    """A programme using every part: rules of both kinds, a multiplier, tiers, caps."""
    return Programme(
        "coffee",
        [
            SpendRule("base", 1, Money.of("1", "EUR"), valid_from=T0),
            EventRule("welcome", "sign_up", 50),
        ],
        multipliers=[
            Multiplier("vip_web", Decimal(2), tier="gold", channels={"web"}, segment=HasTag("vip"))
        ],
        tiers=[Tier("silver", 100), Tier("gold", 1000, multiplier=Decimal("1.5"))],
        custom_kinds={"stamp"},
        event_cap=500,
        period_caps=[PeriodCap("day", 100)],
        pending_days=14,
        expiry_days=365,
        redemption=Redemption(10, 5),
        rewards=[Reward("latte", 100)],
    )


def errors_of(document: Any, cls: type = Programme) -> dict[str, str]:
    """The path and message of each problem ``structure`` reports for ``document``."""
    with pytest.raises(ValidationError) as caught:
        structure(document, cls)
    return {error.path: error.message for error in caught.value.errors}


def edited(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """The JSON form of `coffee` with the value at ``path`` replaced (or deleted: ``...``)."""
    document: dict[str, Any] = copy.deepcopy(unstructure(coffee()))
    parent: Any = document
    for key in path[:-1]:
        parent = parent[key]
    if value is ...:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


class TestJsonForm:
    """What a stored programme looks like."""

    def test_rules_are_a_tagged_union(self) -> None:
        """Each rule carries its ``"type"``; money, dates and sets are exact text."""
        data = unstructure(coffee())
        assert data["rules"][0] == {
            "type": "spend",
            "name": "base",
            "points": 1,
            "per": {"amount": "1.00", "currency": "EUR"},
            "rounding": "ROUND_DOWN",
            "kinds": ["purchase"],
            "valid_from": "2024-01-01T00:00:00+00:00",
            "valid_until": None,
        }
        assert data["rules"][1]["type"] == "event"
        assert set(RULE_TYPES) == {"spend", "event"}

    def test_parts_are_plain_data(self) -> None:
        """Decimals are text, enums their values, conditions tagged, sets sorted lists."""
        data = unstructure(coffee())
        assert data["multipliers"][0]["factor"] == "2"
        assert data["multipliers"][0]["segment"] == {"type": "has_tag", "tag": "vip"}
        assert data["tiers"][1] == {"name": "gold", "threshold": 1000, "multiplier": "1.5"}
        assert data["tier_policy"]["basis"] == "points_earned"
        assert data["period_caps"] == [{"period": "day", "points": 100}]
        assert data["custom_kinds"] == ["stamp"]

    def test_a_rule_alone_round_trips(self) -> None:
        """A rule structures alone (with its tag) as well as inside a programme."""
        rule = EventRule("welcome", "sign_up", 50)
        assert structure(unstructure(rule), EventRule) == rule

    def test_entry_takes_are_pairs(self) -> None:
        """A ledger entry's ``takes`` are ``[lot, points]`` pairs, in order."""
        entry = LedgerEntry(2, "redeem", 10, T0, "r1", takes=[("a", 4), ("b", 6)])
        data = unstructure(entry)
        assert data["takes"] == [["a", 4], ["b", 6]]
        assert data["kind"] == "redeem"
        assert from_json(to_json(entry), LedgerEntry) == entry


class TestRoundTrip:
    """Any valid programme or entry comes back equal."""

    @given(cs.loyalty_programmes())
    def test_programmes_round_trip(self, programme: Programme) -> None:
        """Through data and through JSON text."""
        assert structure(unstructure(programme), Programme) == programme
        assert from_json(to_json(programme), Programme) == programme

    @given(cs.ledger_entries())
    def test_ledger_entries_round_trip(self, entry: LedgerEntry) -> None:
        """Through data and through JSON text."""
        assert structure(unstructure(entry), LedgerEntry) == entry
        assert from_json(to_json(entry), LedgerEntry) == entry


class TestHostileDocuments:
    """Bad documents raise one ValidationError naming the path of each problem."""

    @pytest.mark.parametrize(
        ("path", "value", "where", "says"),
        [
            (("rules", 0, "points"), -1, "rules[0].points", "> 0"),
            (("rules", 0, "type"), "bonus", "rules[0].type", "must be one of event, spend"),
            (("rules", 1, "type"), ..., "rules[1].type", "is required"),
            (("rules", 0, "per"), {"amount": "0", "currency": "EUR"}, "rules[0].per", "positive"),
            (
                ("rules", 0, "per"),
                {"amount": 1.5, "currency": "EUR"},
                "rules[0].per.amount",
                "text",
            ),
            (("rules", 0, "rounding"), "ROUND_SIDEWAYS", "rules[0].rounding", "ROUND_"),
            (("rules", 0, "kinds"), "purchase", "rules[0].kinds", "list"),
            (("rules", 0, "extra"), 1, "rules[0]", "unknown fields: extra"),
            (("rules", 1, "kind"), "teleport", "rules[1].kind", "not a known"),
            (("rules", 0), "spend", "rules[0]", "must be an object"),
            (("rules",), "abc", "rules", "must be a list"),
            (("rules",), {"type": "spend"}, "rules", "must be a list"),
            (("multipliers", 0, "factor"), 1.5, "multipliers[0].factor", "never a float"),
            (("multipliers", 0, "factor"), "-1", "multipliers[0].factor", "above 0"),
            (("multipliers", 0, "channels"), ["pigeon"], "multipliers[0].channels[0]", "web"),
            (("multipliers", 0, "segment", "type"), "nope", "multipliers[0].segment.type", ""),
            (("multipliers", 0, "tier"), "platinum", "multipliers[0].tier", "not a tier"),
            (("tiers", 1, "threshold"), 100, "tiers[1].threshold", "overlaps"),
            (("tiers", 0, "threshold"), True, "tiers[0].threshold", "int"),
            (("tier_policy", "basis"), "luck", "tier_policy.basis", "points_earned"),
            (("tier_policy", "window_days"), 0, "tier_policy.window_days", "days"),
            (("period_caps", 0, "period"), "year", "period_caps[0].period", "day, week, month"),
            (("custom_kinds",), ["Not A Slug"], "custom_kinds", "slugs"),
            (("event_cap",), "10", "event_cap", "int"),
            (("pending_days",), -1, "pending_days", ">= 0"),
            (("redemption", "step"), 0, "redemption.step", "> 0"),
            (("rewards", 0, "price"), ..., "rewards[0].price", "missing"),
            (("name",), ..., "name", "missing"),
        ],
    )
    def test_bad_fields_are_reported_at_their_path(
        self, path: tuple[Any, ...], value: Any, where: str, says: str
    ) -> None:
        """The error names where the document is wrong, never a KeyError or TypeError."""
        found = errors_of(edited(path, value))
        assert where in found, found
        assert says in found[where]

    def test_several_problems_are_reported_together(self) -> None:
        """Every bad field of a document is listed, not only the first."""
        document = edited(("rules", 0, "points"), -1)
        document["tier_policy"]["basis"] = "luck"
        document["surplus"] = True
        found = errors_of(document)
        assert {"rules[0].points", "tier_policy.basis", ""} <= set(found)

    def test_a_rule_of_the_wrong_class_is_refused(self) -> None:
        """Structuring a `SpendRule` refuses an event rule's document."""
        found = errors_of(unstructure(EventRule("welcome", "sign_up", 5)), SpendRule)
        assert found == {"type": "must be one of spend"}

    @pytest.mark.parametrize(
        ("field", "value", "says"),
        [
            ("takes", [["a"]], "pair"),
            ("takes", "ab", "list"),
            ("takes", [["a", "4"]], "int"),
            ("kind", "fly", "earn"),
            ("points", -1, ">= 0"),
            ("at", "2024-01-01T00:00:00", "naive"),
            ("seq", None, "int"),
        ],
    )
    def test_bad_entries_are_reported_at_their_path(
        self, field: str, value: Any, says: str
    ) -> None:
        """Ledger entries are checked field by field too."""
        document = unstructure(LedgerEntry(2, "redeem", 10, T0, "r1", takes=[("a", 10)]))
        document[field] = value
        found = errors_of(document, LedgerEntry)
        assert any(path.startswith(field) and says in message for path, message in found.items())

    @pytest.mark.parametrize("cls", [Programme, LedgerEntry])
    @given(document=json_values())
    def test_any_json_value_structures_or_raises_validation_error(
        self, cls: type, document: Any
    ) -> None:
        """Random JSON never escapes as another error."""
        with contextlib.suppress(ValidationError):
            structure(document, cls)

    @given(cs.loyalty_programmes().flatmap(lambda p: mutated(unstructure(p))))
    def test_a_mutated_programme_structures_or_raises_validation_error(self, document: Any) -> None:
        """Dropped keys, wrong types and unknown keys end in ValidationError only."""
        with contextlib.suppress(ValidationError):
            structure(document, Programme)

    @given(cs.ledger_entries().flatmap(lambda e: mutated(unstructure(e))))
    def test_a_mutated_entry_structures_or_raises_validation_error(self, document: Any) -> None:
        """Dropped keys, wrong types and unknown keys end in ValidationError only."""
        with contextlib.suppress(ValidationError):
            structure(document, LedgerEntry)
