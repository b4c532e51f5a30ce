"""Hypothesis strategies for every public crmkit type, valid by construction.

Use them directly (``customers()``, ``money(currency="EUR")``) or through
``st.from_type(Customer)``: installing crmkit registers them with Hypothesis through its
``hypothesis`` entry point (the loyalty types, such as `Programme`, `Referral` and
`PointsBalance`, when this module is imported). Every strategy shrinks towards small, plain
values.
"""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import attrs
from hypothesis import strategies as st

from crmkit.domain import (
    ACCOUNT_FIELDS,
    CUSTOMER_FIELDS,
    SEGMENT_FIELDS,
    Account,
    AccountChanged,
    AccountId,
    AccountLink,
    AccountRegistered,
    AggregateCondition,
    AllOf,
    AnyOf,
    Channel,
    CompanySize,
    Condition,
    ConsentChanged,
    ConsentCondition,
    ConsentRecord,
    ConsentStatus,
    ContactPoint,
    Customer,
    CustomerId,
    CustomerProfileChanged,
    CustomerRegistered,
    Direction,
    DomainEvent,
    DoubleOptIn,
    EmailAddress,
    EnteredSegment,
    Facts,
    FieldCondition,
    FieldType,
    Interaction,
    InteractionId,
    InteractionKind,
    InteractionRecorded,
    LeftSegment,
    LifecycleModel,
    Measure,
    Members,
    MembershipChange,
    Money,
    Not,
    Op,
    Outcome,
    PhoneNumber,
    PostalAddress,
    ProgressionRule,
    Segment,
    SegmentSnapshot,
    Stage,
    StageChange,
    StageChanged,
    StageCondition,
    StageHistory,
    SubjectKind,
    TagCondition,
    TimeInStage,
    TraitCondition,
    TraitDefinition,
    TraitSchema,
    TraitType,
    TraitValue,
    Transition,
    Window,
)
from crmkit.domain._iso import COUNTRIES, CURRENCY_EXPONENTS
from crmkit.domain.loyalty import (
    ROUNDING_MODES,
    Award,
    EntryKind,
    EventRule,
    LedgerEntry,
    LedgerState,
    LotState,
    Multiplier,
    Period,
    PeriodCap,
    PointsBalance,
    PointsEarned,
    PointsExpired,
    PointsLedger,
    PointsRedeemed,
    Programme,
    Redemption,
    Referral,
    ReferralChanged,
    ReferralPolicy,
    ReferralStatus,
    Reward,
    SpendRule,
    StatementLine,
    Tier,
    TierBasis,
    TierChanged,
    TierPolicy,
)
from crmkit.domain.rules.conditions import MAX_CONDITION_DEPTH
from crmkit.domain.rules.operands import field_operand
from crmkit.domain.values.contact import MAX_EXTENSION
from crmkit.domain.values.money import MAX_MINOR
from crmkit.testing._report_strategies import (
    duration_stats,
    funnel_steps,
    funnels,
    import_results,
    ledger_states,
    points_job_reports,
    progression_reports,
    stage_flows,
    stays,
)

__all__ = [
    "duration_stats",
    "funnel_steps",
    "funnels",
    "import_results",
    "ledger_states",
    "points_job_reports",
    "progression_reports",
    "stage_flows",
    "stays",
    "account_ids",
    "account_links",
    "accounts",
    "conditions",
    "consent_records",
    "contact_points",
    "currencies",
    "customer_ids",
    "customers",
    "domain_events",
    "membership_changes",
    "segment_snapshots",
    "emails",
    "facts",
    "ids",
    "interactions",
    "ledger_entries",
    "lifecycle_models",
    "loyalty_programmes",
    "money",
    "phone_numbers",
    "points_balances",
    "postal_addresses",
    "progression_rules",
    "purposes",
    "referrals",
    "segment_facts",
    "segment_rules",
    "segments",
    "slugs",
    "stage_changes",
    "stage_histories",
    "stages",
    "tenants",
    "trait_definitions",
    "trait_schemas",
    "trait_values",
    "traits",
    "transitions",
    "utc_datetimes",
    "web_domains",
    "windows",
]

EARLIEST = datetime(1990, 1, 1)
LATEST = datetime(2090, 1, 1)

# Any text a database can hold, from every plane (emoji included): everything but U+0000 and
# lone surrogates, which crmkit refuses (naming exclude_characters alone lets Hypothesis draw
# surrogates; the utf-8 codec cannot encode them).
_STORABLE = st.characters(codec="utf-8", exclude_characters="\x00")
_ID_ALPHABET = string.ascii_letters + string.digits + "_-"
_LOCAL_ALPHABET = string.ascii_lowercase + string.digits + "!#$%&'*+/=?^_`{|}~-"


def utc_datetimes(
    min_value: datetime = EARLIEST, max_value: datetime = LATEST
) -> st.SearchStrategy[datetime]:
    """Timezone-aware UTC datetimes between two naive bounds (read as UTC)."""
    return st.datetimes(
        min_value=min_value.replace(tzinfo=None),
        max_value=max_value.replace(tzinfo=None),
        timezones=st.just(UTC),
    )


def ids() -> st.SearchStrategy[str]:
    """Well-formed ids: 1-24 URL-safe characters starting with a letter or digit."""
    return st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(string.ascii_letters + string.digits),
        st.text(_ID_ALPHABET, max_size=23),
    )


def customer_ids() -> st.SearchStrategy[CustomerId]:
    """Customer ids."""
    return ids().map(CustomerId)


def account_ids() -> st.SearchStrategy[AccountId]:
    """Account ids."""
    return ids().map(AccountId)


def tenants() -> st.SearchStrategy[str]:
    """Tenant ids: lower-case slugs."""
    return st.from_regex(r"[a-z0-9][a-z0-9_\-]{0,15}", fullmatch=True)


def slugs(max_size: int = 20) -> st.SearchStrategy[str]:
    """Lower-case slugs (purposes, trait names, roles, kinds)."""
    return st.from_regex(rf"[a-z][a-z0-9_]{{0,{max_size - 1}}}", fullmatch=True)


def purposes() -> st.SearchStrategy[str]:
    """Consent purposes: mostly the usual ones, sometimes any slug."""
    return st.sampled_from(["marketing", "newsletter", "profiling", "surveys"]) | slugs()


def currencies() -> st.SearchStrategy[str]:
    """Active ISO 4217 currency codes, shrinking towards EUR."""
    return st.sampled_from(["EUR", "USD", "JPY", "KWD", *sorted(CURRENCY_EXPONENTS)])


def money(
    currency: str | None = None, min_minor: int = -(10**12), max_minor: int = 10**12
) -> st.SearchStrategy[Money]:
    """Money in ``currency`` (any if ``None``), between two amounts of minor units."""
    codes = st.just(currency) if currency is not None else currencies()
    lo, hi = max(min_minor, -MAX_MINOR), min(max_minor, MAX_MINOR)
    return st.builds(Money, st.integers(lo, hi), codes)


def _label() -> st.SearchStrategy[str]:
    return st.from_regex(r"[a-z0-9]([a-z0-9\-]{0,6}[a-z0-9])?", fullmatch=True)


def web_domains() -> st.SearchStrategy[str]:
    """Normalised web domains such as ``ab-c.example``."""
    tld = st.from_regex(r"[a-z]{2,6}", fullmatch=True)
    return st.builds(
        lambda labels, top: ".".join([*labels, top]),
        st.lists(_label(), min_size=1, max_size=3),
        tld,
    )


def emails() -> st.SearchStrategy[EmailAddress]:
    """Valid email addresses (ASCII, with the special characters an address may hold)."""
    atom = st.text(_LOCAL_ALPHABET, min_size=1, max_size=10)
    local = st.lists(atom, min_size=1, max_size=3).map(".".join)
    return st.builds(lambda lp, d: EmailAddress(f"{lp}@{d}"), local, web_domains())


