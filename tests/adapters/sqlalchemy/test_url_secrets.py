"""Database URLs never show a secret: `masked` hides passwords (an unescaped ``@`` in one
included), credential query parameters and what a password spilled into; every failure to
open or first connect is a `ConfigurationError` that names the masked URL, quotes no secret
and chains no driver error, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import traceback
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import URL, create_engine

from crmkit import CRM
from crmkit.adapters.sqlalchemy import SqlStore, current_revision, masked, open_engine
from crmkit.adapters.sqlalchemy.urls import redact
from crmkit.cli import main as cli
from crmkit.errors import ConfigurationError
from crmkit.testing.databases import MYSQL_URL_ENV, POSTGRES_URL_ENV, server_url

SECRET = "S3CR3T"
#: A PostgreSQL URL nobody listens on: connecting fails at once, with the driver's words.
NOBODY = "postgresql+psycopg://crm@127.0.0.1:1/crm"
CREDENTIALS = ("password", "passwd", "sslpassword", "passfile", "sslkey", "api_key", "token")


def _formatted(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


def _server(env: str) -> str:
    url = server_url(env)
    if url is None:
        pytest.skip(f"needs a server: set {env}")
    return url


class TestMasking:
    @pytest.mark.parametrize("parameter", CREDENTIALS)
    def test_a_password_in_the_query_string_is_masked(self, parameter: str) -> None:
        """Credential query parameters show as ***; the others stay readable."""
        url = f"postgresql://crm@db/crm?sslmode=require&{parameter}={SECRET}"
        assert masked(url) == f"postgresql://crm@db/crm?sslmode=require&{parameter}=***"

    def test_a_password_with_an_unescaped_at_is_masked_to_its_last_at(self) -> None:
        """SQLAlchemy ends the password at the first @; the writer meant the last one."""
        url = f"postgresql+psycopg://postgres:pa@{SECRET}@127.0.0.1:5432/crm"
        assert masked(url) == "postgresql+psycopg://postgres:***@127.0.0.1:5432/crm"

    def test_a_password_that_spills_into_the_database_name_is_masked(self) -> None:
        """An unescaped @ and / in a password: SQLAlchemy reads a host and a database."""
        url = f"postgresql://crm:pa@S3/{SECRET}@db:5432/crm"
        assert masked(url) == "postgresql://crm:***@db:5432/crm"

    def test_a_credential_value_holding_an_at_is_masked_whole(self) -> None:
        """An @ in a credential parameter's value hides all of that value, too."""
        assert SECRET not in masked(f"postgresql://crm@db:5432/crm?password=pa@{SECRET}")
        assert SECRET not in masked(f"postgresql://crm:pw@db/crm?password=pa@{SECRET}")

    def test_a_url_object_is_masked_like_its_text(self) -> None:
        """URL objects, made by the host or parsed by SQLAlchemy, hide the same secrets."""
        url = URL.create(
            "postgresql", "crm", f"p@{SECRET}", "db", 5432, "crm", {"sslpassword": SECRET}
        )
        assert masked(url) == "postgresql://crm:***@db:5432/crm?sslpassword=***"

    def test_a_url_without_secrets_is_shown_as_written(self) -> None:
        """Nothing but secrets is hidden: paths, hosts and options stay as they were."""
        for url in ("sqlite:///:memory:", "sqlite:////srv/a@b/crm.db", "mysql://root@h/x?a=1"):
            assert masked(url) == url

    def test_redacting_a_drivers_message_hides_what_the_password_spilled_into(self) -> None:
        """A driver quotes the 'host' it could not resolve: the end of a password."""
        url = f"postgresql://postgres:pa@{SECRET}@127.0.0.1/crm"
        message = f"failed to resolve host '{SECRET}@127.0.0.1'"
        assert SECRET not in redact(message, url)


_SECRET_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=16
).map(lambda core: f"Zq{core}Qz")  # markers no other part of the URL holds


class TestNoSecretSurvivesMasking:
    @given(secret=_SECRET_TEXT, escaped=st.booleans())
    def test_a_password_in_the_user_info(self, secret: str, escaped: bool) -> None:
        """Whatever the password holds, written raw or percent-escaped, it never shows."""
        password = quote(secret, safe="") if escaped else secret
        url = f"postgresql+psycopg://crm:{password}@db.example:5432/crm?sslmode=require"
        assert secret not in masked(url)
        assert password not in masked(url)

    @given(secret=_SECRET_TEXT, parameter=st.sampled_from(CREDENTIALS), first=st.booleans())
    def test_a_credential_in_the_query(self, secret: str, parameter: str, first: bool) -> None:
        """A credential parameter's value never shows, first or last, raw or escaped."""
        for value in {quote_plus(secret), secret.replace("&", "")}:
            options = [f"{parameter}={value}", "sslmode=require"]
            query = "&".join(options if first else options[::-1])
            url = f"postgresql+psycopg://crm@db.example:5432/crm?{query}"
            assert value not in masked(url)

    @given(secret=_SECRET_TEXT, parameter=st.sampled_from(CREDENTIALS))
    def test_a_url_object(self, secret: str, parameter: str) -> None:
        """A URL object's password and credential parameters never show."""
        url = URL.create("mariadb+pymysql", "crm", secret, "db", None, "crm", {parameter: secret})
        assert secret not in masked(url)


