"""What every service needs: the store, the settings, the event bus, and small helpers.

One `Context` is shared by all the services of one CRM (one tenant). It opens units of work
on the store for the tenant, publishing to the CRM's bus, and resolves "now", new ids and
the values the services accept as text (emails, phones) in one way for all of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crmkit.app.bus import EventBus
from crmkit.app.settings import Settings
from crmkit.domain import (
    EmailAddress,
    LifecycleModel,
    PhoneNumber,
    PostalAddress,
    SubjectKind,
    TenantId,
)
from crmkit.domain.values.ids import check_id
from crmkit.domain.values.timestamps import ensure_utc
from crmkit.errors import UsageError, ValidationError
from crmkit.ports import Store, UnitOfWork

__all__ = ["Context"]


class Context:
    """The collaborators shared by the services of one CRM bound to one tenant."""

    def __init__(self, store: Store, settings: Settings, bus: EventBus) -> None:
        self.store = store
        self.settings = settings
        self.bus = bus

    @property
    def tenant(self) -> TenantId:
        """The tenant every unit of work of this context is bound to."""
        return self.settings.tenant

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work on the tenant; its events go to the CRM's subscribers.

        Args:
            read_only: promise that the unit of work will only read (see
                ``CRM.unit_of_work``).

        Raises:
            ValidationError: ``read_only`` is not a bool.
        """
        if type(read_only) is not bool:
            raise ValidationError.single("read_only", read_only, "must be True or False")
        return self.store.unit_of_work(self.tenant, self.bus.publish, read_only=read_only)

    def reading(self) -> UnitOfWork:
        """A unit of work for a use case that only reads."""
        return self.unit_of_work(read_only=True)

    def now(self) -> datetime:
        """The clock's now, checked to be timezone-aware."""
        return ensure_utc(self.settings.clock.now(), "clock")

    def as_of(self, as_of: datetime | None, path: str = "as_of") -> datetime:
        """``as_of`` checked as an aware instant, or now when it is ``None``."""
        return self.now() if as_of is None else ensure_utc(as_of, path)

    def new_id(self) -> str:
        """A new id from the settings' id source, checked to be a valid id."""
        return check_id("id", self.settings.ids.new_id())

    def models_for(self, kind: SubjectKind) -> tuple[LifecycleModel, ...]:
        """The lifecycle models tracked for subjects of ``kind``."""
        return self.settings.models_for(kind)

    def lifecycle_model(
        self, name: str | None = None, *, subject: SubjectKind | str = SubjectKind.CUSTOMER
    ) -> LifecycleModel:
        """The lifecycle model called ``name``; without a name, the only model for
        ``subject`` (raises `UsageError` when there is none, or several to choose from)."""
        lifecycles = self.settings.lifecycles
        if name is not None:
            for model in lifecycles:
                if model.name == name:
                    return model
            known = ", ".join(m.name for m in lifecycles) or "none configured"
            raise ValidationError.single("model", name, f"is not a lifecycle model: {known}")
        kind = SubjectKind(subject) if subject in tuple(SubjectKind) else None
        if kind is None:
            raise ValidationError.single("subject", subject, "must be 'customer' or 'account'")
        mine = self.models_for(kind)
        if len(mine) == 1:
            return mine[0]
        if not mine:
            raise UsageError(
                f"this CRM tracks no {kind.value} lifecycle: build it with "
                "Settings(lifecycles=[...]) (e.g. crmkit.lifecycle.CUSTOMER_LIFECYCLE)"
            )
        names = ", ".join(m.name for m in mine)
        raise UsageError(f"this CRM has several {kind.value} lifecycles; name one: {names}")

    def email(self, value: Any, path: str = "email") -> EmailAddress | None:
        """``value`` as an `EmailAddress` (text is parsed), or ``None``."""
        if value is None or isinstance(value, EmailAddress):
            return value
        if isinstance(value, str):
            return EmailAddress(value)
        raise _bad(path, value, "an email address")

    def phone(self, value: Any, path: str = "phone", *, address: Any = None) -> PhoneNumber | None:
        """``value`` as a `PhoneNumber`: text is parsed, a national number read in the
        country of ``address`` (the customer's), else in the settings' ``default_region``."""
        if value is None or isinstance(value, PhoneNumber):
            return value
        if isinstance(value, str):
            country = address.country if isinstance(address, PostalAddress) else None
            return PhoneNumber.parse(value, country or self.settings.default_region)
        raise _bad(path, value, "a phone number")


def _bad(path: str, value: Any, what: str) -> ValidationError:
    return ValidationError.single(path, value, f"must be {what} (text) or None")