@cache
def _example_numbers() -> tuple[str, ...]:
    import phonenumbers

    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number_for_type(
            region, phonenumbers.PhoneNumberType.MOBILE
        ) or phonenumbers.example_number(region)
        if number is not None:
            found.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return tuple(found)


def _valid_phone(e164: str) -> bool:
    import phonenumbers

    return bool(phonenumbers.is_valid_number(phonenumbers.parse(e164, None)))


def phone_numbers() -> st.SearchStrategy[PhoneNumber]:
    """Valid E.164 phone numbers from every region phonenumbers knows, last digits varied;
    some with an extension."""
    return st.builds(
        PhoneNumber,
        st.builds(
            lambda base, tail: base[: -len(tail)] + tail if tail else base,
            st.sampled_from(_example_numbers()),
            st.text(string.digits, max_size=2),
        ).filter(_valid_phone),
        st.none() | st.text(string.digits, min_size=1, max_size=MAX_EXTENSION),
    )


def _text(max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(
        st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")),
        min_size=1,
        max_size=max_size,
    ).filter(lambda s: s.strip() != "")


def postal_addresses() -> st.SearchStrategy[PostalAddress]:
    """Postal addresses with any ISO country and optional lines, city, region, code."""
    return st.builds(
        PostalAddress,
        country=st.sampled_from(sorted(COUNTRIES)),
        lines=st.lists(_text(), max_size=3).map(tuple),
        city=st.none() | _text(),
        region=st.none() | _text(),
        postal_code=st.none() | st.from_regex(r"[0-9A-Z]{3,8}", fullmatch=True),
    )


def contact_points() -> st.SearchStrategy[ContactPoint]:
    """Further contact points, email or phone, with an optional label."""
    return st.builds(
        ContactPoint,
        st.one_of(emails(), phone_numbers()),
        st.none() | st.sampled_from(["work", "home", "assistant"]),
    )


def _spaced(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``text``, often with spaces (or a tab) before or after it: stored keys and compared
    values must tell ``"X1"`` from ``"X1 "`` on every backend, as Python does."""
    pads = st.sampled_from(["", " ", "   ", "\t"])
    return text | st.builds(lambda lead, core, trail: lead + core + trail, pads, text, pads)


#: Decimals equal to simpler ones, which a database comparing text could tell apart.
_EDGE_DECIMALS = tuple(
    Decimal(text)
    for text in (
        *("1." + "0" * 40, "0E-50", "-0", "-0.000", "0E+30", "2." + "0" * 25, "1E+2"),
        *("1E+30", "-1E-30", "9.99E+30", "1.0000000000000000000000000000001", "-12.50"),
    )
)


def _with_zeros(value: Decimal, zeros: int) -> Decimal:
    """``value`` written with ``zeros`` more trailing zeros (an equal decimal)."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, (*digits, *(0,) * zeros), exponent - zeros))


def _decimal_traits() -> st.SearchStrategy[Decimal]:
    """Decimal traits: plain ones, ones of any magnitude a trait allows (``1e±30``), the same
    with up to 40 trailing zeros, zeros of any exponent and sign, and the edge cases."""
    plain = st.decimals(
        allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=4
    )
    scaled = st.builds(
        lambda digits, exponent: Decimal(digits).scaleb(exponent),
        st.integers(-(10**6), 10**6),
        st.integers(-30, 24),
    )
    padded = st.builds(_with_zeros, plain | scaled, st.integers(0, 40))
    return plain | scaled | padded | st.sampled_from(_EDGE_DECIMALS)


def trait_values(kind: TraitType | None = None) -> st.SearchStrategy[TraitValue]:
    """Trait values of ``kind`` (any kind if ``None``)."""
    by_kind: dict[TraitType, st.SearchStrategy[Any]] = {
        TraitType.STRING: _spaced(st.text(_STORABLE, max_size=40)),
        TraitType.INTEGER: st.integers(-MAX_MINOR, MAX_MINOR),
        TraitType.DECIMAL: _decimal_traits(),
        TraitType.BOOLEAN: st.booleans(),
        TraitType.DATE: st.dates(date(1900, 1, 1), date(2100, 1, 1)),
        TraitType.DATETIME: utc_datetimes(),
        TraitType.STRING_LIST: st.lists(st.text(_STORABLE, max_size=15), max_size=4).map(tuple),
    }
    if kind is not None:
        return by_kind[kind]
    return st.one_of(*by_kind.values())


def trait_definitions(*, required: bool = False) -> st.SearchStrategy[TraitDefinition]:
    """Trait definitions of any type; ``required=True`` lets some be required."""
    return st.builds(
        TraitDefinition,
        st.sampled_from(list(TraitType)),
        st.booleans() if required else st.just(False),
        st.none() | _text(40),
    )


def trait_schemas() -> st.SearchStrategy[TraitSchema]:
    """Trait schemas declaring a few typed traits, none required."""
    definitions = st.dictionaries(slugs(12), trait_definitions(), max_size=5)
    return st.builds(TraitSchema, definitions, st.booleans())


def traits(schema: TraitSchema | None = None) -> st.SearchStrategy[dict[str, TraitValue]]:
    """Trait mappings; with ``schema``, only declared traits of the declared types."""
    if schema is None:
        return st.dictionaries(slugs(12), trait_values(), max_size=4)
    if not schema.traits:
        return st.just({})
    return st.fixed_dictionaries(
        {},
        optional={name: trait_values(d.type) for name, d in schema.traits.items()},
    )


def consent_records(
    *, channel: Channel | None = None, purpose: str | None = None
) -> st.SearchStrategy[ConsentRecord]:
    """Consent records; fix ``channel`` or ``purpose`` to focus on one decision."""
    return st.builds(
        ConsentRecord,
        purpose=st.just(purpose) if purpose is not None else purposes(),
        channel=st.just(channel) if channel is not None else st.none() | st.sampled_from(Channel),
        status=st.sampled_from(ConsentStatus),
        at=utc_datetimes(),
        source=st.sampled_from(["signup_form", "checkout", "call_centre", "import"]),
        method=st.none() | st.sampled_from(["checkbox", "verbal", "unsubscribe_link"]),
        evidence=st.none() | ids(),
        double_opt_in=st.sampled_from(DoubleOptIn),
    )


def account_links() -> st.SearchStrategy[AccountLink]:
    """Links from a customer to an account, with a role."""
    return st.builds(
        AccountLink, account_ids(), st.sampled_from(["contact", "billing", "decision_maker"])
    )


def customers(
    *, customer_id: str | None = None, schema: TraitSchema | None = None
) -> st.SearchStrategy[Customer]:
    """Customers as stored (version 0, no pending events), every field exercised."""
    # The parts are built once, not on every draw: composites re-created per example are slow.
    ident = st.just(CustomerId(customer_id)) if customer_id else customer_ids()
    name = st.none() | _text(20)
    locale = st.none() | st.sampled_from(["en", "en-GB", "de-DE", "fr-CA", "zh-Hant-TW"])
    tags = st.frozensets(st.sampled_from(["vip", "b2b", "newsletter"]) | slugs(), max_size=4)
    parts = {
        "given_name": name,
        "family_name": name,
        "email": st.none() | emails(),
        "phone": st.none() | phone_numbers(),
        "other_contacts": st.lists(contact_points(), max_size=2).map(tuple),
        "address": st.none() | postal_addresses(),
        "locale": locale,
        "tags": tags,
        "traits": traits(schema),
        "consents": st.lists(consent_records(), max_size=3).map(tuple),
        "external_ids": st.dictionaries(slugs(10), _spaced(ids()), max_size=2),
        "account": st.none() | account_links(),
    }
    return st.builds(
        lambda created, later, fields: Customer(
            created_at=created, updated_at=max(created, later), **fields
        ),
        utc_datetimes(),
        utc_datetimes(),
        st.fixed_dictionaries({"id": ident, **parts}),
    )


def accounts() -> st.SearchStrategy[Account]:
    """Accounts as stored (version 0)."""
    return st.builds(
        lambda created, later, fields: Account(
            created_at=created, updated_at=max(created, later), **fields
        ),
        utc_datetimes(),
        utc_datetimes(),
        st.fixed_dictionaries(
            {
                "id": account_ids(),
                "name": _text(40),
                "domain": st.none() | web_domains(),
                "industry": st.none() | st.sampled_from(["retail", "software", "logistics"]),
                "size": st.none() | st.sampled_from(CompanySize),
            }
        ),
    )


def interactions(
    *,
    customer_id: str | None = None,
    kinds: list[str] | None = None,
    currency: str | None = None,
    min_time: datetime = EARLIEST,
    max_time: datetime = LATEST,
) -> st.SearchStrategy[Interaction]:
    """Interactions, optionally of one customer, some kinds, one currency, a time range.

    Amounts may be negative, except a purchase's and a refund's (what was paid, what was
    given back), which are never below zero."""
    kind = st.sampled_from(kinds) if kinds else st.sampled_from(InteractionKind) | slugs()
    metadata = st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        st.one_of(st.text(_STORABLE, max_size=20), st.integers(-(10**9), 10**9), st.booleans()),
        max_size=3,
    )
    return st.builds(
        _interaction,
        st.tuples(kind, st.none() | money(currency)),
        id=ids().map(InteractionId),
        customer_id=st.just(CustomerId(customer_id)) if customer_id else customer_ids(),
        occurred_at=utc_datetimes(min_time, max_time),
        channel=st.sampled_from(Channel),
        direction=st.sampled_from(Direction),
        owner=st.none() | st.sampled_from(["alice", "bob"]),
        team=st.none() | st.sampled_from(["sales", "support"]),
        campaign=st.none() | _spaced(st.sampled_from(["spring_sale", "welcome"])),
        metadata=metadata,
        external_ref=st.none() | _spaced(ids()),
    )


#: The kinds whose amount is never negative: a purchase's is what was paid, a refund's what
#: was given back (crmkit.domain.interactions.interaction).
_UNSIGNED_KINDS = frozenset({InteractionKind.PURCHASE, InteractionKind.REFUND})


def _interaction(kind_and_amount: tuple[str, Money | None], **fields: Any) -> Interaction:
    kind, amount = kind_and_amount
    if amount is not None and kind in _UNSIGNED_KINDS and amount.minor < 0:
        amount = -amount
    return Interaction(kind=kind, amount=amount, **fields)


def domain_events(of: type[DomainEvent] = DomainEvent) -> st.SearchStrategy[DomainEvent]:
    """Domain events: any kind, or only those of class ``of`` (e.g. `CustomerRegistered`).

    Every event class crmkit raises is drawn, the loyalty ones included (`PointsEarned`,
    `PointsRedeemed`, `PointsExpired`, `TierChanged` between two different tiers, and
    `ReferralChanged` between two different customers).
    """
    at = utc_datetimes()
    cid = customer_ids()
    points = st.integers(1, 100_000)
    fields = st.lists(
        st.sampled_from(["email", "tags", "traits", "address"]), min_size=1, unique=True
    )
    by_class: dict[type[DomainEvent], st.SearchStrategy[DomainEvent]] = {
        CustomerRegistered: st.builds(CustomerRegistered, at, customer_id=cid),
        CustomerProfileChanged: st.builds(
            CustomerProfileChanged, at, customer_id=cid, fields=fields.map(tuple)
        ),
        ConsentChanged: st.builds(
            ConsentChanged,
            at,
            customer_id=cid,
            purpose=purposes(),
            channel=st.none() | st.sampled_from(Channel),
            status=st.sampled_from(ConsentStatus),
        ),
        InteractionRecorded: st.builds(
            InteractionRecorded,
            at,
            customer_id=cid,
            interaction_id=ids().map(InteractionId),
            kind=st.sampled_from(InteractionKind),
            channel=st.sampled_from(Channel),
            occurred_at=utc_datetimes(),
        ),
        AccountRegistered: st.builds(AccountRegistered, at, account_id=account_ids()),
        AccountChanged: st.builds(
            AccountChanged, at, account_id=account_ids(), fields=st.just(("name",))
        ),
        StageChanged: st.builds(
            StageChanged,
            at,
            subject_kind=st.sampled_from(SubjectKind),
            subject_id=ids(),
            model=slugs(12),
            from_stage=st.none() | slugs(12),
            to_stage=slugs(12),
            reason=st.none() | _text(40),
            actor=_actors(),
            rule=st.none() | slugs(12),
        ),
        EnteredSegment: st.builds(EnteredSegment, at, customer_id=cid, segment=slugs(12)),
        LeftSegment: st.builds(LeftSegment, at, customer_id=cid, segment=slugs(12)),
        PointsEarned: st.builds(
            PointsEarned,
            at,
            customer_id=cid,
            points=points,
            rule=_short_slugs(),
            interaction_id=st.none() | ids(),
        ),
        PointsRedeemed: st.builds(
            PointsRedeemed, at, customer_id=cid, points=points, reward=st.none() | _short_slugs()
        ),
        PointsExpired: st.builds(PointsExpired, at, customer_id=cid, points=points),
        TierChanged: st.builds(
            lambda when, customer, tiers: TierChanged(
                when, customer_id=customer, from_tier=tiers[0], to_tier=tiers[1]
            ),
            at,
            cid,
            st.lists(st.none() | _short_slugs(), min_size=2, max_size=2, unique=True),
        ),
        ReferralChanged: st.builds(
            lambda when, referral, pair, status: ReferralChanged(
                when, referral_id=referral, referrer_id=pair[0], referee_id=pair[1], status=status
            ),
            at,
            ids(),
            _customer_pairs(),
            st.sampled_from(ReferralStatus),
        ),
    }
    chosen = [strategy for cls, strategy in by_class.items() if issubclass(cls, of)]
    return st.one_of(*chosen)


# --- Lifecycle stages --------------------------------------------------------------------

_TAGS = ("vip", "b2b", "newsletter")
_KINDS = tuple(k.value for k in InteractionKind)


# Composite strategies below draw from these, built once: strategies built anew on every
# draw make generation several times slower.


@cache
def _actors() -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(["alice", "bob", "crmkit"]) | ids()


@cache
def _reasons() -> st.SearchStrategy[str | None]:
    return st.none() | _text(40)


@cache
def _short_slugs() -> st.SearchStrategy[str]:
    return slugs(12)


@cache
def _stage_names() -> st.SearchStrategy[str]:
    return st.sampled_from(["lead", "customer", "lapsed", "won"]) | _short_slugs()


@cache
def _gaps() -> st.SearchStrategy[timedelta]:
    seconds = st.integers(1, 200 * 86_400).map(lambda s: timedelta(seconds=s))
    return st.just(timedelta(0)) | seconds


_FIELDS = {
    None: CUSTOMER_FIELDS + ACCOUNT_FIELDS,
    SubjectKind.CUSTOMER: CUSTOMER_FIELDS,
    SubjectKind.ACCOUNT: ACCOUNT_FIELDS,
}


@cache
def _leaves(subject: SubjectKind | None) -> dict[type[Condition], st.SearchStrategy[Condition]]:
    leaves: dict[type[Condition], st.SearchStrategy[Condition]] = {
        TimeInStage: st.builds(TimeInStage, st.integers(0, 400)),
    }
    if subject is SubjectKind.ACCOUNT:  # accounts have no tags, traits, consent or stages
        leaves[AggregateCondition] = _aggregate_condition()
        leaves[FieldCondition] = _field_condition(account_only=True)
    else:
        leaves.update(_segment_leaves())
    return leaves


@cache
def conditions(
    max_depth: int = 3, *, of: type[Condition] = Condition, subject: SubjectKind | None = None
) -> st.SearchStrategy[Condition]:
    """Valid condition trees nesting at most ``max_depth`` levels (1: leaves only).

    Leaves are the segment leaves (see `segment_rules`) and time in the current stage;
    `AllOf`, `AnyOf` and
    `Not` combine them. ``of`` narrows to one class (e.g. ``Not``) or, with
    ``Condition``, allows any. With ``subject``, only conditions a customer (or an account)
    can meet, as a lifecycle model for them requires. Trees shrink towards a single leaf.
    """
    if not 1 <= max_depth <= MAX_CONDITION_DEPTH:
        raise ValueError(f"max_depth must be from 1 to {MAX_CONDITION_DEPTH}")
    found = _leaves(subject)
    leaves = [strategy for cls, strategy in found.items() if issubclass(cls, of)]
    if max_depth == 1 or of in found:
        if not leaves:
            raise ValueError(f"no {of.__name__} nests only {max_depth} level deep")
        return st.one_of(*leaves)
    inner = conditions(max_depth - 1, subject=subject)
    children = st.lists(inner, min_size=1, max_size=3).map(tuple)
    branches: dict[type[Condition], st.SearchStrategy[Condition]] = {
        AllOf: st.builds(AllOf, children),
        AnyOf: st.builds(AnyOf, children),
        Not: st.builds(Not, inner),
    }
    chosen = [strategy for cls, strategy in branches.items() if issubclass(cls, of)]
    return st.one_of(*leaves, *chosen)


def facts(
    *,
    as_of: datetime | None = None,
    kinds: list[str] | None = None,
    subject: SubjectKind | None = None,
) -> st.SearchStrategy[Facts]:
    """Facts about a subject as of an instant (``as_of`` if given): some profile fields
    filled, tags and traits, a few interactions (of ``kinds`` if given) from 400 days
    before ``as_of`` to a day after it (which no condition counts), and sometimes when the
    subject entered its current stage.

    With ``subject``, the fields are a customer's (with tags and traits) or an account's
    (without); by default both kinds of field are there, so that any condition may hold.
    """
    seconds = st.integers(-400 * 86_400, 86_400).map(lambda s: timedelta(seconds=s))
    values = st.none() | st.just("") | st.just("x")
    account = subject is SubjectKind.ACCOUNT
    return st.builds(
        lambda when, offsets, entered, **parts: Facts(
            as_of=when,
            interactions=[attrs.evolve(i, occurred_at=when + d) for i, d in offsets],
            stage_entered_at=None if entered is None else when - entered,
            **parts,
        ),
        st.just(as_of) if as_of is not None else utc_datetimes(datetime(2000, 1, 1)),
        st.lists(st.tuples(interactions(kinds=kinds or list(_KINDS)), seconds), max_size=5),
        st.none() | st.integers(0, 400).map(lambda days: timedelta(days=days)),
        fields=st.fixed_dictionaries(dict.fromkeys(_FIELDS[subject], values)),
        tags=st.just(frozenset()) if account else st.frozensets(st.sampled_from(_TAGS), max_size=2),
        traits=st.just({}) if account else traits(),
    )


def stages(name: str | None = None, *, terminal: bool | None = None) -> st.SearchStrategy[Stage]:
    """Stages: a slug name (or ``name``), sometimes a label, a terminal flag (or
    ``terminal``), an outcome, sometimes a description."""
    return st.builds(
        _stage,
        _stage_names() if name is None else st.just(name),
        st.booleans() if terminal is None else st.just(terminal),
        _stage_parts(),
    )


def _stage(name: str, terminal: bool, parts: dict[str, Any]) -> Stage:
    label = parts.pop("label")
    if label is not None:
        parts["label"] = label
    return Stage(name, terminal=terminal, **parts)


@cache
def _stage_parts() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "label": st.none() | _text(20),
            "outcome": st.sampled_from(Outcome),
            "description": _reasons(),
        }
    )


