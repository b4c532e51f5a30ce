"""Loyalty programmes and ledger entries as JSON: lossless, and safe against hostile documents."""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import CustomerId, Money
from crmkit.domain.loyalty import (
    EventRule,
    LedgerEntry,
    Multiplier,
    PeriodCap,
    PointsBalance,
    PointsEarned,
    PointsExpired,
    PointsRedeemed,
    Programme,
    Redemption,
    Referral,
    ReferralChanged,
    ReferralPolicy,
    ReferralStatus,
    Reward,
    SpendRule,
    Tier,
    TierChanged,
)
from crmkit.errors import ValidationError
from crmkit.events import DomainEvent
from crmkit.segments import tagged
from crmkit.serialization import (
    EVENT_TYPES,
    RULE_TYPES,
    event_from_dict,
    event_to_dict,
    from_json,
    structure,
    to_json,
    unstructure,
)
from crmkit.testing import strategies as cs
from tests.strategies import json_values, mutated

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 5, 9, 30, tzinfo=UTC)
T2 = datetime(2024, 1, 6, tzinfo=UTC)

LOYALTY_EVENTS = [PointsEarned, PointsRedeemed, PointsExpired, TierChanged, ReferralChanged]

#: Programmes that reward referrals (about half of what `loyalty_programmes` draws).
REFERRING_PROGRAMMES = cs.loyalty_programmes().filter(lambda p: p.referrals is not None)


