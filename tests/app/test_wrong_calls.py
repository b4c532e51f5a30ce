"""A wrong call to the front door is a `TypeError` naming the service method called (and the
misspelt parameter), never an internal helper: every parameter is explicit."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from crmkit import CRM
from tests.front_door import bound, public_methods

METHODS = [path for path, _ in public_methods()]


def _takes_any_keyword(method: Callable[..., Any]) -> bool:
    kinds = {p.kind for p in inspect.signature(method).parameters.values()}
    return inspect.Parameter.VAR_KEYWORD in kinds


@pytest.fixture(scope="module")
def crm() -> CRM:
    return CRM.in_memory()


def test_the_front_door_has_many_methods() -> None:
    """The parametrised tests below cover every public method (a guard against an empty list)."""
    assert {"customers.register", "loyalty.redeem", "interactions.record", "in_memory"} <= set(
        METHODS
    )


def test_no_method_takes_arbitrary_keywords() -> None:
    """No ``**profile``/``**changes``: a misspelt field is a TypeError mypy also catches."""
    assert [path for path, function in public_methods() if _takes_any_keyword(function)] == []


@pytest.mark.parametrize("path", METHODS)
def test_an_unexpected_keyword_names_the_public_method(crm: CRM, path: str) -> None:
    method = bound(crm, path)
    owner = type(getattr(method, "__self__", crm)).__name__
    if isinstance(getattr(method, "__self__", None), type):  # a class method of CRM
        owner = "CRM"
    with pytest.raises(TypeError) as caught:
        method(emial="x")
    name = path.rsplit(".", 1)[-1]
    assert str(caught.value) == f"{owner}.{name}() got an unexpected keyword argument 'emial'"


def test_a_positional_argument_too_many_names_the_public_method(crm: CRM) -> None:
    with pytest.raises(TypeError, match=r"^CustomerService\.register\(\) takes 1 positional"):
        crm.customers.register("ada@example.com")  # type: ignore[misc]


def test_a_misspelt_profile_field_is_a_type_error_naming_it(crm: CRM) -> None:
    """Profile fields are keyword parameters: a misspelt one is refused before any work."""
    with pytest.raises(TypeError, match="'emial'"):
        crm.customers.register(emial="ada@example.com")  # type: ignore[call-arg]
    assert crm.customers.count() == 0


def test_a_misspelt_account_field_is_a_type_error_naming_it(crm: CRM) -> None:
    account = crm.accounts.register(name="Acme")
    with pytest.raises(TypeError, match="'nme'"):
        crm.accounts.update(account.id, nme="Acme Ltd")  # type: ignore[call-arg]
    assert crm.accounts.get(account.id) == account