def transitions() -> st.SearchStrategy[Transition]:
    """Transitions between two different stage names, sometimes guarded (outside a model)."""
    return st.builds(
        lambda pair, guard: Transition(*pair, guard=guard),
        st.lists(_stage_names(), min_size=2, max_size=2, unique=True),
        st.none() | conditions(2),
    )


def progression_rules() -> st.SearchStrategy[ProgressionRule]:
    """Progression rules with a slug name and target, a condition, and some sources
    (outside a model: use `lifecycle_models` for rules consistent with their model)."""
    return st.builds(
        ProgressionRule,
        slugs(12),
        _stage_names(),
        conditions(2),
        sources=st.frozensets(_stage_names(), max_size=3),
        description=st.none() | _text(40),
    )


@st.composite
def _lifecycle_model(
    draw: st.DrawFn, max_stages: int, subject: SubjectKind | None, min_rules: int
) -> Any:
    smallest = 2 if min_rules else 1
    names = draw(st.lists(_short_slugs(), min_size=smallest, max_size=max_stages, unique=True))
    initial = draw(st.sampled_from(names))
    # The initial stage leads somewhere whenever there is somewhere else to go.
    terminal = {n for n in names if draw(st.booleans()) and draw(st.booleans())}
    if len(names) > 1:
        terminal.discard(initial)
    # A random spanning tree from the initial stage: every stage is reachable ...
    others = draw(st.permutations([n for n in names if n != initial]))
    placed, edges = [initial], []
    for name in others:
        parents = [p for p in placed if p not in terminal]
        edges.append((draw(st.sampled_from(parents)), name))
        placed.append(name)
    # ... then a few more edges, never leaving a terminal stage.
    sources = [n for n in names if n not in terminal]
    if sources and len(names) > 1:
        extra = st.tuples(st.sampled_from(sources), st.sampled_from(names))
        for pair in draw(st.lists(extra, max_size=len(names) * 2)):
            if pair[0] != pair[1] and pair not in edges:
                edges.append(pair)
    edges = draw(st.permutations(edges))
    # Conditions must be ones the model's subjects can meet.
    subject = subject if subject is not None else draw(st.sampled_from(SubjectKind))
    guards = _guards(subject)
    moves = [Transition(a, b, guard=draw(guards)) for a, b in edges]
    rules = []
    targets = sorted({b for _, b in edges})
    count = draw(st.integers(min_rules, max(min_rules, 4))) if targets else 0
    for index in range(count):
        target = draw(st.sampled_from(targets))
        feeding = sorted(a for a, b in edges if b == target)
        rules.append(
            ProgressionRule(
                f"rule_{index}",
                target,
                draw(conditions(2, subject=subject)),
                sources=draw(st.just(()) | st.lists(st.sampled_from(feeding), min_size=1)),
                description=draw(_reasons()),
            )
        )
    return LifecycleModel(
        draw(_model_names()),
        stages=[_stage(n, n in terminal, draw(_stage_parts())) for n in names],
        transitions=moves,
        initial=initial,
        rules=rules,
        subject=subject,
        description=draw(_reasons()),
    )


