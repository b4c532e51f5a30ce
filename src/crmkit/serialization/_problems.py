"""Turning whatever a structuring hook raised into `FieldError`s with paths.

cattrs reports nested failures as exception groups annotated with the attribute name or the
list index; crmkit's own hooks raise `ValidationError` (already with paths) or `Bad` (a
message for the value at hand). `field_errors` flattens all of them into one list.
"""

from __future__ import annotations

from typing import Any

from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from crmkit.errors import CrmError, FieldError, ValidationError

__all__ = ["Bad", "field_errors", "path_of"]


class Bad(ValueError):
    """A structuring failure with a message meant for people."""


def path_of(segments: list[str | int]) -> str:
    """``["consents", 0, "at"]`` as ``consents[0].at``."""
    text = ""
    for segment in segments:
        text += f"[{segment}]" if isinstance(segment, int) else f".{segment}" if text else segment
    return text


def _value_at(data: Any, segments: list[str | int]) -> Any:
    for segment in segments:
        try:
            data = data[segment]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _note(exc: BaseException) -> AttributeValidationNote | IterableValidationNote | None:
    return next(
        (
            n
            for n in getattr(exc, "__notes__", ())
            if isinstance(n, AttributeValidationNote | IterableValidationNote)
        ),
        None,
    )


def field_errors(exc: BaseException, segments: list[str | int], data: Any) -> list[FieldError]:
    """The problems ``exc`` stands for, each with its path under ``segments`` in ``data``."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        found: list[FieldError] = []
        for sub in exc.exceptions:
            note = _note(sub)
            if isinstance(note, AttributeValidationNote):
                found.extend(field_errors(sub, [*segments, note.name], data))
            elif isinstance(note, IterableValidationNote):
                found.extend(field_errors(sub, [*segments, note.index], data))
            else:
                found.extend(field_errors(sub, segments, data))
        return found
    where = path_of(segments)
    if isinstance(exc, ValidationError):
        nested = [e.prefixed(where) for e in exc.errors]
        if segments:  # the inner path repeats the field name for one-field values
            nested = [_dedupe(e, segments) for e in nested]
        return nested
    value = _value_at(data, segments)
    if isinstance(exc, KeyError):
        return [FieldError(where, None, "is required but missing")]
    if isinstance(exc, ForbiddenExtraKeysError):
        extra = ", ".join(sorted(map(str, exc.extra_fields)))
        return [FieldError(where, value, f"has unknown fields: {extra}")]
    if isinstance(exc, Bad | CrmError):
        return [FieldError(where, value, str(exc))]
    if isinstance(exc, AttributeError | TypeError):
        return [FieldError(where, value, "has the wrong shape (expected an object or list)")]
    return [FieldError(where, value, f"is invalid ({type(exc).__name__})")]


def _dedupe(error: FieldError, segments: list[str | int]) -> FieldError:
    last = segments[-1]
    if isinstance(last, str) and error.path.endswith(f"{last}.{last}"):
        return FieldError(error.path[: -len(last) - 1], error.value, error.message)
    return error
