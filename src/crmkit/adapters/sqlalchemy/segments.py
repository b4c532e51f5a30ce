"""Segment rules compiled to one SQL query: which customers of a tenant match, as of an instant.

`compile_segment` turns a `Condition` tree into a SQLAlchemy Core ``SELECT`` of customer ids
that agrees exactly with ``condition.holds(Facts.of_customer(...))`` on SQLite, PostgreSQL and
MariaDB. The rules that make it exact:

- every leaf compiles to an expression that is never SQL ``NULL`` (``x IS NOT NULL AND …``,
  ``EXISTS``, or a count), so SQL's ``NOT`` is the domain's plain negation;
- names (fields, traits, tags, metadata keys) only select columns through fixed catalogues or
  travel as bound parameters; every value is a bound parameter, never SQL text;
- text compares by code point and case-sensitively: the tables' "C" / binary NO PAD
  collations, plus ``CAST(… AS BINARY)`` on MariaDB for values that carry no column's
  collation (JSON elements, bound text), and ``instr``/``strpos``/``LOCATE`` rather than
  ``LIKE`` (SQLite's ``LIKE`` ignores ASCII case);
- lists compile to one ``IN`` (one bound parameter on SQLite and PostgreSQL) and
  ``AllOf``/``AnyOf`` to balanced trees (`crmkit.adapters.sqlalchemy.lists`): SQLite refuses
  expression trees deeper than 1000, and caps a statement's parameters;
- instants are epoch microseconds; a UTC day is ``floor(us / 86_400_000_000)``;
- sums are exact: PostgreSQL and MariaDB sum BIGINTs into NUMERIC/DECIMAL; SQLite, whose
  ``sum()`` fails on a 64-bit overflow, sums the high and low 32 bits apart. Net spend sums
  the same way, each refund's amount negated.

Decimal traits compare by equality only, as text: a decimal is stored in its one canonical form
(`crmkit.domain.customers.traits.canonical_decimal`: ``1.000``, ``1E+0`` and ``1`` are all
``"1"``), and the operand is put in the same form, so equal decimals have equal text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Numeric,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    type_coerce,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.dialects import mysql, postgresql

from crmkit.adapters.sqlalchemy import tables as t
from crmkit.adapters.sqlalchemy.lists import all_of, any_of, key_in, one_of
from crmkit.adapters.sqlalchemy.mapping import to_us
from crmkit.domain.customers.traits import MAX_DECIMAL_EXPONENT, TraitType, canonical_decimal
from crmkit.domain.interactions.channels import InteractionKind, SubjectKind
from crmkit.domain.rules.conditions import AllOf, AnyOf, Condition, Not, TimeInStage
from crmkit.domain.rules.leaves import (
    NET_SPEND_SIGNS,
    AggregateCondition,
    ConsentCondition,
    FieldCondition,
    Measure,
    Members,
    Op,
    StageCondition,
    TagCondition,
    TraitCondition,
)
from crmkit.domain.values.money import Money
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import ValidationError

__all__ = ["compile_segment", "count_query", "segment_predicate"]

_DAY_US: Final = 86_400_000_000
_INT64: Final = 2**63 - 1
_TWO_32: Final = 2**32
_LOW_32: Final = _TWO_32 - 1
# Metadata keys an interaction may hold (see the domain's Interaction): any other matches none.
_META_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,63}")

_c = t.customers.c

# Customer fields: catalogue name -> column of crmkit_customers.
_CUSTOMER_COLUMNS: Final = {
    "id": _c.id,
    "given_name": _c.given_name,
    "family_name": _c.family_name,
    "email": _c.email,
    "phone": _c.phone,
    "locale": _c.locale,
    "created_at": _c.created_at_us,
    "updated_at": _c.updated_at_us,
    "country": _c.address_country,
    "region": _c.address_region,
    "city": _c.address_city,
    "postal_code": _c.address_postal_code,
    "account_id": _c.account_id,
    "account_role": _c.account_role,
}
_ACCOUNT_COLUMNS: Final = {
    "account.name": t.accounts.c.name,
    "account.domain": t.accounts.c.domain,
    "account.industry": t.accounts.c.industry,
    "account.size": t.accounts.c.size,
}


class _Compiler:
    def __init__(self, dialect: str, tenant: str, as_of: datetime) -> None:
        self.dialect = dialect
        self.mysql = dialect in ("mysql", "mariadb")
        self.tenant = tenant
        self.as_of = as_of
        self.as_of_us = to_us(as_of)

    # Text, the same way on every backend.

    def text(self, expr: Any) -> Any:
        """``expr`` as something that compares by code point, trailing spaces included."""
        if self.mysql:
            return cast(expr, mysql.BINARY())
        return expr

    def value(self, value: str) -> Any:
        return self.text(bindparam(None, value, type_=String()))

    def integer(self, value: int) -> Any:
        """``value`` bound for comparing with a stored BIGINT. Stored integers lie within
        ``±(2**63 - 1)``, so an operand beyond that compares exactly like ``±2**63``
        (bound as an exact float on SQLite, whose driver refuses larger ints)."""
        if -_INT64 <= value <= _INT64:
            return bindparam(None, value, type_=BigInteger())
        edge = _INT64 + 1 if value > 0 else -(_INT64 + 1)
        if self.dialect == "sqlite":
            return bindparam(None, float(edge))  # 2**63 is exact as a float
        return bindparam(None, Decimal(edge), type_=Numeric(20, 0))

    def position(self, haystack: Any, needle: str) -> Any:
        """1-based position of ``needle`` in ``haystack`` (0: absent), case-sensitively."""
        if self.mysql:
            return func.locate(self.value(needle), self.text(haystack))
        if self.dialect == "postgresql":
            return func.strpos(haystack, bindparam(None, needle, type_=String()))
        return func.instr(haystack, bindparam(None, needle, type_=String()))

    # Comparisons of a present value (the caller adds ``IS NOT NULL``).

    def compare(self, op: Op, expr: Any, operand: Any, textual: bool) -> Any:
        if op in (Op.IN, Op.NOT_IN):
            found = self.one_of(expr, operand, textual)
            return found if op is Op.IN else not_(found)
        if textual:
            if op is Op.CONTAINS:
                return self.position(expr, operand) > 0
            if op is Op.STARTS_WITH:
                return self.position(expr, operand) == 1
            expr = self.text(expr)
            wrap: Any = self.value
        else:
            wrap = self.integer

        match op:
            case Op.EQ:
                return expr == wrap(operand)
            case Op.NE:
                return expr != wrap(operand)
            case Op.LT:
                return expr < wrap(operand)
            case Op.LE:
                return expr <= wrap(operand)
            case Op.GT:
                return expr > wrap(operand)
            case Op.GE:
                return expr >= wrap(operand)
            case Op.BETWEEN:
                return and_(expr >= wrap(operand[0]), expr <= wrap(operand[1]))
        raise ValidationError.single("op", op.value, "is not supported here")  # pragma: no cover

    def one_of(self, expr: Any, values: Iterable[Any], textual: bool) -> Any:
        """``expr IN values`` as one flat ``IN`` (see `crmkit.adapters.sqlalchemy.lists`)."""
        return one_of(self.dialect, expr, list(values), textual=textual)

    def keys(self, expr: Any, values: Iterable[str]) -> Any:
        """``expr IN values`` for ids, slugs and enum values: text without spaces, which
        the column's own collation compares exactly (and its index serves) everywhere."""
        return key_in(self.dialect, expr, sorted(values))

    def present(self, op: Op, expr: Any, operand: Any, textual: bool) -> Any:
        """The two-valued comparison of a nullable ``expr``."""
        if op is Op.IS_NULL:
            return expr.is_(None)
        if op is Op.IS_NOT_NULL:
            return expr.is_not(None)
        return and_(expr.is_not(None), self.compare(op, expr, operand, textual))

    # The tree.

    def predicate(self, node: Condition) -> Any:
        if isinstance(node, AllOf):
            return all_of(self.predicate(c) for c in node.conditions)
        if isinstance(node, AnyOf):
            return any_of(self.predicate(c) for c in node.conditions)
        if isinstance(node, Not):
            return not_(self.predicate(node.condition))
        if isinstance(node, FieldCondition):
            return self.field(node)
        if isinstance(node, TraitCondition):
            return self.trait(node)
        if isinstance(node, TagCondition):
            tg = t.tags.c
            return exists().where(
                tg.tenant_id == self.tenant, tg.customer_id == _c.id, tg.tag == node.tag
            )
        if isinstance(node, ConsentCondition):
            return self.consent(node)
        if isinstance(node, StageCondition):
            h = t.stage_histories.c
            return exists().where(
                h.tenant_id == self.tenant,
                h.model == node.model,
                h.subject_kind == SubjectKind.CUSTOMER.value,
                h.subject_id == _c.id,
                self.keys(h.stage, node.stages),
            )
        if isinstance(node, Members):
            return self.keys(_c.id, node.ids)
        if isinstance(node, AggregateCondition):
            return self.aggregate(node)
        if isinstance(node, TimeInStage):
            raise ValidationError.single(
                "kind", node.kind, "time_in_stage only has a meaning in a lifecycle model"
            )
        raise ValidationError.single("kind", type(node).__name__, "is not a segment condition")

    def field(self, node: FieldCondition) -> Any:
        op, operand = node.op, node.value
        textual = not isinstance(_first(operand), datetime)
        if not textual and operand is not None:
            operand = _map(operand, _us)
        column = _CUSTOMER_COLUMNS.get(node.field)
        if column is not None:
            return self.present(op, column, operand, textual)
        a = t.accounts.c
        column = _ACCOUNT_COLUMNS[node.field]
        linked = exists().where(
            a.tenant_id == self.tenant, a.id == _c.account_id, column.is_not(None)
        )
        if op is Op.IS_NULL:
            return not_(linked)
        if op is Op.IS_NOT_NULL:
            return linked
        return exists().where(
            a.tenant_id == self.tenant,
            a.id == _c.account_id,
            column.is_not(None),
            self.compare(op, column, operand, textual),
        )

    def trait(self, node: TraitCondition) -> Any:
        tr = t.traits.c
        own = [tr.tenant_id == self.tenant, tr.customer_id == _c.id, tr.name == node.name]
        if node.type is not None:  # None: a trait of any type
            own.append(tr.type == node.type.value)
        op = node.op
        if op is Op.IS_NULL:
            return not_(exists().where(*own))
        if op is Op.IS_NOT_NULL:
            return exists().where(*own)
        if node.type is None:  # pragma: no cover - the leaf takes only is (not) null then
            raise ValidationError.single("type", None, "a trait of any type is only (not) null")
        return exists().where(*own, self.trait_test(node.type, op, node.value))

    def trait_test(self, kind: TraitType, op: Op, operand: Any) -> Any:
        tr = t.traits.c
        match kind:
            case TraitType.STRING:
                return and_(
                    tr.value_text.is_not(None), self.compare(op, tr.value_text, operand, True)
                )
            case TraitType.INTEGER:
                return self.compare(op, tr.value_int, operand, False)
            case TraitType.BOOLEAN:
                return self.compare(op, tr.value_int, _map(operand, int), False)
            case TraitType.DATETIME:
                return self.compare(op, tr.value_int, _map(operand, _us), False)
            case TraitType.DATE:
                return self.compare(op, tr.value_text, _map(operand, date.isoformat), True)
            case TraitType.DECIMAL:
                return self.decimal(op, operand)
            case TraitType.STRING_LIST:
                return self.list_contains(operand)
        raise ValidationError.single("type", kind, "is not a trait type")  # pragma: no cover

    def decimal(self, op: Op, operand: Any) -> Any:
        values = operand if op in (Op.IN, Op.NOT_IN) else (operand,)
        texts = {text for v in values if (text := _decimal_text(v)) is not None}
        # Canonical texts hold no spaces: the column's own exact collation (and index) serves,
        # as one flat IN however many values.
        found = self.keys(t.traits.c.value_text, texts) if texts else false()
        if op in (Op.EQ, Op.IN):
            return found
        if op in (Op.NE, Op.NOT_IN):
            return not_(found)
        raise ValidationError.single("op", op.value, "does not apply to decimal traits")

    def list_contains(self, element: str) -> Any:
        tr = t.traits.c
        # Only a list's text is parsed as JSON, whatever order the database evaluates in.
        column = case((tr.type == TraitType.STRING_LIST.value, tr.value_text), else_="[]")
        if self.dialect == "postgresql":
            return func.jsonb_exists(cast(column, postgresql.JSONB), element)
        if self.mysql:  # JSON_CONTAINS misses escaped non-BMP text: walk the elements
            elements = sql_text(
                f"JSON_TABLE(CASE WHEN {t.traits.name}.type = 'string_list' "
                f"THEN {t.traits.name}.value_text ELSE '[]' END, '$[*]' "
                "COLUMNS (v LONGTEXT PATH '$')) AS list_element"
            )
            return exists(
                select(literal(1))
                .select_from(elements)
                .where(self.text(literal_column("list_element.v")) == self.value(element))
            )
        each = func.json_each(column).table_valued("value", "type")
        return exists(
            select(literal(1))
            .select_from(each)
            .where(each.c.type == "text", each.c.value == bindparam(None, element, type_=String()))
        )

    def consent(self, node: ConsentCondition) -> Any:
        r, r2 = t.consents.alias("consent"), t.consents.alias("later")

        def covering(rec: Any, owner: Any) -> Any:
            return and_(
                rec.c.tenant_id == self.tenant,
                rec.c.customer_id == owner,
                rec.c.purpose == node.purpose,
                or_(rec.c.channel.is_(None), rec.c.channel == node.channel.value),
                rec.c.at_us <= self.as_of_us,
            )

        def permits(rec: Any) -> Any:
            return and_(rec.c.status == "granted", rec.c.double_opt_in != "pending")

        overruled = exists().where(
            covering(r2, r.c.customer_id),  # correlates one level up only
            or_(r2.c.at_us > r.c.at_us, and_(r2.c.at_us == r.c.at_us, not_(permits(r2)))),
        )
        return exists().where(covering(r, _c.id), permits(r), not_(overruled))

    # Interactions.

    def window(self, node: AggregateCondition) -> list[Any]:
        i = t.interactions.c
        start, start_in, end, end_in = node.window.bounds(self.as_of)
        clauses = [i.occurred_at_us <= to_us(end) if end_in else i.occurred_at_us < to_us(end)]
        if start is not None:
            clauses.append(
                i.occurred_at_us >= to_us(start) if start_in else i.occurred_at_us > to_us(start)
            )
        return clauses

    def filters(self, node: AggregateCondition) -> list[Any]:
        i = t.interactions.c
        clauses: list[Any] = [i.tenant_id == self.tenant, i.customer_id == _c.id]
        clauses += self.window(node)
        if node.kinds:
            clauses.append(self.keys(i.kind, node.kinds))
        if node.channels:
            clauses.append(self.keys(i.channel, (c.value for c in node.channels)))
        if node.directions:
            clauses.append(self.keys(i.direction, (d.value for d in node.directions)))
        if node.campaigns:
            clauses.append(self.one_of(i.campaign, node.campaigns, True))
        for key, value in sorted(node.metadata.items()):
            clauses.append(self.metadata(key, value))
        return clauses

    def metadata(self, key: str, value: str | int | bool) -> Any:
        if not _META_KEY.fullmatch(key):
            return false()  # no interaction can hold such a key
        column = t.interactions.c.metadata
        path = f'$."{key}"'
        if isinstance(value, str):
            if self.dialect == "postgresql":
                doc = cast(column, postgresql.JSON)
                return and_(
                    func.json_typeof(doc.op("->")(key)) == "string",
                    doc.op("->>")(key) == bindparam(None, value, type_=String()),
                )
            if self.mysql:
                found = func.json_extract(column, path)
                return and_(
                    func.json_type(found) == "STRING",
                    self.text(func.json_unquote(found)) == self.value(value),
                )
            return and_(
                func.json_type(column, path) == "text",
                func.json_extract(column, path) == bindparam(None, value, type_=String()),
            )
        # An int or a bool keeps its JSON type: True is not 1 (see same_metadata).
        if isinstance(value, bool):
            word = "true" if value else "false"
            if self.dialect == "sqlite":
                return func.json_type(column, path) == word
            if self.dialect == "postgresql":
                doc = cast(column, postgresql.JSON)
                return and_(
                    func.json_typeof(doc.op("->")(key)) == "boolean",
                    doc.op("->>")(key) == bindparam(None, word, type_=String()),
                )
            found = func.json_extract(column, path)
            return and_(func.json_type(found) == "BOOLEAN", self.text(found) == self.value(word))
        if self.dialect == "sqlite":
            return and_(
                func.json_type(column, path) == "integer",
                func.json_extract(column, path) == self.integer(value),
            )
        if self.dialect == "postgresql":
            doc = cast(column, postgresql.JSON)
            return and_(
                func.json_typeof(doc.op("->")(key)) == "number",
                doc.op("->>")(key) == bindparam(None, str(value), type_=String()),
            )
        found = func.json_extract(column, path)
        return and_(
            func.json_type(found).in_(["INTEGER", "UNSIGNED INTEGER"]),
            self.text(found) == self.value(str(value)),
        )

    def aggregate(self, node: AggregateCondition) -> Any:
        i = t.interactions.c
        where = self.filters(node)
        op = node.op
        match node.measure:
            case Measure.COUNT:
                measured = _scalar(func.count(), where)
                return self.compare(op, measured, node.value, False)
            case Measure.DISTINCT_DAYS:
                measured = _scalar(func.count(self.day(i.occurred_at_us).distinct()), where)
                return self.compare(op, measured, node.value, False)
            case Measure.MIN_AT | Measure.MAX_AT:
                agg = func.min if node.measure is Measure.MIN_AT else func.max
                measured = _scalar(agg(i.occurred_at_us), where)
                operand = None if op in (Op.IS_NULL, Op.IS_NOT_NULL) else _map(node.value, _us)
                return self.present(op, measured, operand, False)
        operand = _map(node.value, _minor)
        where = [*where, i.currency == node.currency, i.amount_minor.is_not(None)]
        amount: Any = i.amount_minor
        if node.measure is Measure.NET_SPEND:
            where.append(self.keys(i.kind, NET_SPEND_SIGNS))
            amount = self.signed(amount)
        if self.dialect != "sqlite":
            total = func.coalesce(_scalar(func.sum(amount), where), 0)
            return self.compare(op, total, operand, False)
        return self.split_sum(op, where, operand, amount)

    def signed(self, amount: Any) -> Any:
        """Net spend's terms: a purchase's amount, a refund's negated (never out of range:
        amounts lie within ±(2**63 - 1))."""
        refund = t.interactions.c.kind == InteractionKind.REFUND.value
        return type_coerce(case((refund, -amount), else_=amount), BigInteger())

    def split_sum(self, op: Op, where: list[Any], operand: Any, amount: Any) -> Any:
        """SQLite: compare a sum that may overflow 64 bits, summing the halves apart."""
        low = amount.op("&")(_LOW_32)
        high_sum = func.coalesce(_scalar(func.sum((amount - low) // _TWO_32), where), 0)
        low_sum = func.coalesce(_scalar(func.sum(low), where), 0)
        high = high_sum + low_sum // _TWO_32  # the low sum is >= 0: its quotient is a floor
        rest = low_sum.op("%")(_TWO_32)

        def split(k: int) -> tuple[Any, Any]:
            return literal(k // _TWO_32, BigInteger()), literal(k % _TWO_32, BigInteger())

        def less(k: int, strict: bool) -> Any:
            kh, kl = split(k)
            return or_(high < kh, and_(high == kh, rest < kl if strict else rest <= kl))

        def equal(k: int) -> Any:
            kh, kl = split(k)
            return and_(high == kh, rest == kl)

        match op:
            case Op.EQ:
                return equal(operand)
            case Op.NE:
                return not_(equal(operand))
            case Op.LT:
                return less(operand, True)
            case Op.LE:
                return less(operand, False)
            case Op.GT:
                return not_(less(operand, False))
            case Op.GE:
                return not_(less(operand, True))
            case Op.BETWEEN:
                return and_(not_(less(operand[0], True)), less(operand[1], False))
        raise ValidationError.single("op", op.value, "does not apply to sum")  # pragma: no cover

    def day(self, micros: Any) -> Any:
        """The UTC day number of an instant: ``floor(micros / one day)``, negatives included."""
        return case(
            (micros >= 0, micros // _DAY_US),
            else_=-1 - ((-1 - micros) // _DAY_US),
        )


def _scalar(aggregate: Any, where: Sequence[Any]) -> Any:
    # One filter per metadata key: joined as a balanced tree, however many keys there are.
    return select(aggregate).select_from(t.interactions).where(all_of(where)).scalar_subquery()


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, tuple) and value else value


def _map(operand: Any, convert: Any) -> Any:
    if isinstance(operand, tuple):
        return tuple(convert(v) for v in operand)
    return convert(operand)


def _us(moment: datetime) -> int:
    return to_us(ensure_utc(moment, "value"))


def _minor(money: Money) -> int:
    return money.minor


def _decimal_text(value: Decimal) -> str | None:
    """The stored text of a decimal trait equal to ``value``; ``None`` if no trait can be (its
    magnitude is beyond what a trait may hold, and writing it out could be huge)."""
    if value and abs(value.adjusted()) > MAX_DECIMAL_EXPONENT:
        return None
    return str(canonical_decimal(value))


def segment_predicate(condition: Condition, *, dialect: str, tenant: str, as_of: datetime) -> Any:
    """The boolean SQL expression over ``crmkit_customers`` for ``condition``: never NULL."""
    compiler = _Compiler(dialect, tenant, ensure_utc(as_of, "as_of"))
    if not isinstance(condition, Condition):
        raise ValidationError.single("rule", condition, "must be a Condition")
    return compiler.predicate(condition)


def compile_segment(
    condition: Condition,
    *,
    dialect: str,
    tenant: str,
    as_of: datetime,
    after: str | None = None,
    limit: int | None = None,
) -> Select[str]:
    """One ``SELECT id FROM crmkit_customers`` of ``tenant``'s customers matching
    ``condition`` at ``as_of``, in id order; ``after``/``limit`` give a keyset page."""
    predicate = segment_predicate(condition, dialect=dialect, tenant=tenant, as_of=as_of)
    query = select(_c.id).where(_c.tenant_id == tenant, predicate)
    if after is not None:
        query = query.where(_c.id > after)
    query = query.order_by(_c.id)
    if limit is not None:
        query = query.limit(limit)
    return query


def count_query(condition: Condition, *, dialect: str, tenant: str, as_of: datetime) -> Select[int]:
    """``SELECT count(*)`` of the customers matching ``condition``."""
    predicate = segment_predicate(condition, dialect=dialect, tenant=tenant, as_of=as_of)
    return select(func.count()).select_from(t.customers).where(_c.tenant_id == tenant, predicate)
