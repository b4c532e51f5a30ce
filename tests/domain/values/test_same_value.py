"""One notion of equality for stored values: ``True`` is not ``1``, anywhere in crmkit.

Python holds ``True == 1`` and ``Decimal(1) == 1``; stores and segments keep them apart (a
JSON ``true`` is not the number ``1``, a boolean trait is not an integer trait). So replays,
"nothing changed" checks and segment metadata all ask `same_value`, on every adapter.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit import CRM, Channel, CustomerId, FixedClock, Money, SequentialIds, Settings
from crmkit.adapters.memory import InMemoryStore
from crmkit.domain import AggregateCondition, Customer, Facts, Interaction
from crmkit.domain._frozen import FrozenMap
from crmkit.domain._same import same_value
from crmkit.domain.rules.leaves import TraitCondition
from crmkit.errors import IdempotencyConflict
from crmkit.testing.databases import scratch_store
from tests.conftest import backend_url
from tests.workers import private_database

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)


class TestSameValue:
    """`same_value` compares the kind of a value as well as the value."""

    @pytest.mark.parametrize(
        ("a", "b"),
        [
            (True, 1),
            (False, 0),
            (Decimal(1), 1),
            (1.0, 1),
            ("1", 1),
            ("true", True),
            (datetime(2024, 1, 1, tzinfo=UTC), date(2024, 1, 1)),
            ({"flag": True}, {"flag": 1}),
            ({"a": 1}, {"a": 1, "b": 2}),
            ({"a": 1}, {"b": 1}),
            ((1,), (True,)),
            (("a", "b"), ("b", "a")),
            (frozenset({1}), frozenset({True})),
            (None, False),
        ],
    )
    def test_values_of_another_kind_differ(self, a: object, b: object) -> None:
        """Python calls each of these pairs equal (or near enough); a store does not."""
        assert not same_value(a, b)
        assert not same_value(b, a)

    @pytest.mark.parametrize(
        ("a", "b"),
        [
            (1, 1),
            (True, True),
            (Decimal("1.0"), Decimal("1")),
            (Channel.EMAIL, "email"),
            (("a", "b"), ["a", "b"]),
            ({"n": 1, "s": "x"}, FrozenMap({"s": "x", "n": 1})),
            (frozenset({"vip"}), {"vip"}),
            (Money(100, "EUR"), Money(100, "EUR")),
        ],
    )
    def test_equal_values_of_one_kind_are_the_same(self, a: object, b: object) -> None:
        """A decimal's trailing zeros, a StrEnum stored as its text, a tuple read back as a
        list: one kind, one value."""
        assert same_value(a, b)
        assert same_value(b, a)

    def test_a_frozen_map_compares_by_type(self) -> None:
        """The domain's mappings (metadata, traits) use it for ``==``, whichever side."""
        assert FrozenMap({"flag": 1}) != FrozenMap({"flag": True})
        assert FrozenMap({"flag": 1}) != {"flag": True}
        assert FrozenMap({"flag": 1}) != {"flag": True}
        assert FrozenMap({"flag": 1}) == {"flag": 1}
        assert hash(FrozenMap({"flag": 1})) == hash(FrozenMap({"flag": 1}))


class TestTheDomainUsesIt:
    def test_interactions_with_1_and_true_have_different_content(self) -> None:
        def made(flag: object) -> Interaction:
            return Interaction("i1", "c1", T0, "purchase", "web", metadata={"flag": flag})

        assert not made(1).same_content(made(True))
        assert made(1) != made(True)
        assert made(True).same_content(made(True))

    def test_setting_true_over_1_changes_the_trait(self) -> None:
        """The trait becomes a boolean (a segment on ``active = true`` now finds it)."""
        crm = CRM.in_memory(Settings(clock=FixedClock(T0)))
        customer = crm.customers.register(given_name="Ada", traits={"active": 1})
        updated = crm.customers.set_traits(customer.id, {"active": True})
        assert type(updated.traits["active"]) is bool
        assert updated.version == customer.version + 1
        rule = TraitCondition("active", "boolean", "eq", True)
        assert crm.segments.count(rule) == 1

    def test_setting_a_decimal_over_an_equal_int_changes_the_trait(self) -> None:
        crm = CRM.in_memory(Settings(clock=FixedClock(T0)))
        customer = crm.customers.register(given_name="Ada", traits={"ratio": 1})
        updated = crm.customers.set_traits(customer.id, {"ratio": Decimal(1)})
        assert type(updated.traits["ratio"]) is Decimal

    def test_segment_metadata_text_matches_a_strenum_value(self) -> None:
        """A StrEnum member is stored as its text, and SQL matches it as text: so does the
        domain (it used to require the exact Python type)."""
        interaction = Interaction("i1", "c1", T0, "purchase", "web", metadata={"via": Channel.SMS})
        facts = Facts(as_of=T0, interactions=[interaction])
        assert AggregateCondition("count", "ge", 1, metadata={"via": "sms"}).holds(facts)
        assert not AggregateCondition("count", "ge", 1, metadata={"n": True}).holds(
            Facts(as_of=T0, interactions=[attrs.evolve(interaction, metadata={"n": 1})])
        )


