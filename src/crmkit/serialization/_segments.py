"""Segments: the versioned document ``{"version": 1, "name", "description", "rule"}``, its
rule a condition (see `_rules`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cattrs
from cattrs.gen import make_dict_unstructure_fn

from crmkit.domain import Segment
from crmkit.errors import ValidationError
from crmkit.serialization._limits import dict_fn
from crmkit.serialization._problems import Bad

__all__ = ["SEGMENT_VERSION", "register_segments"]

#: The version of the JSON form of a `Segment` this crmkit writes and reads (its
#: ``"version"`` field); a document of another version is refused.
SEGMENT_VERSION = 1

_MISSING = object()


def register_segments(conv: cattrs.Converter) -> None:
    """A segment is ``{"version": 1, "name", "description", "rule"}``."""
    load = dict_fn(conv, Segment)
    dump = make_dict_unstructure_fn(Segment, conv)

    def structure_segment(value: Any, _: type) -> Segment:
        if not isinstance(value, Mapping):
            raise Bad("must be an object with 'version', 'name' and 'rule'")
        version = value.get("version", _MISSING)
        if version is _MISSING:
            raise ValidationError.single("version", None, f"is required ({SEGMENT_VERSION})")
        if type(version) is not int or version != SEGMENT_VERSION:
            raise ValidationError.single(
                "version", version, f"must be {SEGMENT_VERSION}: this crmkit reads no other"
            )
        made: Segment = load({k: v for k, v in value.items() if k != "version"}, Segment)
        return made

    def unstructure_segment(segment: Segment) -> dict[str, Any]:
        return {"version": SEGMENT_VERSION, **dump(segment)}

    conv.register_structure_hook(Segment, structure_segment)
    conv.register_unstructure_hook(Segment, unstructure_segment)
