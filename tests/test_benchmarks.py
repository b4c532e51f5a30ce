"""Every benchmark in ``bench/`` runs (``--quick``) and ends with well-formed figures.

Only the shape of the output is checked, never the timings: benchmarks are not part of the
pass/fail suite, but a benchmark that crashes or prints garbage should not wait for the next
person who runs it by hand to be noticed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))
FIGURE = re.compile(
    r"BENCH (?P<name>[a-z0-9_]+) (?P<value>-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?) (?P<unit>\S+)"
)

#: Figures a benchmark must print, beyond the shape every one of them has.
REQUIRED = {
    "bench_record.py": {
        "record_interaction_per_s": "interactions/s",
        "record_interaction_vs_sqlite3": "x",
        "record_many_per_s": "interactions/s",
        "record_many_vs_sqlite3": "x",
    },
    "bench_lifecycle.py": {
        "reevaluate_per_s": "customers/s",
        "reevaluate_vs_handwritten": "x",
    },
    "bench_loyalty.py": {
        "earn_events_per_s": "events/s",
        "earn_vs_sqlite3": "x",
        "balance_read_10000_vs_10": "x",
        "balance_read_vs_sqlite3": "x",
        "earn_tiered_long_vs_short": "x",
        "earn_tiered_long_vs_short_memory": "x",
        "earn_long_ledger_vs_short": "x",
    },
    "bench_storage.py": {
        "write_vs_core": "x",
        "read_vs_core": "x",
        "write_vs_sqlite3": "x",
        "read_vs_sqlite3": "x",
        "stream_peak_mb": "MB",
        "crmkit_write": "rows/s",
        "crmkit_read": "rows/s",
        "core_write": "rows/s",
        "core_read": "rows/s",
        "sqlite3_write": "rows/s",
        "sqlite3_read": "rows/s",
    },
}


def figures(output: str) -> dict[str, tuple[float, str]]:
    """The trailing ``BENCH name value unit`` lines of a benchmark's output, parsed.

    They must come last and be the only ``BENCH`` lines; each value a plain decimal number.
    """
    lines = output.rstrip("\n").splitlines()
    trailing: list[str] = []
    while lines and lines[-1].startswith("BENCH "):
        trailing.insert(0, lines.pop())
    assert trailing, "no BENCH lines at the end of the output"
    assert not any(line.startswith("BENCH") for line in lines), "BENCH lines before the last"
    parsed: dict[str, tuple[float, str]] = {}
    for line in trailing:
        match = FIGURE.fullmatch(line)
        assert match, f"malformed figure line: {line!r}"
        value = float(match["value"])
        assert match["name"] not in parsed, f"figure printed twice: {line!r}"
        parsed[match["name"]] = (value, match["unit"])
    for name, (value, unit) in parsed.items():
        if "_vs_" in name:
            assert unit == "x", f"a comparison is a ratio of times, in x: {name}"
            assert value > 0, f"a ratio of times is positive: {name}"
    return parsed


def test_there_are_benchmarks() -> None:
    assert SCRIPTS, f"no benchmark scripts in {BENCH}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_benchmark_runs_quick_and_prints_figures(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout}\n{done.stderr}"
    printed = figures(done.stdout)
    for name, unit in REQUIRED.get(script.name, {}).items():
        assert name in printed, f"{script.name} did not print BENCH {name}"
        assert printed[name][1] == unit, f"BENCH {name} should be in {unit}"


def test_figures_parser_refuses_malformed_output() -> None:
    assert figures("setup\nBENCH a_vs_b 1.5 x\nBENCH rate 10 rows/s\n") == {
        "a_vs_b": (1.5, "x"),
        "rate": (10.0, "rows/s"),
    }
    for bad in (
        "no figures at all",
        "BENCH a 1 x\ntrailing text",
        "BENCH a 1 x\nBENCH b one x",
        "BENCH a 1\n",
        "BENCH a nan x",
        "BENCH a 1 x\nBENCH a 2 x",
        "BENCH early 1 x\nmiddle\nBENCH late 1 x",
    ):
        with pytest.raises(AssertionError):
            figures(bad)
