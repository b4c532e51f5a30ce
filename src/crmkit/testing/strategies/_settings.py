"""Strategies for `Settings`: a tenant, a fixed clock and sequential ids, and the capability
settings (trait schema, default region, lifecycle models, tracked segments, a programme)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from crmkit.app.clocks import FixedClock, SequentialIds
from crmkit.app.settings import Settings
from crmkit.errors import ValidationError
from crmkit.testing.strategies._customers import trait_schemas
from crmkit.testing.strategies._lifecycle import lifecycle_models
from crmkit.testing.strategies._loyalty import loyalty_programmes
from crmkit.testing.strategies._segments import segments
from crmkit.testing.strategies._values import tenants, utc_datetimes

__all__ = ["settings"]

#: A few regions a national phone number may be read in.
_REGIONS = ("DE", "FR", "GB", "US", "JP", "BR")
#: The parts dropped, in this order, until the settings check: a rule naming a trait the
#: schema lacks or a stage no model has is refused, so a drawn combination may not fit.
_OPTIONAL = ("trait_schema", "segments", "loyalty", "lifecycles")


@st.composite
def settings(draw: st.DrawFn) -> Settings:
    """Valid `Settings`: every part drawn, then dropped one by one until they fit."""
    parts: dict[str, Any] = {
        "tenant": draw(tenants()),
        "clock": FixedClock(draw(utc_datetimes())),
        "ids": SequentialIds(draw(st.sampled_from(["id", "c", "t"]))),
        "default_region": draw(st.none() | st.sampled_from(_REGIONS)),
        "trait_schema": draw(st.none() | trait_schemas()),
        "lifecycles": draw(
            st.lists(lifecycle_models(max_stages=4), max_size=2, unique_by=lambda m: m.name)
        ),
        "segments": draw(st.lists(segments(max_depth=2), max_size=2, unique_by=lambda s: s.name)),
        "loyalty": draw(st.none() | loyalty_programmes()),
    }
    for name in _OPTIONAL:
        try:
            return Settings(**parts)
        except ValidationError:
            parts.pop(name)
    return Settings(**parts)  # a tenant, a clock, ids and a region always fit
