"""The documentation as a newcomer meets it: how pages open, where they point, how it builds.

The code on every page is executed by Sybil (see ``conftest.py``); these tests check what
executing cannot: the shape of the pages and the tooling around them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONCEPTS = sorted((ROOT / "docs" / "concepts").glob("*.md"))

#: A short example: enough to show the idea, little enough to read at a glance.
SHORT_EXAMPLE_LINES = 20


def _opening(page: Path) -> list[str]:
    """The lines of ``page`` before its first section heading or collapsed block."""
    lines = page.read_text(encoding="utf-8").splitlines()[1:]  # after the title
    for n, line in enumerate(lines):
        if line.startswith(("## ", "???")):
            return lines[:n]
    return lines


def _code_lines(lines: list[str]) -> list[list[str]]:
    """The bodies of the ``python`` fences among ``lines``."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        if current is None and line.strip() == "```python":
            current = []
        elif current is not None and line.strip() == "```":
            blocks.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_there_are_concept_pages() -> None:
    assert len(CONCEPTS) >= 9


@pytest.mark.parametrize("page", CONCEPTS, ids=lambda p: p.stem)
def test_a_concept_page_opens_with_prose_then_one_short_example(page: Path) -> None:
    """The idea first, in words; then a short example that shows it (it asserts something,
    so it is not setup); the page's setup comes after it, or collapsed."""
    opening = _opening(page)
    first_fence = next(n for n, line in enumerate([*opening, "```"]) if line.startswith("```"))
    assert any(line.strip() for line in opening[:first_fence]), "no prose before the code"
    blocks = _code_lines(opening)
    assert len(blocks) == 1, f"{len(blocks)} code blocks before the first section"
    [example] = blocks
    assert len(example) <= SHORT_EXAMPLE_LINES
    assert any(line.startswith("assert ") for line in example), "setup, not an example"


def test_the_docs_extra_installs_a_formatter_for_api_signatures() -> None:
    """mkdocstrings-python formats separated signatures only when Black or Ruff is installed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    docs_extra = project["project"]["optional-dependencies"]["docs"]
    names = {re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0] for requirement in docs_extra}
    assert names & {"ruff", "black"}
    assert "separate_signature: true" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def test_every_make_target_builds_the_docs_without_the_end_of_life_banner() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^export NO_MKDOCS_2_WARNING := 1$", makefile, re.MULTILINE)


def test_the_readme_serves_the_docs_with_a_target_that_installs_the_docs_tools() -> None:
    """`make demo` installs no docs tools, so the README must not send a reader to mkdocs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make docs-serve" in readme
    assert ".venv/bin/mkdocs serve" not in readme
    assert re.search(r"^docs-serve: \$\(STAMP_DEV\)", makefile, re.MULTILINE)
    assert "'.[dev,docs]'" in makefile


@pytest.mark.parametrize("topic", ["lifecycle", "segments", "loyalty"])
def test_the_readme_and_the_quickstart_point_to(topic: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
    where_next = quickstart[quickstart.index("## Where next") :]
    assert f"(docs/concepts/{topic}.md)" in readme
    assert f"(concepts/{topic}.md)" in where_next


def test_the_troubleshooting_page_is_in_the_navigation() -> None:
    assert "troubleshooting.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert (ROOT / "docs" / "troubleshooting.md").is_file()
