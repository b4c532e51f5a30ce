"""What every use case needs: a way to open units of work, a clock, ids, the event bus."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from crmkit.app.bus import EventBus
from crmkit.app.unit_of_work import Publisher
from crmkit.domain import DomainEvent, EmailAddress, PhoneNumber, TenantId, TraitSchema
from crmkit.domain.ids import check_id, check_tenant
from crmkit.domain.timestamps import ensure_utc
from crmkit.errors import ValidationError
from crmkit.ports import Clock, IdSource, UnitOfWork

__all__ = ["OpenUnitOfWork", "ServiceContext"]

E = TypeVar("E", bound=DomainEvent)

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
    ) -> None:
        if trait_schema is not None and not isinstance(trait_schema, TraitSchema):
            raise ValidationError.single("trait_schema", trait_schema, "must be a TraitSchema")
        self.tenant: TenantId = check_tenant(tenant)
        self.clock = clock
        self.ids = ids
        self.trait_schema = trait_schema
        self.default_region = default_region
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


def _bad(path: str, value: Any, what: str) -> ValidationError:
    return ValidationError.single(path, value, f"must be {what} (text) or None")
