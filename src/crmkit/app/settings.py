"""`Settings`: everything one CRM is configured with, in one frozen, validated object.

A host builds it once (or loads it from a file with `crmkit.serialization`) and hands it to
the front door, ``CRM.sqlite(path, settings)``; tests replace parts with `attrs.evolve`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any, TypeVar, cast

import attrs

from crmkit.app.clocks import SystemClock, UuidIds
from crmkit.domain import (
    DEFAULT_TENANT,
    Condition,
    LifecycleModel,
    Programme,
    Segment,
    SubjectKind,
    TenantId,
    TraitSchema,
)
from crmkit.domain.rules.names import name_problems
from crmkit.domain.values.contact import region_code
from crmkit.domain.values.ids import check_tenant
from crmkit.errors import UsageError, ValidationError
from crmkit.ports import Clock, IdSource

__all__ = ["MAX_LIFECYCLES", "MAX_TRACKED_SEGMENTS", "Settings"]

#: The most lifecycle models one CRM tracks.
MAX_LIFECYCLES = 20
#: The most segments one CRM keeps up to date as interactions are recorded.
MAX_TRACKED_SEGMENTS = 100

N = TypeVar("N", LifecycleModel, Segment)


def _clock(clock: Any) -> Clock:
    # A datetime has a now() too (the class method, giving local naive time): not a clock.
    if isinstance(clock, datetime | date) or not callable(getattr(clock, "now", None)):
        raise ValidationError.single(
            "clock", clock, "must be a Clock (an object with now()), e.g. FixedClock(datetime(...))"
        )
    return cast(Clock, clock)


def _ids(ids: Any) -> IdSource:
    if isinstance(ids, str) or not callable(getattr(ids, "new_id", None)):
        raise ValidationError.single(
            "ids", ids, "must be an IdSource (an object with new_id()), e.g. SequentialIds()"
        )
    return cast(IdSource, ids)


def _named(items: Any, kind: type[N], path: str, limit: int) -> tuple[N, ...]:
    """``items`` as a tuple of ``kind`` with unique names, or a `ValidationError`."""
    if isinstance(items, kind | str) or not isinstance(items, Iterable):
        raise ValidationError.single(path, items, f"must be a sequence of {kind.__name__}s")
    found = tuple(items)
    if len(found) > limit:
        raise ValidationError.single(path, len(found), f"must hold at most {limit} items")
    names: set[str] = set()
    for index, item in enumerate(found):
        if not isinstance(item, kind):
            raise ValidationError.single(f"{path}[{index}]", item, f"must be a {kind.__name__}")
        if item.name in names:
            raise ValidationError.single(f"{path}[{index}]", item.name, "is a duplicate name")
        names.add(item.name)
    return found


def _lifecycles(items: Any) -> tuple[LifecycleModel, ...]:
    return _named(items, LifecycleModel, "lifecycles", MAX_LIFECYCLES)


def _segments(items: Any) -> tuple[Segment, ...]:
    return _named(items, Segment, "segments", MAX_TRACKED_SEGMENTS)


def _region(value: Any) -> str | None:
    return region_code(value, "default_region")


def _schema(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, TraitSchema):
        raise ValidationError.single("trait_schema", value, "must be a TraitSchema or None")


def _programme(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, Programme):
        raise ValidationError.single("loyalty", value, "must be a Programme or None")


@attrs.frozen
class Settings:
    """What a CRM is configured with: its tenant, time and ids, and its capabilities' rules.

    Settings round-trip through `crmkit.serialization` (``to_json(settings)``,
    ``from_json(text, Settings)``), all but the clock and the id source: those are the
    host's objects, left out of the document and of equality; a structured `Settings` runs
    on the system clock and random ids until evolved with others.

    Every part is checked when the settings are built, so a CRM never starts with settings
    that cannot work: a rule naming a trait, lifecycle model or stage the settings do not
    know raises `ValidationError` naming its path (``lifecycles[0].rules[1].when``).

    Attributes:
        tenant: the tenant (workspace) every read and write is bound to.
        clock: where "now" comes from (`SystemClock` by default; `FixedClock` in tests).
        ids: where new ids come from (`UuidIds` by default; `SequentialIds` in tests).
        trait_schema: the custom traits customers may carry, checked on every write; ``None``
            accepts any trait.
        default_region: the country (ISO 3166-1 alpha-2, e.g. ``"DE"``) a national phone
            number is read in for a customer without an address.
        lifecycles: the lifecycle models (e.g. `crmkit.lifecycle.CUSTOMER_LIFECYCLE`) whose
            stages the CRM tracks, in order; names unique.
        segments: the saved segments whose stored membership recording an interaction keeps
            up to date for its customer (see ``crm.segments.refresh``).
        loyalty: the loyalty programme recording an interaction earns points in, if any.
    """

    tenant: TenantId = attrs.field(default=DEFAULT_TENANT, converter=check_tenant)
    # The clock and ids are the host's objects, not configuration: settings that say the
    # same are equal whichever clock they run on (and a settings document holds neither).
    clock: Clock = attrs.field(factory=SystemClock, converter=_clock, eq=False)
    ids: IdSource = attrs.field(factory=UuidIds, converter=_ids, eq=False)
    trait_schema: TraitSchema | None = attrs.field(default=None, validator=_schema)
    default_region: str | None = attrs.field(default=None, converter=_region)
    lifecycles: tuple[LifecycleModel, ...] = attrs.field(default=(), converter=_lifecycles)
    segments: tuple[Segment, ...] = attrs.field(default=(), converter=_segments)
    loyalty: Programme | None = attrs.field(default=None, validator=_programme)

    def __attrs_post_init__(self) -> None:
        problems = [
            problem
            for path, rule in self._rules()
            for problem in name_problems(
                rule, schema=self.trait_schema, lifecycles=self.lifecycles, path=path
            )
        ]
        if problems:
            raise ValidationError(problems)

    def for_tenant(self, tenant: str) -> Settings:
        """The same settings for another tenant.

        Returns:
            A copy of these settings with ``tenant`` replaced.

        Raises:
            ValidationError: ``tenant`` is no valid tenant id.
        """
        return attrs.evolve(self, tenant=tenant)

    def models_for(self, kind: SubjectKind) -> tuple[LifecycleModel, ...]:
        """The lifecycle models whose subjects are of ``kind``, in order.

        Returns:
            The matching models (empty when there are none).
        """
        return tuple(model for model in self.lifecycles if model.subject is kind)

    def programme(self) -> Programme:
        """The loyalty programme; raises `UsageError` for settings without one.

        Returns:
            The settings' `Programme`.

        Raises:
            UsageError: the settings have no loyalty programme.
        """
        if self.loyalty is None:
            raise UsageError(
                "this CRM runs no loyalty programme: build it with Settings(loyalty=Programme(...))"
            )
        return self.loyalty

    def _rules(self) -> Iterator[tuple[str, Condition]]:
        """Every rule the settings hold, with its path in them."""
        for i, model in enumerate(self.lifecycles):
            for j, transition in enumerate(model.transitions):
                if transition.guard is not None:
                    yield f"lifecycles[{i}].transitions[{j}].guard", transition.guard
            for j, rule in enumerate(model.rules):
                yield f"lifecycles[{i}].rules[{j}].when", rule.when
        for i, segment in enumerate(self.segments):
            yield f"segments[{i}].rule", segment.rule
        if self.loyalty is not None:
            for i, multiplier in enumerate(self.loyalty.multipliers):
                if multiplier.segment is not None:
                    yield f"loyalty.multipliers[{i}].segment", multiplier.segment
