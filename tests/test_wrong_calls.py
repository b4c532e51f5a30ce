"""A wrong call to the front door names the method the host called, never an internal class."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from crmkit import CRM
from crmkit.errors import ValidationError


def _public_methods() -> list[str]:
    names = []
    for name in dir(CRM):
        member = inspect.getattr_static(CRM, name)
        if not name.startswith("_") and inspect.isfunction(getattr(member, "__func__", member)):
            names.append(name)
    return names


METHODS = _public_methods()


def _takes_any_keyword(method: Callable[..., Any]) -> bool:
    kinds = {p.kind for p in inspect.signature(method).parameters.values()}
    return inspect.Parameter.VAR_KEYWORD in kinds


@pytest.fixture(scope="module")
def crm() -> CRM:
    return CRM.in_memory()


def test_the_front_door_has_many_methods() -> None:
    """The parametrised tests below cover every public method (a guard against an empty list)."""
    assert {"register_customer", "redeem_points", "record_interaction", "in_memory"} <= set(METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_an_unexpected_keyword_names_the_public_method(crm: CRM, name: str) -> None:
    method = getattr(crm, name)
    if _takes_any_keyword(method):
        pytest.skip("takes profile fields as keywords: an unknown one is a ValidationError")
    with pytest.raises(TypeError) as caught:
        method(emial="x")
    assert str(caught.value) == f"CRM.{name}() got an unexpected keyword argument 'emial'"


def test_a_positional_argument_too_many_names_the_public_method(crm: CRM) -> None:
    with pytest.raises(TypeError, match=r"^CRM\.register_customer\(\) takes 1 positional"):
        crm.customers.register("ada@example.com")  # type: ignore[misc]


def test_a_misspelt_profile_field_is_a_validation_error_naming_it(crm: CRM) -> None:
    """Profile fields arrive as keywords and are checked by name: a ValidationError."""
    with pytest.raises(ValidationError) as caught:
        crm.customers.register(emial="ada@example.com")
    assert caught.value.paths == ("emial",)


def test_a_misspelt_account_field_is_a_validation_error_naming_it(crm: CRM) -> None:
    account = crm.accounts.register(name="Acme")
    with pytest.raises(ValidationError) as caught:
        crm.accounts.update(account.id, nme="Acme Ltd")
    assert caught.value.paths == ("nme",)
