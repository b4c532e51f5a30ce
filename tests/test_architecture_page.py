"""The source tree on the architecture page matches ``src/crmkit``.

Granularity: the tree on ``docs/explanation/architecture.md`` (the first ``text`` block under
"## The source tree") must list every *package* under ``src/crmkit`` (every directory holding
an ``__init__.py``, private ones included) and every *public module directly under*
``src/crmkit`` (``*.py`` not starting with an underscore, plus ``__init__.py``). It may list
further modules (e.g. the one-per-capability modules of ``ports/`` and ``app/``) to show the
split, but every entry it lists must exist. Entries ending in ``/`` are packages; anything
after ``#`` is a comment.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "explanation" / "architecture.md"
SRC = ROOT / "src" / "crmkit"
_PREFIX = re.compile(r"^[\s│├└─]*")


def _tree_block() -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## The source tree", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def listed_paths() -> set[str]:
    """The tree's entries as paths relative to ``src/crmkit`` (packages end with ``/``)."""
    lines = _tree_block()
    assert lines[0].strip() == "crmkit/"
    stack: list[str] = []
    paths: set[str] = set()
    for line in lines[1:]:
        entry = line.split("#", 1)[0].rstrip()
        name = _PREFIX.sub("", entry)
        depth = len(entry) - len(name)
        level = depth // 4 - 1
        stack = [*stack[:level], name]
        paths.add("".join(stack))
    return paths


def actual_packages() -> set[str]:
    return {
        f"{init.parent.relative_to(SRC).as_posix()}/"
        for init in SRC.rglob("__init__.py")
        if init.parent != SRC and "__pycache__" not in init.parts
    }


def public_top_modules() -> set[str]:
    return {p.name for p in SRC.glob("*.py") if not p.name.startswith("_")} | {"__init__.py"}


def test_every_listed_entry_exists() -> None:
    missing = sorted(p for p in listed_paths() if not (SRC / p.rstrip("/")).exists())
    assert not missing, f"the architecture page lists what src/crmkit lacks: {missing}"


def test_every_package_is_listed() -> None:
    unlisted = sorted(actual_packages() - listed_paths())
    assert not unlisted, f"packages missing from the architecture page's tree: {unlisted}"


def test_every_public_top_level_module_is_listed() -> None:
    unlisted = sorted(public_top_modules() - listed_paths())
    assert not unlisted, f"modules missing from the architecture page's tree: {unlisted}"


def test_listed_packages_are_packages() -> None:
    fakes = sorted(
        p for p in listed_paths() if p.endswith("/") and not (SRC / p / "__init__.py").exists()
    )
    assert not fakes, f"listed as packages but without __init__.py: {fakes}"
