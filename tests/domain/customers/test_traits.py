"""Custom traits: typed values, checked against an optional host-declared schema."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import TraitDefinition, TraitSchema, TraitType
from crmkit.domain import trait_type_of, validate_traits
from crmkit.domain.customers.traits import canonical_decimal
from crmkit.errors import ValidationError
from crmkit.testing.strategies import trait_schemas, trait_values, traits

SCHEMA = TraitSchema(
    {
        "plan": TraitDefinition(TraitType.STRING, required=True),
        "seats": TraitDefinition(TraitType.INTEGER),
        "renews_at": TraitDefinition(TraitType.DATETIME),
        "trial": TraitDefinition(TraitType.BOOLEAN),
    }
)


class TestTraitTypeOf:
    """Each Python value has one trait type."""

    @pytest.mark.parametrize(
        ("value", "kind"),
        [
            ("pro", TraitType.STRING),
            (12, TraitType.INTEGER),
            (True, TraitType.BOOLEAN),
            (Decimal("1.5"), TraitType.DECIMAL),
            (date(2024, 1, 1), TraitType.DATE),
            (datetime(2024, 1, 1, tzinfo=UTC), TraitType.DATETIME),
            (("a", "b"), TraitType.STRING_LIST),
        ],
    )
    def test_values_map_to_their_type(self, value: object, kind: TraitType) -> None:
        """A bool is a boolean (not an integer), a datetime a datetime (not a date)."""
        assert trait_type_of(value) is kind

    @pytest.mark.parametrize("value", [1.5, None, {"a": 1}, object()])
    def test_other_values_have_no_trait_type(self, value: object) -> None:
        """Floats, None and mappings cannot be traits."""
        assert trait_type_of(value) is None


class TestValidateTraitsWithoutSchema:
    """Without a schema, any well-named trait of a supported type is accepted."""

    def test_values_are_returned_in_stored_form(self) -> None:
        """Lists of text become tuples, decimals their canonical form; the rest stays."""
        stored = validate_traits({"tags": ["a", "b"], "score": Decimal("1.50"), "n": 3})
        assert stored == {"tags": ("a", "b"), "score": Decimal("1.5"), "n": 3}
        assert str(stored["score"]) == "1.5"

    @pytest.mark.parametrize(
        ("given", "canonical"),
        [
            ("1." + "0" * 40, "1"),
            ("0E-50", "0"),
            ("-0", "0"),
            ("-0.000", "0"),
            ("0E+30", "0"),
            ("1E+2", "100"),
            ("1E+30", "1" + "0" * 30),
            ("123.4500E3", "123450"),
            ("-12.50", "-12.5"),
            ("1E-30", "1E-30"),
            ("1.0000000000000000000000000000001", "1.0000000000000000000000000000001"),
        ],
    )
    def test_equal_decimals_get_one_canonical_form(self, given: str, canonical: str) -> None:
        """Equal decimals are stored alike, never rounded, so their text is equal too."""
        assert str(canonical_decimal(Decimal(given))) == canonical
        assert str(validate_traits({"d": Decimal(given)})["d"]) == canonical

    @given(value=trait_values(TraitType.DECIMAL), zeros=st.integers(0, 50), negate=st.booleans())
    def test_the_canonical_text_of_a_decimal_depends_only_on_its_value(
        self, value: Decimal, zeros: int, negate: bool
    ) -> None:
        """The same value written with more zeros (or as -0) has the same canonical text."""
        sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        twin = Decimal(
            (sign if value or not negate else 1, (*digits, *(0,) * zeros), exponent - zeros)
        )
        assert twin == value
        canonical = canonical_decimal(value)
        assert canonical == value
        assert str(canonical_decimal(twin)) == str(canonical)
        assert canonical_decimal(canonical).as_tuple() == canonical.as_tuple()

    def test_a_float_is_refused(self) -> None:
        """Floats are inexact: give a Decimal."""
        with pytest.raises(ValidationError) as caught:
            validate_traits({"score": 1.5})
        assert caught.value.paths == ("traits.score",)

    @pytest.mark.parametrize("name", ["Plan", "1st", "has space", ""])
    def test_a_name_that_is_no_slug_is_refused(self, name: str) -> None:
        """Trait names are lower-case slugs."""
        with pytest.raises(ValidationError) as caught:
            validate_traits({name: "x"})
        assert caught.value.paths == (f"traits.{name}",)

    def test_a_naive_datetime_is_refused(self) -> None:
        """Datetimes must be timezone-aware, as everywhere in crmkit."""
        with pytest.raises(ValidationError, match="naive") as caught:
            validate_traits({"seen": datetime(2024, 1, 1)})
        assert caught.value.paths == ("traits.seen",)

    def test_a_list_item_that_is_no_text_is_refused_by_index(self) -> None:
        """A string list holds text only; the path names the item."""
        with pytest.raises(ValidationError) as caught:
            validate_traits({"tags": ["a", 2]})
        assert caught.value.paths == ("traits.tags[1]",)

    def test_a_non_mapping_is_refused(self) -> None:
        """Traits are a mapping of name to value."""
        with pytest.raises(ValidationError) as caught:
            validate_traits("plan=pro")  # type: ignore[arg-type]
        assert caught.value.paths == ("traits",)

    @given(traits())
    def test_generated_traits_validate_to_themselves(self, values: dict[str, object]) -> None:
        """Valid traits pass unchanged (in stored form)."""
        assert validate_traits(values) == values


class TestValidateTraitsWithSchema:
    """With a schema, traits are checked against the declared types."""

    def test_declared_traits_of_the_declared_type_pass(self) -> None:
        """A correct set of traits is returned as is."""
        values = {"plan": "pro", "seats": 12, "trial": False}
        assert validate_traits(values, SCHEMA) == values

    def test_an_undeclared_trait_is_refused(self) -> None:
        """A typo such as ``pLan`` is caught before it reaches storage."""
        with pytest.raises(ValidationError, match="not declared") as caught:
            validate_traits({"plan": "pro", "colour": "red"}, SCHEMA)
        assert caught.value.paths == ("traits.colour",)

    def test_an_undeclared_trait_passes_when_the_schema_allows_it(self) -> None:
        """``allow_undeclared=True`` checks only the declared traits."""
        open_schema = TraitSchema(SCHEMA.traits, allow_undeclared=True)
        assert validate_traits({"plan": "pro", "colour": "red"}, open_schema)["colour"] == "red"

    def test_a_type_mismatch_names_the_trait_and_both_types(self) -> None:
        """The error says which trait, what was declared and what was given."""
        with pytest.raises(ValidationError) as caught:
            validate_traits({"plan": "pro", "seats": "twelve"}, SCHEMA)
        (error,) = caught.value.errors
        assert (error.path, error.value) == ("traits.seats", "twelve")
        assert "integer" in error.message
        assert "string" in error.message

    def test_a_bool_is_not_an_integer(self) -> None:
        """``True`` is an int to Python, but not an integer trait."""
        with pytest.raises(ValidationError, match="must be of type integer, not boolean"):
            validate_traits({"plan": "pro", "seats": True}, SCHEMA)

    def test_a_missing_required_trait_is_refused(self) -> None:
        """A required trait must be present."""
        with pytest.raises(ValidationError, match="required") as caught:
            validate_traits({"seats": 3}, SCHEMA)
        assert caught.value.paths == ("traits.plan",)

    def test_required_traits_can_be_left_unchecked(self) -> None:
        """``check_required=False`` validates a partial update."""
        assert validate_traits({"seats": 3}, SCHEMA, check_required=False) == {"seats": 3}

    def test_every_problem_is_reported_at_once(self) -> None:
        """One error lists every bad trait, so a form can show them all."""
        with pytest.raises(ValidationError) as caught:
            validate_traits(
                {"seats": True, "renews_at": datetime(2024, 1, 1), "colour": "red", "Bad": 1},
                SCHEMA,
            )
        assert set(caught.value.paths) == {
            "traits.seats",
            "traits.renews_at",
            "traits.colour",
            "traits.Bad",
            "traits.plan",
        }

    @given(st.data(), trait_schemas())
    def test_traits_generated_for_a_schema_pass_it(
        self, data: st.DataObject, schema: TraitSchema
    ) -> None:
        """The public strategy generates traits that the schema accepts."""
        values = data.draw(traits(schema))
        assert validate_traits(values, schema) == values

    @given(st.data(), st.sampled_from(TraitType), st.sampled_from(TraitType))
    def test_a_value_of_another_type_is_always_refused(
        self, data: st.DataObject, declared: TraitType, given_type: TraitType
    ) -> None:
        """Any value whose type differs from the declared one is refused on its path."""
        value = data.draw(trait_values(given_type))
        schema = TraitSchema({"x": TraitDefinition(declared)})
        if declared is given_type:
            assert validate_traits({"x": value}, schema) == {"x": value}
            return
        with pytest.raises(ValidationError) as caught:
            validate_traits({"x": value}, schema)
        assert caught.value.paths == ("traits.x",)


class TestTraitSchema:
    """The schema itself is checked when built."""

    def test_a_definition_type_may_be_given_as_text(self) -> None:
        """``"integer"`` is `TraitType.INTEGER`."""
        assert TraitDefinition("integer").type is TraitType.INTEGER

    def test_an_unknown_type_is_refused(self) -> None:
        """The error lists the allowed types."""
        with pytest.raises(ValidationError, match="string_list") as caught:
            TraitDefinition("str")  # type: ignore[arg-type]
        assert caught.value.paths == ("type",)

    def test_a_name_that_is_no_slug_is_refused(self) -> None:
        """Declared names follow the same rule as trait names."""
        with pytest.raises(ValidationError) as caught:
            TraitSchema({"Plan": TraitDefinition("string")})
        assert caught.value.paths == ("traits.Plan",)

    def test_type_of_answers_for_declared_traits_only(self) -> None:
        """Undeclared names have no type."""
        assert SCHEMA.type_of("seats") is TraitType.INTEGER
        assert SCHEMA.type_of("colour") is None
