"""The adapter contract on lookups: customers by phone, a name and email prefix search, and
reading the outbox after a position.

A search matches a customer whose email, given name or family name starts with the text,
defined exactly as Python's ``value.lower().startswith(text.lower())`` (so ``"ß"`` and
``"Σ"`` mean what Python says they mean, and ``%``, ``_`` and ``\\`` are plain characters).
`AdapterContract` includes these tests; an adapter's subclass also overrides ``outbox_of``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit.domain import Customer, CustomerId, EmailAddress, PhoneNumber, TenantId
from crmkit.errors import ValidationError
from crmkit.ports import Outbox, OutboxMessage, Store, UnitOfWork
from crmkit.testing.contract._base import ContractBase

__all__ = ["LookupContract", "OutboxOf"]

_T0 = datetime(2024, 1, 1, tzinfo=UTC)
_ALPHA, _BETA = TenantId("alpha"), TenantId("beta")
_DESK = "+493012345678"

#: Opens a unit of work on a tenant (``alpha`` by default).
_OpenFor = Callable[..., UnitOfWork]

#: The outbox of the storage ``uow`` opens, for one tenant or (given ``None``) every tenant.
OutboxOf = Callable[[str | None], Outbox]

#: A tenant of its own for each generated example: the store is not emptied between them.
_tenants = (f"lookup-{n}" for n in itertools.count())

#: Name characters whose lower case is not simple (``ß``, ``İ``, final sigma) and ones a SQL
#: ``LIKE`` would read as wildcards or escapes.
_NAME_LETTERS = "aAbBzZäÄéÉßẞİΣς %_\\\u0131\u03c3"  # and dotless i, small sigma
_EMAIL_LETTERS = "abzäß%_\u03c3"


def _person(n: int, **profile: Any) -> Customer:
    return Customer.register(CustomerId(f"c{n:03d}"), at=_T0, **profile)


def _store(uow: _OpenFor, *people: Customer, tenant: str = _ALPHA) -> None:
    with uow(tenant) as tx:
        for person in people:
            tx.customers.add(person)
        tx.commit()


def _python_match(customer: Customer, text: str) -> bool:
    """The definition of a search match, in Python."""
    email = None if customer.email is None else customer.email.value
    return any(
        value is not None and value.lower().startswith(text.lower())
        for value in (email, customer.given_name, customer.family_name)
    )


def _search_all(tx: UnitOfWork, text: str, limit: int) -> list[str]:
    """The ids of every match, page after page."""
    seen: list[str] = []
    cursor = None
    for _ in range(tx.customers.count() + 2):  # a cursor that never ends fails the test
        page = tx.customers.search(text, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        seen.extend(c.id for c in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen
    pytest.fail(f"searching {text!r} did not reach its last page")


def _read_all(outbox: Outbox, limit: int, *, most: int = 100) -> list[OutboxMessage]:
    """Every message (of at most ``most``), read ``limit`` at a time after the last one."""
    seen: list[OutboxMessage] = []
    for _ in range(most + 2):  # a reader that never reaches the end fails the test
        after = seen[-1].position if seen else 0
        batch = outbox.read(after=after, limit=limit)
        assert len(batch) <= limit
        assert all(m.position > after for m in batch)
        if not batch:
            return seen
        seen.extend(batch)
    pytest.fail("reading the outbox did not reach its end")


@st.composite
def _people(draw: st.DrawFn) -> list[Customer]:
    """Up to eight customers, in no id order, with distinct emails."""
    name = st.none() | st.text(_NAME_LETTERS, min_size=1, max_size=6)
    local = st.text(_EMAIL_LETTERS, min_size=1, max_size=4)
    emails = draw(st.lists(st.none() | local, max_size=8))
    numbers = draw(st.permutations(range(len(emails))))
    people: list[Customer] = []
    taken: set[str | None] = set()
    for n, email in zip(numbers, emails, strict=True):
        address = None if email is None or email in taken else EmailAddress(f"{email}@ex.com")
        taken.add(email)
        people.append(_person(n, email=address, given_name=draw(name), family_name=draw(name)))
    return people


@st.composite
def _prefixes(draw: st.DrawFn, people: list[Customer]) -> str:
    """Some text, often the start of a stored value in another case."""
    values = [
        v
        for c in people
        for v in (None if c.email is None else c.email.value, c.given_name, c.family_name)
        if v
    ]
    if not values or draw(st.booleans()):
        return draw(st.text(_NAME_LETTERS, min_size=1, max_size=3))
    value = draw(st.sampled_from(values))
    start = value[: draw(st.integers(1, len(value)))]
    cases: list[Callable[[str], str]] = [str, str.upper, str.lower, str.swapcase, str.casefold]
    return draw(st.sampled_from(cases))(start)


class LookupContract(ContractBase):
    """Finding customers by phone and by prefix, and reading the outbox after a position."""

    @pytest.fixture
    def outbox_of(self, store: Store) -> OutboxOf:
        """``tenant -> Outbox`` (``None``: every tenant) on the store ``uow`` writes to."""
        return lambda tenant: store.outbox(tenant=tenant)

    # Finding by phone

    def test_a_customer_is_found_by_phone_whatever_the_extension(self, uow: _OpenFor) -> None:
        _store(uow, _person(1, phone=PhoneNumber(_DESK, "5")), _person(2))
        with uow() as tx:
            for asked in (PhoneNumber(_DESK), PhoneNumber(_DESK, "5"), PhoneNumber(_DESK, "7")):
                found = tx.customers.find_by_phone(asked)
                assert found is not None
                assert (found.id, found.phone) == ("c001", PhoneNumber(_DESK, "5"))
            assert tx.customers.find_by_phone(PhoneNumber("+493012345679")) is None

    def test_of_several_customers_with_one_phone_the_smallest_id_is_found(
        self, uow: _OpenFor
    ) -> None:
        _store(
            uow,
            _person(3, phone=PhoneNumber(_DESK)),
            _person(2, phone=PhoneNumber(_DESK, "12")),
            _person(4, phone=PhoneNumber(_DESK, "1")),
        )
        with uow() as tx:
            found = tx.customers.find_by_phone(PhoneNumber(_DESK))
        assert found is not None
        assert found.id == "c002"

    def test_finding_by_phone_refuses_what_is_not_a_phone_number(self, uow: _OpenFor) -> None:
        with uow() as tx:
            for wrong in (_DESK, None, 4930):
                with pytest.raises(ValidationError) as caught:
                    tx.customers.find_by_phone(wrong)  # type: ignore[arg-type]
                assert caught.value.paths == ("phone",)

    def test_no_customer_of_another_tenant_is_found_by_phone(self, uow: _OpenFor) -> None:
        _store(uow, _person(1, phone=PhoneNumber(_DESK)), tenant=_BETA)
        with uow() as tx:
            assert tx.customers.find_by_phone(PhoneNumber(_DESK)) is None

    # Searching

    def test_a_search_matches_the_start_of_an_email_or_a_name_in_any_case(
        self, uow: _OpenFor
    ) -> None:
        _store(
            uow,
            _person(4, given_name="Ada", family_name="Lovelace"),
            _person(3, email=EmailAddress("ada@example.com"), given_name="Adam"),
            _person(2, family_name="Adams"),
            _person(1, given_name="Nada", email=EmailAddress("nada@example.com")),
        )
        with uow() as tx:
            for text in ("ada", "ADA", "aDa"):
                page = tx.customers.search(text)
                assert [c.id for c in page.items] == ["c002", "c003", "c004"]
                assert page.next_cursor is None
            assert [c.id for c in tx.customers.search("love").items] == ["c004"]
            assert [c.id for c in tx.customers.search("ada lo").items] == []
            assert [c.id for c in tx.customers.search("nada@").items] == ["c001"]
            assert tx.customers.search("dA").items == ()

    def test_a_search_reads_wildcards_and_non_ascii_letters_as_python_does(
        self, uow: _OpenFor
    ) -> None:
        _store(
            uow,
            _person(1, given_name="Zoë"),
            _person(2, given_name="ẞtraße"),
            _person(3, family_name="100% _real_"),
            _person(4, given_name="Zo_e"),
            _person(5, family_name="back\\slash"),
            _person(6, given_name="Ann Lee"),
            _person(7, given_name="Anna"),
        )
        with uow() as tx:

            def ids(text: str) -> list[str]:
                return [c.id for c in tx.customers.search(text).items]

            assert ids("ZOË") == ["c001"]
            assert ids("ßTR") == ["c002"]
            assert ids("zo_") == ["c004"]
            assert ids("z%") == []
            assert ids("100% _") == ["c003"]
            assert ids("_") == []
            assert ids("back\\") == ["c005"]
            assert ids("ann ") == ["c006"]  # a trailing space is part of the prefix
            assert ids("ann") == ["c006", "c007"]

    def test_a_search_pages_through_every_match_once(self, uow: _OpenFor) -> None:
        _store(uow, *(_person(n, given_name=f"Ann {n}") for n in range(7, 0, -1)), _person(9))
        with uow() as tx:
            first = tx.customers.search("ann", limit=3)
            assert [c.id for c in first.items] == ["c001", "c002", "c003"]
            assert first.next_cursor is not None
            assert _search_all(tx, "ann", 3) == [f"c{n:03d}" for n in range(1, 8)]
            assert len(tx.customers.search("ann").items) == 7  # 20 by default

    def test_a_search_refuses_an_empty_or_non_text_prefix_and_a_bad_page(
        self, uow: _OpenFor
    ) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"text": ""}, "text"),
            ({"text": None}, "text"),
            ({"text": 7}, "text"),
            ({"text": "a", "limit": 0}, "limit"),
            ({"text": "a", "limit": True}, "limit"),
            ({"text": "a", "limit": 10**9}, "limit"),
            ({"text": "a", "cursor": 5}, "cursor"),
        ]
        with uow() as tx:
            for arguments, path in cases:
                with pytest.raises(ValidationError) as caught:
                    tx.customers.search(**arguments)
                assert caught.value.paths == (path,)

    def test_no_customer_of_another_tenant_is_found_by_a_search(self, uow: _OpenFor) -> None:
        _store(uow, _person(1, given_name="Ada"), tenant=_BETA)
        _store(uow, _person(2, given_name="Adam"))
        with uow() as tx:
            assert [c.id for c in tx.customers.search("ada").items] == ["c002"]

    # Each adapter's subclass runs this one method (differing executors), on a fresh tenant
    # per example (the function-scoped store is shared by the examples).
    @settings(
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
        deadline=None,
    )
    @given(data=st.data())
    def test_a_search_finds_exactly_what_the_python_definition_matches_page_by_page(
        self, uow: _OpenFor, data: st.DataObject
    ) -> None:
        people = data.draw(_people(), "people")
        text = data.draw(_prefixes(people), "text")
        limit = data.draw(st.integers(1, 4), "limit")
        tenant = next(_tenants)
        _store(uow, *people, tenant=tenant)
        expected = sorted(c.id for c in people if _python_match(c, text))
        with uow(tenant) as tx:
            assert _search_all(tx, text, limit) == expected

    # Reading the outbox

    def test_reading_the_outbox_visits_every_message_once_in_order_delivered_or_not(
        self, uow: _OpenFor, outbox_of: OutboxOf
    ) -> None:
        _store(uow, *(_person(n) for n in (1, 2, 3)))
        _store(uow, *(_person(n) for n in (4, 5, 6, 7)))
        outbox = outbox_of(_ALPHA)
        delivered = outbox.fetch(3)
        assert outbox.acknowledge(delivered) == 3
        everything = outbox.read()
        assert [m.aggregate_id for m in everything] == [f"c{n:03d}" for n in range(1, 8)]
        positions = [m.position for m in everything]
        assert positions == sorted(set(positions))
        assert everything[:3] == delivered
        for limit in (1, 2, 3, 7, 100):
            assert _read_all(outbox, limit) == everything
        assert outbox.read(after=positions[2], limit=2) == everything[3:5]
        assert outbox.read(after=positions[-1]) == []
        assert outbox.pending() == 4  # reading delivers nothing

    def test_an_outbox_reads_only_its_tenants_messages(
        self, uow: _OpenFor, outbox_of: OutboxOf
    ) -> None:
        _store(uow, _person(1))
        _store(uow, _person(2), tenant=_BETA)
        _store(uow, _person(3))
        mine = outbox_of(_ALPHA).read()
        theirs = outbox_of(_BETA).read()
        every = outbox_of(None).read()
        assert [(m.tenant, m.aggregate_id) for m in mine] == [("alpha", "c001"), ("alpha", "c003")]
        assert [(m.tenant, m.aggregate_id) for m in theirs] == [("beta", "c002")]
        assert [m.aggregate_id for m in every] == ["c001", "c002", "c003"]
        assert _read_all(outbox_of(_ALPHA), 1) == mine

    def test_reading_the_outbox_refuses_a_bad_position_or_limit(self, outbox_of: OutboxOf) -> None:
        outbox = outbox_of(_ALPHA)
        cases: list[tuple[dict[str, Any], str]] = [
            ({"after": -1}, "after"),
            ({"after": "3"}, "after"),
            ({"after": True}, "after"),
            ({"after": None}, "after"),
            ({"limit": 0}, "limit"),
            ({"limit": 10_001}, "limit"),
            ({"limit": False}, "limit"),
            ({"limit": 2.0}, "limit"),
        ]
        for arguments, path in cases:
            with pytest.raises(ValidationError) as caught:
                outbox.read(**arguments)
            assert caught.value.paths == (path,)
        assert outbox.read(limit=10_000) == []
