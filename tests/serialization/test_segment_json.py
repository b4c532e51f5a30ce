"""Segments as JSON: versioned, lossless, and safe against hostile documents."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given

from crmkit import Money
from crmkit.domain.rules.conditions import MAX_CONDITION_DEPTH
from crmkit.errors import ValidationError
from crmkit.segments import AllOf, Condition, Segment, Window, field, purchases, tagged, trait
from crmkit.serialization import from_json, structure, to_json, unstructure
from crmkit.testing import strategies as cs
from tests.strategies import json_values, mutated

SINCE = datetime(2024, 1, 1, tzinfo=UTC)


def vip_de() -> Segment:
    """A segment using typed values of several kinds."""
    return Segment(
        "vip_de",
        AllOf(
            [
                field("country") == "DE",
                trait("birthday") < date(2000, 1, 1),
                trait("score", "decimal").is_in([Decimal("1.50"), Decimal("-2")]),
                purchases(since=SINCE)
                .sum("EUR")
                .between(Money.of("10", "EUR"), Money.of("99", "EUR")),
                field("created_at") >= SINCE,
            ]
        ),
        "Germans with money to spend",
    )


class TestJsonForm:
    """What a stored segment looks like."""

    def test_a_segment_carries_its_version(self) -> None:
        """``{"version": 1, "name", "description", "rule"}``."""
        data = unstructure(Segment("vips", tagged("vip")))
        assert data == {
            "version": 1,
            "name": "vips",
            "description": None,
            "rule": {"type": "tag", "tag": "vip"},
        }

    def test_values_keep_their_types(self) -> None:
        """Dates, decimals, datetimes, money and lists come back as they went in."""
        segment = vip_de()
        back = from_json(to_json(segment), Segment)
        assert back == segment
        leaves = list(back.rule.leaves())
        assert type(leaves[1].value) is date  # type: ignore[attr-defined]
        assert leaves[2].value == (Decimal("1.50"), Decimal("-2"))  # type: ignore[attr-defined]
        assert leaves[3].value == (Money.of("10", "EUR"), Money.of("99", "EUR"))  # type: ignore[attr-defined]
        assert leaves[4].value == SINCE  # type: ignore[attr-defined]

    def test_a_trait_leaf_names_its_type_as_trait_type(self) -> None:
        """``type`` is the union's tag, so the trait's type is ``trait_type``."""
        assert unstructure(trait("plan") == "pro") == {
            "type": "trait",
            "name": "plan",
            "trait_type": "string",
            "op": "eq",
            "value": "pro",
        }

    @given(cs.segments(4))
    def test_every_segment_round_trips(self, segment: Segment) -> None:
        """``structure(unstructure(s), Segment) == s``, and through JSON text."""
        assert structure(unstructure(segment), Segment) == segment
        assert from_json(to_json(segment), Segment) == segment

    @given(cs.segment_rules(3))
    def test_every_rule_round_trips_as_a_condition(self, rule: Condition) -> None:
        """Each leaf is in the tagged union."""
        assert structure(unstructure(rule), Condition) == rule
        assert structure(unstructure(rule), type(rule)) == rule

    def test_an_average_round_trips(self) -> None:
        """The avg measure: comparisons with Money, between, and is_null with its currency."""
        for rule in (
            purchases(last=90).avg("EUR") >= 50,
            purchases().avg("JPY").between(100, 200),
            purchases().avg("EUR").is_null(),
        ):
            assert from_json(to_json(rule), Condition) == rule

    def test_window_round_trips(self) -> None:
        """Windows are plain objects."""
        assert structure(unstructure(Window(SINCE)), Window) == Window(SINCE)


class TestHostileDocuments:
    """Bad input ends in a ValidationError with paths, never anything else."""

    def document(self) -> dict[str, Any]:
        return unstructure(vip_de())  # type: ignore[no-any-return]

    @pytest.mark.parametrize("version", [None, 2, "1", True, 1.0])
    def test_another_version_is_refused(self, version: Any) -> None:
        """Only version 1 is read; a missing version too is refused."""
        document = self.document()
        if version is None:
            del document["version"]
        else:
            document["version"] = version
        with pytest.raises(ValidationError) as caught:
            structure(document, Segment)
        assert caught.value.paths == ("version",)

    def test_sql_in_a_field_name_is_refused(self) -> None:
        """Names come from the catalogue."""
        document = self.document()
        document["rule"]["conditions"][0]["field"] = "country = 'DE' OR 1=1 --"
        with pytest.raises(ValidationError) as caught:
            structure(document, Segment)
        assert caught.value.paths == ("rule.conditions[0].field",)

    def test_sql_in_a_trait_name_is_refused(self) -> None:
        """Trait names are slugs."""
        document = self.document()
        document["rule"]["conditions"][1]["name"] = "x'; DROP TABLE crmkit_customers; --"
        with pytest.raises(ValidationError) as caught:
            structure(document, Segment)
        assert caught.value.paths == ("rule.conditions[1].name",)

    def test_sql_in_a_value_is_just_text(self) -> None:
        """Values are data, bound as parameters by the SQL adapter."""
        document = self.document()
        document["rule"]["conditions"][0]["field"] = "city"
        document["rule"]["conditions"][0]["value"] = "DE' OR '1'='1"
        assert structure(document, Segment).rule.leaves()

    def test_a_value_of_the_wrong_type_is_named(self) -> None:
        """A date trait compared with a number, a bad money amount."""
        document = self.document()
        document["rule"]["conditions"][1]["value"] = 2000
        document["rule"]["conditions"][3]["value"][1] = {"amount": 1.5, "currency": "EUR"}
        with pytest.raises(ValidationError) as caught:
            structure(document, Segment)
        assert set(caught.value.paths) == {
            "rule.conditions[1].value",
            "rule.conditions[3].value[1].amount",
        }

    def test_a_huge_list_is_refused_before_it_is_read(self) -> None:
        """At most MAX_LIST_VALUES values."""
        document = self.document()
        document["rule"]["conditions"][2]["value"] = ["1"] * 1_000_000
        with pytest.raises(ValidationError) as caught:
            structure(document, Segment)
        assert caught.value.paths == ("rule.conditions[2].value",)

    def test_too_deep_a_rule_is_refused_with_a_clear_error(self) -> None:
        """The domain's nesting limit applies; absurd depth stops at the document limit."""
        rule: dict[str, Any] = {"type": "tag", "tag": "vip"}
        for _ in range(MAX_CONDITION_DEPTH):
            rule = {"type": "not", "condition": rule}
        with pytest.raises(ValidationError, match="nest at most"):
            structure({"version": 1, "name": "deep", "rule": rule}, Segment)
        text = '{"version": 1, "name": "deep", "rule": ' + "[" * 100_000 + "]" * 100_000 + "}"
        with pytest.raises(ValidationError):
            from_json(text, Segment)

    def test_unknown_keys_are_refused(self) -> None:
        """Also inside leaves."""
        document = self.document()
        document["rule"]["conditions"][3]["sql"] = "1=1"
        with pytest.raises(ValidationError) as caught:
            structure(document, Segment)
        assert caught.value.paths == ("rule.conditions[3]",)

    @given(json_values())
    def test_any_json_value_structures_or_raises_validation_error(self, document: Any) -> None:
        """Random JSON never escapes as another error."""
        with contextlib.suppress(ValidationError):
            structure(document, Segment)
        with contextlib.suppress(ValidationError):
            structure({"version": 1, "name": "x", "rule": document}, Segment)

    @given(cs.segments(3).flatmap(lambda s: mutated(unstructure(s))))
    def test_a_mutated_segment_structures_or_raises_validation_error(self, document: Any) -> None:
        """Dropped keys, wrong types and unknown keys end in ValidationError only."""
        with contextlib.suppress(ValidationError):
            structure(document, Segment)
        with contextlib.suppress(ValidationError):
            from_json(json.dumps(document, default=str), Segment)
