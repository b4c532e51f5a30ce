"""Contact values: email addresses, phone numbers (E.164), postal addresses and locales.

Every value is normalised when built, so two spellings of the same address compare equal and
a lookup by email finds the customer however the host typed it. Nothing here touches the
network: an email address is checked for syntax only, a phone number against the numbering
plan metadata bundled with ``phonenumbers``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import attrs

from crmkit.domain._iso import COUNTRIES
from crmkit.domain.values.texts import ensure_text
from crmkit.errors import ValidationError

__all__ = [
    "MAX_ADDRESS_LINES",
    "MAX_EXTENSION",
    "ContactPoint",
    "EmailAddress",
    "PhoneNumber",
    "PostalAddress",
    "normalize_email",
    "normalize_locale",
    "region_code",
]

_LOCAL_SPECIALS = frozenset("!#$%&'*+/=?^_`{|}~-")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _normal_text(value: str) -> str:
    text = value.strip()
    for _ in range(4):  # lower() and NFC can each undo the other's fixpoint once or twice
        nxt = unicodedata.normalize("NFC", text.lower())
        if nxt == text:
            break
        text = nxt
    return text


def _atom_char(ch: str) -> bool:
    return (ch.isascii() and (ch.isalnum() or ch in _LOCAL_SPECIALS)) or (
        not ch.isascii() and ch.isalnum()
    )


def _label_ok(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(ch == "-" or ch.isalnum() for ch in label)
    )


def _email_problem(text: str) -> str | None:
    if text.count("@") < 1:
        return "must contain '@'"
    local, _, domain = text.rpartition("@")
    if not local or len(local) > 64:
        return "the part before '@' must be 1-64 characters"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "the part before '@' has a misplaced dot"
    if not all(ch == "." or _atom_char(ch) for ch in local):
        return "the part before '@' has a character not allowed in an address"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_label_ok(label) for label in labels):
        return "the domain must be dot-separated labels of letters, digits and '-'"
    if labels[-1].isdigit():
        return "the top-level domain cannot be numeric"
    if len(text) > 254:
        return "must be at most 254 characters"
    return None


# The common case, a plain ASCII address, in one regular expression that accepts only what
# `_email_problem` accepts; anything it does not match takes the full check (and its message).
_ASCII_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ASCII_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_EMAIL = re.compile(
    rf"(?P<local>{_ASCII_ATOM}(?:\.{_ASCII_ATOM})*)@(?:{_ASCII_LABEL}\.)+(?P<tld>{_ASCII_LABEL})"
)


def normalize_email(value: Any, path: str = "email") -> str:
    """Return the normal form of an email address, or raise `ValidationError`."""
    if type(value) is str and value.isascii():
        text = value.strip().lower()  # NFC changes nothing in ASCII
        plain = _PLAIN_EMAIL.fullmatch(text)
        if (
            plain is not None
            and len(text) <= 254
            and len(plain["local"]) <= 64
            and not plain["tld"].isdigit()
        ):
            return text
    if not isinstance(value, str):
        raise ValidationError.single(path, value, "must be a string")
    text = _normal_text(ensure_text(value, path))
    problem = _email_problem(text)
    if problem:
        raise ValidationError.single(path, value, f"is not a valid email address: {problem}")
    return text


def _email_converter(value: Any) -> str:
    return normalize_email(value, "email")


@attrs.frozen(order=True)
class EmailAddress:
    """A syntactically valid email address in normal form (trimmed, NFC, lower case).

    ``EmailAddress(" Ada@Example.COM ")`` equals ``EmailAddress("ada@example.com")``.
    No DNS or SMTP check is made: a CRM records what it was told.
    """

    value: str = attrs.field(converter=_email_converter)

    @property
    def domain(self) -> str:
        """The part after the ``@``."""
        return self.value.rpartition("@")[2]

    def __str__(self) -> str:
        return self.value


def _check_e164(instance: PhoneNumber, attribute: attrs.Attribute[str], value: Any) -> None:
    if not isinstance(value, str) or not _E164.fullmatch(value):
        raise ValidationError.single(
            "phone", value, "must be in E.164 form, e.g. '+4930123456' (use PhoneNumber.parse)"
        )


#: The most digits an extension may have (what ``phonenumbers`` reads after "ext.").
MAX_EXTENSION = 20
_EXTENSION = re.compile(rf"[0-9]{{1,{MAX_EXTENSION}}}")
_STORED_PHONE = re.compile(rf"({_E164.pattern})(?:;ext=([0-9]{{1,{MAX_EXTENSION}}}))?")


def _check_extension(instance: PhoneNumber, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not _EXTENSION.fullmatch(value)):
        raise ValidationError.single(
            "phone.extension", value, f"must be 1-{MAX_EXTENSION} digits or None"
        )


def _extension_order(value: str | None) -> tuple[int, int, str]:
    # No extension sorts first; then by number (an extension is digits only).
    return (0, 0, "") if value is None else (1, len(value.lstrip("0")), value)


def region_code(value: Any, path: str = "region") -> str | None:
    """``value`` as an ISO 3166-1 alpha-2 code (trimmed, upper case), or ``None`` for
    ``None``; anything else (``"Germany"``, ``"DEU"``) raises `ValidationError` at ``path``."""
    if value is None:
        return None
    code = value.strip().upper() if isinstance(value, str) else value
    if not isinstance(code, str) or code not in COUNTRIES:
        raise ValidationError.single(path, value, "must be an ISO 3166-1 alpha-2 code such as 'DE'")
    return code


@attrs.frozen(order=True)
class PhoneNumber:
    """A phone number in E.164 form (``+`` country code and subscriber number, digits only),
    with the extension, if any, beside it.

    Use `PhoneNumber.parse` for human input in any format; the constructor accepts only the
    E.164 form (as stored) and checks its shape cheaply. E.164 has no extension, so
    ``"+49 30 12345678 ext. 5"`` becomes ``e164="+493012345678"`` and ``extension="5"``;
    its text form (``str()``, JSON) is ``"+493012345678;ext=5"`` as in RFC 3966, which
    `PhoneNumber.parse` reads back. Lookups and segment rules on ``phone`` compare the
    E.164 part.
    """

    e164: str = attrs.field(validator=_check_e164)
    extension: str | None = attrs.field(
        default=None, validator=_check_extension, order=_extension_order
    )

    @classmethod
    def parse(cls, raw: str, region: str | None = None) -> PhoneNumber:
        """Parse a number as a person would write it, keeping its extension.

        Args:
            raw: the number in any common format (``"030 1234567"``, ``"+33 1 42 68 53 00"``,
                ``"+49 30 12345678 ext. 5"``, ``"+493012345678;ext=5"``).
            region: the ISO 3166 country whose numbering plan a national number (one without
                ``+``) is read in; ``None`` accepts only international numbers.

        Raises:
            ValidationError: the number is not valid in its country's numbering plan, or a
                national number was given without a region, or ``region`` is not a country.
        """
        import phonenumbers  # deferred: its metadata costs import time most hosts never use

        if not isinstance(raw, str) or len(raw) > 64:
            raise ValidationError.single("phone", raw, "must be a string of at most 64 chars")
        ensure_text(raw, "phone")
        region = region_code(region)
        try:
            parsed = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException as exc:
            raise ValidationError.single("phone", raw, f"is not a phone number: {exc}") from None
        if not phonenumbers.is_valid_number(parsed):
            raise ValidationError.single(
                "phone", raw, "is not a valid number for its country's numbering plan"
            )
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        return cls(e164, parsed.extension or None)

    @classmethod
    def from_text(cls, text: str) -> PhoneNumber:
        """The number whose text form (``str(number)``) is ``text``: E.164 with an optional
        ``;ext=`` part. Checks the shape only, not the numbering plan (see `parse`).

        Raises:
            ValidationError: ``text`` is not in that form.
        """
        found = _STORED_PHONE.fullmatch(text) if isinstance(text, str) else None
        if found is None:
            raise ValidationError.single(
                "phone", text, "must be in E.164 form with an optional ';ext=' part"
            )
        return cls(found[1], found[2])

    def __str__(self) -> str:
        return self.e164 if self.extension is None else f"{self.e164};ext={self.extension}"


def _optional_text(value: Any) -> Any:
    if isinstance(value, str):
        value = " ".join(value.split())
        return value or None
    return value


def _check_optional_text(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or len(value) > 200):
        raise ValidationError.single(
            attribute.name, value, "must be text of at most 200 characters or None"
        )
    if value is not None:
        ensure_text(value, attribute.name)


#: The most lines a postal address may have.
MAX_ADDRESS_LINES = 5


def _lines(value: Any) -> Any:
    if isinstance(value, list | tuple) and len(value) <= MAX_ADDRESS_LINES:
        cleaned = tuple(_optional_text(line) for line in value)
        return tuple(line for line in cleaned if line is not None)
    return value


def _check_lines(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, tuple) or len(value) > MAX_ADDRESS_LINES:
        raise ValidationError.single(
            "lines", value, f"must be at most {MAX_ADDRESS_LINES} lines of text"
        )
    for i, line in enumerate(value):
        if not isinstance(line, str) or len(line) > 200:
            raise ValidationError.single(f"lines[{i}]", line, "must be text (200 chars max)")
        ensure_text(line, f"lines[{i}]")


def _country(value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else value
    if not isinstance(code, str) or code not in COUNTRIES:
        raise ValidationError.single(
            "country", value, "must be an ISO 3166-1 alpha-2 code such as 'DE'"
        )
    return code


@attrs.frozen
class PostalAddress:
    """A postal address. ``country`` is an ISO 3166-1 alpha-2 code (normalised to upper case);
    text fields are trimmed with inner whitespace collapsed, and empty ones become ``None``."""

    country: str = attrs.field(converter=_country)
    lines: tuple[str, ...] = attrs.field(default=(), converter=_lines, validator=_check_lines)
    city: str | None = attrs.field(
        default=None, converter=_optional_text, validator=_check_optional_text
    )
    region: str | None = attrs.field(
        default=None, converter=_optional_text, validator=_check_optional_text
    )
    postal_code: str | None = attrs.field(
        default=None, converter=_optional_text, validator=_check_optional_text
    )


def _check_contact(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, EmailAddress | PhoneNumber):
        raise ValidationError.single("value", value, "must be an EmailAddress or PhoneNumber")


@attrs.frozen
class ContactPoint:
    """A further way to reach a customer besides the primary email and phone, with a label
    such as ``"work"``."""

    value: EmailAddress | PhoneNumber = attrs.field(validator=_check_contact)
    label: str | None = attrs.field(
        default=None, converter=_optional_text, validator=_check_optional_text
    )


_LOCALE = re.compile(r"([a-z]{2,3})(?:-([A-Za-z]{4}))?(?:-([A-Za-z]{2}|[0-9]{3}))?")


def normalize_locale(value: Any, path: str = "locale") -> str:
    """Normalise a BCP 47 language tag of the common form ``ll[-Script][-RR]``.

    ``"de_de"`` becomes ``"de-DE"``, ``"zh-hant-tw"`` becomes ``"zh-Hant-TW"``.
    """
    if not isinstance(value, str):
        raise ValidationError.single(path, value, "must be a language tag such as 'de-DE'")
    match = _LOCALE.fullmatch(value.strip().replace("_", "-").lower())
    if not match:
        raise ValidationError.single(path, value, "must be a language tag such as 'de-DE'")
    language, script, region = match.groups()
    parts = [language]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)
