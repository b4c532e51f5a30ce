"""`filling`: instances of attrs classes filled by plain stores, then of the real class."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit.domain._filling import filling


@attrs.frozen
class Point:
    x: int = attrs.field(validator=attrs.validators.instance_of(int))
    label: str = "p"


@attrs.define
class Counter:
    count: int = attrs.field(validator=attrs.validators.ge(0))


class TestFilling:
    """A filled instance becomes an ordinary instance of the class."""

    @given(st.integers(), st.text())
    def test_a_filled_frozen_value_equals_the_constructed_one(self, x: int, label: str) -> None:
        """Same class, same fields, same equality and hash; still frozen."""
        point = object.__new__(filling(Point))
        point.x = x
        point.label = label
        point.__class__ = Point
        assert type(point) is Point
        assert point == Point(x, label)
        assert hash(point) == hash(Point(x, label))
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            point.x = 1  # type: ignore[misc]

    def test_a_filled_instance_checks_assignments_again(self) -> None:
        """Once it is of the real class, attrs' on-setattr validators run as usual."""
        counter = object.__new__(filling(Counter))
        counter.count = 3
        counter.__class__ = Counter
        assert counter == Counter(3)
        with pytest.raises(ValueError, match="count"):
            counter.count = -1
