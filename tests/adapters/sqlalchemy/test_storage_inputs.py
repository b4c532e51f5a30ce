"""Opening storage: only a real path or the explicit ``":memory:"`` is taken, a read-only
open creates nothing, and a database of an unknown migration (or an unknown target) is a
typed crmkit error, one line and exit code 1 from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from crmkit import CRM
from crmkit.adapters.sqlalchemy import VERSION_TABLE, SqlStore, open_engine, upgrade
from crmkit.cli import main as cli
from crmkit.errors import ConfigurationError, ValidationError
from crmkit.testing.databases import scratch_store
from tests.conftest import backend_url

NOT_PATHS: list[Any] = [None, 123, 1.5, b"crm.db", "", "   ", "crm\x00.db", ["crm.db"]]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test runs in an empty directory, so any file a call creates is seen."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


class TestSqlitePaths:
    @pytest.mark.parametrize("path", NOT_PATHS, ids=repr)
    @pytest.mark.parametrize("opener", [CRM.sqlite, SqlStore.sqlite], ids=["CRM", "SqlStore"])
    def test_something_that_is_no_path_is_refused_naming_path_and_creates_nothing(
        self, in_tmp: Path, opener: Any, path: Any
    ) -> None:
        """``None`` (an unset variable), a number, bytes, empty text or a NUL: no file named
        ``None`` or ``123``, no silent throw-away database."""
        with pytest.raises(ValidationError) as caught:
            opener(path)
        assert caught.value.paths == ("path",)
        assert list(in_tmp.iterdir()) == []

    def test_a_path_of_bytes_is_refused(self, in_tmp: Path) -> None:
        class BytesPath:
            def __fspath__(self) -> bytes:
                return b"crm.db"

        with pytest.raises(ValidationError) as caught:
            CRM.sqlite(BytesPath())  # type: ignore[arg-type]
        assert caught.value.paths == ("path",)

    def test_a_str_a_path_and_memory_are_taken(self, in_tmp: Path) -> None:
        CRM.sqlite("a.db").customers.register(given_name="Ada")
        CRM.sqlite(Path("b.db")).customers.register(given_name="Ada")
        CRM.sqlite(":memory:").customers.register(given_name="Ada")
        assert sorted(p.name for p in in_tmp.iterdir() if p.suffix == ".db") == ["a.db", "b.db"]

    def test_a_url_with_an_empty_path_is_refused(self, in_tmp: Path) -> None:
        """``f"sqlite:///{os.environ.get('DB', '')}"`` names no file: refused, where
        ``sqlite://`` and ``sqlite:///:memory:`` still ask for a throw-away database."""
        with pytest.raises(ConfigurationError, match="names no SQLite file"):
            CRM.from_url("sqlite:///")
        CRM.from_url("sqlite://").customers.register(given_name="Ada")
        CRM.from_url("sqlite:///:memory:").customers.register(given_name="Ada")
        assert list(in_tmp.iterdir()) == []

    def test_opening_without_migrating_needs_the_file_and_creates_none(self, in_tmp: Path) -> None:
        with pytest.raises(ConfigurationError, match=r"no SQLite database at 'typo\.db'"):
            CRM.sqlite("typo.db", migrate=False)
        with pytest.raises(ConfigurationError, match="no SQLite database"):
            CRM.from_url("sqlite:///typo.db", migrate=False)
        assert list(in_tmp.iterdir()) == []


class TestDbCurrentCreatesNothing:
    def test_a_mistyped_path_is_one_line_exit_1_and_no_file(
        self, in_tmp: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert cli(["db", "current", "--url", "sqlite:///typo.db"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("crmkit: there is no SQLite database at 'typo.db'")
        assert err.count("\n") == 1
        assert list(in_tmp.iterdir()) == []

    def test_an_existing_file_is_read(
        self, in_tmp: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        CRM.sqlite("crm.db")
        assert cli(["db", "current", "--url", "sqlite:///crm.db"]) == 0
        assert "revision 0008" in capsys.readouterr().out


def _at_revision(url: str, revision: str) -> None:
    store = scratch_store(url)
    with store.engine.begin() as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :v"), {"v": revision})
    store.dispose()


@pytest.fixture(params=["sqlite_file", "postgresql", "mariadb"])
def stored_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that outlives one store, on each SQL backend."""
    return backend_url(str(request.param), tmp_path)


class TestUnknownMigrations:
    def test_a_database_written_by_a_newer_crmkit_is_a_configuration_error(
        self, stored_url: str
    ) -> None:
        _at_revision(stored_url, "0099")
        for migrate in (True, False):
            with pytest.raises(ConfigurationError, match="written by a newer crmkit") as caught:
                CRM.from_url(stored_url, migrate=migrate)
            assert "0099" in str(caught.value)

    def test_an_unknown_target_revision_is_a_configuration_error(self, stored_url: str) -> None:
        engine = open_engine(stored_url)
        try:
            for revision in ("9999", "-1", ""):
                with pytest.raises(ConfigurationError, match="0001 to 0008"):
                    upgrade(engine, revision)
        finally:
            engine.dispose()

    def test_the_cli_says_so_in_one_line_and_exits_1(
        self, stored_url: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        scratch_store(stored_url).dispose()
        assert cli(["db", "upgrade", "--url", stored_url, "--revision", "9999"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("crmkit: cannot migrate to '9999'")
        assert err.count("\n") == 1
        _at_revision(stored_url, "0099")
        assert cli(["db", "upgrade", "--url", stored_url]) == 1
        err = capsys.readouterr().err
        assert "written by a newer crmkit" in err
        assert err.count("\n") == 1

    def test_the_console_script_prints_no_traceback(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'crm.db'}"
        _at_revision(url, "0099")
        for argv in (["upgrade", "--url", url], ["upgrade", "--url", url, "--revision", "9"]):
            done = subprocess.run(
                [sys.executable, "-m", "crmkit.cli", "db", *argv],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                check=False,
            )
            assert done.returncode == 1
            assert done.stderr.count("\n") == 1, done.stderr
            assert "Traceback" not in done.stderr
