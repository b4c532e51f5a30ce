"""What every use case needs: a way to open units of work, a clock, ids, the event bus."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from crmkit.app.bus import EventBus
from crmkit.app.unit_of_work import Publisher
from crmkit.domain import (
    Condition,
    DomainEvent,
    EmailAddress,
    LifecycleModel,
    PhoneNumber,
    Programme,
    Segment,
    SubjectKind,
    TenantId,
    TraitSchema,
)
from crmkit.domain.ids import check_id, check_tenant
from crmkit.domain.rule_names import name_problems
from crmkit.domain.timestamps import ensure_utc
from crmkit.errors import UsageError, ValidationError
from crmkit.ports import Clock, IdSource, UnitOfWork

__all__ = ["OpenUnitOfWork", "ServiceContext"]

E = TypeVar("E", bound=DomainEvent)
N = TypeVar("N", LifecycleModel, Segment)

#: How the application opens a unit of work for a tenant, publishing to a bus.
OpenUnitOfWork = Callable[[TenantId, Publisher], UnitOfWork]


class ServiceContext:
    """The collaborators shared by the use cases of one CRM bound to one tenant."""

    def __init__(
        self,
        *,
        open_unit_of_work: OpenUnitOfWork,
        tenant: str,
        clock: Clock,
        ids: IdSource,
        trait_schema: TraitSchema | None = None,
        default_region: str | None = None,
        lifecycles: Iterable[LifecycleModel] = (),
        segments: Iterable[Segment] = (),
        loyalty: Programme | None = None,
    ) -> None:
        if loyalty is not None and not isinstance(loyalty, Programme):
            raise ValidationError.single("loyalty", loyalty, "must be a Programme or None")
        if trait_schema is not None and not isinstance(trait_schema, TraitSchema):
            raise ValidationError.single("trait_schema", trait_schema, "must be a TraitSchema")
        self.tenant: TenantId = check_tenant(tenant)
        self.clock = clock
        self.ids = ids
        self.trait_schema = trait_schema
        self.default_region = default_region
        #: The lifecycle models this CRM tracks, in the order given.
        self.lifecycles: tuple[LifecycleModel, ...] = _named(
            lifecycles, LifecycleModel, "lifecycles"
        )
        #: The segments whose membership this CRM keeps up to date customer by customer.
        self.segments = _named(segments, Segment, "segments")
        #: The loyalty programme whose points recording an interaction earns, if any.
        self.loyalty = loyalty
        _check_rule_names(self)
        self.bus = EventBus()
        self._open_unit_of_work = open_unit_of_work

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work on this CRM's tenant; its events go to this CRM's subscribers.

        Use it for changes that must be atomic together:

        ```python
        with crm.unit_of_work() as uow:
            ...
            uow.commit()
        ```
        """
        return self._open_unit_of_work(self.tenant, self.bus.publish)

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Call ``handler`` with every committed event of ``event_type``; returns an
        unsubscribe function."""
        return self.bus.subscribe(event_type, handler)

    def loyalty_programme(self) -> Programme:
        """The CRM's loyalty programme; raises `UsageError` when it was built without one."""
        if self.loyalty is None:
            raise UsageError(
                "this CRM runs no loyalty programme: pass loyalty=Programme(...) when building it"
            )
        return self.loyalty

    def lifecycle_model(
        self, name: str | None = None, *, subject: SubjectKind | str = SubjectKind.CUSTOMER
    ) -> LifecycleModel:
        """The lifecycle model called ``name``; without a name, the CRM's only model for
        ``subject`` (raises `UsageError` when there is none, or several to choose from)."""
        if name is not None:
            for model in self.lifecycles:
                if model.name == name:
                    return model
            known = ", ".join(m.name for m in self.lifecycles) or "none configured"
            raise ValidationError.single("model", name, f"is not a lifecycle model: {known}")
        kind = SubjectKind(subject) if subject in tuple(SubjectKind) else None
        if kind is None:
            raise ValidationError.single("subject", subject, "must be 'customer' or 'account'")
        mine = [m for m in self.lifecycles if m.subject is kind]
        if len(mine) == 1:
            return mine[0]
        if not mine:
            raise UsageError(
                f"this CRM tracks no {kind.value} lifecycle: pass lifecycles=[...] when "
                "building it (e.g. crmkit.CUSTOMER_LIFECYCLE)"
            )
        names = ", ".join(m.name for m in mine)
        raise UsageError(f"this CRM has several {kind.value} lifecycles; name one: {names}")

    def _models_for(self, kind: SubjectKind) -> tuple[LifecycleModel, ...]:
        return tuple(m for m in self.lifecycles if m.subject is kind)

    def _now(self) -> datetime:
        return ensure_utc(self.clock.now(), "clock")

    def _new_id(self) -> str:
        return check_id("id", self.ids.new_id())

    def _email(self, value: Any, path: str = "email") -> EmailAddress | None:
        if value is None or isinstance(value, EmailAddress):
            return value
        if isinstance(value, str):
            return EmailAddress(value)
        raise _bad(path, value, "an email address")

    def _phone(self, value: Any, path: str = "phone") -> PhoneNumber | None:
        if value is None or isinstance(value, PhoneNumber):
            return value
        if isinstance(value, str):
            return PhoneNumber.parse(value, self.default_region)
        raise _bad(path, value, "a phone number")


def _named(items: Iterable[N], kind: type[N], path: str) -> tuple[N, ...]:
    """``items`` as a tuple of ``kind`` with unique names, or a `ValidationError` at ``path``."""
    if isinstance(items, kind) or not isinstance(items, Iterable):
        raise ValidationError.single(path, items, f"must be a sequence of {kind.__name__}s")
    found = tuple(items)
    names: set[str] = set()
    for index, item in enumerate(found):
        if not isinstance(item, kind):
            raise ValidationError.single(f"{path}[{index}]", item, f"must be a {kind.__name__}")
        if item.name in names:
            raise ValidationError.single(f"{path}[{index}]", item.name, "is a duplicate name")
        names.add(item.name)
    return found


def _rules_of(context: ServiceContext) -> Iterator[tuple[str, Condition]]:
    """Every rule the CRM's settings hold, with its path in them."""
    for i, model in enumerate(context.lifecycles):
        for j, transition in enumerate(model.transitions):
            if transition.guard is not None:
                yield f"lifecycles[{i}].transitions[{j}].guard", transition.guard
        for j, rule in enumerate(model.rules):
            yield f"lifecycles[{i}].rules[{j}].when", rule.when
    for i, segment in enumerate(context.segments):
        yield f"segments[{i}].rule", segment.rule
    if context.loyalty is not None:
        for i, multiplier in enumerate(context.loyalty.multipliers):
            if multiplier.segment is not None:
                yield f"loyalty.multipliers[{i}].segment", multiplier.segment


def _check_rule_names(context: ServiceContext) -> None:
    """Refuse a CRM whose lifecycle guards and rules, tracked segments or loyalty segments
    name a lifecycle model, stage or trait its settings do not know: such a rule would
    silently never hold."""
    problems = [
        problem
        for path, rule in _rules_of(context)
        for problem in name_problems(
            rule, schema=context.trait_schema, lifecycles=context.lifecycles, path=path
        )
    ]
    if problems:
        raise ValidationError(problems)


def _bad(path: str, value: Any, what: str) -> ValidationError:
    return ValidationError.single(path, value, f"must be {what} (text) or None")
