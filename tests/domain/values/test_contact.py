"""Contact values: email addresses, phone numbers, postal addresses, contact points, locales."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from crmkit import ContactPoint, EmailAddress, PhoneNumber, PostalAddress
from crmkit.domain import normalize_locale
from crmkit.errors import ValidationError
from crmkit.testing.strategies import emails, phone_numbers

REGIONS = st.none() | st.sampled_from(["DE", "US", "GB", "FR", "IT", "JP", "BR", "IN", "AQ"])
HUMAN_NUMBERS = st.from_regex(r"\+?[0-9 ()\-./]{3,20}", fullmatch=True)


class TestEmailAddress:
    """Email addresses are checked for syntax and kept in normal form."""

    def test_spellings_of_one_address_are_equal(self) -> None:
        """Surrounding space and case do not matter."""
        assert EmailAddress(" Ada@Example.COM ") == EmailAddress("ada@example.com")
        assert str(EmailAddress("Ada@Example.com")) == "ada@example.com"

    def test_the_domain_is_the_part_after_the_last_at(self) -> None:
        """``domain`` gives the host part."""
        assert EmailAddress("ada@mail.example.com").domain == "mail.example.com"

    def test_unicode_addresses_are_composed_and_lower_cased(self) -> None:
        """International addresses are NFC and lower case, so spellings compare equal."""
        assert EmailAddress("ÄDA@ÉXAMPLE.com").value == "äda@éxample.com"
        assert EmailAddress("A\u0308da@example.com") == EmailAddress("äda@example.com")

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@example.123",
            ".ada@example.com",
            "a..da@example.com",
            "ada@-example.com",
            "a da@example.com",
            "a" * 65 + "@example.com",
        ],
    )
    def test_malformed_text_is_refused_on_the_email_field(self, text: str) -> None:
        """Anything that is not ``local@domain.tld`` is refused, naming the field and value."""
        with pytest.raises(ValidationError) as caught:
            EmailAddress(text)
        assert caught.value.paths == ("email",)
        assert caught.value.errors[0].value == text

    def test_a_non_string_is_refused(self) -> None:
        """Only text can be an address."""
        with pytest.raises(ValidationError):
            EmailAddress(42)  # type: ignore[arg-type]

    @given(st.text() | st.builds("{}@{}.{}".format, st.text(), st.text(), st.text()))
    @example("ada@example.com")
    @example("İ@example.com")
    @example("ß@EXAMPLE.COM")
    def test_normalising_is_idempotent_and_only_validation_errors_escape(self, text: str) -> None:
        """For any text: either a ValidationError, or an address whose normal form is a
        fixed point: ``EmailAddress(EmailAddress(x).value) == EmailAddress(x)``."""
        try:
            address = EmailAddress(text)
        except ValidationError:
            return
        again = EmailAddress(address.value)
        assert again == address
        assert again.value == address.value

    @given(emails())
    def test_generated_addresses_are_already_normal(self, address: EmailAddress) -> None:
        """The strategy's addresses survive a second normalisation unchanged."""
        assert EmailAddress(address.value) == address


class TestPhoneNumberParse:
    """`PhoneNumber.parse` reads human input into E.164."""

    def test_a_national_number_is_read_in_its_region(self) -> None:
        """A German number written nationally becomes +49…."""
        assert PhoneNumber.parse("(030) 123-456", "DE") == PhoneNumber("+4930123456")

    def test_an_international_number_needs_no_region(self) -> None:
        """A ``+`` prefix carries its own country."""
        assert PhoneNumber.parse("+49 30 123456").e164 == "+4930123456"

    @pytest.mark.parametrize(
        ("raw", "region", "path"),
        [
            ("030 123456", None, "phone"),
            ("not a number", "DE", "phone"),
            ("+49 1", None, "phone"),
            ("030 123456", "Germany", "region"),
            ("030 123456", "XX", "region"),
            ("1" * 65, "DE", "phone"),
        ],
    )
    def test_unreadable_input_is_refused_by_field(
        self, raw: str, region: str | None, path: str
    ) -> None:
        """No region for a national number, garbage, invalid numbers and bad regions are
        refused with the field at fault."""
        with pytest.raises(ValidationError) as caught:
            PhoneNumber.parse(raw, region)
        assert caught.value.paths == (path,)

    def test_a_non_string_is_refused(self) -> None:
        """Bytes are not text."""
        with pytest.raises(ValidationError):
            PhoneNumber.parse(b"+4930123456")  # type: ignore[arg-type]

    @given(st.text(max_size=30) | HUMAN_NUMBERS, REGIONS)
    @example("+4930123456", None)
    @example("030 123456 ext. 7", "DE")
    def test_parsing_is_idempotent_and_only_validation_errors_escape(
        self, raw: str, region: str | None
    ) -> None:
        """For any text: either a ValidationError, or a number whose text form parses to
        itself: ``parse(str(parse(raw, region))) == parse(raw, region)``."""
        try:
            number = PhoneNumber.parse(raw, region)
        except ValidationError:
            return
        assert PhoneNumber.parse(str(number)) == number
        assert PhoneNumber.parse(str(number), region) == number
        assert PhoneNumber.from_text(str(number)) == number

    @given(phone_numbers())
    def test_generated_numbers_parse_to_themselves(self, number: PhoneNumber) -> None:
        """Every generated number is valid and in E.164 normal form (with its extension)."""
        assert PhoneNumber.parse(str(number)) == number
        assert PhoneNumber.parse(number.e164) == PhoneNumber(number.e164)

    def test_a_lower_case_region_is_read_as_the_country(self) -> None:
        """``"de"`` is Germany, as in a postal address."""
        assert PhoneNumber.parse("030 123456", "de") == PhoneNumber("+4930123456")

    @pytest.mark.parametrize(
        "raw",
        [
            "+49 30 12345678 ext. 5",
            "+49 30 12345678 x5",
            "+49 30 12345678;ext=5",
            "tel:+49-30-12345678;ext=5",
        ],
    )
    def test_an_extension_is_kept_beside_the_e164_number(self, raw: str) -> None:
        """E.164 has no extension: it is kept in ``extension``, not dropped."""
        number = PhoneNumber.parse(raw)
        assert (number.e164, number.extension) == ("+493012345678", "5")
        assert str(number) == "+493012345678;ext=5"

    def test_a_number_without_extension_has_none(self) -> None:
        """No extension is ``None``, and the text form is plain E.164."""
        number = PhoneNumber.parse("030 12345678", "DE")
        assert number.extension is None
        assert str(number) == "+493012345678"

    def test_numbers_differing_only_in_extension_are_different(self) -> None:
        """Two desks behind one switchboard are two numbers."""
        assert PhoneNumber("+493012345678", "5") != PhoneNumber("+493012345678", "6")
        assert PhoneNumber("+493012345678", "5") != PhoneNumber("+493012345678")