class TestConfigurationErrorsQuoteNoSecret:
    @given(secret=_SECRET_TEXT, parameter=st.sampled_from(CREDENTIALS))
    def test_no_generated_secret_reaches_a_configuration_error(
        self, secret: str, parameter: str
    ) -> None:
        """From the URL to the formatted exception: a refused option's error hides the
        credential beside it, whatever it holds."""
        url = f"sqlite:////nowhere/crm.db?{parameter}={quote_plus(secret)}&timeout=abc"
        with pytest.raises(ConfigurationError, match="refused its options") as caught:
            open_engine(url)
        assert secret not in _formatted(caught.value)
        assert quote_plus(secret) not in _formatted(caught.value)

    @pytest.mark.parametrize(
        "url",
        [
            f"{NOBODY}?password={SECRET}",
            f"{NOBODY}?sslpassword={SECRET}&passfile=/run/{SECRET}",
            f"postgresql+psycopg://crm:pa@{SECRET}@127.0.0.1:1/crm",
            f"postgresql+psycopg://crm:{SECRET}@127.0.0.1:1/crm",
        ],
    )
    def test_a_failed_open_names_the_url_masked(self, url: str) -> None:
        """Neither the message nor the formatted exception holds the secret."""
        with pytest.raises(ConfigurationError, match="cannot connect to") as caught:
            CRM.from_url(url)
        assert SECRET not in _formatted(caught.value)
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None

    def test_the_cli_prints_the_url_masked(self, capsys: pytest.CaptureFixture[str]) -> None:
        """``crmkit db current`` shows no secret, on failure or on success."""
        assert cli(["db", "current", "--url", f"{NOBODY}?password={SECRET}"]) == 1
        url = _server(POSTGRES_URL_ENV)
        assert cli(["db", "current", "--url", f"{url}?password={SECRET}"]) == 0
        printed = capsys.readouterr()
        assert SECRET not in printed.out + printed.err
        assert "password=***" in printed.out
        assert "password=***" in printed.err


#: Driver options each backend refuses, and the untyped error each raised before.
BAD_OPTIONS = {
    "sqlite": ["timeout=abc", "check_same_thread=maybe"],
    "postgresql": ["connect_timeout=abc", "keepalives=abc", "sslmode=nosuch", "nosuch=1"],
    "mariadb": ["read_timeout=abc", "charset=nosuch", "connect_timeout=abc", "nosuch=1"],
}


def _url_with(backend: str, option: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}?{option}"
    env = POSTGRES_URL_ENV if backend == "postgresql" else MYSQL_URL_ENV
    return f"{_server(env)}?{option}&password={SECRET}"


class TestBadDriverOptions:
    @pytest.mark.parametrize(
        ("backend", "option"), [(b, o) for b, options in BAD_OPTIONS.items() for o in options]
    )
    def test_a_bad_option_is_a_configuration_error(
        self, backend: str, option: str, tmp_path: Path
    ) -> None:
        """An option the driver refuses is a ConfigurationError naming the masked URL."""
        url = _url_with(backend, option, tmp_path)
        with pytest.raises(ConfigurationError) as caught:
            open_engine(url)
        assert masked(url) in str(caught.value)
        assert SECRET not in _formatted(caught.value)
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None

    @pytest.mark.parametrize(
        ("backend", "option"),
        [
            ("sqlite", "mode=ro&uri=true"),
            ("postgresql", "sslmode=nosuch"),
            ("mariadb", "charset=nosuch"),
        ],
    )
    def test_a_hosts_engine_that_cannot_connect_is_a_configuration_error(
        self, backend: str, option: str, tmp_path: Path
    ) -> None:
        """CRM.from_url(engine) connects once, and says so when the engine cannot work."""
        engine = create_engine(_url_with(backend, option, tmp_path / "missing"))
        with pytest.raises(ConfigurationError, match="cannot ") as caught:
            CRM.from_url(engine)
        assert masked(engine.url) in str(caught.value)
        assert SECRET not in _formatted(caught.value)

    def test_every_use_of_a_hosts_engine_refused_by_its_driver_is_a_configuration_error(
        self,
    ) -> None:
        """SqlStore(engine) connects later: each first use says the same, never ValueError."""
        engine = create_engine(f"{_server(MYSQL_URL_ENV)}?charset=nosuch&password={SECRET}")
        store = SqlStore(engine)
        uses = [
            lambda: CRM(store).customers.get("c1"),
            lambda: store.outbox().pending(),
            lambda: current_revision(engine),
            store.upgrade,
        ]
        for use in uses:
            with pytest.raises(ConfigurationError, match="refused its options") as caught:
                use()
            assert SECRET not in _formatted(caught.value)
