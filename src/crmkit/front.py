"""The front door: `CRM`, built once by the host from a store and its `Settings`."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from crmkit.app.accounts import AccountService
from crmkit.app.bus import EventBus
from crmkit.app.consent import ConsentService
from crmkit.app.context import Context
from crmkit.app.customers import CustomerService
from crmkit.app.events import EventService
from crmkit.app.interactions import InteractionService
from crmkit.app.reactions import reactions_for
from crmkit.app.settings import Settings
from crmkit.domain._arguments import flag
from crmkit.errors import ConfigurationError, ValidationError
from crmkit.ports import Capability, Store, UnitOfWork, capabilities_of

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy import URL, Engine

    from crmkit.app.lifecycle import LifecycleService
    from crmkit.app.loyalty import LoyaltyService
    from crmkit.app.segments import SegmentService

__all__ = ["CRM"]


class CRM:
    """crmkit's front door: one service per capability, bound to one tenant.

    Build one with a constructor for your storage — `CRM.in_memory`, `CRM.sqlite`,
    `CRM.from_url` — or from any `crmkit.ports.Store` with ``CRM(store, settings)``. Then
    use its services: ``crm.customers.register(...)``, ``crm.interactions.record(...)``,
    ``crm.segments.count(...)``, ``crm.loyalty.redeem(...)``.

    Args:
        store: where the data lives (`InMemoryStore`, `SqlStore` or a third party's).
        settings: the tenant, clock, ids and capability settings; defaults for all.

    Raises:
        ValidationError: ``store`` is no store, or ``settings`` no `Settings`.
        ConfigurationError: the settings enable a capability the store does not hold.
    """

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        if not callable(getattr(store, "unit_of_work", None)):
            raise ValidationError.single(
                "store", store, "must be a store, e.g. InMemoryStore() or SqlStore.sqlite(path)"
            )
        settings = Settings() if settings is None else settings
        if not isinstance(settings, Settings):
            raise ValidationError.single("settings", settings, "must be a Settings")
        _check_capabilities(store, settings)
        self._context = Context(store, settings, EventBus())
        ctx = self._context
        #: Customers: register, find, search, list, count, update.
        self.customers = CustomerService(ctx)
        #: Consent decisions and whether a contact is allowed.
        self.consent = ConsentService(ctx, self.customers)
        #: B2B accounts and their contacts.
        self.accounts = AccountService(ctx, self.customers)
        #: The interaction log; recording runs the reactions the settings ask for.
        self.interactions = InteractionService(ctx, reactions_for(settings))
        #: Event subscribers and the outbox.
        self.events = EventService(ctx)

    @classmethod
    def in_memory(cls, settings: Settings | None = None) -> CRM:
        """A CRM kept in process memory: for tests, prototypes and short-lived tools. To
        share data between CRMs (e.g. one per tenant), build them on one store:
        ``CRM(InMemoryStore(), settings)``, or use `for_tenant`.

        Args:
            settings: the CRM's settings; the defaults without.

        Returns:
            A CRM on a new, empty `InMemoryStore`.

        Raises:
            ValidationError: ``settings`` is no `Settings`.
        """
        from crmkit.adapters.memory import InMemoryStore

        return cls(InMemoryStore(), settings)

    @classmethod
    def sqlite(
        cls, path: str | Path, settings: Settings | None = None, *, migrate: bool = True
    ) -> CRM:
        """A CRM kept in the SQLite file at ``path`` (created if missing; ``":memory:"`` for a
        throw-away database). Needs ``crmkit[sql]``.

        Args:
            path: the database file.
            settings: the CRM's settings.
            migrate: bring the schema to the latest version (with ``False`` the file must
                exist already: nothing is created).

        Returns:
            A CRM on a `SqlStore` over that file.

        Raises:
            ValidationError: ``path`` is no path (``None``, a number, empty text).
            ConfigurationError: the file cannot be used.
        """
        from crmkit.adapters.sqlalchemy import sqlite_url

        return cls.from_url(sqlite_url(path), settings, migrate=migrate)

    @classmethod
    def from_url(
        cls, url: str | URL | Engine, settings: Settings | None = None, *, migrate: bool = True
    ) -> CRM:
        """A CRM in the database at a SQLAlchemy ``url`` (``sqlite:///crm.db``,
        ``postgresql+psycopg://…``, ``mariadb+pymysql://…``) or in a host's ``Engine``.

        Args:
            url: the database URL, or an engine the host opened (it stays the host's).
            settings: the CRM's settings.
            migrate: bring the schema to the latest version first.

        Returns:
            A CRM on a `SqlStore` over that database.

        Raises:
            ValidationError: ``settings`` is no `Settings`.
            ConfigurationError: the URL cannot be used (its secrets masked): malformed,
                unsupported, a driver or an option missing or refused, a server that cannot
                be reached, a SQLite file missing with ``migrate=False`` (nothing is created
                then), a database written by a newer crmkit.
        """
        from crmkit.adapters.sqlalchemy.opening import open_store

        if settings is not None and not isinstance(settings, Settings):
            raise ValidationError.single("settings", settings, "must be a Settings")
        return cls(open_store(url, migrate=flag(migrate, "migrate")), settings)

    @property
    def settings(self) -> Settings:
        """What this CRM was built with."""
        return self._context.settings

    @property
    def store(self) -> Store:
        """The storage this CRM runs on."""
        return self._context.store

    @property
    def tenant(self) -> str:
        """The tenant every service of this CRM is bound to."""
        return self._context.tenant

    @cached_property
    def lifecycle(self) -> LifecycleService:
        """Lifecycle stages: move, enter, histories, progression, stage reports."""
        from crmkit.app.lifecycle import LifecycleService

        return LifecycleService(self._context)

    @cached_property
    def segments(self) -> SegmentService:
        """Who matches a rule, and the stored membership of saved segments."""
        from crmkit.app.segments import SegmentService

        return SegmentService(self._context)

    @cached_property
    def loyalty(self) -> LoyaltyService:
        """The loyalty programme: balances, redemption, the points job, referrals."""
        from crmkit.app.loyalty import LoyaltyService

        return LoyaltyService(self._context)

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work on this CRM's tenant, for changes that must be atomic together;
        its events go to this CRM's subscribers:

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

        Returns:
            A unit of work to use in a ``with`` block; nothing is stored unless it commits.
        """
        return self._context.unit_of_work(read_only=read_only)

    def for_tenant(self, tenant: str) -> CRM:
        """The same store and settings, bound to another tenant (with its own event
        subscribers).

        Args:
            tenant: the other tenant's id, a lower-case slug.

        Returns:
            A new CRM on the same store.

        Raises:
            ValidationError: ``tenant`` is no valid tenant id.
        """
        return type(self)(self.store, self.settings.for_tenant(tenant))

    def __repr__(self) -> str:
        return f"CRM(tenant={self.tenant!r}, store={type(self.store).__name__})"


def _check_capabilities(store: Store, settings: Settings) -> None:
    """Refuse settings that enable a capability ``store`` does not hold."""
    needed = {Capability.CUSTOMERS, Capability.INTERACTIONS}
    if settings.lifecycles:
        needed.add(Capability.LIFECYCLE)
    if settings.segments:
        needed.add(Capability.SEGMENTS)
    if settings.loyalty is not None:
        needed.add(Capability.LOYALTY)
    missing = sorted(needed - capabilities_of(store))
    if missing:
        names = ", ".join(str(c) for c in missing)
        raise ConfigurationError(
            f"the store {type(store).__name__} does not hold {names}, which the settings "
            "enable: use a store that does, or settings without them"
        )
