"""Lifecycle models and stage histories: plain attrs classes, except that a stage's label may
be ``None`` (kept as ``null``) and a progression rule's sources must be a list. Their guards
and triggers are conditions (see `_rules`)."""

from __future__ import annotations

from typing import Any

import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from crmkit.domain import ProgressionRule, Stage
from crmkit.serialization._collections import strict_set
from crmkit.serialization._limits import dict_fn
from crmkit.serialization._scalars import same, structure_exact

__all__ = ["register_lifecycle"]


def register_lifecycle(conv: cattrs.Converter) -> None:
    """Stages keep a ``null`` label; a rule's sources are a list of stage names."""
    text = structure_exact(str)

    def optional_text(value: Any, _: type) -> str | None:
        return None if value is None else text(value, str)

    conv.register_structure_hook(
        Stage,
        dict_fn(
            conv,
            Stage,
            label=override(struct_hook=optional_text),
        ),
    )
    conv.register_unstructure_hook(
        Stage, make_dict_unstructure_fn(Stage, conv, label=override(unstruct_hook=same))
    )
    conv.register_structure_hook(
        ProgressionRule,
        dict_fn(
            conv,
            ProgressionRule,
            sources=override(struct_hook=strict_set(conv, str, "stage names")),
        ),
    )
