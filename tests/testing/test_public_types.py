"""Every public type is born with a strategy and a round trip.

The public types are walked, not listed: the attrs classes, enums and unions that ``crmkit``
and each facade module export (`tests.strategies.public_types`). A new one fails here until
it has a row in the strategy registry (``crmkit.testing.strategies._registry.STRATEGIES``)
and `crmkit.serialization` writes and reads it back, or is named, with the reason, in
`tests.strategies.NOT_SERIALISABLE`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from enum import Enum
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crmkit.serialization import from_json, structure, to_json, unstructure
from crmkit.testing.strategies._registry import STRATEGIES
from tests.strategies import NOT_SERIALISABLE, UNIONS, public_types, serialisable_types

PUBLIC = public_types()
CLASSES = {name: kind for name, kind in PUBLIC.items() if not issubclass(kind, Enum)}
ENUMS = {name: kind for name, kind in PUBLIC.items() if issubclass(kind, Enum)}
SERIALISABLE = {kind.__name__: kind for kind in serialisable_types()}


#: Drawing some types (a customer, a ledger booked through its methods) is costly: a few
#: examples per type show that it resolves, the round trip takes a few more.
drawn = settings(
    max_examples=5,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
round_trips = settings(drawn, max_examples=max(5, settings().max_examples // 4))


def revalidated(value: object) -> object:
    """``value`` rebuilt through its class's converters and validators."""
    return attrs.evolve(value)  # type: ignore[misc]


class TestEveryPublicTypeHasAStrategy:
    """One registry row per public class, and ``st.from_type`` draws valid values of it."""

    def test_every_public_class_has_a_row_in_the_registry(self) -> None:
        """A public attrs class (or union) with no strategy fails here by name: add one row
        to ``STRATEGIES``."""
        missing = sorted(name for name, kind in CLASSES.items() if kind not in STRATEGIES)
        assert missing == []

    def test_every_row_of_the_registry_is_a_public_type(self) -> None:
        """The registry draws only what users can import (a stale row fails here)."""
        public = set(CLASSES.values())
        assert sorted(kind.__name__ for kind in STRATEGIES if kind not in public) == []

    @pytest.mark.parametrize("name", sorted(CLASSES))
    @given(data=st.data())
    @drawn
    def test_from_type_draws_valid_values(self, name: str, data: st.DataObject) -> None:
        """``st.from_type`` draws an instance of the class, and one its own validators
        accept: rebuilt field by field, it is equal."""
        kind = CLASSES[name]
        value = data.draw(st.from_type(kind))
        assert isinstance(value, kind)
        assert revalidated(value) == value

    @pytest.mark.parametrize("name", sorted(ENUMS))
    @given(data=st.data())
    @drawn
    def test_from_type_draws_the_members_of_every_public_enum(
        self, name: str, data: st.DataObject
    ) -> None:
        """Hypothesis draws an enum's members itself; no row is needed."""
        assert isinstance(data.draw(st.from_type(ENUMS[name])), ENUMS[name])

    @pytest.mark.parametrize("plugins", ["on", "off"])
    def test_from_type_works_without_importing_the_strategies_first(
        self, plugins: str, tmp_path: Path
    ) -> None:
        """A fresh suite that imports only Hypothesis and crmkit draws every kind of type:
        the ``hypothesis`` entry point registered them. (With Hypothesis plugins off,
        importing `crmkit.testing.strategies` registers them.)"""
        draw = (
            "import crmkit, crmkit.events, crmkit.lifecycle, crmkit.loyalty, crmkit.segments\n"
            "from hypothesis import strategies as st\n"
            "for kind in (crmkit.Customer, crmkit.loyalty.Programme, crmkit.loyalty.Tier,"
            " crmkit.lifecycle.StageFlow, crmkit.events.PointsEarned, crmkit.segments.AllOf,"
            " crmkit.Settings):\n"
            "    assert isinstance(st.from_type(kind).example(), kind), kind\n"
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        if plugins == "off":
            env["HYPOTHESIS_NO_PLUGINS"] = "1"
            draw = "import crmkit.testing.strategies\n" + draw
        subprocess.run([sys.executable, "-c", draw], check=True, cwd=tmp_path, env=env)


class TestEveryPublicSerialisableTypeRoundTrips:
    """``from_json(to_json(x), T) == x`` for every public type ``T`` and every drawn ``x``."""

    def test_every_public_type_round_trips_or_is_excluded_on_purpose(self) -> None:
        """The round trip walks every public class; only `NOT_SERIALISABLE` ones, each
        with its reason, are left out, and each of those names a public class."""
        left_out = set(CLASSES) - set(SERIALISABLE)
        assert left_out == set(NOT_SERIALISABLE)
        assert set(UNIONS) <= set(SERIALISABLE)

    @pytest.mark.parametrize("name", sorted(SERIALISABLE))
    @given(data=st.data())
    @round_trips
    def test_what_every_public_type_draws_round_trips_through_json(
        self, name: str, data: st.DataObject
    ) -> None:
        """What ``st.from_type`` draws is data: `to_json` writes it and `from_json` reads it
        back equal (no naive datetime, no NaN, no negative count, no unwritable field), and
        so do `unstructure` and `structure`."""
        kind = SERIALISABLE[name]
        value = data.draw(st.from_type(kind))
        assert from_json(to_json(value), kind) == value
        assert structure(unstructure(value), kind) == value

    @pytest.mark.parametrize("name", sorted(ENUMS))
    @given(data=st.data())
    @drawn
    def test_every_public_enum_round_trips_as_its_value(
        self, name: str, data: st.DataObject
    ) -> None:
        """An enum is written as its value, and read back as the member."""
        kind = ENUMS[name]
        member = data.draw(st.from_type(kind))
        assert unstructure(member) == member.value
        read = from_json(to_json(member), kind)
        assert read is member
