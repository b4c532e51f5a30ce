"""crmkit's errors: one hierarchy, and messages that name the field path and the bad value."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import (
    CRM,
    Account,
    AccountLink,
    ConsentRecord,
    ContactPoint,
    Customer,
    EmailAddress,
    Interaction,
    Money,
    PhoneNumber,
    PostalAddress,
    Settings,
    TraitDefinition,
    TraitSchema,
)
from crmkit.domain import validate_traits
from crmkit.errors import (
    ConcurrencyConflict,
    ConfigurationError,
    Conflict,
    CrmError,
    CurrencyMismatch,
    DuplicateAccount,
    DuplicateCustomer,
    FieldError,
    IdempotencyConflict,
    NotFound,
    StorageError,
    UsageError,
    ValidationError,
)
from crmkit.serialization import structure, unstructure
from tests.strategies import T0, json_values, wrong_values


def shown(value: Any) -> str:
    """How a message shows a value: its repr, cut short when long."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77]


def assert_names_path_and_value(error: ValidationError, path: str, value: Any) -> None:
    """The error lists ``path`` with ``value``, and its message shows both."""
    found = [e for e in error.errors if e.path == path]
    assert found, f"{path!r} not among {error.paths}"
    assert found[0].value == value
    assert f"{path or '<root>'}: " in str(error)
    assert shown(value) in str(error)


def refusal(call: Callable[[], object]) -> ValidationError | None:
    """The ValidationError ``call`` raises, or ``None`` if it succeeds."""
    try:
        call()
    except ValidationError as error:
        return error
    return None


def ada_document() -> dict[str, Any]:
    return unstructure(Customer.register("c1", at=T0, address=PostalAddress("DE")))  # type: ignore[arg-type]


BAD_INPUTS: list[tuple[str, Callable[[], object], str, Any]] = [
    ("money amount", lambda: Money.of("1.234", "EUR"), "amount", "1.234"),
    ("money currency", lambda: Money.of("1", "EURO"), "currency", "EURO"),
    ("money minor", lambda: Money(1.5, "EUR"), "minor", 1.5),  # type: ignore[arg-type]
    ("currency mismatch", lambda: Money(1, "EUR") + Money(1, "USD"), "currency", "USD"),
    ("email", lambda: EmailAddress("ada@"), "email", "ada@"),
    ("phone", lambda: PhoneNumber.parse("12", "DE"), "phone", "12"),
    ("region", lambda: PhoneNumber.parse("12", "Germany"), "region", "Germany"),
    ("country", lambda: PostalAddress("Germany"), "country", "Germany"),
    (
        "naive time",
        lambda: Customer.register("c1", at=datetime(2024, 1, 1)),
        "created_at",
        datetime(2024, 1, 1),
    ),  # type: ignore[arg-type]
    ("customer id", lambda: Customer.register("c 1", at=T0), "id", "c 1"),  # type: ignore[arg-type]
    ("account name", lambda: Account.register("a1", name="", at=T0), "name", ""),  # type: ignore[arg-type]
    ("consent purpose", lambda: ConsentRecord("Ads", None, "granted", T0, "f"), "purpose", "Ads"),
    (
        "interaction kind",
        lambda: Interaction("i1", "c1", T0, "Big Sale", "web"),  # type: ignore[arg-type]
        "kind",
        "Big Sale",
    ),
    (
        "trait type",
        lambda: validate_traits({"seats": "3"}, TraitSchema({"seats": TraitDefinition("integer")})),
        "traits.seats",
        "3",
    ),
    ("trait schema", lambda: TraitDefinition("float"), "type", "float"),  # type: ignore[arg-type]
    ("tenant", lambda: CRM.in_memory(Settings(tenant="Shop A")), "tenant", "Shop A"),
    (
        "nested document",
        lambda: structure({**ada_document(), "address": {"country": "XX"}}, Customer),
        "address.country",
        "XX",
    ),
    (
        "list item in a document",
        lambda: structure({**ada_document(), "tags": ["ok", 7]}, Customer),
        "tags[1]",
        7,
    ),
]


