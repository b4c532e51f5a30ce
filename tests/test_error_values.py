"""Every crmkit error can show its offending value, whatever it is: an integer of thousands of
digits (which Python refuses to turn into text), a 10 MB string, a huge list, a lone
surrogate or an object whose ``repr`` fails. The message is bounded and printable, and out of
range integers are refused by their magnitude, never by converting them to text."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import CRM, FixedClock, Interaction, Money, Settings
from crmkit._reprs import LIMIT, int_digits, key_text, show
from crmkit.domain import validate_traits
from crmkit.errors import (
    ConcurrencyConflict,
    CrmError,
    CurrencyMismatch,
    DuplicateAccount,
    DuplicateCustomer,
    FieldError,
    GuardFailed,
    IdempotencyConflict,
    IllegalTransition,
    InsufficientPoints,
    NotFound,
    ReferralRefused,
    ValidationError,
)
from crmkit.segments import days, field, purchases, trait
from crmkit.serialization import structure
from tests.strategies import T0, hostile_scalars, huge_integers, wrong_values

HUGE = 10**5000  # 5001 digits: repr() and str() of it raise ValueError


class BrokenRepr:
    """A host's object whose ``repr`` fails."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def awkward_values() -> st.SearchStrategy[Any]:
    """Everything an error may be asked to show."""
    return st.one_of(
        wrong_values(),
        hostile_scalars(),
        st.just(BrokenRepr()),
        st.just("x" * 10**6),
        st.just(list(range(10**5))),
        st.just([[[[HUGE]]]]),
        st.just({HUGE: "\ud800", "k" * 1000: BrokenRepr()}),
    )


class TestShow:
    """`show` writes any value for a message: bounded, printable, never raising."""

    def test_an_integer_too_long_for_text_reads_as_its_number_of_digits(self) -> None:
        """``repr(10**5000)`` raises; the message says what it was instead."""
        assert show(HUGE) == "an integer of 5001 digits"
        assert show(-HUGE) == "a negative integer of 5001 digits"
        assert show([HUGE]) == "[an integer of 5001 digits]"

    @given(st.integers(-(10**60), 10**60))
    def test_an_integer_of_up_to_50_digits_reads_as_itself(self, value: int) -> None:
        """Ordinary integers (ids, amounts, versions) are shown as they are."""
        if int_digits(value) <= 50:
            assert show(value) == repr(value)
        else:
            assert show(value).endswith(f"integer of {int_digits(value)} digits")

    @given(st.integers(-(10**4000), 10**4000) | huge_integers())
    def test_digits_are_counted_without_text(self, value: int) -> None:
        """`int_digits` agrees with ``len(str(...))`` where that works at all."""
        if int_digits(value) < 4300:
            assert int_digits(value) == len(str(abs(value)))

    @given(awkward_values())
    def test_any_value_is_shown_bounded_and_printable(self, value: Any) -> None:
        """Never raises, never longer than the limit, always writable as UTF-8."""
        text = show(value)
        assert len(text) <= LIMIT
        text.encode("utf-8")

    def test_a_broken_repr_does_not_hide_the_error(self) -> None:
        """The object is named by its type instead."""
        assert "BrokenRepr" in show(BrokenRepr())

    def test_a_long_text_is_cut_before_it_is_written_out(self) -> None:
        """Showing 10 million characters takes no time and ends in an ellipsis."""
        started = time.perf_counter()
        text = show("x" * 10**7)
        assert time.perf_counter() - started < 0.05
        assert text.startswith("'xxx")
        assert text.endswith("...")

    def test_a_path_key_is_shown_printable_and_bounded(self) -> None:
        """Keys become path components: text as it is, escaped and cut when it must be."""
        assert key_text("plan") == "plan"
        assert key_text("a\ud800") == "a\\ud800"
        assert len(key_text("k" * 1000)) == 64
        assert key_text(HUGE) == "an integer of 5001 digits"
        assert key_text(7) == "7"


ERRORS: dict[str, Callable[[Any], CrmError | FieldError]] = {
    "FieldError": lambda v: FieldError("path", v, "is wrong"),
    "ValidationError": lambda v: ValidationError.single("path", v, "is wrong"),
    "CurrencyMismatch": lambda v: CurrencyMismatch("EUR", v),
    "NotFound": lambda v: NotFound("customer", v),
    "DuplicateCustomer": lambda v: DuplicateCustomer("email", v, v),
    "DuplicateAccount": lambda v: DuplicateAccount("domain", v, v),
    "IdempotencyConflict": lambda v: IdempotencyConflict("external_ref", v, v),
    "ConcurrencyConflict": lambda v: ConcurrencyConflict("customer", v, v),
    "IllegalTransition": lambda v: IllegalTransition("sales", v, v, ["lead"]),
    "GuardFailed": lambda v: GuardFailed("sales", v, v, "has field 'email'"),
    "InsufficientPoints": lambda v: InsufficientPoints(v, v, v),
    "ReferralRefused": lambda v: ReferralRefused(v, "the customer referred themselves"),
}


