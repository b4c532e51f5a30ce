"""Segment operands in the form the compared field is stored in.

A customer's email is stored lower-cased, a country upper-cased, a phone number in E.164, a
name with its whitespace collapsed. A rule comparing such a field with a value as a person
types it (``field("email") == "Ada@Example.com"``, ``field("country") == "de"``) would find
nobody, in memory and in SQL alike. So a `FieldCondition` puts its operand through the
field's normaliser when it is built, and both evaluations see the normalised operand:

- a whole value (``eq``, ``ne``, ``in``, ``not_in``) is normalised as the stored value was,
  and refused with a `ValidationError` when it could never be stored (``"Germany"`` as a
  country, ``"ada@"`` as an email, a blank name: use ``is_null``);
- a fragment (``contains``, ``starts_with``) or a bound (``lt`` … ``between``) is only put
  in the stored case (lower-case for an email or web domain, upper-case for a country, a
  phone fragment without spaces or punctuation), never checked as a whole value.

Fields stored as given (ids, roles, an account's name and industry) are compared as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, Final

from crmkit.domain._iso import COUNTRIES
from crmkit.domain.accounts.account import CompanySize, normalize_web_domain
from crmkit.domain.interactions.channels import enum_of
from crmkit.domain.values.contact import PhoneNumber, normalize_email, normalize_locale
from crmkit.errors import ValidationError

__all__ = ["NORMALISED_FIELDS", "field_operand"]

Normaliser = Callable[[str, str], str]

_WHOLE_OPS: Final = frozenset({"eq", "ne", "in", "not_in"})
_PHONE_PUNCTUATION: Final = re.compile(r"[\s\-./()]")


def _folded(text: str, path: str = "value") -> str:
    # lower() and NFC can each undo the other's fixpoint once or twice (as for stored emails).
    for _ in range(4):
        nxt = unicodedata.normalize("NFC", text.lower())
        if nxt == text:
            break
        text = nxt
    return text


def _upper(text: str, path: str = "value") -> str:
    return text.upper()


def _country(text: str, path: str) -> str:
    code = text.strip().upper()
    if code not in COUNTRIES:
        raise ValidationError.single(path, text, "is not an ISO 3166-1 alpha-2 code such as 'DE'")
    return code


def _phone(text: str, path: str) -> str:
    # Rules compare a phone's E.164 part: an extension is kept beside it, not matched.
    try:
        return PhoneNumber.parse(text).e164
    except ValidationError:
        raise ValidationError.single(
            path, text, "is not a phone number in international form, e.g. '+49 30 1234567'"
        ) from None


def _phone_fragment(text: str, path: str = "value") -> str:
    return _PHONE_PUNCTUATION.sub("", text)


def _size(text: str, path: str) -> str:
    return enum_of(CompanySize, text, path).value


def _collapsed(text: str, path: str) -> str:
    collapsed = " ".join(text.split())
    if not collapsed:
        raise ValidationError.single(
            path, text, "is blank, and a blank value is stored as missing: use is_null()"
        )
    return collapsed


def _locale_fragment(text: str, path: str = "value") -> str:
    return text.replace("_", "-")


def _locale_prefix(text: str, path: str = "value") -> str:
    # A prefix that is a whole tag ("de_de") takes the stored form ("de-DE"); a fragment
    # inside a tag cannot tell a language "de" from a region "DE", so it is left as written.
    try:
        return normalize_locale(text, path)
    except ValidationError:
        return _locale_fragment(text)


def _same(text: str, path: str = "value") -> str:
    return text


#: field -> (whole-value normaliser, bound normaliser, starts_with normaliser,
#: contains normaliser). A whole-value normaliser refuses what could never be stored.
_NORMALISERS: Final[Mapping[str, tuple[Normaliser, Normaliser, Normaliser, Normaliser]]] = {
    "email": (normalize_email, _folded, _folded, _folded),
    "phone": (_phone, _phone_fragment, _phone_fragment, _phone_fragment),
    "country": (_country, _upper, _upper, _upper),
    "locale": (normalize_locale, _locale_fragment, _locale_prefix, _locale_fragment),
    "given_name": (_collapsed, _same, _same, _same),
    "family_name": (_collapsed, _same, _same, _same),
    "city": (_collapsed, _same, _same, _same),
    "region": (_collapsed, _same, _same, _same),
    "postal_code": (_collapsed, _same, _same, _same),
    "account.domain": (normalize_web_domain, _folded, _folded, _folded),
    "account.size": (_size, _same, _same, _same),
}

#: The segment fields whose stored values are normalised, so whose operands are too.
NORMALISED_FIELDS: Final = frozenset(_NORMALISERS)


def field_operand(field: str, op: str, value: Any, path: str = "value") -> Any:
    """``value`` (a checked operand of ``op``: text, a tuple of texts or ``None``) in the
    form ``field`` is stored in.

    Args:
        field: a name of `SEGMENT_FIELDS`.
        op: the comparison's operator (an `Op` value).
        value: the operand as `check_operand` returned it.
        path: the path the error names.

    Returns:
        The operand normalised (a tuple stays a tuple); unchanged for fields stored as given.

    Raises:
        ValidationError: a whole value that the field could never hold, at ``path`` (or
            ``path[i]`` in a list); or bounds that normalising put in the wrong order.
    """
    normalisers = _NORMALISERS.get(field)
    if normalisers is None or value is None:
        return value
    whole, bound, prefix, fragment = normalisers
    if op in _WHOLE_OPS:
        chosen = whole
    elif op == "starts_with":
        chosen = prefix
    elif op == "contains":
        chosen = fragment
    else:
        chosen = bound
    if not isinstance(value, tuple):
        return chosen(value, path)
    items = tuple(chosen(item, f"{path}[{i}]") for i, item in enumerate(value))
    if op == "between" and items[1] < items[0]:
        raise ValidationError.single(
            f"{path}[1]", value[1], f"is below the low bound once in {field}'s stored form"
        )
    return items
