"""The contract of the segment queries on the `CustomerRepository` (``count_matching``,
``matching_ids``, ``stream_matching``), tenancy included."""

from __future__ import annotations

from datetime import timedelta

from crmkit.domain import InteractionKind, Money, PostalAddress
from crmkit.ports import UnitOfWork
from crmkit.segments import Condition, field, purchases, tagged
from crmkit.testing.contract._base import ContractBase
from crmkit.testing.contract._samples import OTHER, T0, TENANT, OpenFor, _customer, _interaction

__all__ = ["SegmentQueryContract"]

#: The moment the segment-query tests evaluate at; their window is the last 10 days before it.
AS_OF = T0 + timedelta(days=100)
_MINUTES_TO_AS_OF = 100 * 24 * 60
_WINDOW_START = 90 * 24 * 60  # minutes: an interaction exactly here is outside the window
_RECENT = purchases(last=10).count()  # purchases in (AS_OF - 10 days, AS_OF]


def _segment_customers(tx: UnitOfWork) -> None:
    """Seven customers of varied country, tags and purchases (see the segment-query tests).

    ======  =======  =====  =========================================================
    id      country  tags   interactions (minutes after T0)
    ======  =======  =====  =========================================================
    c001    DE       vip    purchases at AS_OF (the window's end, inside) and 95 days
    c002    DE              a purchase exactly at the window's start (outside)
    c003    FR       vip    a purchase at 91 days
    c004    (none)          a support case at 95 days (not a purchase)
    c005    DE       vip    a purchase 1 minute into the window, one 1 minute after AS_OF
    c006    (none)   vip    none
    c007    FR              a purchase at T0 (long before the window)
    ======  =======  =====  =========================================================
    """
    profiles: dict[int, tuple[str | None, set[str]]] = {
        1: ("DE", {"vip"}),
        2: ("DE", set()),
        3: ("FR", {"vip"}),
        4: (None, set()),
        5: ("DE", {"vip"}),
        6: (None, {"vip"}),
        7: ("FR", set()),
    }
    for n, (country, tags) in profiles.items():
        address = None if country is None else PostalAddress(country, city="Somewhere")
        tx.customers.add(_customer(n, address=address, tags=tags))
    day = 24 * 60
    for interaction in (
        _interaction(1, "c001", _MINUTES_TO_AS_OF),
        _interaction(2, "c001", 95 * day),
        _interaction(3, "c002", _WINDOW_START),
        _interaction(4, "c003", 91 * day),
        _interaction(5, "c005", _WINDOW_START + 1),
        _interaction(6, "c005", _MINUTES_TO_AS_OF + 1),
        _interaction(7, "c007", 0),
        _interaction(8, "c004", 95 * day, kind=InteractionKind.SUPPORT_CASE, amount=None),
    ):
        tx.interactions.add(interaction)