class TestEveryErrorConstructor:
    """Each error of `crmkit.errors` builds, prints and reprs with any value in any slot."""

    @pytest.mark.parametrize("name", sorted(ERRORS))
    @given(value=awkward_values())
    def test_any_value_makes_a_bounded_printable_message(self, name: str, value: Any) -> None:
        """No constructor raises; ``str`` and ``repr`` work, are short and encode as UTF-8."""
        error = ERRORS[name](value)
        for text in (str(error), repr(error)):
            text.encode("utf-8")
            assert len(text) < 8 * LIMIT

    def test_a_field_error_shows_a_huge_integer_by_its_size(self) -> None:
        """``FieldError.__repr__`` too: it used ``!r`` of the value."""
        error = FieldError("minor", HUGE, "is outside the signed 64-bit range")
        assert "an integer of 5001 digits" in str(error)
        assert "an integer of 5001 digits" in repr(error)


def _crm() -> CRM:
    return CRM.in_memory(Settings(clock=FixedClock(T0)))


def _with_customer(call: Callable[[CRM, str], object]) -> Callable[[], object]:
    def run() -> object:
        crm = _crm()
        return call(crm, crm.customers.register(given_name="Ada").id)

    return run


#: The entry points of the finding, and their siblings, each given a 5001-digit integer.
HUGE_INPUTS: dict[str, Callable[[], object]] = {
    "Money.of": lambda: Money.of(HUGE, "EUR"),
    "Money minor units": lambda: Money(HUGE, "EUR"),
    "Money.multiply": lambda: Money.of(1, "EUR").multiply(HUGE),
    "Money document": lambda: structure({"amount": HUGE, "currency": "EUR"}, Money),
    "get_customer": lambda: _crm().customers.get(HUGE),  # type: ignore[arg-type]
    "set_traits value": _with_customer(lambda crm, c: crm.customers.set_traits(c, {"n": HUGE})),
    "set_traits name": _with_customer(lambda crm, c: crm.customers.set_traits(c, {HUGE: 1})),  # type: ignore[dict-item]
    "trait decimal": lambda: validate_traits({"d": Decimal(HUGE)}),
    "metadata value": _with_customer(
        lambda crm, c: crm.interactions.record(c, kind="note", channel="web", metadata={"n": HUGE})
    ),
    "metadata key": _with_customer(
        lambda crm, c: crm.interactions.record(c, kind="note", channel="web", metadata={HUGE: 1})  # type: ignore[dict-item]
    ),
    "expected_version": _with_customer(
        lambda crm, c: crm.customers.update(c, expected_version=HUGE, given_name="Bo")
    ),
    "list limit": lambda: _crm().customers.list(limit=HUGE),
    "timeline limit": _with_customer(lambda crm, c: crm.interactions.timeline(c, limit=HUGE)),
    "segment trait operand": lambda: trait("n") == HUGE,
    "segment trait name": lambda: trait(HUGE).contains("x"),  # type: ignore[arg-type]
    "segment field name": lambda: field(HUGE) == "x",  # type: ignore[arg-type]
    "segment window": lambda: purchases(last=HUGE).count() >= 1,
    "days": lambda: days(HUGE),
    "interaction id": lambda: Interaction(HUGE, "c1", T0, "note", "web"),  # type: ignore[arg-type]
    "clock advance": lambda: FixedClock(T0).advance(days(HUGE)),
}


class TestHugeIntegersAtEveryEntryPoint:
    """Where a 5001-digit integer used to raise ``ValueError`` from ``repr``, crmkit now raises
    a `ValidationError` (or another crmkit error) that shows it by its size."""

    @pytest.mark.parametrize("where", sorted(HUGE_INPUTS))
    def test_a_huge_integer_is_refused_with_a_crmkit_error(self, where: str) -> None:
        """The error is typed, and its message names the integer by its number of digits."""
        with pytest.raises(CrmError) as caught:
            HUGE_INPUTS[where]()
        message = str(caught.value)
        message.encode("utf-8")
        assert len(message) < 8 * LIMIT
        if isinstance(caught.value, ValidationError):
            assert "an integer of 5001 digits" in message or "Decimal('1000" in message