@cache
def _guards(subject: SubjectKind) -> st.SearchStrategy[Condition | None]:
    return st.none() | conditions(2, subject=subject)


@cache
def _model_names() -> st.SearchStrategy[str]:
    return st.sampled_from(["customer_lifecycle", "pipeline"]) | _short_slugs()


def lifecycle_models(
    *, max_stages: int = 8, subject: SubjectKind | None = None, min_rules: int = 0
) -> st.SearchStrategy[LifecycleModel]:
    """Valid lifecycle models of 1 to ``max_stages`` stages.

    The transitions are a random spanning tree from the initial stage (so every stage is
    reachable) plus a few random edges; some stages are terminal (and have no way out), some
    transitions guarded. Progression rules, when there are any, target stages that some
    transition leads to, from sources that have that transition. ``subject`` fixes who
    moves through the model; ``min_rules`` asks for at least that many rules.
    """
    if max_stages < 1 or (min_rules and max_stages < 2):
        raise ValueError("max_stages must be at least 1 (2 for a model with rules)")
    return _lifecycle_model(max_stages, subject, min_rules)


def stage_changes() -> st.SearchStrategy[StageChange]:
    """Single stage changes (outside a history): an entry (no ``from_stage``) or a move
    between two different stages."""
    return st.builds(
        lambda pair, entry, at, reason, actor, rule: StageChange(
            None if entry else pair[0], pair[1], at, reason=reason, actor=actor, rule=rule
        ),
        st.lists(_stage_names(), min_size=2, max_size=2, unique=True),
        st.booleans(),
        utc_datetimes(),
        st.none() | _text(40),
        _actors(),
        st.none() | slugs(12),
    )


