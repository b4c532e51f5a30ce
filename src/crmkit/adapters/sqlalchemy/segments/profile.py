"""Segment leaves over a customer's own data: profile fields, traits, consent."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import (
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
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql

from crmkit.adapters.sqlalchemy.accounts.tables import accounts
from crmkit.adapters.sqlalchemy.customers.tables import consents, customers, traits
from crmkit.adapters.sqlalchemy.segments.comparisons import (
    Comparisons,
    decimal_text,
    first,
    map_operand,
    us,
)
from crmkit.domain.customers.traits import TraitType
from crmkit.domain.rules.leaves import ConsentCondition, FieldCondition, Op, TraitCondition
from crmkit.errors import ValidationError

__all__ = ["CUSTOMER_COLUMNS", "consent", "field", "trait"]

_c = customers.c

# Customer fields: catalogue name -> column of crmkit_customers.
CUSTOMER_COLUMNS: Final = {
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
ACCOUNT_COLUMNS: Final = {
    "account.name": accounts.c.name,
    "account.domain": accounts.c.domain,
    "account.industry": accounts.c.industry,
    "account.size": accounts.c.size,
}


def field(sql: Comparisons, node: FieldCondition) -> Any:
    op, operand = node.op, node.value
    textual = not isinstance(first(operand), datetime)
    if not textual and operand is not None:
        operand = map_operand(operand, us)
    column = CUSTOMER_COLUMNS.get(node.field)
    if column is not None:
        return sql.present(op, column, operand, textual)
    a = accounts.c
    column = ACCOUNT_COLUMNS[node.field]
    linked = exists().where(a.tenant_id == sql.tenant, a.id == _c.account_id, column.is_not(None))
    if op is Op.IS_NULL:
        return not_(linked)
    if op is Op.IS_NOT_NULL:
        return linked
    return exists().where(
        a.tenant_id == sql.tenant,
        a.id == _c.account_id,
        column.is_not(None),
        sql.compare(op, column, operand, textual),
    )


def trait(sql: Comparisons, node: TraitCondition) -> Any:
    tr = traits.c
    own = [tr.tenant_id == sql.tenant, tr.customer_id == _c.id, tr.name == node.name]
    if node.type is not None:  # None: a trait of any type
        own.append(tr.type == node.type.value)
    op = node.op
    if op is Op.IS_NULL:
        return not_(exists().where(*own))
    if op is Op.IS_NOT_NULL:
        return exists().where(*own)
    if node.type is None:  # pragma: no cover - the leaf takes only is (not) null then
        raise ValidationError.single("type", None, "a trait of any type is only (not) null")
    return exists().where(*own, trait_test(sql, node.type, op, node.value))


def trait_test(sql: Comparisons, kind: TraitType, op: Op, operand: Any) -> Any:
    tr = traits.c
    match kind:
        case TraitType.STRING:
            return and_(tr.value_text.is_not(None), sql.compare(op, tr.value_text, operand, True))
        case TraitType.INTEGER:
            return sql.compare(op, tr.value_int, operand, False)
        case TraitType.BOOLEAN:
            return sql.compare(op, tr.value_int, map_operand(operand, int), False)
        case TraitType.DATETIME:
            return sql.compare(op, tr.value_int, map_operand(operand, us), False)
        case TraitType.DATE:
            return sql.compare(op, tr.value_text, map_operand(operand, date.isoformat), True)
        case TraitType.DECIMAL:
            return decimal(sql, op, operand)
        case TraitType.STRING_LIST:
            return list_contains(sql, operand)
    raise ValidationError.single("type", kind, "is not a trait type")  # pragma: no cover


def decimal(sql: Comparisons, op: Op, operand: Any) -> Any:
    values = operand if op in (Op.IN, Op.NOT_IN) else (operand,)
    texts = {text for v in values if (text := decimal_text(v)) is not None}
    # Canonical texts hold no spaces: the column's own exact collation (and index) serves,
    # as one flat IN however many values.
    found = sql.keys(traits.c.value_text, texts) if texts else false()
    if op in (Op.EQ, Op.IN):
        return found
    if op in (Op.NE, Op.NOT_IN):
        return not_(found)
    raise ValidationError.single("op", op.value, "does not apply to decimal traits")


def list_contains(sql: Comparisons, element: str) -> Any:
    tr = traits.c
    # Only a list's text is parsed as JSON, whatever order the database evaluates in.
    column = case((tr.type == TraitType.STRING_LIST.value, tr.value_text), else_="[]")
    if sql.dialect == "postgresql":
        return func.jsonb_exists(cast(column, postgresql.JSONB), element)
    if sql.mysql:  # JSON_CONTAINS misses escaped non-BMP text: walk the elements
        elements = sql_text(
            f"JSON_TABLE(CASE WHEN {traits.name}.type = 'string_list' "
            f"THEN {traits.name}.value_text ELSE '[]' END, '$[*]' "
            "COLUMNS (v LONGTEXT PATH '$')) AS list_element"
        )
        return exists(
            select(literal(1))
            .select_from(elements)
            .where(sql.text(literal_column("list_element.v")) == sql.value(element))
        )
    each = func.json_each(column).table_valued("value", "type")
    return exists(
        select(literal(1))
        .select_from(each)
        .where(each.c.type == "text", each.c.value == bindparam(None, element, type_=String()))
    )


def consent(sql: Comparisons, node: ConsentCondition) -> Any:
    r, r2 = consents.alias("consent"), consents.alias("later")

    def covering(rec: Any, owner: Any) -> Any:
        return and_(
            rec.c.tenant_id == sql.tenant,
            rec.c.customer_id == owner,
            rec.c.purpose == node.purpose,
            or_(rec.c.channel.is_(None), rec.c.channel == node.channel.value),
            rec.c.at_us <= sql.as_of_us,
        )

    def permits(rec: Any) -> Any:
        return and_(rec.c.status == "granted", rec.c.double_opt_in != "pending")

    overruled = exists().where(
        covering(r2, r.c.customer_id),  # correlates one level up only
        or_(r2.c.at_us > r.c.at_us, and_(r2.c.at_us == r.c.at_us, not_(permits(r2)))),
    )
    return exists().where(covering(r, _c.id), permits(r), not_(overruled))
