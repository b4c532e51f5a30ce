"""Accounts: the companies a B2B host sells to, and the links of customers to them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given

from crmkit import Account, AccountId, AccountLink, CompanySize
from crmkit.domain import normalize_web_domain
from crmkit.errors import ValidationError
from crmkit.events import AccountChanged, AccountRegistered
from crmkit.testing.strategies import web_domains
from tests.strategies import T0

LATER = T0 + timedelta(days=1)


def acme(**fields: object) -> Account:
    return Account.register(AccountId("a1"), name="Acme", at=T0, **fields)  # type: ignore[arg-type]


class TestNormalizeWebDomain:
    """Company web domains are stored as bare host names."""

    @pytest.mark.parametrize(
        ("raw", "domain"),
        [
            ("https://www.Example.com/", "example.com"),
            ("http://shop.example.co.uk/path?q=1", "shop.example.co.uk"),
            ("EXAMPLE.com.", "example.com"),
            ("  example.com ", "example.com"),
        ],
    )
    def test_urls_and_spellings_become_the_host(self, raw: str, domain: str) -> None:
        """Scheme, ``www.``, path, trailing dot, case and space are dropped."""
        assert normalize_web_domain(raw) == domain

    @pytest.mark.parametrize("raw", ["localhost", "ex ample.com", "", "https://", "a.123", 7])
    def test_anything_but_a_domain_is_refused(self, raw: object) -> None:
        """The error names the field and the value as given."""
        with pytest.raises(ValidationError) as caught:
            normalize_web_domain(raw)
        assert caught.value.paths == ("domain",)
        assert caught.value.errors[0].value == raw

    @given(web_domains())
    def test_normal_domains_are_fixed_points(self, domain: str) -> None:
        """A normalised domain normalises to itself."""
        assert normalize_web_domain(domain) == domain
        assert normalize_web_domain(f"https://www.{domain}/") == domain


class TestRegister:
    """`Account.register` creates an account and records `AccountRegistered`."""

    def test_a_new_account_is_at_version_0_with_one_event(self) -> None:
        """Its fields are normalised; the event carries the account id."""
        account = acme(domain="https://www.Acme.com/", size="10-49", industry="retail")
        assert (account.domain, account.size, account.version) == (
            "acme.com",
            CompanySize.SMALL,
            0,
        )
        assert account.pull_events() == [AccountRegistered(T0, account_id=AccountId("a1"))]

    @pytest.mark.parametrize(
        ("field", "value"), [("name", "  "), ("size", "huge"), ("industry", "")]
    )
    def test_a_bad_field_is_refused_by_name(self, field: str, value: object) -> None:
        """Name must be text, size a known band, industry non-blank if given."""
        with pytest.raises(ValidationError) as caught:
            Account.register(AccountId("a1"), **{"name": "Acme", "at": T0, field: value})  # type: ignore[arg-type]
        assert caught.value.paths == (field,)


class TestUpdate:
    """`Account.update` changes editable fields and reports which changed."""

    def test_changed_fields_are_returned_and_recorded(self) -> None:
        """`AccountChanged` names the changed fields, sorted."""
        account = acme()
        account.pull_events()
        assert set(account.update(at=LATER, size="1000+", name="Acme Corp")) == {"size", "name"}
        assert account.updated_at == LATER
        assert account.pull_events() == [
            AccountChanged(LATER, account_id=AccountId("a1"), fields=("name", "size"))
        ]

    def test_the_same_values_change_nothing(self) -> None:
        """No change, no event, no new timestamp."""
        account = acme(domain="acme.com")
        account.pull_events()
        assert account.update(at=LATER, name="Acme", domain="https://acme.com") == ()
        assert account.pull_events() == []
        assert account.updated_at == T0

    def test_a_field_that_is_not_editable_is_refused(self) -> None:
        """Ids, versions and timestamps are not changed through ``update``."""
        with pytest.raises(ValidationError) as caught:
            acme().update(at=LATER, version=3)
        assert caught.value.paths == ("version",)

    def test_a_bad_value_changes_nothing(self) -> None:
        """Every change is checked before any is applied."""
        account = acme()
        with pytest.raises(ValidationError):
            account.update(at=LATER, name="New", domain="not a domain")
        assert account.name == "Acme"


class TestAccountLink:
    """A customer's place in an account."""

    def test_the_default_role_is_contact(self) -> None:
        """Without a role, a customer is a plain contact."""
        assert AccountLink(AccountId("a1")).role == "contact"

    @pytest.mark.parametrize(
        ("account_id", "role", "path"), [("a 1", "x", "account_id"), ("a1", "Boss", "role")]
    )
    def test_a_bad_id_or_role_is_refused(self, account_id: str, role: str, path: str) -> None:
        """The id must be well formed and the role a slug."""
        with pytest.raises(ValidationError) as caught:
            AccountLink(AccountId(account_id), role)
        assert caught.value.paths == (path,)