@st.composite
def _stage_history(draw: st.DrawFn, model: LifecycleModel | None, max_moves: int) -> Any:
    if model is None:
        model = draw(lifecycle_models())
    at = draw(_history_starts())
    first = draw(st.just(model.initial) | st.sampled_from(model.stage_names))
    reason = _reasons()
    changes = [StageChange(None, first, at, reason=draw(reason), actor=draw(_actors()))]
    gaps = _gaps()
    for _ in range(draw(st.integers(0, max_moves))):
        current = changes[-1].to_stage
        allowed = model.allowed_from(current)
        if not allowed:
            break
        target = draw(st.sampled_from(allowed))
        at += draw(gaps)
        rules = [
            r.name
            for r in model.rules
            if r.target == target and (not r.sources or current in r.sources)
        ]
        changes.append(
            StageChange(
                current,
                target,
                at,
                reason=draw(reason),
                actor=draw(_actors()),
                rule=draw(st.none() | st.sampled_from(rules)) if rules else None,
            )
        )
    return StageHistory(model.subject, draw(ids()), model.name, changes)


@cache
def _history_starts() -> st.SearchStrategy[datetime]:
    return utc_datetimes(datetime(2000, 1, 1), datetime(2060, 1, 1))


def stage_histories(
    model: LifecycleModel | None = None, *, max_moves: int = 8
) -> st.SearchStrategy[StageHistory]:
    """Stage histories as stored (version 0, no pending events): a subject entering
    ``model`` (a random one if ``None``) at its initial stage, or sometimes another, then
    a random walk of up to ``max_moves`` legal transitions at non-decreasing UTC instants
    (ties included), with random reasons and actors.

    Guards are not evaluated: the walk follows the model's graph, as a history of moves
    made with the facts of their day would.
    """
    return _stage_history(model, max_moves)


# --- Segments ------------------------------------------------------------------------------

#: The instant segment facts are evaluated at by default; generated windows and datetime
#: values cluster around it, so that boundaries (exactly N days before, exactly ``as_of``)
#: are hit often.
SEGMENT_AS_OF = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
_EDGE_DAYS = (0, 1, 7, 30, 90, 365)
_TRAIT_NAMES = ("plan", "seats", "score", "vip", "birthday", "last_seen", "interests")
_TEXTS = ("DE", "de", "Berlin", "berlin", "Köln", "KÖLN", "straße", "STRASSE", "ß", "ada", "Ada")
_OPS_BY_KIND: dict[FieldType | TraitType, tuple[Op, ...]] = {
    FieldType.TEXT: tuple(Op),
    FieldType.DATETIME: tuple(o for o in Op if o not in (Op.CONTAINS, Op.STARTS_WITH)),
    TraitType.STRING: tuple(Op),
    TraitType.INTEGER: tuple(o for o in Op if o not in (Op.CONTAINS, Op.STARTS_WITH)),
    TraitType.DECIMAL: (Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.IS_NULL, Op.IS_NOT_NULL),
    TraitType.BOOLEAN: (Op.EQ, Op.NE, Op.IS_NULL, Op.IS_NOT_NULL),
    TraitType.DATE: tuple(o for o in Op if o not in (Op.CONTAINS, Op.STARTS_WITH)),
    TraitType.DATETIME: tuple(o for o in Op if o not in (Op.CONTAINS, Op.STARTS_WITH)),
    TraitType.STRING_LIST: (Op.CONTAINS, Op.IS_NULL, Op.IS_NOT_NULL),
}


@cache
def _instants() -> st.SearchStrategy[datetime]:
    """Instants near `SEGMENT_AS_OF`, often exactly whole days before it."""
    edges = st.sampled_from(_EDGE_DAYS).map(lambda d: SEGMENT_AS_OF - timedelta(days=d))
    near = st.integers(-400 * 86_400, 86_400).map(lambda s: SEGMENT_AS_OF + timedelta(seconds=s))
    return edges | near | utc_datetimes()


@cache
def _segment_texts() -> st.SearchStrategy[str]:
    return _spaced(st.sampled_from(_TEXTS)) | st.text(_STORABLE, max_size=12)


@cache
def _scalars(kind: FieldType | TraitType) -> st.SearchStrategy[Any]:
    if kind in (FieldType.TEXT, TraitType.STRING, TraitType.STRING_LIST):
        return _segment_texts()
    if kind in (FieldType.DATETIME, TraitType.DATETIME):
        return _instants()
    if kind is TraitType.INTEGER:
        return st.sampled_from([0, 1, -1, 10]) | trait_values(TraitType.INTEGER)
    return trait_values(kind)


def _operand(draw: st.DrawFn, op: Op, scalars: st.SearchStrategy[Any]) -> Any:
    if op in (Op.IS_NULL, Op.IS_NOT_NULL):
        return None
    if op in (Op.IN, Op.NOT_IN):
        return tuple(draw(st.lists(scalars, min_size=1, max_size=4)))
    if op is Op.BETWEEN:
        low, high = sorted(draw(st.lists(scalars, min_size=2, max_size=2)))
        return (low, high)
    return draw(scalars)


