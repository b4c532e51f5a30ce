"""How the converter is built: one package, each capability's hooks registered in one place."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from enum import StrEnum
from pathlib import Path

import attrs
import pytest

import crmkit.serialization as serialization
from crmkit.errors import ValidationError
from crmkit.segments import Segment, field
from crmkit.serialization import structure, unstructure
from crmkit.serialization._converter import CAPABILITIES, make_converter

MODULES = sorted(m.name for m in pkgutil.iter_modules(serialization.__path__))

#: Hooks every converter gets before the capabilities' (see `make_converter`).
BASE = {"register_strict_collections"}


class Finish(StrEnum):
    MATT = "matt"
    GLOSS = "gloss"


@attrs.frozen
class Paint:
    finish: Finish


class TestCapabilities:
    """`CAPABILITIES` is the one list of what `make_converter` registers."""

    def test_every_register_function_of_the_package_is_a_capability(self) -> None:
        """A new ``_<capability>.py`` whose ``register_…`` is not listed would be dead code."""
        found = set()
        for name in MODULES:
            module = importlib.import_module(f"crmkit.serialization.{name}")
            found |= {
                fn
                for fn_name, fn in inspect.getmembers(module, inspect.isfunction)
                if fn_name.startswith("register_")
                and fn.__module__ == module.__name__
                and fn_name not in BASE
            }
        assert found == set(CAPABILITIES)

    def test_a_new_converter_reads_what_the_shared_one_writes(self) -> None:
        """`make_converter` builds a converter equal in behaviour to `converter`."""
        segment = Segment("adults", field("email").is_not_null())
        assert make_converter().structure(unstructure(segment), Segment) == segment

    @pytest.mark.parametrize("name", MODULES)
    def test_no_module_is_longer_than_400_lines(self, name: str) -> None:
        path = Path(serialization.__path__[0]) / f"{name}.py"
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400


class TestHostEnums:
    """A host's own string enum is read as its member, like crmkit's."""

    def test_a_host_enum_is_read_as_its_member(self) -> None:
        paint = structure({"finish": "gloss"}, Paint)
        assert paint.finish is Finish.GLOSS
        assert unstructure(paint) == {"finish": "gloss"}

    def test_an_unknown_value_of_a_host_enum_is_refused_with_its_path(self) -> None:
        with pytest.raises(ValidationError) as caught:
            structure({"finish": "satin"}, Paint)
        [error] = caught.value.errors
        assert (error.path, error.value) == ("finish", "satin")
        assert error.message == "must be one of matt, gloss"
