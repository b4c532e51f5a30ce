"""Checks that a caller's argument is of the kind a parameter takes.

A wrong type must not travel on until something inside fails with ``AttributeError`` (a
string where a `Customer` is meant), with a misleading error (``expected_version="1"``
read as another writer's version) or not at all (``newest_first="no"`` is truthy). Each
check raises `ValidationError` naming the parameter and the value, and returns the value so
a call site reads ``version = expected_version_of(expected_version)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from crmkit.domain._checks import MAX_VERSION
from crmkit.domain._lists import iterable_of
from crmkit.errors import ValidationError

__all__ = [
    "MAX_PAGE",
    "each_of",
    "expected_version_of",
    "flag",
    "instance_of",
    "items_of",
    "page_limit",
]

T = TypeVar("T")

#: The most items one page (or one batch read from storage) holds.
MAX_PAGE = 10_000


def instance_of(value: Any, kind: type[T], path: str) -> T:
    """``value`` if it is a ``kind``, else a `ValidationError` at ``path``."""
    if not isinstance(value, kind):
        raise ValidationError.single(path, value, f"must be a {kind.__name__}")
    return value


def flag(value: Any, path: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (not a truthy string or number)."""
    if not isinstance(value, bool):
        raise ValidationError.single(path, value, "must be True or False")
    return value


def expected_version_of(value: Any, path: str = "expected_version") -> int | None:
    """``value`` if it is ``None`` or a version number: an ``int`` (not a bool, not text)
    from 0 up, so that a version of the wrong type is never reported as another writer's."""
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= MAX_VERSION:
        raise ValidationError.single(
            path, value, f"must be a version number: an int from 0 to {MAX_VERSION}, or None"
        )
    return value


def page_limit(value: Any, path: str = "limit") -> int:
    """``value`` if it is a page size: an ``int`` from 1 to `MAX_PAGE`."""
    if type(value) is not int or not 1 <= value <= MAX_PAGE:
        raise ValidationError.single(path, value, f"must be an int from 1 to {MAX_PAGE}")
    return value


def items_of(values: Any, path: str) -> Iterable[Any]:
    """``values`` if it is a collection or iterator of items: not text, bytes or a mapping
    (whose characters or keys would be read as the items), nor a lone number."""
    return iterable_of(path, values, "items")


def each_of(values: Any, kind: type[T], path: str) -> Iterator[T]:
    """The items of ``values``, each checked to be a ``kind``: a bad one is a
    `ValidationError` at ``path[index]``. ``values`` itself is checked at once (`items_of`);
    its items as they are read, so a stream stays a stream."""
    return _checked(items_of(values, path), kind, path)


def _checked(values: Iterable[Any], kind: type[T], path: str) -> Iterator[T]:
    for index, item in enumerate(values):
        if not isinstance(item, kind):
            raise ValidationError.single(f"{path}[{index}]", item, f"must be a {kind.__name__}")
        yield item
