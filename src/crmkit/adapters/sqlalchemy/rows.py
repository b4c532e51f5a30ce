"""What every capability's row mapping shares: instants as epoch microseconds, and hydration.

Writing goes through the domain's validated objects. Reading *hydrates* objects from rows
without running attrs converters and validators again: the rows were validated when they were
written, and re-validating a million customers would cost more than reading them. Hosts that
edit the tables by hand must keep to the same rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import attrs

__all__ = ["EPOCH", "at_or_none", "from_us", "hydrate", "slot_setters", "to_us", "us_or_none"]

T = TypeVar("T")

#: The Unix epoch, UTC: instants are stored as microseconds after it.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_SET = object.__setattr__


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch, exact."""
    return (moment - EPOCH) // _MICRO


def from_us(micros: int) -> datetime:
    """The UTC datetime ``micros`` microseconds after the Unix epoch."""
    return EPOCH + timedelta(microseconds=micros)


def us_or_none(moment: datetime | None) -> int | None:
    """`to_us` of a nullable instant."""
    return None if moment is None else to_us(moment)


def at_or_none(micros: int | None) -> datetime | None:
    """The UTC datetime of a nullable microsecond column."""
    return None if micros is None else from_us(micros)


def hydrate(cls: type[T], **fields: Any) -> T:
    """An instance of ``cls`` holding ``fields``, built without its converters and validators
    (the values were checked when they were written)."""
    obj = cls.__new__(cls)
    for name, value in fields.items():
        _SET(obj, name, value)
    return obj


def slot_setters(cls: type) -> dict[str, Any]:
    """Each field's slot setter: stores a value without attrs' on-setattr converters and
    validators, about twice as fast as ``object.__setattr__``."""
    return {a.name: cls.__dict__[a.name].__set__ for a in attrs.fields(cls)}