class TestPhoneNumberConstructor:
    """The constructor takes stored E.164 text only."""

    @pytest.mark.parametrize("text", ["4930123456", "+0123456789", "+49 30 123456", "+49"])
    def test_anything_but_e164_is_refused(self, text: str) -> None:
        """Human formats go through `PhoneNumber.parse`."""
        with pytest.raises(ValidationError, match=r"E\.164"):
            PhoneNumber(text)

    @pytest.mark.parametrize("extension", ["", "x5", "5 ", "1" * 21, 5])
    def test_an_extension_is_digits_only(self, extension: object) -> None:
        """An extension is 1-20 digits (or ``None``)."""
        with pytest.raises(ValidationError) as caught:
            PhoneNumber("+493012345678", extension)  # type: ignore[arg-type]
        assert caught.value.paths == ("phone.extension",)

    @pytest.mark.parametrize(
        "text", ["+493012345678 ext. 5", "+493012345678;ext=", "+493012345678;ext=x", 42]
    )
    def test_from_text_takes_only_the_text_form(self, text: object) -> None:
        """`PhoneNumber.from_text` reads ``str(number)`` back, nothing else."""
        with pytest.raises(ValidationError):
            PhoneNumber.from_text(text)  # type: ignore[arg-type]


class TestPostalAddress:
    """Postal addresses normalise their country and text."""

    def test_text_is_trimmed_and_blank_parts_dropped(self) -> None:
        """Countries are upper-cased; blank lines and fields vanish; inner space collapses."""
        address = PostalAddress(" de ", lines=["  Main   St 1 ", "", "  "], city="  ")
        assert address == PostalAddress("DE", lines=("Main St 1",))
        assert address.city is None

    @pytest.mark.parametrize("country", ["XX", "DEU", "", None])
    def test_an_unknown_country_is_refused(self, country: object) -> None:
        """Only ISO 3166-1 alpha-2 codes are countries."""
        with pytest.raises(ValidationError) as caught:
            PostalAddress(country)  # type: ignore[arg-type]
        assert caught.value.paths == ("country",)

    def test_more_than_five_lines_are_refused(self) -> None:
        """An address has at most five lines."""
        with pytest.raises(ValidationError) as caught:
            PostalAddress("DE", lines=[f"line {n}" for n in range(6)])
        assert caught.value.paths == ("lines",)

    def test_an_overlong_line_is_refused_by_index(self) -> None:
        """The path names the line at fault."""
        with pytest.raises(ValidationError) as caught:
            PostalAddress("DE", lines=["ok", "x" * 201])
        assert caught.value.paths == ("lines[1]",)


class TestContactPoint:
    """A further way to reach a customer, with a label."""

    def test_an_email_or_phone_with_a_label(self) -> None:
        """The label is trimmed like other text."""
        point = ContactPoint(EmailAddress("ada@work.example"), "  work ")
        assert point.label == "work"

    def test_raw_text_is_refused(self) -> None:
        """The value must already be an EmailAddress or PhoneNumber."""
        with pytest.raises(ValidationError) as caught:
            ContactPoint("ada@example.com")  # type: ignore[arg-type]
        assert caught.value.paths == ("value",)


class TestNormalizeLocale:
    """Language tags of the common ``ll[-Script][-RR]`` form are normalised."""

    @pytest.mark.parametrize(
        ("raw", "normal"),
        [("de_de", "de-DE"), ("zh-hant-tw", "zh-Hant-TW"), (" EN ", "en"), ("es-419", "es-419")],
    )
    def test_common_spellings_become_bcp_47(self, raw: str, normal: str) -> None:
        """Separators, case and space are normalised."""
        assert normalize_locale(raw) == normal

    @pytest.mark.parametrize("raw", ["", "english", "d", "de-DE-x", 7])
    def test_anything_else_is_refused(self, raw: object) -> None:
        """Unrecognised tags are refused on ``locale``."""
        with pytest.raises(ValidationError) as caught:
            normalize_locale(raw)
        assert caught.value.paths == ("locale",)


def test_numbers_sort_by_e164_then_extension() -> None:
    """No extension first, then extensions in numeric order; never a TypeError."""
    main = PhoneNumber("+493012345678")
    desks = [PhoneNumber("+493012345678", x) for x in ("10", "9", "09")]
    assert sorted([*desks, main]) == [main, desks[2], desks[1], desks[0]]
    assert max(PhoneNumber("+493012345679"), desks[0]) == PhoneNumber("+493012345679")
