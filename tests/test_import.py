"""Importing crmkit stays light: heavy dependencies load only where they are needed."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import crmkit

HEAVY = ("sqlalchemy", "hypothesis", "cattrs", "phonenumbers")


def loaded_after(statement: str, cwd: Path) -> list[str]:
    """The heavy top-level packages a fresh interpreter has imported after ``statement``."""
    script = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, check=True
    )
    return list(json.loads(done.stdout))


class TestImportCost:
    """What each entry point pulls in."""

    def test_import_crmkit_loads_no_heavy_dependency(self, tmp_path: Path) -> None:
        """No SQLAlchemy, Hypothesis, cattrs or phonenumbers behind ``import crmkit``."""
        assert loaded_after("import crmkit", tmp_path) == []

    def test_the_pytest_plugin_loads_no_heavy_dependency(self, tmp_path: Path) -> None:
        """The plugin loads in every suite of every user, so it must be cheap."""
        assert loaded_after("import crmkit.testing.plugin", tmp_path) == []

    def test_an_in_memory_crm_needs_no_heavy_dependency(self, tmp_path: Path) -> None:
        """Registering a customer by email touches neither phonenumbers nor cattrs."""
        statement = (
            "from crmkit import CRM\nCRM.in_memory().customers.register(email='ada@example.com')"
        )
        assert loaded_after(statement, tmp_path) == []

    def test_the_converter_loads_cattrs_but_not_sqlalchemy(self, tmp_path: Path) -> None:
        """Serialisation needs cattrs and nothing heavier."""
        assert "sqlalchemy" not in loaded_after("import crmkit.serialization", tmp_path)

    def test_the_strategies_can_be_imported_before_hypothesis(self, tmp_path: Path) -> None:
        """``from crmkit.testing.strategies import customers`` works as a first import."""
        statement = "from crmkit.testing.strategies import customers"
        assert "hypothesis" in loaded_after(statement, tmp_path)


class TestPublicSurface:
    """The names ``crmkit`` exports."""

    def test_every_exported_name_exists(self) -> None:
        """``__all__`` lists only real attributes."""
        missing = [name for name in crmkit.__all__ if not hasattr(crmkit, name)]
        assert missing == []

    def test_the_version_matches_the_installed_distribution(self) -> None:
        """``crmkit.__version__`` is the packaged version."""
        assert crmkit.__version__ == version("crmkit")
