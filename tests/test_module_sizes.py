"""Small modules: no module under ``src/`` grows past about 400 lines (migrations excepted),
so each stays one thing a reader can hold at once."""

from __future__ import annotations

from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "crmkit"
#: "About 400": a little slack so that one more docstring line is not a failure.
MOST_LINES = 420
MODULES = sorted(
    path for path in SRC.rglob("*.py") if "migrations" not in path.relative_to(SRC).parts
)


def test_the_source_tree_is_found() -> None:
    assert len(MODULES) > 100


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_a_module_is_at_most_about_400_lines(module: Path) -> None:
    lines = len(module.read_text(encoding="utf-8").splitlines())
    assert lines <= MOST_LINES, f"{module.relative_to(SRC)} has {lines} lines: split it"
