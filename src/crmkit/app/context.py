"""What every use case needs: a way to open units of work, a clock, ids, the event bus."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any, TypeVar, cast

from crmkit.app.bus import EventBus
from crmkit.app.unit_of_work import Publisher
from crmkit.domain import (
    Condition,
    DomainEvent,
    EmailAddress,
    LifecycleModel,
    PhoneNumber,
    PostalAddress,
    Programme,
    Segment,
    SubjectKind,
    TenantId,
    TraitSchema,
)
from crmkit.domain.rules.names import name_problems
from crmkit.domain.values.contact import region_code
from crmkit.domain.values.ids import check_id, check_tenant
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import UsageError, ValidationError
from crmkit.ports import Clock, IdSource, UnitOfWork

__all__ = ["OpenUnitOfWork", "ServiceContext", "opens_read_only"]

E = TypeVar("E", bound=DomainEvent)
N = TypeVar("N", LifecycleModel, Segment)

#: How the application opens a unit of work for a tenant, publishing to a bus. An opener may
#: also take a keyword ``read_only`` (crmkit's stores do, see `opens_read_only`).
OpenUnitOfWork = Callable[[TenantId, Publisher], UnitOfWork]


def opens_read_only(open_unit_of_work: OpenUnitOfWork) -> bool:
    """Whether ``open_unit_of_work`` takes the keyword ``read_only``: a promise that the unit
    of work will only read, so the storage may open a cheaper transaction (on SQLite one
    that does not take the database's write lock). An opener without it gets every unit of
    work as one that may write, which is always correct."""
    try:
        parameters = inspect.signature(open_unit_of_work).parameters
    except (TypeError, ValueError):  # a callable whose signature Python cannot read
        return False
    found = parameters.get("read_only")
    return found is not None and found.kind in (found.KEYWORD_ONLY, found.POSITIONAL_OR_KEYWORD)


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
        self.clock = _clock(clock)
        self.ids = _ids(ids)
        self.trait_schema = trait_schema
        #: The country a national phone number is read in when the customer has no address.
        self.default_region = region_code(default_region, "default_region")
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
        self._open_reader: OpenUnitOfWork = open_unit_of_work
        if opens_read_only(open_unit_of_work):
            self._open_reader = functools.partial(cast(Any, open_unit_of_work), read_only=True)

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work on this CRM's tenant; its events go to this CRM's subscribers.

        Use it for changes that must be atomic together:

        ```python
        with crm.unit_of_work() as uow:
            ...
            uow.commit()
        ```

        Args:
            read_only: promise that the unit of work will only read. On SQLite a unit of
                work otherwise takes the database's write lock when it begins (waiting for
                it up to the busy timeout), so that its writes never fail for a lock taken
                after its reads; a read-only one reads its snapshot without the lock, beside
                any writer. Other storages may ignore it.
        """
        if type(read_only) is not bool:
            raise ValidationError.single("read_only", read_only, "must be True or False")
        opener = self._open_reader if read_only else self._open_unit_of_work
        return opener(self.tenant, self.bus.publish)

    def _reading(self) -> UnitOfWork:
        """A unit of work for a use case that only reads (see `unit_of_work`)."""
        return self.unit_of_work(read_only=True)

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

    def _phone(self, value: Any, path: str = "phone", *, address: Any = None) -> PhoneNumber | None:
        """``value`` as a `PhoneNumber`: text is parsed, a national number read in the
        country of ``address`` (the customer's), else in the CRM's ``default_region``."""
        if value is None or isinstance(value, PhoneNumber):
            return value
        if isinstance(value, str):
            country = address.country if isinstance(address, PostalAddress) else None
            return PhoneNumber.parse(value, country or self.default_region)
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