def _all_matching_ids(tx: UnitOfWork, rule: Condition, limit: int) -> list[str]:
    """Every id ``matching_ids`` pages through at ``limit`` per page, checking each page."""
    seen: list[str] = []
    cursor = None
    while True:
        page = tx.customers.matching_ids(rule, as_of=AS_OF, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        seen.extend(page.items)
        if page.next_cursor is None:
            return seen
        assert page.items, "a page with a next cursor has items"
        cursor = page.next_cursor


class SegmentQueryContract(ContractBase):
    """The segment queries of the `CustomerRepository` (``count_matching``,
    ``matching_ids``, ``stream_matching``) over customers and their interactions, tenancy
    included."""

    def test_segment_queries_count_fields_and_tags(self, uow: OpenFor) -> None:
        with uow() as tx:
            _segment_customers(tx)
            tx.commit()
        german = field("country") == "DE"
        with uow() as tx:
            count = tx.customers.count_matching
            assert count(german, as_of=AS_OF) == 3
            assert count(tagged("vip"), as_of=AS_OF) == 4
            assert count(german & tagged("vip"), as_of=AS_OF) == 2
            assert count(german | tagged("vip"), as_of=AS_OF) == 5
            assert count(field("country").is_in(["DE", "FR"]), as_of=AS_OF) == 5
            assert count(field("country") == "PL", as_of=AS_OF) == 0

    def test_not_over_a_missing_value_holds(self, uow: OpenFor) -> None:
        with uow() as tx:
            _segment_customers(tx)
            tx.commit()
        with uow() as tx:
            page = tx.customers.matching_ids(~(field("country") == "DE"), as_of=AS_OF)
            nulls = tx.customers.matching_ids(field("country").is_null(), as_of=AS_OF)
            not_fr = tx.customers.count_matching(~(field("country") == "FR"), as_of=AS_OF)
        # No address: "country = DE" is false, so its negation holds (c004, c006).
        assert page.items == ("c003", "c004", "c006", "c007")
        assert nulls.items == ("c004", "c006")
        assert not_fr == 5

    def test_an_aggregate_window_excludes_its_start_and_includes_as_of(self, uow: OpenFor) -> None:
        with uow() as tx:
            _segment_customers(tx)
            tx.commit()
        with uow() as tx:
            bought = tx.customers.matching_ids(_RECENT >= 1, as_of=AS_OF)
            twice = tx.customers.matching_ids(_RECENT >= 2, as_of=AS_OF)
            none = tx.customers.matching_ids(_RECENT == 0, as_of=AS_OF)
            big = tx.customers.matching_ids(
                purchases(last=10).sum("EUR") > Money(400, "EUR"), as_of=AS_OF
            )
            german_buyers = tx.customers.count_matching(
                (field("country") == "DE") & (_RECENT >= 1), as_of=AS_OF
            )
        # c001: both inside; c002: exactly at the start, outside; c005: one inside, one
        # after as_of; c004 has no purchase; c006 none at all; c007 one long ago.
        assert bought.items == ("c001", "c003", "c005")
        assert twice.items == ("c001",)
        assert none.items == ("c002", "c004", "c006", "c007")
        assert big.items == ("c005",)  # 500 in the window; c001 has 100 + 200, c003 400
        assert german_buyers == 2

    def test_matching_ids_pages_cover_every_member_once_in_id_order(self, uow: OpenFor) -> None:
        with uow() as tx:
            _segment_customers(tx)
            tx.commit()
        rule = (field("country") == "DE") | tagged("vip")
        with uow() as tx:
            for limit in (1, 2, 3, 5, 6):
                assert _all_matching_ids(tx, rule, limit) == [
                    "c001",
                    "c002",
                    "c003",
                    "c005",
                    "c006",
                ], limit
            assert _all_matching_ids(tx, field("country") == "PL", 2) == []

    def test_stream_matching_yields_members_in_id_order_after_a_cursor(self, uow: OpenFor) -> None:
        with uow() as tx:
            _segment_customers(tx)
            tx.commit()
        rule = (field("country") == "DE") | tagged("vip")
        with uow() as tx:
            streamed = list(tx.customers.stream_matching(rule, as_of=AS_OF, batch_size=2))
            after = tx.customers.stream_matching(rule, as_of=AS_OF, batch_size=2, after="c002")
            later = [c.id for c in after]
            last = list(tx.customers.stream_matching(rule, as_of=AS_OF, after="c006"))
            stored = [tx.customers.get(c.id) for c in streamed]
        assert [c.id for c in streamed] == ["c001", "c002", "c003", "c005", "c006"]
        assert streamed == stored
        assert later == ["c003", "c005", "c006"]
        assert last == []

    def test_segment_queries_never_see_another_tenant(self, uow: OpenFor) -> None:
        with uow(TENANT) as tx:
            _segment_customers(tx)
            tx.commit()
        with uow(OTHER) as tx:  # the same ids, all German VIPs with a purchase at AS_OF
            for n in (1, 2, 8):
                tx.customers.add(_customer(n, address=PostalAddress("DE"), tags={"vip"}))
                tx.interactions.add(_interaction(n, f"c{n:03d}", _MINUTES_TO_AS_OF))
            tx.commit()
        rule = (field("country") == "DE") & tagged("vip") & (_RECENT >= 1)
        with uow(TENANT) as tx:
            assert tx.customers.count_matching(rule, as_of=AS_OF) == 2
            assert tx.customers.matching_ids(rule, as_of=AS_OF).items == ("c001", "c005")
            assert [c.id for c in tx.customers.stream_matching(rule, as_of=AS_OF)] == [
                "c001",
                "c005",
            ]
            assert tx.customers.count_matching(_RECENT == 0, as_of=AS_OF) == 4
        with uow(OTHER) as tx:
            assert tx.customers.count_matching(rule, as_of=AS_OF) == 3
            assert _all_matching_ids(tx, rule, 1) == ["c001", "c002", "c008"]
            streamed = tx.customers.stream_matching(rule, as_of=AS_OF, after="c001")
            assert [c.id for c in streamed] == ["c002", "c008"]
            assert tx.customers.count_matching(tagged("vip"), as_of=AS_OF) == 3
