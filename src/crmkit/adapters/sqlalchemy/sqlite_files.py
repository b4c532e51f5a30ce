"""SQLite files: which paths name one, and opening one only when it already exists.

A path that is not text (``None`` from an unset environment variable, a number) would become
a file named ``None`` or ``123``, and an empty one a throw-away database: every write lost
without a word. Only a non-empty ``str`` or ``os.PathLike`` naming a file, or the explicit
``":memory:"``, is taken. A command that only reads (``crmkit db current``) must not leave an
empty database behind a mistyped path, so it asks for the file to exist first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from crmkit.domain.values.texts import ensure_text
from crmkit.errors import ConfigurationError, ValidationError

__all__ = ["MEMORY", "check_sqlite_path", "missing_sqlite_file", "require_sqlite_file"]

#: The path of a private, throw-away database.
MEMORY = ":memory:"


def check_sqlite_path(path: Any, name: str = "path") -> str:
    """Return ``path`` as text if it names a SQLite file (or is ``":memory:"``), else raise.

    Args:
        path: a ``str`` or ``os.PathLike`` (e.g. a ``pathlib.Path``).
        name: the parameter the error names.

    Returns:
        The path as text.

    Raises:
        ValidationError: ``path`` is not a str or path (``None``, a number, bytes), is empty,
            or holds a NUL character or a lone surrogate (no file can be named so).
    """
    if not isinstance(path, str | os.PathLike):
        raise ValidationError.single(
            name, path, f"must be the path of a SQLite file (str or pathlib.Path) or {MEMORY!r}"
        )
    text = os.fspath(path)
    if not isinstance(text, str):  # a PathLike of bytes
        raise ValidationError.single(name, path, "must be a path of text, not bytes")
    if not text.strip():
        raise ValidationError.single(
            name, path, f"must not be empty: give a file's path, or {MEMORY!r} for a throw-away "
            "database",
        )  # fmt: skip
    return ensure_text(text, name)


def missing_sqlite_file(url: URL) -> str | None:
    """Why ``url`` names no existing SQLite database, or ``None`` when it does (or is not a
    plain SQLite file: a server, ``":memory:"``, a ``file:`` URI)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", MEMORY):
        return None
    if str(url.query.get("uri", "")).lower() in ("true", "1"):
        return None
    if Path(url.database).is_file():
        return None
    return (
        f"there is no SQLite database at {url.database!r}: check the path (nothing was "
        "created), or create it with 'crmkit db upgrade --url …' (or migrate=True)"
    )


def require_sqlite_file(url: str | URL) -> None:
    """Raise `ConfigurationError` when ``url`` is a SQLite file that does not exist (a URL
    that cannot be parsed is left for `open_engine` to report)."""
    try:
        parsed = make_url(url)
    except Exception:
        return
    problem = missing_sqlite_file(parsed)
    if problem is not None:
        raise ConfigurationError(problem)
