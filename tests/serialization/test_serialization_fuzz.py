"""Fuzzing the serialization entry points with mutated valid documents.

Each document is drawn from the public strategies, unstructured, then mutated: a random node
is replaced by something hostile (a lone surrogate, an integer of 5,000 digits, a datetime at
the edge of the range, NaN, a text where a list belongs, a list of 20,000 copies, nesting 60
levels deep). Whatever comes in, `structure`, `from_json` and `event_from_dict` answer with a
value or a `crmkit.errors.ValidationError` (nothing else is caught here), within a second.

Under the ``ci`` profile this runs a few examples per type; ``HYPOTHESIS_PROFILE=thorough``
runs twenty-five times as many.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit.errors import ValidationError
from crmkit.serialization import event_from_dict, event_to_dict, from_json, structure, unstructure
from crmkit.testing.strategies import domain_events
from tests.strategies import hostilely_mutated, serialisable_types

#: Any document is answered within this many seconds (a bounded-work guarantee, not a
#: benchmark: the documents here are far below the 10 MB the guarantee is about).
BOUND = 1.0

#: Two properties per type: half the profile's examples keeps the whole file well under a
#: minute under ``ci`` (and to minutes under ``thorough``).
fuzz = settings(
    max_examples=max(5, settings().max_examples // 2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KINDS = serialisable_types()


def answered_in_time(call: Callable[[], object]) -> None:
    """Run ``call``: a `ValidationError` is an answer, any other exception fails the test."""
    started = time.perf_counter()
    with contextlib.suppress(ValidationError):
        call()
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND, f"took {elapsed:.2f} s"


_HUGE = "__a_5000_digit_integer__"


def as_json_text(document: Any) -> str:
    """``document`` as JSON text, NaN and infinities as JavaScript writes them, and each
    integer too long for ``json.dumps`` written out in full (5,000 digits)."""

    def tame(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: tame(value) for key, value in node.items()}
        if isinstance(node, list):
            return [tame(value) for value in node]
        if isinstance(node, int) and node.bit_length() > 10_000:
            return _HUGE
        return node

    text = json.dumps(tame(document), default=str)
    return text.replace(f'"{_HUGE}"', "1" + "0" * 5_000)


@pytest.mark.parametrize("kind", KINDS, ids=lambda t: t.__name__)
@fuzz
@given(data=st.data())
def test_structure_answers_a_hostile_document_with_a_value_or_a_validation_error(
    kind: type, data: st.DataObject
) -> None:
    """`structure` raises nothing but ValidationError, in bounded time."""
    document = data.draw(hostilely_mutated(unstructure(data.draw(st.from_type(kind)))))
    answered_in_time(lambda: structure(document, kind))


@pytest.mark.parametrize("kind", KINDS, ids=lambda t: t.__name__)
@fuzz
@given(data=st.data())
def test_from_json_answers_hostile_text_with_a_value_or_a_validation_error(
    kind: type, data: st.DataObject
) -> None:
    """`from_json` too, when the hostile document comes as JSON text."""
    document = data.draw(hostilely_mutated(unstructure(data.draw(st.from_type(kind)))))
    text = as_json_text(document)
    assert len(text) < 10_000_000  # the guarantee is about documents of up to 10 MB
    answered_in_time(lambda: from_json(text, kind))


@fuzz
@given(data=st.data())
def test_event_from_dict_answers_a_hostile_event_with_an_event_or_a_validation_error(
    data: st.DataObject,
) -> None:
    """Mutated events (their tag included) are answered the same way."""
    document = data.draw(hostilely_mutated(event_to_dict(data.draw(domain_events()))))
    answered_in_time(lambda: event_from_dict(document))