def coffee() -> Programme:
    """A programme using every part: rules of both kinds, a multiplier, tiers, caps."""
    return Programme(
        "coffee",
        [
            SpendRule("base", 1, Money.of("1", "EUR"), valid_from=T0),
            EventRule("welcome", "sign_up", 50),
        ],
        multipliers=[
            Multiplier("vip_web", Decimal(2), tier="gold", channels={"web"}, segment=tagged("vip"))
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


def referring() -> Programme:
    """`coffee` rewarding referrals: its referrer through a ``referral`` event rule, its
    referee through the ``sign_up`` welcome rule."""
    rules = [*coffee().rules, EventRule("referral_bonus", "referral", 200)]
    return attrs.evolve(
        coffee(), rules=rules, referrals=ReferralPolicy("referral", referee_kind="sign_up")
    )


def rewarded_referral() -> Referral:
    """A referral moved through every status by the domain's own methods."""
    referral = Referral.record(
        "r1", "coffee", CustomerId("c1"), CustomerId("c2"), T0, code="FRIEND10"
    )
    referral.qualify("i7", T1)
    referral.reward(T2)
    referral.version = 3
    return referral


def balance() -> PointsBalance:
    return PointsBalance(CustomerId("c1"), "coffee", 120, 30, "silver", 4, T1, T2, 2)


def errors_of(document: Any, cls: type = Programme) -> dict[str, str]:
    """The path and message of each problem ``structure`` reports for ``document``."""
    with pytest.raises(ValidationError) as caught:
        structure(document, cls)
    return {error.path: error.message for error in caught.value.errors}


def edited(path: tuple[Any, ...], value: Any, original: object = None) -> dict[str, Any]:
    """The JSON form of ``original`` (`coffee` if ``None``) with the value at ``path``
    replaced (or deleted: ``...``)."""
    document: dict[str, Any] = copy.deepcopy(unstructure(original or coffee()))
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
        assert data["multipliers"][0]["segment"] == {"type": "tag", "tag": "vip"}
        assert data["tiers"][1] == {"name": "gold", "threshold": 1000, "multiplier": "1.5"}
        assert data["tier_policy"]["basis"] == "points_earned"
        assert data["period_caps"] == [{"period": "day", "points": 100}]
        assert data["custom_kinds"] == ["stamp"]

    def test_a_rule_alone_round_trips(self) -> None:
        """A rule structures alone (with its tag) as well as inside a programme."""
        rule = EventRule("welcome", "sign_up", 50)
        assert structure(unstructure(rule), EventRule) == rule

    def test_a_referral_policy_is_an_object_or_null(self) -> None:
        """A programme's ``referrals`` is the policy's two kinds, or ``null`` for none."""
        assert unstructure(coffee())["referrals"] is None
        assert unstructure(referring())["referrals"] == {
            "referrer_kind": "referral",
            "referee_kind": "sign_up",
        }

    def test_a_programme_written_before_referrals_reads_as_none(self) -> None:
        """A stored document without the ``referrals`` key still structures."""
        assert structure(edited(("referrals",), ...), Programme).referrals is None

    def test_a_referral_is_its_fields(self) -> None:
        """Status as its value, timestamps as ISO 8601 (``null`` until reached), the version;
        never the referral's pending events."""
        referral = rewarded_referral()
        assert unstructure(referral) == {
            "id": "r1",
            "programme": "coffee",
            "referrer_id": "c1",
            "referee_id": "c2",
            "created_at": "2024-01-01T00:00:00+00:00",
            "code": "FRIEND10",
            "status": "rewarded",
            "qualified_at": "2024-01-05T09:30:00+00:00",
            "qualifying_interaction_id": "i7",
            "rewarded_at": "2024-01-06T00:00:00+00:00",
            "version": 3,
        }
        back = from_json(to_json(referral), Referral)
        assert back == referral
        assert back.status is ReferralStatus.REWARDED
        assert back.pull_events() == []  # the events went to the outbox, not into the JSON

    def test_a_pending_referral_has_no_timestamps_yet(self) -> None:
        """Until it qualifies, ``qualified_at`` and ``rewarded_at`` are ``null``."""
        referral = Referral.record("r2", "coffee", CustomerId("c1"), CustomerId("c3"), T0)
        data = unstructure(referral)
        assert (data["status"], data["qualified_at"], data["rewarded_at"]) == (
            "pending",
            None,
            None,
        )
        assert data["code"] is None

    def test_a_balance_is_its_fields(self) -> None:
        """A points balance, as storage keeps it beside the ledger."""
        assert unstructure(balance()) == {
            "customer_id": "c1",
            "programme": "coffee",
            "available": 120,
            "pending": 30,
            "tier": "silver",
            "entries": 4,
            "last_at": "2024-01-05T09:30:00+00:00",
            "next_due_at": "2024-01-06T00:00:00+00:00",
            "version": 2,
        }

    def test_loyalty_events_are_registered(self) -> None:
        """Every loyalty event can travel through an outbox as tagged JSON."""
        assert {cls.__name__ for cls in LOYALTY_EVENTS} <= set(EVENT_TYPES)
        assert all(EVENT_TYPES[cls.__name__] is cls for cls in LOYALTY_EVENTS)

    def test_a_referral_event_is_tagged(self) -> None:
        """The event a referral records says which referral moved, and to which status."""
        (event,) = Referral.record(
            "r1", "coffee", CustomerId("c1"), CustomerId("c2"), T0
        ).pull_events()
        assert event_to_dict(event) == {
            "type": "ReferralChanged",
            "at": "2024-01-01T00:00:00+00:00",
            "referral_id": "r1",
            "referrer_id": "c1",
            "referee_id": "c2",
            "status": "pending",
        }

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

    @given(REFERRING_PROGRAMMES)
    def test_programmes_with_a_referral_policy_round_trip(self, programme: Programme) -> None:
        """The policy comes back equal, with the event rules it relies on."""
        back = from_json(to_json(programme), Programme)
        assert back == programme
        assert back.referrals == programme.referrals

    @given(cs.referrals())
    def test_referrals_round_trip(self, referral: Referral) -> None:
        """Every status, timestamp, code and version survives data and JSON text."""
        assert structure(unstructure(referral), Referral) == referral
        back = from_json(to_json(referral), Referral)
        assert back == referral
        assert (back.status, back.version) == (referral.status, referral.version)

    @given(cs.points_balances())
    def test_points_balances_round_trip(self, value: PointsBalance) -> None:
        """Through data and through JSON text."""
        assert structure(unstructure(value), PointsBalance) == value
        assert from_json(to_json(value), PointsBalance) == value

    @pytest.mark.parametrize("cls", LOYALTY_EVENTS, ids=lambda cls: cls.__name__)
    @given(data=st.data())
    def test_loyalty_events_round_trip(self, cls: type[DomainEvent], data: st.DataObject) -> None:
        """Each loyalty event, tagged with its class, through data and JSON text."""
        event = data.draw(cs.domain_events(cls))
        document = event_to_dict(event)
        assert document["type"] == cls.__name__
        assert event_from_dict(json.loads(json.dumps(document))) == event
        assert from_json(to_json(event), cls) == event
        assert from_json(to_json(event), DomainEvent) == event


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
            (("multipliers", 0, "categories"), "coffee", "multipliers[0].categories", "list"),
            (("multipliers", 0, "segment", "type"), "nope", "multipliers[0].segment.type", ""),
            (("multipliers", 0, "tier"), "platinum", "multipliers[0].tier", "not a tier"),
            (("tiers", 1, "threshold"), 100, "tiers[1].threshold", "overlaps"),
            (("tiers", 0, "threshold"), True, "tiers[0].threshold", "int"),
            (("tier_policy", "basis"), "luck", "tier_policy.basis", "points_earned"),
            (("tier_policy", "window_days"), 0, "tier_policy.window_days", "days"),
            (("period_caps", 0, "period"), "year", "period_caps[0].period", "day, week, month"),
            (("custom_kinds",), ["Not A Slug"], "custom_kinds", "slugs"),
            (("event_cap",), "10", "event_cap", "int"),
            (("pending_days",), -1, "pending_days", "0-36600"),
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

    @pytest.mark.parametrize(
        ("path", "value", "where", "says"),
        [
            (("referrals", "bonus"), 5, "referrals", "unknown fields: bonus"),
            (
                ("referrals", "referrer_kind"),
                "purchase",
                "referrals.referrer_kind",
                "no event rule",
            ),
            (("referrals", "referee_kind"), "review", "referrals.referee_kind", "no event rule"),
            (("referrals", "referee_kind"), "teleport", "referrals.referee_kind", "not a known"),
            (("referrals", "referrer_kind"), "Referral", "referrals.referrer_kind", "slug"),
            (("referrals", "referrer_kind"), 7, "referrals.referrer_kind", "str"),
            (("referrals",), "referral", "referrals", ""),
            (("referrals",), ["referral"], "referrals", ""),
        ],
    )
    def test_a_bad_referral_policy_is_reported_at_its_path(
        self, path: tuple[Any, ...], value: Any, where: str, says: str
    ) -> None:
        """An unknown key, a kind no event rule rewards, a malformed kind: each is named."""
        text = json.dumps(edited(path, value, referring()))
        with pytest.raises(ValidationError) as caught:
            from_json(text, Programme)
        found = {error.path: error.message for error in caught.value.errors}
        assert where in found, found
        assert says in found[where]

    def test_a_policy_may_reward_the_referee_alone(self) -> None:
        """``null`` for the referrer is fine while the referee is rewarded."""
        document = edited(("referrals", "referrer_kind"), None, referring())
        policy = structure(document, Programme).referrals
        assert policy == ReferralPolicy(None, referee_kind="sign_up")

    def test_a_policy_rewarding_nobody_is_refused(self) -> None:
        """Naming no kind at all would make referrals earn nothing: refused, not ignored."""
        document = edited(("referrals",), {"referrer_kind": None, "referee_kind": None})
        found = errors_of(document)
        assert "both must be rewarded" in found["referrals.referrer_kind"]

    def test_dropping_the_rule_a_policy_needs_is_refused(self) -> None:
        """A policy is checked against the rules of the same document."""
        document = edited(("rules",), unstructure(referring())["rules"][:2], referring())
        found = errors_of(document)
        assert found == {
            "referrals.referrer_kind": "has no event rule, so the referral would earn nothing"
        }

    @pytest.mark.parametrize(
        ("field", "value", "where", "says"),
        [
            ("status", "lost", "status", "pending, qualified, rewarded"),
            ("status", 1, "status", "pending"),
            ("qualified_at", "2024-01-05T09:30:00", "qualified_at", "naive"),
            ("rewarded_at", 20240106, "rewarded_at", "ISO 8601"),
            ("referee_id", "c1", "", "cannot refer themselves"),
            ("referrer_id", "", "referrer_id", "1-64"),
            ("programme", "Coffee Club", "programme", "slug"),
            ("code", " ", "code", "non-blank"),
            ("version", -1, "version", ">= 0"),
            ("version", "3", "version", "int"),
            ("created_at", ..., "created_at", "missing"),
            ("_events", [], "", "unknown fields: _events"),
            ("events", [], "", "unknown fields: events"),
        ],
    )
    def test_bad_referrals_are_reported_at_their_path(
        self, field: str, value: Any, where: str, says: str
    ) -> None:
        """Referral documents are checked field by field, then as a whole."""
        document = unstructure(rewarded_referral())
        if value is ...:
            del document[field]
        else:
            document[field] = value
        found = errors_of(document, Referral)
        assert where in found, found
        assert says in found[where]

    @pytest.mark.parametrize(
        ("field", "value", "where", "says"),
        [
            ("available", -1, "available", ">= 0"),
            ("pending", "30", "pending", "int"),
            ("entries", -4, "entries", ">= 0"),
            ("customer_id", "c 1", "customer_id", "1-64"),
            ("programme", "Coffee", "programme", "slug"),
            ("last_at", "yesterday", "last_at", "ISO 8601"),
            ("tier", 1, "tier", "str"),
            ("version", ..., "version", "missing"),
            ("balance", 0, "", "unknown fields: balance"),
        ],
    )
    def test_bad_balances_are_reported_at_their_path(
        self, field: str, value: Any, where: str, says: str
    ) -> None:
        """A stored balance is checked too: counts, the member's id, the programme's slug."""
        document = unstructure(balance())
        if value is ...:
            del document[field]
        else:
            document[field] = value
        found = errors_of(document, PointsBalance)
        assert where in found, found
        assert says in found[where]

    @pytest.mark.parametrize(
        "cls", [Programme, LedgerEntry, Referral, ReferralPolicy, PointsBalance]
    )
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

    @given(REFERRING_PROGRAMMES.flatmap(lambda p: mutated(unstructure(p))))
    def test_a_mutated_referring_programme_structures_or_raises_validation_error(
        self, document: Any
    ) -> None:
        """Mutations reach the referral policy too, and end in ValidationError only."""
        with contextlib.suppress(ValidationError):
            structure(document, Programme)

    @given(cs.referrals().flatmap(lambda r: mutated(unstructure(r))))
    def test_a_mutated_referral_structures_or_raises_validation_error(self, document: Any) -> None:
        """Dropped keys, wrong types and unknown keys end in ValidationError only."""
        with contextlib.suppress(ValidationError):
            structure(document, Referral)

    @given(cs.points_balances().flatmap(lambda b: mutated(unstructure(b))))
    def test_a_mutated_balance_structures_or_raises_validation_error(self, document: Any) -> None:
        """Dropped keys, wrong types and unknown keys end in ValidationError only."""
        with contextlib.suppress(ValidationError):
            structure(document, PointsBalance)
