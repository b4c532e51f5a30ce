"""Strict structuring hooks for collections.

cattrs reads a tuple, set or mapping from any iterable, so a string where a list of
conditions is expected is read character by character (a 100,000-letter string made 100,000
errors). These hooks accept only the container the JSON form uses (a list, or an object for a
mapping), refuse one holding more than `MAX_ITEMS` before reading an item, and read the items
with the converter's own hooks, reporting every bad one with its index or key.

`strict_set` and `strict_tuple` are the same for one field of a class, with a message naming
what the list holds ("must be a list of channels").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from typing import Any, get_args, get_origin

import cattrs
from cattrs.cols import is_frozenset, is_mapping, is_sequence, is_set

from crmkit.errors import FieldError, ValidationError
from crmkit.serialization._limits import MAX_ITEMS
from crmkit.serialization._problems import Bad, field_errors

__all__ = ["register_strict_collections", "strict_set", "strict_tuple"]

_Hook = Callable[[Any, Any], Any]


def _is_collection(kind: Any) -> bool:
    return is_sequence(kind) or is_set(kind) or is_frozenset(kind)


def _items(conv: cattrs.Converter, kind: Any) -> _Hook:
    """A hook for ``tuple[X, ...]``, ``list[X]``, ``frozenset[X]`` or ``set[X]``."""
    origin = get_origin(kind) or kind
    args = get_args(kind)
    if origin is tuple and args and args[-1] is not Ellipsis:
        return _pair(conv, args)
    item: Any = args[0] if args else Any
    is_set_kind = origin in (frozenset, set, Set) or is_set(kind) or is_frozenset(kind)
    make: Callable[[list[Any]], Any] = (
        frozenset if origin in (frozenset, Set) or is_frozenset(kind) else set
    )
    if not is_set_kind:
        make = list if origin is list else tuple
    accepted: tuple[type, ...] = (list, tuple, Set) if is_set_kind else (list, tuple)
    sized = (list, tuple, Set)
    read = conv.get_structure_hook(item)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, accepted) or not isinstance(value, sized):
            raise Bad("must be a list")
        if len(value) > MAX_ITEMS:
            raise Bad(f"must hold at most {MAX_ITEMS} items (holds {len(value)})")
        made, problems = [], []
        for index, element in enumerate(value):
            try:
                made.append(read(element, item))
            except Exception as exc:  # every failure becomes a path-carrying FieldError
                problems.extend(field_errors(exc, [index], list(value)))
        if problems:
            raise ValidationError(problems)
        return make(made)

    return structure


def _pair(conv: cattrs.Converter, args: tuple[Any, ...]) -> _Hook:
    """A hook for a fixed-length tuple such as ``tuple[str, int]``: a list of that length."""
    reads = [(conv.get_structure_hook(arg), arg) for arg in args]

    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple) or len(value) != len(reads):
            raise Bad(f"must be a list of {len(reads)} values")
        made, problems = [], []
        for index, ((read, arg), element) in enumerate(zip(reads, value, strict=True)):
            try:
                made.append(read(element, arg))
            except Exception as exc:
                problems.extend(field_errors(exc, [index], list(value)))
        if problems:
            raise ValidationError(problems)
        return tuple(made)

    return structure


def _mapping(conv: cattrs.Converter, kind: Any) -> _Hook:
    """A hook for ``Mapping[K, V]`` or ``dict[K, V]``: a JSON object only."""
    args = get_args(kind)
    key_type, value_type = args if len(args) == 2 else (Any, Any)
    read_key = conv.get_structure_hook(key_type)
    read_value = conv.get_structure_hook(value_type)

    def structure(value: Any, _: Any) -> dict[Any, Any]:
        if not isinstance(value, Mapping):
            raise Bad("must be an object")
        if len(value) > MAX_ITEMS:
            raise Bad(f"must hold at most {MAX_ITEMS} keys (holds {len(value)})")
        made: dict[Any, Any] = {}
        problems: list[FieldError] = []
        for key, element in value.items():
            try:
                made[read_key(key, key_type)] = read_value(element, value_type)
            except Exception as exc:
                problems.extend(field_errors(exc, [str(key)], value))
        if problems:
            raise ValidationError(problems)
        return made

    return structure


def register_strict_collections(conv: cattrs.Converter) -> None:
    """Read every list, tuple, set and mapping strictly (see the module docstring)."""
    conv.register_structure_hook_factory(_is_collection, lambda kind: _items(conv, kind))
    conv.register_structure_hook_factory(is_mapping, lambda kind: _mapping(conv, kind))


def strict_set(conv: cattrs.Converter, item: type, what: str) -> Any:
    """A hook reading a set of ``item`` from a list only: a string is not a set of letters."""
    as_tuple = tuple[item, ...]  # type: ignore[valid-type]
    handler = conv.get_structure_hook(as_tuple)

    def structure(value: Any, _: type) -> frozenset[Any]:
        if not isinstance(value, list | tuple | Set):
            raise Bad(f"must be a list of {what}")
        return frozenset(handler(list(value), as_tuple))

    return structure


def strict_tuple(conv: cattrs.Converter, item: Any, what: str) -> Any:
    """A hook reading a tuple of ``item`` from a list only (not from a string or an object)."""
    as_tuple: Any = tuple[item, ...]
    handler = conv.get_structure_hook(as_tuple)

    def structure(value: Any, _: type) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise Bad(f"must be a list of {what}")
        return handler(value, as_tuple)  # type: ignore[no-any-return]

    return structure
