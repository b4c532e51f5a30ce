"""Loyalty programmes and their parts, ledger entries, referrals and balances."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from crmkit.domain import Channel
from crmkit.domain._checks import MAX_BIGINT, MAX_VERSION, SLUG
from crmkit.domain.loyalty.balance import PointsBalance
from crmkit.domain.loyalty.entries import LedgerEntry
from crmkit.domain.loyalty.programme import EarningRule, Programme, Reward
from crmkit.domain.loyalty.referrals import Referral, ReferralPolicy
from crmkit.domain.loyalty.rules import EventRule, Multiplier, PeriodCap, SpendRule
from crmkit.domain.loyalty.tiers import Tier
from crmkit.domain.values.ids import check_id
from crmkit.errors import FieldError, ValidationError
from crmkit.serialization._collections import strict_set, strict_tuple
from crmkit.serialization._limits import dict_fn
from crmkit.serialization._problems import Bad, field_errors

__all__ = [
    "RULE_TYPES",
    "register_loyalty",
]

#: Every loyalty earning rule class by the tag under ``"type"`` in its JSON form.
RULE_TYPES: Mapping[str, type[SpendRule | EventRule]] = MappingProxyType(
    {"spend": SpendRule, "event": EventRule}
)


def _is_rule(kind: Any) -> bool:
    return kind == EarningRule or kind in (SpendRule, EventRule)


def register_loyalty(conv: cattrs.Converter) -> None:
    """Programmes and their parts, earning rules as a tagged union, ledger entries, referrals
    and balances."""
    tags = {cls: tag for tag, cls in RULE_TYPES.items()}
    structurers: dict[type, Callable[[Any, Any], Any]] = {}
    unstructurers: dict[type, Callable[[Any], dict[str, Any]]] = {}

    def structure_rule(value: Any, wanted: Any) -> SpendRule | EventRule:
        allowed = sorted(t for t, c in RULE_TYPES.items() if wanted == EarningRule or c is wanted)
        if not isinstance(value, Mapping):
            raise Bad(f"must be an object whose 'type' is one of {', '.join(allowed)}")
        tag = value.get("type")
        cls = RULE_TYPES.get(tag) if isinstance(tag, str) else None
        if cls is None or tag not in allowed:
            message = "is required: one of" if "type" not in value else "must be one of"
            raise ValidationError.single("type", tag, f"{message} {', '.join(allowed)}")
        made: SpendRule | EventRule = structurers[cls](
            {k: v for k, v in value.items() if k != "type"}, cls
        )
        return made

    def unstructure_rule(rule: SpendRule | EventRule) -> dict[str, Any]:
        cls = type(rule)
        if cls not in unstructurers:
            raise ValidationError.single("type", cls.__name__, "is not an earning rule class")
        return {"type": tags[cls], **unstructurers[cls](rule)}

    conv.register_structure_hook_func(_is_rule, structure_rule)
    conv.register_unstructure_hook_func(_is_rule, unstructure_rule)
    _register_referrals_and_balances(conv)  # before the programme, whose policy uses it
    kinds = override(struct_hook=strict_set(conv, str, "interaction kinds"))
    structurers[SpendRule] = dict_fn(conv, SpendRule, kinds=kinds)
    structurers[EventRule] = dict_fn(conv, EventRule)
    for cls in (SpendRule, EventRule):
        unstructurers[cls] = make_dict_unstructure_fn(cls, conv)
    conv.register_structure_hook(
        Multiplier,
        dict_fn(
            conv,
            Multiplier,
            channels=override(struct_hook=strict_set(conv, Channel, "channels")),
            categories=override(struct_hook=strict_set(conv, str, "product categories")),
        ),
    )
    lists: dict[str, Any] = {
        name: override(struct_hook=strict_tuple(conv, item, what))
        for name, item, what in (
            ("rules", EarningRule, "earning rules"),
            ("multipliers", Multiplier, "multipliers"),
            ("tiers", Tier, "tiers"),
            ("period_caps", PeriodCap, "period caps"),
            ("rewards", Reward, "rewards"),
        )
    }
    conv.register_structure_hook(
        Programme,
        dict_fn(
            conv,
            Programme,
            custom_kinds=override(struct_hook=strict_set(conv, str, "interaction kinds")),
            **lists,
        ),
    )
    pair: Any = tuple[str, int]

    def structure_takes(value: Any, _: type) -> tuple[tuple[str, int], ...]:
        if not isinstance(value, list | tuple):
            raise Bad("must be a list of [lot, points] pairs")
        problems: list[FieldError] = []
        taken: list[tuple[str, int]] = []
        for index, item in enumerate(value):
            try:
                if not isinstance(item, list | tuple) or len(item) != 2:
                    raise Bad("must be a [lot, points] pair")
                taken.append(conv.structure(item, pair))
            except Exception as exc:
                problems.extend(field_errors(exc, [index], value))
        if problems:
            raise ValidationError(problems)
        return tuple(taken)

    conv.register_structure_hook(
        LedgerEntry,
        dict_fn(
            conv,
            LedgerEntry,
            takes=override(struct_hook=structure_takes),
        ),
    )
    conv.register_unstructure_hook(
        LedgerEntry,
        make_dict_unstructure_fn(
            LedgerEntry,
            conv,
            takes=override(unstruct_hook=lambda takes: [[lot, n] for lot, n in takes]),
        ),
    )


#: The counts of a `PointsBalance` and the largest each column holds.
_BALANCE_COUNTS = {
    "available": MAX_BIGINT,
    "pending": MAX_BIGINT,
    "entries": MAX_VERSION,
    "version": MAX_VERSION,
}


def _register_referrals_and_balances(conv: cattrs.Converter) -> None:
    """Referral policies, referrals and points balances: their fields, strictly.

    A referral's pending events are not data (``_events`` is not an ``__init__`` argument,
    so cattrs neither writes nor reads it). A balance has no checks of its own; the counts,
    the member's id and the programme's slug of a document are checked here, so that a bad
    stored row is refused rather than shown.
    """
    for cls in (ReferralPolicy, Referral):
        conv.register_structure_hook(cls, dict_fn(conv, cls))
        conv.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, conv))
    load_balance = dict_fn(conv, PointsBalance)

    def structure_balance(value: Any, _: type) -> PointsBalance:
        balance: PointsBalance = load_balance(value, PointsBalance)
        problems = [
            FieldError(name, count, f"must be an integer >= 0 (at most {limit})")
            for name, limit in _BALANCE_COUNTS.items()
            if not 0 <= (count := getattr(balance, name)) <= limit
        ]
        if not SLUG.fullmatch(balance.programme):
            problems.append(FieldError("programme", balance.programme, "must be a lower-case slug"))
        try:
            check_id("customer_id", balance.customer_id)
        except ValidationError as error:
            problems.extend(error.errors)
        if problems:
            raise ValidationError(problems)
        return balance

    conv.register_structure_hook(PointsBalance, structure_balance)
    conv.register_unstructure_hook(PointsBalance, make_dict_unstructure_fn(PointsBalance, conv))
