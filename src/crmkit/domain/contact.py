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
from crmkit.domain.texts import ensure_text
from crmkit.errors import ValidationError

__all__ = [
    "MAX_ADDRESS_LINES",
    "ContactPoint",
    "EmailAddress",
    "PhoneNumber",
    "PostalAddress",
    "normalize_email",
    "normalize_locale",
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


@attrs.frozen(order=True)
class PhoneNumber:
    """A phone number in E.164 form (``+`` country code and subscriber number, digits only).

    Use `PhoneNumber.parse` for human input in any format; the constructor accepts only the
    E.164 form (as stored) and checks its shape cheaply.
    """

    e164: str = attrs.field(validator=_check_e164)

    @classmethod
    def parse(cls, raw: str, region: str | None = None) -> PhoneNumber:
        """Parse a number as a person would write it; ``region`` (ISO 3166) applies to
        national numbers without a ``+`` prefix. Invalid numbers raise `ValidationError`."""
        import phonenumbers  # deferred: its metadata costs import time most hosts never use

        if not isinstance(raw, str) or len(raw) > 64:
            raise ValidationError.single("phone", raw, "must be a string of at most 64 chars")
        ensure_text(raw, "phone")
        if region is not None and region not in COUNTRIES:
            raise ValidationError.single("region", region, "must be an ISO 3166 alpha-2 code")
        try:
            parsed = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException as exc:
            raise ValidationError.single("phone", raw, f"is not a phone number: {exc}") from None
        if not phonenumbers.is_valid_number(parsed):
            raise ValidationError.single(
                "phone", raw, "is not a valid number for its country's numbering plan"
            )
        return cls(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))

    def __str__(self) -> str:
        return self.e164


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