class TestHierarchy:
    """Every error is a `CrmError`; each branch is also the matching builtin."""

    @pytest.mark.parametrize(
        ("error", "bases"),
        [
            (ValidationError, (CrmError, ValueError)),
            (CurrencyMismatch, (ValidationError,)),
            (NotFound, (CrmError, LookupError)),
            (DuplicateCustomer, (Conflict,)),
            (DuplicateAccount, (Conflict,)),
            (IdempotencyConflict, (Conflict,)),
            (ConcurrencyConflict, (Conflict,)),
            (Conflict, (CrmError,)),
            (ConfigurationError, (CrmError,)),
            (StorageError, (CrmError,)),
            (UsageError, (CrmError,)),
        ],
    )
    def test_each_error_derives_from_its_family(
        self, error: type[Exception], bases: tuple[type[Exception], ...]
    ) -> None:
        """Hosts can catch by family, or by the builtin they already handle."""
        assert issubclass(error, bases)

    def test_only_a_concurrency_conflict_is_a_retryable_conflict(self) -> None:
        """Among conflicts, retrying helps only when another writer got there first."""
        assert ConcurrencyConflict("customer", "c1", 1).retryable
        assert not DuplicateCustomer("email", "a@b.cd", "c1").retryable
        assert not ValidationError.single("x", 1, "bad").retryable

    def test_a_storage_error_says_whether_a_retry_may_help(self) -> None:
        """A lost connection may heal; a full disk will not."""
        assert StorageError("connection lost", retryable=True).retryable
        assert not StorageError("disk full").retryable


class TestFieldError:
    """One problem with one field."""

    def test_it_shows_path_message_and_value(self) -> None:
        """``path: message (got value)``; the root is shown as ``<root>``."""
        assert str(FieldError("address.country", "XX", "unknown")) == (
            "address.country: unknown (got 'XX')"
        )
        assert str(FieldError("", None, "missing")) == "<root>: missing (got None)"

    def test_long_values_are_cut_short(self) -> None:
        """A log line stays readable."""
        assert str(FieldError("note", "x" * 500, "too long")).endswith("...)")

    @pytest.mark.parametrize(
        ("path", "prefix", "result"),
        [
            ("country", "address", "address.country"),
            ("[2].at", "consents", "consents[2].at"),
            ("", "email", "email"),
            ("x", "", "x"),
        ],
    )
    def test_prefixing_joins_paths(self, path: str, prefix: str, result: str) -> None:
        """Dots join names; indexes attach directly."""
        assert FieldError(path, 1, "m").prefixed(prefix).path == result

    def test_equality_is_by_path_and_message(self) -> None:
        """Two reports of the same problem are equal whatever value object they carry."""
        assert FieldError("a", [1], "bad") == FieldError("a", [2], "bad")
        assert hash(FieldError("a", 1, "bad")) == hash(FieldError("a", 2, "bad"))
        assert FieldError("a", 1, "bad") != FieldError("b", 1, "bad")


class TestValidationError:
    """A ValidationError carries every FieldError."""

    def test_the_message_lists_every_problem(self) -> None:
        """Problems are joined with ``;`` in order."""
        error = ValidationError([FieldError("a", 1, "bad"), FieldError("b", 2, "worse")])
        assert str(error) == "a: bad (got 1); b: worse (got 2)"
        assert error.paths == ("a", "b")

    def test_an_empty_list_still_says_something(self) -> None:
        """There is always at least one problem to show."""
        assert str(ValidationError([])) == "<root>: invalid input (got None)"

    def test_prefixing_moves_every_path(self) -> None:
        """Nested validation reports paths from the outer root."""
        error = ValidationError([FieldError("a", 1, "bad"), FieldError("[0]", 2, "bad")])
        assert error.prefixed("outer").paths == ("outer.a", "outer[0]")

    def test_a_prefixed_currency_mismatch_is_a_plain_validation_error(self) -> None:
        """Once moved under a path it no longer claims to be the arithmetic error itself."""
        moved = CurrencyMismatch("EUR", "USD").prefixed("amount")
        assert type(moved) is ValidationError
        assert moved.paths == ("amount.currency",)


class TestMessagesNameThePathAndTheValue:
    """Every ValidationError says where the problem is and what was there."""

    @pytest.mark.parametrize(
        ("call", "path", "value"),
        [pytest.param(call, path, value, id=name) for name, call, path, value in BAD_INPUTS],
    )
    def test_a_bad_input_is_reported_at_its_path_with_its_value(
        self, call: Callable[[], object], path: str, value: Any
    ) -> None:
        """From constructors, parsers, the converter and the front door alike."""
        with pytest.raises(ValidationError) as caught:
            call()
        assert_names_path_and_value(caught.value, path, value)

    def test_an_amount_too_large_to_store_is_reported_on_amount(self) -> None:
        """``Money.of`` has no ``minor`` argument: the error must name ``amount`` and the
        amount as the caller wrote it."""
        with pytest.raises(ValidationError) as caught:
            Money.of("100000000000000000000", "EUR")
        assert_names_path_and_value(caught.value, "amount", "100000000000000000000")

    @given(st.text(max_size=120))
    def test_refused_text_is_quoted_in_the_message(self, text: str) -> None:
        """Whatever text is refused by Money, EmailAddress or PhoneNumber, the message
        shows it (cut short if long) under its field."""
        for path, parse in (
            ("amount", lambda: Money.of(text, "EUR")),
            ("email", lambda: EmailAddress(text)),
            ("phone", lambda: PhoneNumber.parse(text, "DE")),
        ):
            error = refusal(parse)
            if error is not None:
                assert_names_path_and_value(error, path, text)

    @given(json_values())
    def test_every_problem_of_a_document_is_in_the_message(self, document: Any) -> None:
        """A refused document's message lists each problem with its path."""
        error = refusal(lambda: structure(document, Customer))
        for problem in error.errors if error is not None else ():
            assert str(problem) in str(error)
            assert f"{problem.path or '<root>'}: " in str(error)