# The same answers from every adapter.

BACKENDS = ["memory", "sqlite_file", "postgresql", "mariadb"]


@pytest.fixture(scope="module", params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """One store of each adapter for the module (the tests use fresh references)."""
    if request.param == "memory":
        yield InMemoryStore()
        return
    url = backend_url(request.param, tmp_path_factory.mktemp(request.param))
    with private_database(url) as private:
        sql = scratch_store(private)
        try:
            yield sql
        finally:
            sql.dispose()


@pytest.fixture(scope="module")
def crm(store: Any) -> CRM:
    """A CRM on the store, with customer ``ada`` to record interactions for."""
    crm = CRM(store, Settings(tenant="same", clock=FixedClock(T0), ids=SequentialIds("s")))
    crm.customers.import_many([Customer(CustomerId("ada"), created_at=T0, updated_at=T0)])
    return crm


_refs = itertools.count()


def record(crm: CRM, content: dict[str, Any], ref: str) -> Interaction:
    return crm.interactions.record("ada", occurred_at=T0, external_ref=ref, **content)


class TestReplaysOnEveryAdapter:
    @pytest.mark.parametrize(("first", "second"), [(1, True), (True, 1), (0, False), (False, 0)])
    def test_a_replay_of_1_for_true_conflicts(
        self, crm: CRM, first: object, second: object
    ) -> None:
        """``metadata={"flag": 1}`` is not a replay of ``{"flag": True}``, nor the reverse."""
        ref = f"flag-{next(_refs)}"
        stored = record(
            crm, {"kind": "purchase", "channel": "web", "metadata": {"flag": first}}, ref
        )
        with pytest.raises(IdempotencyConflict):
            record(crm, {"kind": "purchase", "channel": "web", "metadata": {"flag": second}}, ref)
        again = record(
            crm, {"kind": "purchase", "channel": "web", "metadata": {"flag": first}}, ref
        )
        assert again == stored
        assert type(again.metadata["flag"]) is type(first)

    def test_setting_true_over_1_is_stored_as_a_boolean(self, crm: CRM) -> None:
        customer = crm.customers.register(given_name="Bo", traits={"active": 1})
        updated = crm.customers.set_traits(customer.id, {"active": True})
        assert updated.version == customer.version + 1
        assert type(crm.customers.get(customer.id).traits["active"]) is bool


#: Values from which the content of a first recording and of its replay are drawn: pairs
#: Python calls equal but a store does not (1 and True, 0 and False), and near misses.
SCALARS = st.sampled_from([True, False, 1, 0, -1, 2, "1", "true", "", "a"])
CONTENT = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["purchase", "note"]),
        "channel": st.sampled_from(["web", "email"]),
        "amount": st.none() | st.sampled_from([Money(100, "EUR"), Money(1, "EUR")]),
        "campaign": st.none() | st.sampled_from(["spring", "1"]),
        "metadata": st.dictionaries(st.sampled_from(["flag", "n", "s"]), SCALARS, max_size=3),
    }
)


#: Pairs Python calls equal that a store keeps apart.
TWINS = [(1, True), (True, 1), (0, False), (False, 0)]


@st.composite
def replays(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A first content and a replay: the same (metadata in another order), a metadata
    value swapped for its Python-equal twin (1 for True), or one field or value changed."""
    first = draw(CONTENT)
    second = {**first, "metadata": dict(reversed(first["metadata"].items()))}
    change = draw(st.sampled_from(["none", "twin", "value", "field"]))
    if change == "twin":
        key, (one, other) = draw(st.sampled_from(["flag", "n"])), draw(st.sampled_from(TWINS))
        first["metadata"] = {**first["metadata"], key: one}
        second["metadata"] = {**second["metadata"], key: other}
    elif change == "value" and first["metadata"]:
        key = draw(st.sampled_from(sorted(first["metadata"])))
        second["metadata"] = {**second["metadata"], key: draw(SCALARS)}
    elif change != "none":
        field = draw(st.sampled_from(sorted(first)))
        second[field] = draw(CONTENT)[field]
    return first, second


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(pair=replays())
def test_a_replay_is_accepted_iff_its_content_is_the_same_value(
    crm: CRM, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """Accepted (the stored interaction comes back) exactly when every field and metadata
    value is the same under `same_value`; otherwise `IdempotencyConflict`."""
    first, second = pair
    ref = f"prop-{next(_refs)}"
    stored = record(crm, first, ref)
    if same_value(first, second):
        assert record(crm, second, ref) == stored
    else:
        with pytest.raises(IdempotencyConflict):
            record(crm, second, ref)
    assert crm.interactions.get(stored.id) == stored