def _as_typed(texts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``texts``, sometimes in another case or with spaces around, as a person types them."""
    return _spaced(texts | texts.map(str.upper) | texts.map(str.lower))


@cache
def _whole_values(name: str) -> st.SearchStrategy[str] | None:
    """Values a normalised field could hold, as typed (``eq``, ``in`` … refuse others)."""
    whole: dict[str, st.SearchStrategy[str]] = {
        "email": _as_typed(emails().map(str)),
        "phone": phone_numbers().map(str),
        "country": _as_typed(st.sampled_from(sorted(COUNTRIES))),
        "locale": _as_typed(st.sampled_from(["de-DE", "de", "en-GB", "fr_fr", "zh-Hant-TW"])),
        "account.domain": _as_typed(web_domains().filter(lambda d: not d.startswith("www."))),
        "account.size": st.sampled_from([size.value for size in CompanySize]),
    }
    if name in ("given_name", "family_name", "city", "region", "postal_code"):
        return _segment_texts().filter(lambda text: text.strip() != "")
    return whole.get(name)


@st.composite
def _field_condition(draw: st.DrawFn, *, account_only: bool = False) -> FieldCondition:
    names = [n for n in sorted(SEGMENT_FIELDS) if n.startswith("account.") or not account_only]
    name = draw(st.sampled_from(names))
    kind = SEGMENT_FIELDS[name]
    op = draw(st.sampled_from(_OPS_BY_KIND[kind]))
    scalars = _scalars(kind)
    whole = _whole_values(name)
    if whole is not None and op in (Op.EQ, Op.NE, Op.IN, Op.NOT_IN):
        scalars = whole
    elif kind is FieldType.TEXT and op is Op.BETWEEN:
        # Bounds in the field's stored form, so that putting them in it keeps their order.
        scalars = scalars.map(lambda text: field_operand(name, Op.LT.value, text))
    return FieldCondition(name, op, _operand(draw, op, scalars))


@st.composite
def _trait_condition(draw: st.DrawFn) -> TraitCondition:
    name = draw(st.sampled_from(_TRAIT_NAMES) | slugs(12))
    kind = draw(st.sampled_from(TraitType) | st.none())
    if kind is None:  # a trait of any type: present or missing
        return TraitCondition(name, None, draw(st.sampled_from([Op.IS_NULL, Op.IS_NOT_NULL])))
    op = draw(st.sampled_from(_OPS_BY_KIND[kind]))
    return TraitCondition(name, kind, op, _operand(draw, op, _scalars(kind)))


@cache
def windows() -> st.SearchStrategy[Window]:
    """Windows: ever, the last N days (often a round number), or since and/or until."""
    last = st.sampled_from(_EDGE_DAYS[1:]) | st.integers(1, 400)

    def since_until(pair: tuple[datetime | None, datetime | None]) -> Window:
        since, until = pair
        if since is not None and until is not None and until <= since:
            since, until = until, since + timedelta(seconds=1) if until == since else since
        return Window(since, until)

    open_or = st.none() | _instants()
    return st.one_of(
        st.just(Window()),
        last.map(lambda n: Window(last_days=n)),
        st.tuples(open_or, open_or).map(since_until),
    )


@st.composite
def _aggregate_condition(draw: st.DrawFn) -> AggregateCondition:
    measure = draw(st.sampled_from(Measure))
    timed = measure in (Measure.MIN_AT, Measure.MAX_AT)
    ops = [Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE, Op.BETWEEN]
    op = draw(st.sampled_from([*ops, Op.IS_NULL, Op.IS_NOT_NULL] if timed else ops))
    currency = None
    scalars: st.SearchStrategy[Any]
    if measure in (Measure.SUM, Measure.NET_SPEND):
        currency = draw(st.sampled_from(["EUR", "USD", "JPY"]))
        edge = st.sampled_from([0, 1, -1, 10_000, -10_000]).map(lambda m: Money(m, currency))
        scalars = edge | money(currency)
    elif timed:
        scalars = _instants()
    else:
        scalars = st.integers(0, 6)
    filters = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "kinds": st.frozensets(st.sampled_from(_KINDS), min_size=1, max_size=2),
                "channels": st.frozensets(st.sampled_from(Channel), min_size=1, max_size=2),
                "directions": st.frozensets(st.sampled_from(Direction), min_size=1, max_size=1),
                "campaigns": st.frozensets(
                    st.sampled_from(["spring_sale", "welcome"]), min_size=1, max_size=2
                ),
                "metadata": st.dictionaries(
                    st.sampled_from(["source", "n"]),
                    st.sampled_from(["app", "web", 1, True]),
                    min_size=1,
                    max_size=1,
                ),
            },
        )
    )
    if measure is Measure.NET_SPEND:  # it picks the purchases and refunds itself
        filters.pop("kinds", None)
    return AggregateCondition(
        measure,
        op,
        _operand(draw, op, scalars),
        window=draw(windows()),
        currency=currency,
        **filters,
    )


@cache
def _segment_leaves() -> dict[type[Condition], st.SearchStrategy[Condition]]:
    return {
        FieldCondition: _field_condition(),
        TraitCondition: _trait_condition(),
        ConsentCondition: st.builds(
            ConsentCondition,
            st.sampled_from([Channel.EMAIL, Channel.SMS, Channel.PHONE]),
            st.sampled_from(["marketing", "newsletter"]) | purposes(),
        ),
        StageCondition: st.builds(
            StageCondition,
            st.sampled_from(["customer_lifecycle", "pipeline"]) | slugs(12),
            st.frozensets(_stage_names(), min_size=1, max_size=3),
        ),
        Members: st.builds(
            Members, st.frozensets(st.sampled_from(["c1", "c2"]) | ids(), min_size=1, max_size=4)
        ),
        AggregateCondition: _aggregate_condition(),
        TagCondition: st.builds(TagCondition, st.sampled_from(_TAGS) | slugs(12)),
    }


@cache
def segment_rules(
    max_depth: int = 3, *, of: type[Condition] = Condition
) -> st.SearchStrategy[Condition]:
    """Valid segment rules nesting at most ``max_depth`` levels (1: leaves only).

    Leaves are every kind a segment may hold: fields (Unicode and case in text, datetimes
    near `SEGMENT_AS_OF`), typed traits, consent, stages, members, interaction aggregates
    (sums in several currencies, large and negative, windows on whole-day edges) and tags.
    ``of`` narrows to one class.
    """
    if not 1 <= max_depth <= MAX_CONDITION_DEPTH:
        raise ValueError(f"max_depth must be from 1 to {MAX_CONDITION_DEPTH}")
    found = {k: v for k, v in _leaves(SubjectKind.CUSTOMER).items() if k is not TimeInStage}
    leaves = [strategy for cls, strategy in found.items() if issubclass(cls, of)]
    if max_depth == 1 or of in found:
        if not leaves:
            raise ValueError(f"no {of.__name__} nests only {max_depth} level deep")
        return st.one_of(*leaves)
    inner = segment_rules(max_depth - 1)
    children = st.lists(inner, min_size=1, max_size=3).map(tuple)
    branches: dict[type[Condition], st.SearchStrategy[Condition]] = {
        AllOf: st.builds(AllOf, children),
        AnyOf: st.builds(AnyOf, children),
        Not: st.builds(Not, inner),
    }
    chosen = [strategy for cls, strategy in branches.items() if issubclass(cls, of)]
    return st.one_of(*leaves, *chosen)


def segments(max_depth: int = 3) -> st.SearchStrategy[Segment]:
    """Valid segments: a slug name, a rule of `segment_rules`, sometimes a description."""
    return st.builds(
        Segment,
        st.sampled_from(["vip_de", "lapsed"]) | slugs(20),
        segment_rules(max_depth),
        st.none() | _text(40),
    )


@st.composite
def _segment_facts(draw: st.DrawFn, as_of: datetime) -> Facts:
    customer = draw(customers(customer_id=draw(st.sampled_from(["c1", "c2"]) | ids())))
    address = draw(
        st.none()
        | st.builds(
            PostalAddress,
            country=st.sampled_from(["DE", "FR", "US"]),
            city=st.none() | st.sampled_from(_TEXTS),
            region=st.none() | st.sampled_from(_TEXTS),
            postal_code=st.none() | st.sampled_from(["10115", "50667", "75001"]),
        )
    )
    trait_map = draw(
        st.dictionaries(st.sampled_from(_TRAIT_NAMES), trait_values(), max_size=4) | traits()
    )
    consents = draw(
        st.lists(
            consent_records(purpose=draw(st.sampled_from(["marketing", "newsletter"]))),
            max_size=3,
        ).map(lambda records: tuple(sorted(records, key=lambda r: r.at)))
    )
    customer = attrs.evolve(customer, address=address, traits=trait_map, consents=consents)
    offsets = st.sampled_from(_EDGE_DAYS).map(lambda d: -timedelta(days=d)) | st.integers(
        -400 * 86_400, 86_400
    ).map(lambda s: timedelta(seconds=s))
    made = draw(
        st.lists(
            st.tuples(interactions(customer_id=customer.id, kinds=list(_KINDS)), offsets),
            max_size=6,
        )
    )
    account = draw(st.none() | accounts())
    stages = draw(
        st.dictionaries(
            st.sampled_from(["customer_lifecycle", "pipeline"]), _stage_names(), max_size=2
        )
    )
    return Facts.of_customer(
        customer,
        [attrs.evolve(i, occurred_at=as_of + d) for i, d in made],
        as_of,
        account=account,
        stages=stages,
    )


def segment_facts(as_of: datetime = SEGMENT_AS_OF) -> st.SearchStrategy[Facts]:
    """Facts of one customer as `segment_rules` look at them: an address, traits of the
    names the rules use, consents, interactions at and around whole-day window edges
    before ``as_of`` (and some after it), sometimes an account and stages."""
    return _segment_facts(as_of)


# --- Segment membership ------------------------------------------------------------------


@st.composite
def membership_changes(draw: st.DrawFn) -> MembershipChange:
    """What a refresh of a segment changed: disjoint entered and left customers."""
    moved = draw(st.lists(customer_ids(), unique=True, max_size=8))
    split = draw(st.integers(0, len(moved)))
    entered, left = moved[:split], moved[split:]
    stayed = draw(st.integers(0, 50))
    return MembershipChange(
        draw(slugs(12)), draw(utc_datetimes()), entered, left, members=len(entered) + stayed
    )


def segment_snapshots() -> st.SearchStrategy[SegmentSnapshot]:
    """Stored snapshots of segments, as a repository hands them out."""
    return st.builds(
        SegmentSnapshot,
        slugs(12),
        utc_datetimes(),
        members=st.integers(0, 10_000),
        version=st.integers(1, 50),
    )


# --- Loyalty -----------------------------------------------------------------------------


@cache
def _validity() -> st.SearchStrategy[dict[str, datetime]]:
    def window(start: datetime | None, days: int | None) -> dict[str, datetime]:
        found = {} if start is None else {"valid_from": start}
        if days is not None:
            found["valid_until"] = (start or SEGMENT_AS_OF) + timedelta(days=days)
        return found

    return st.builds(window, st.none() | utc_datetimes(), st.none() | st.integers(1, 400))


@cache
def _factors() -> st.SearchStrategy[Decimal]:
    return st.decimals(Decimal("0.01"), Decimal(10), places=2) | st.integers(1, 5).map(Decimal)


@st.composite
def _earning_rule(
    draw: st.DrawFn, name: str, kinds: tuple[str, ...], spend: bool | None = None
) -> SpendRule | EventRule:
    window = draw(_validity())
    if draw(st.booleans()) if spend is None else spend:
        return SpendRule(
            name,
            draw(st.integers(1, 100)),
            draw(st.builds(Money, st.integers(1, 10_000), currencies())),
            rounding=draw(st.sampled_from(sorted(ROUNDING_MODES))),
            kinds=draw(st.frozensets(st.sampled_from(kinds), min_size=1, max_size=3)),
            **window,
        )
    return EventRule(name, draw(st.sampled_from(kinds)), draw(st.integers(1, 500)), **window)


@st.composite
def _referral_policy(draw: st.DrawFn, kinds: tuple[str, ...]) -> ReferralPolicy:
    """A policy naming kinds of ``kinds``; it shrinks towards the default (``referral`` for
    the referrer, nothing for the referee)."""
    referrer = draw(st.sampled_from(("referral", *kinds)) | st.none())
    sides = st.sampled_from(kinds)
    referee = draw(sides if referrer is None else st.none() | sides)
    return ReferralPolicy(referrer, referee_kind=referee)


def _rewarding(
    draw: st.DrawFn, policy: ReferralPolicy, rules: list[SpendRule | EventRule]
) -> list[SpendRule | EventRule]:
    """``rules`` with an event rule added for each kind ``policy`` names that has none, as
    the `Programme` requires."""
    rules = list(rules)
    names = {rule.name for rule in rules}
    for kind in (policy.referrer_kind, policy.referee_kind):
        if kind is None or any(isinstance(r, EventRule) and r.kind == kind for r in rules):
            continue
        name = f"{kind}_bonus"
        while name in names:
            name += "_"
        names.add(name)
        rules.append(EventRule(name, kind, draw(st.integers(1, 500))))
    return rules


@st.composite
def _loyalty_programme(draw: st.DrawFn) -> Programme:
    custom = draw(st.frozensets(_short_slugs(), max_size=2))
    kinds = (*_KINDS, *sorted(custom))
    names = draw(st.lists(_short_slugs(), min_size=1, max_size=4, unique=True))
    rules = [draw(_earning_rule(name, kinds)) for name in names]
    policy = draw(st.none() | _referral_policy(kinds))
    if policy is not None:
        rules = _rewarding(draw, policy, rules)
    tier_names = draw(st.lists(_short_slugs(), max_size=3, unique=True))
    thresholds = draw(
        st.lists(
            st.integers(0, 100_000),
            min_size=len(tier_names),
            max_size=len(tier_names),
            unique=True,
        )
    )
    tiers = [
        Tier(name, threshold, multiplier=draw(_factors()))
        for name, threshold in zip(tier_names, thresholds, strict=True)
    ]
    multipliers = [
        draw(_multiplier(name, tuple(tier_names)))
        for name in draw(st.lists(_short_slugs(), max_size=2, unique=True))
    ]
    periods = draw(st.lists(st.sampled_from(Period), max_size=3, unique=True))
    rewards = draw(st.lists(_short_slugs(), max_size=3, unique=True))
    redemption = draw(_redemptions())
    return Programme(
        draw(_short_slugs()),
        rules,
        multipliers=multipliers,
        tiers=tiers,
        tier_policy=draw(_tier_policies()),
        custom_kinds=custom,
        event_cap=draw(st.none() | st.integers(0, 10_000)),
        period_caps=[PeriodCap(period, draw(st.integers(1, 10_000))) for period in periods],
        pending_days=draw(st.integers(0, 30)),
        expiry_days=draw(st.none() | st.integers(0, 730)),
        redemption=redemption,
        # A reward's price is a redemption the rule allows: at least the minimum, in steps.
        rewards=[
            Reward(
                name,
                redemption.step
                * draw(
                    st.integers(
                        -(-redemption.minimum // redemption.step), 10_000 // redemption.step + 1
                    )
                ),
            )
            for name in rewards
        ],
        referrals=policy,
    )


@st.composite
def _multiplier(draw: st.DrawFn, name: str, tier_names: tuple[str, ...]) -> Multiplier:
    return Multiplier(
        name,
        draw(_factors()),
        tier=draw(st.none() | st.sampled_from(tier_names)) if tier_names else None,
        channels=draw(st.frozensets(st.sampled_from(Channel), max_size=2)),
        segment=draw(st.none() | conditions(2)),
        **draw(_validity()),
    )


@cache
def _tier_policies() -> st.SearchStrategy[TierPolicy]:
    return st.builds(
        TierPolicy, st.sampled_from(TierBasis), st.integers(1, 730), st.integers(0, 365)
    )


@cache
def _redemptions() -> st.SearchStrategy[Redemption]:
    return st.builds(Redemption, st.integers(1, 1_000), st.integers(1, 100))


def loyalty_programmes() -> st.SearchStrategy[Programme]:
    """Valid loyalty programmes: one to four spend and event rules (on interaction kinds or
    the programme's custom kinds, sometimes with validity dates), and optionally multipliers
    (by tier, channel, segment condition, dates), tiers with distinct thresholds and a tier
    policy, an event cap, period caps, pending and expiry days, a redemption minimum and
    step, rewards, and a `ReferralPolicy` (for the referrer, the referee or both); an event
    rule is added for each kind the policy names that no event rule rewards, so the policy
    is always valid. Programmes shrink towards a single rule and nothing else."""
    return _loyalty_programme()


@st.composite
def _ledger_entry(draw: st.DrawFn) -> LedgerEntry:
    kind = draw(st.sampled_from(EntryKind))
    low = -10_000 if kind is EntryKind.ADJUST else 0
    maybe_at = st.none() | utc_datetimes()
    return LedgerEntry(
        draw(st.integers(0, 10_000)),
        kind,
        draw(st.integers(low, 10_000)),
        draw(utc_datetimes()),
        draw(ids()),
        rule=draw(st.none() | _short_slugs()),
        interaction_id=draw(st.none() | ids()),
        reference=draw(st.none() | ids()),
        lot=draw(st.none() | ids()),
        takes=draw(st.lists(st.tuples(ids(), st.integers(1, 10_000)), max_size=3)),
        spend=draw(st.integers(0, 10**9)),
        occurred_at=draw(maybe_at),
        available_from=draw(maybe_at),
        expires_at=draw(maybe_at),
        shortfall=draw(st.integers(0, 1_000)),
    )


def ledger_entries() -> st.SearchStrategy[LedgerEntry]:
    """Ledger entries, each valid on its own (any kind, points > 0 or, for adjustments,
    signed, optional references and datetimes, some ``takes``); they do not add up to a
    consistent ledger: book points through a `PointsLedger` for that."""
    return _ledger_entry()


@cache
def _customer_pairs() -> st.SearchStrategy[tuple[CustomerId, CustomerId]]:
    """Two different customers (a referrer and a referee)."""
    return st.lists(customer_ids(), min_size=2, max_size=2, unique=True).map(
        lambda pair: (pair[0], pair[1])
    )


@cache
def _referral_codes() -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(["FRIEND10", "spring-2024"]) | _text(20)


@st.composite
def _referral(draw: st.DrawFn, programme: str | None, status: ReferralStatus | None) -> Referral:
    referrer, referee = draw(_customer_pairs())
    created_at = draw(_history_starts())
    reached = draw(st.sampled_from(ReferralStatus)) if status is None else status
    qualified_at = rewarded_at = interaction = None
    if reached is not ReferralStatus.PENDING:
        qualified_at = created_at + draw(_gaps())
        interaction = draw(ids())
        if reached is ReferralStatus.REWARDED:
            rewarded_at = qualified_at + draw(_gaps())
    return Referral(
        draw(ids()),
        draw(_short_slugs()) if programme is None else programme,
        referrer,
        referee,
        created_at,
        code=draw(_referral_codes()),
        status=reached,
        qualified_at=qualified_at,
        qualifying_interaction_id=interaction,
        rewarded_at=rewarded_at,
        version=draw(st.integers(0, 10)),
    )


def referrals(
    *, programme: str | None = None, status: ReferralStatus | str | None = None
) -> st.SearchStrategy[Referral]:
    """Referrals as stored (no pending events), of two different customers, in any status
    (or ``status``) under a random programme slug (or ``programme``).

    The timestamps are those the referral's moves would have set: ``qualified_at`` (and the
    qualifying interaction) exactly when it is qualified or rewarded, ``rewarded_at`` exactly
    when it is rewarded, each at or after the one before (ties included), from
    ``created_at`` on. Versions run from 0 to 10; the code is sometimes set.
    """
    wanted = None if status is None else ReferralStatus(status)
    return _referral(programme, wanted)


@st.composite
def _points_balance(draw: st.DrawFn, programme: str | None) -> PointsBalance:
    customer = draw(customer_ids())
    name = draw(_short_slugs()) if programme is None else programme
    entries = draw(st.integers(0, 500))
    if entries == 0:
        return PointsBalance(customer, name, 0, 0, None, 0, None, None, draw(st.integers(0, 10)))
    available, pending = draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6))
    last_at = draw(utc_datetimes())
    due = st.integers(-30 * 86_400, 730 * 86_400).map(lambda s: last_at + timedelta(seconds=s))
    # A pending lot matures some day; available points may expire, or not; none left: nothing.
    next_due_at: datetime | None = None
    if pending or available:
        next_due_at = draw(due if pending else st.none() | due)
    return PointsBalance(
        customer,
        name,
        available,
        pending,
        draw(st.none() | _short_slugs()),
        entries,
        last_at,
        next_due_at,
        draw(st.integers(0, 50)),
    )


def points_balances(*, programme: str | None = None) -> st.SearchStrategy[PointsBalance]:
    """Points balances as storage keeps them beside a ledger, under a random programme slug
    (or ``programme``). They hold together as a ledger's summary would: a balance with no
    entries has no points, no tier and no instants; one with pending points has a
    ``next_due_at`` (when they mature), one with only available points may have one (when
    they expire), and one with no points left has none."""
    return _points_balance(programme)


# --- Loyalty: more parts, for ``st.from_type`` --------------------------------------------


def _rule_kinds(rule: SpendRule | EventRule) -> frozenset[str]:
    return rule.kinds if isinstance(rule, SpendRule) else frozenset({rule.kind})


@st.composite
def _points_ledger(draw: st.DrawFn, opened: bool) -> PointsLedger:
    """A ledger booked through its own methods (earnings, adjustments, the batch job) in time
    order, as stored (no pending events); ``opened``: it starts with an adjustment, so that
    it holds a lot and a statement line."""
    programme = draw(loyalty_programmes())
    ledger = PointsLedger(draw(customer_ids()), programme)
    kinds = sorted(frozenset().union(*map(_rule_kinds, programme.rules)))
    spent = sorted({r.per.currency for r in programme.rules if isinstance(r, SpendRule)})
    at = draw(_history_starts())
    if opened:
        ledger.adjust(draw(st.integers(1, 1_000)), at, "opening", "welcome")
    for number in range(draw(st.integers(0, 4))):
        at += draw(_gaps())
        step = draw(st.sampled_from(["earn", "adjust", "job"]))
        if step == "earn":
            amount = draw(st.none() | money(draw(st.sampled_from(spent or ["EUR"])), 1, 10**6))
            kind = draw(st.sampled_from(kinds))
            interaction = Interaction(
                InteractionId(f"i{number}"), ledger.customer_id, at, kind, "web", amount=amount
            )
            ledger.earn(interaction, at)
        elif step == "adjust":
            ledger.adjust(draw(st.integers(1, 1_000)), at, f"a{number}", "goodwill")
        else:
            ledger.mature_and_expire(at)
    ledger.pull_events()
    ledger.version = draw(st.integers(0, 10))
    return ledger


def _register_loyalty_types() -> None:
    """Register the loyalty types for ``st.from_type``.

    The ``hypothesis`` entry point registers the older types lazily (see
    ``crmkit.testing._hypothesis_hook``); these are registered when this module is imported.
    """
    ledgers = _points_ledger(False)
    opened = _points_ledger(True)
    strategies: dict[type, st.SearchStrategy[Any]] = {
        Programme: loyalty_programmes(),
        SpendRule: _earning_rule("base", _KINDS, spend=True),
        EventRule: _earning_rule("bonus", _KINDS, spend=False),
        Multiplier: _short_slugs().flatmap(lambda name: _multiplier(name, ("gold",))),
        Tier: st.builds(Tier, _short_slugs(), st.integers(0, 100_000), multiplier=_factors()),
        TierPolicy: _tier_policies(),
        PeriodCap: st.builds(PeriodCap, st.sampled_from(Period), st.integers(1, 10_000)),
        Redemption: _redemptions(),
        Reward: st.builds(Reward, _short_slugs(), st.integers(1, 10_000)),
        Award: st.builds(Award, _short_slugs(), st.integers(1, 10_000)),
        ReferralPolicy: _referral_policy(_KINDS),
        Referral: referrals(),
        PointsBalance: points_balances(),
        LedgerEntry: ledger_entries(),
        PointsLedger: ledgers,
        LedgerState: ledgers.map(lambda ledger: ledger.state()),
        LotState: opened.flatmap(lambda ledger: st.sampled_from(ledger.state().lots)),
        StatementLine: opened.flatmap(lambda ledger: st.sampled_from(ledger.statement())),
    }
    for event in (PointsEarned, PointsRedeemed, PointsExpired, TierChanged, ReferralChanged):
        strategies[event] = domain_events(event)
    for kind, strategy in strategies.items():
        st.register_type_strategy(kind, strategy)


_register_loyalty_types()