#: A valid set of arguments for each domain class, to spoil one field at a time.
VALID_ARGUMENTS: dict[type, dict[str, Any]] = {
    Money: {"minor": 1, "currency": "EUR"},
    EmailAddress: {"value": "ada@example.com"},
    PhoneNumber: {"e164": "+4930123456"},
    ContactPoint: {"value": EmailAddress("ada@example.com")},
    ConsentRecord: {
        "purpose": "news",
        "channel": None,
        "status": "granted",
        "at": T0,
        "source": "f",
    },
    AccountLink: {"account_id": "a1"},
    Customer: {"id": "c1", "created_at": T0, "updated_at": T0},
    Account: {"id": "a1", "name": "Acme", "created_at": T0, "updated_at": T0},
    Interaction: {
        "id": "i1",
        "customer_id": "c1",
        "occurred_at": T0,
        "kind": "note",
        "channel": "web",
    },
}


class TestWrongTypes:
    """A value of the wrong type is bad input: a ValidationError, never a bare TypeError."""

    @pytest.mark.parametrize("kind", list(VALID_ARGUMENTS), ids=lambda t: t.__name__)
    @given(data=st.data())
    def test_a_wrong_value_in_any_field_raises_validation_error_only(
        self, kind: type, data: st.DataObject
    ) -> None:
        """Whatever one field receives, construction succeeds or raises ValidationError."""
        fields = [a.alias for a in attrs.fields(kind) if a.init]
        field = data.draw(st.sampled_from(fields))
        arguments = {**VALID_ARGUMENTS[kind], field: data.draw(wrong_values())}
        error = refusal(lambda: kind(**arguments))
        assert error is None or error.errors

    @pytest.mark.parametrize(
        "build",
        [
            pytest.param(lambda: PostalAddress(["DE"]), id="country-list"),  # type: ignore[arg-type]
            pytest.param(lambda: TraitDefinition("string", required=1), id="required-int"),  # type: ignore[arg-type]
            pytest.param(lambda: TraitSchema({}, allow_undeclared="yes"), id="allow-text"),  # type: ignore[arg-type]
            pytest.param(lambda: TraitSchema(None), id="traits-none"),  # type: ignore[arg-type]
            pytest.param(lambda: TraitSchema("plan"), id="traits-text"),  # type: ignore[arg-type]
        ],
    )
    def test_address_and_schema_fields_refuse_wrong_types_with_validation_error(
        self, build: Callable[[], object]
    ) -> None:
        """These fields, too, report a wrong type as a ValidationError naming the field."""
        with pytest.raises(ValidationError):
            build()


class TestOtherErrors:
    """Not-found and conflict errors name what they are about."""

    def test_not_found_names_the_kind_and_the_key(self) -> None:
        """``customer not found: 'c9'``."""
        error = NotFound("customer", "c9")
        assert (error.kind, error.key, str(error)) == ("customer", "c9", "customer not found: 'c9'")

    def test_a_duplicate_names_the_field_the_value_and_the_owner(self) -> None:
        """Enough to tell the user which record already has it."""
        error = DuplicateCustomer("email", "ada@example.com", "c1")
        assert "email" in str(error)
        assert "'ada@example.com'" in str(error)
        assert "'c1'" in str(error)

    def test_an_idempotency_conflict_names_the_reference(self) -> None:
        """The reference and the stored interaction are named."""
        error = IdempotencyConflict("external_ref", "order-1", "i1")
        assert "'order-1'" in str(error)
        assert "'i1'" in str(error)

    def test_a_concurrency_conflict_names_the_aggregate_and_version(self) -> None:
        """It says which aggregate moved on from which version."""
        error = ConcurrencyConflict("account", "a1", 3)
        assert "account 'a1'" in str(error)
        assert "version 3" in str(error)
