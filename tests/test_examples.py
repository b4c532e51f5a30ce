"""Every runnable example runs to completion."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.py"))

#: A line near the end of each example's report, so a script that stops early is caught.
LAST_SECTION = {
    "quickstart.py": "Events received after commit",
    "lifecycle.py": "StageChanged events received after commit",
    "loyalty.py": "Loyalty events received after commit",
}


def run(script: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_the_example_runs_and_reports(script: Path, tmp_path: Path) -> None:
    """The example exits 0 and prints its report (run in a scratch directory)."""
    assert script.name in LAST_SECTION, "add a line of the example's report to LAST_SECTION"
    done = run(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert LAST_SECTION[script.name] in done.stdout


@pytest.mark.parametrize("name", ["lifecycle.py", "loyalty.py"])
def test_the_example_reports_the_same_on_sqlite_and_in_memory(name: str, tmp_path: Path) -> None:
    """Both adapters book the same changes at the same instants, so the reports agree."""
    script = next(s for s in EXAMPLES if s.name == name)
    on_file = run(script, tmp_path, "--db", str(tmp_path / "crm.db"))
    in_memory = run(script, tmp_path, "--memory")
    assert on_file.returncode == 0, on_file.stderr
    assert in_memory.returncode == 0, in_memory.stderr
    report = on_file.stdout.split("\n\n", 1)[1]  # after "Storing everything in …"
    assert report == in_memory.stdout
