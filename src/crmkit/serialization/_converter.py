"""Building the converter: crmkit's base configuration, then each capability's hooks, in the
order of `CAPABILITIES`.

To give a new type its JSON form (say a ``Settings`` of the front door):

1. If it is an attrs class whose fields all have hooks already (values, enums, conditions,
   a `Programme` …), it needs nothing more: cattrs generates its hook, refusing unknown keys
   and reporting every bad field with its path.
2. Otherwise write ``_<capability>.py`` in this package with one
   ``register_<capability>(conv: cattrs.Converter) -> None`` registering its structure and
   unstructure hooks: `dict_fn` for the generated structuring function (unknown keys refused,
   field limits checked first) with ``override(struct_hook=...)`` for a field read in its
   own way (`strict_set`, `strict_tuple` for a list field), ``override(omit=True)`` for a
   field that is not data, and ``make_dict_unstructure_fn`` for the other direction. Raise
   `Bad` (a message for the value at hand) or `ValidationError` (with paths) for bad data.
3. Append that function to `CAPABILITIES`, after every capability whose types it holds: a
   hook made by `dict_fn` is generated once, from the hooks registered before it.
4. Give each list, set or mapping field of the type a limit in `FIELD_LIMITS`, so that a long
   one is refused before its items are read, and add the type to the round-trip tests.
"""

from __future__ import annotations

from collections.abc import Callable, Set

import attrs
import cattrs

from crmkit.serialization._collections import register_strict_collections
from crmkit.serialization._customers import register_customers
from crmkit.serialization._lifecycle import register_lifecycle
from crmkit.serialization._limits import FIELD_LIMITS, dict_fn
from crmkit.serialization._loyalty import register_loyalty
from crmkit.serialization._rules import register_rules
from crmkit.serialization._scalars import register_scalars
from crmkit.serialization._segments import register_segments
from crmkit.serialization._settings import register_settings

__all__ = ["CAPABILITIES", "make_converter"]

#: Each capability's hooks, registered in this order on top of the base configuration.
CAPABILITIES: tuple[Callable[[cattrs.Converter], None], ...] = (
    register_scalars,
    register_customers,
    register_rules,
    register_lifecycle,
    register_segments,
    register_loyalty,
    register_settings,
)


def make_converter() -> cattrs.Converter:
    """A converter with crmkit's hooks: strict, bounded and exact (see `crmkit.serialization`).

    Returns:
        A new converter; `crmkit.serialization.converter` is the one crmkit uses.
    """
    conv = cattrs.Converter(
        detailed_validation=True,
        forbid_extra_keys=True,
        unstruct_collection_overrides={Set: sorted},
    )
    # First, so that every class hook generated later reads its collections strictly and
    # checks its field limits before reading a field.
    register_strict_collections(conv)
    conv.register_structure_hook_factory(
        lambda kind: attrs.has(kind) and kind in FIELD_LIMITS,
        lambda kind: dict_fn(conv, kind),
    )
    for register in CAPABILITIES:
        register(conv)
    return conv
