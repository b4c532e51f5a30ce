"""Showing database URLs without their secrets.

A URL carries secrets in three places: the password of its user info; the values of query
parameters that name a credential (``password``, ``sslpassword``, ``passfile``, tokens, keys);
and, when a password holds an unescaped ``@``, whatever follows that ``@`` up to the last one:
SQLAlchemy ends the password at the first ``@`` and reads the rest of it as the host, the
database or the query. `masked` hides all three; `redact` removes the same secrets from a
driver's message about the URL (a driver names the host it could not resolve, and that
"host" may be the end of a password).

Masking works on the URL's text, as SQLAlchemy's parser reads it, so a URL that SQLAlchemy
cannot parse is masked too. Where the text is ambiguous it hides too much rather than too
little: a URL with a password and an ``@`` in its query shows nothing before that ``@``.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, unquote_plus

from sqlalchemy.engine import URL, make_url

__all__ = ["MASK", "is_credential", "masked", "redact"]

#: What a secret is replaced by.
MASK = "***"

# A query parameter whose name contains one of these carries a credential (or the path to
# one): password, passwd, sslpassword, passfile, sslkey, api_key, access_token, auth_token,
# client_secret, a DSN or conninfo string (which may hold a password of its own) ...
_CREDENTIAL_MARKERS = ("pass", "pwd", "secret", "token", "key", "auth", "cred", "dsn", "conninfo")

# SQLAlchemy's own reading of the user info: a user without ":" or "/", then an optional
# ":password" that ends at the first "@".
_USERINFO = re.compile(r"(?P<scheme>[\w+]+)://(?P<user>[^:/]*)(?::(?P<password>[^@]*))?@")
# What a URL's text usually holds unescaped, so a URL object reads as the text it came from.
_AS_WRITTEN = "@/:?"
# One query parameter: its value runs to the next "&" ("@", "?" and "/" included).
_PARAMETER = re.compile(r"(?<=[?&])(?P<key>[^&=?]*)=(?P<value>[^&]*)")


def is_credential(parameter: str) -> bool:
    """True when a URL query parameter of that name carries a credential (shown as ``***``)."""
    name = parameter.lower()
    return any(marker in name for marker in _CREDENTIAL_MARKERS)


def masked(url: str | URL) -> str:
    """The URL as text, safe to show in a message or a log line.

    Its password, the values of its credential query parameters (``password``,
    ``sslpassword``, ``passfile``, tokens, keys, DSNs) and whatever a password with an
    unescaped ``@`` spilled into are replaced by ``***``.

    Args:
        url: a SQLAlchemy URL, as text or as a ``URL`` object (parsable or not).

    Returns:
        The URL with its secrets masked, e.g. ``postgresql://crm:***@db/crm?sslpassword=***``.
    """
    return _conceal(_text(url))[0]


def redact(message: str, url: str | URL) -> str:
    """``message`` (a driver's words about ``url``) with every secret of ``url`` masked.

    Args:
        message: text that may quote parts of the URL, e.g. the host it could not resolve.
        url: the URL the message is about.

    Returns:
        The message with the URL's password, credential values and spilled parts masked.
    """
    secrets = _conceal(_text(url))[1] | _parsed_secrets(url)
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, MASK)
    return message


def _text(url: str | URL) -> str:
    """The URL as text, components as given (a ``URL`` object quotes only what it must)."""
    if not isinstance(url, URL):
        return str(url)
    text = f"{url.drivername}://"
    if url.username is not None or url.password is not None:
        text += quote(url.username or "", safe=" +@")
        if url.password is not None:  # as the text it was read from ("@" never is in it)
            text += ":" + quote(str(url.password), safe=" +" + _AS_WRITTEN + "=&")
        text += "@"
    host = url.host or ""
    text += f"[{host}]" if ":" in host and "@" not in host else host
    if url.port is not None:
        text += f":{url.port}"
    if url.database is not None:
        text += f"/{url.database}"
    if url.query:
        text += "?" + "&".join(
            f"{quote(key, safe=_AS_WRITTEN)}={quote(value, safe=_AS_WRITTEN + '=')}"
            for key, values in url.query.items()
            for value in ((values,) if isinstance(values, str) else values)
        )
    return text


def _conceal(text: str) -> tuple[str, set[str]]:
    """The URL's text with its secrets masked, and the secrets it hid."""
    found = _USERINFO.match(text)
    if found is None or found["password"] is None:
        return _mask_query(text)
    secrets = {found["password"]}
    concealed, rest = found["password"], text[found.end() :]
    if "@" in rest:  # the password held an "@": it really ends at the last one
        hidden, _, rest = rest.rpartition("@")
        secrets |= _pieces(hidden)
        concealed += "@" + hidden
    if _ends_in_credential(concealed):
        # The cut fell inside a credential's value (an "@" in it): its first piece goes on.
        value, ampersand, after = rest.partition("&")
        secrets.add(value)
        rest = MASK + ampersand + after
    shown, query_secrets = _mask_query(rest)
    return f"{found['scheme']}://{found['user']}:{MASK}@{shown}", _quoted(secrets | query_secrets)


def _mask_query(text: str) -> tuple[str, set[str]]:
    """``text`` with the value of every credential parameter of its query masked."""
    start = text.find("?")
    if start < 0:
        return text, set()
    secrets: set[str] = set()

    def hide(parameter: re.Match[str]) -> str:
        if not is_credential(unquote_plus(parameter["key"])):
            return parameter[0]
        secrets.add(parameter["value"])
        return f"{parameter['key']}={MASK}"

    return text[:start] + _PARAMETER.sub(hide, text[start:]), _quoted(secrets)


def _ends_in_credential(concealed: str) -> bool:
    if "?" not in concealed:
        return False
    last = re.split(r"[?&]", concealed)[-1]
    key, equals, _ = last.partition("=")
    return bool(equals) and is_credential(unquote_plus(key))


def _pieces(hidden: str) -> set[str]:
    return {hidden, *re.split(r"[@/:?&=]", hidden)}


def _parsed_secrets(url: str | URL) -> set[str]:
    # What SQLAlchemy hands the driver, which the driver may quote back: the password, the
    # credential values and, when the password spilled, the "host" and "database" it made.
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except Exception:
        return set()
    pairs = [
        (key, value)
        for key, values in parsed.query.items()
        for value in ((values,) if isinstance(values, str) else values)
    ]
    secrets = {value for key, value in pairs if is_credential(key)}
    if parsed.password is not None:
        secrets.add(str(parsed.password))
        made = (parsed.host or "", parsed.database or "", *(k + v for k, v in pairs))
        if any("@" in part for part in made):
            secrets |= {parsed.host or "", parsed.database or ""}
    return _quoted(secrets)


def _quoted(secrets: set[str]) -> set[str]:
    # The forms a secret takes in a URL or a driver's message: as written, unquoted, quoted.
    found = {s for s in secrets if s and s != MASK}
    return (
        found
        | {unquote_plus(s) for s in found}
        | {unquote(s) for s in found}
        | {quote(s, safe="") for s in found}
    )
