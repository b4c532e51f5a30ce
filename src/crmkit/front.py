"""The front door: `CRM`, built once by the host with the storage of its choice."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from crmkit.app import CrmService, SystemClock, UuidIds
from crmkit.app.context import OpenUnitOfWork
from crmkit.app.service import name_methods_after
from crmkit.domain import DEFAULT_TENANT, LifecycleModel, Programme, Segment, TraitSchema
from crmkit.domain._arguments import flag
from crmkit.domain.values.contact import region_code
from crmkit.errors import UsageError, ValidationError
from crmkit.ports import Clock, IdSource, Outbox

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy import URL, Engine

    from crmkit.adapters.memory import InMemoryStore
    from crmkit.adapters.sqlalchemy import SqlStore

__all__ = ["CRM"]


class CRM(CrmService):
    """crmkit's front door: every use case, bound to one tenant.

    Create one per tenant with a constructor for your storage, e.g. `CRM.in_memory`. Time
    and ids come from the ``clock`` and ``ids`` you pass (the system clock and random UUIDs
    by default), so tests can make every run identical. ``lifecycles`` are the lifecycle
    models (e.g. `crmkit.CUSTOMER_LIFECYCLE`) whose stages the CRM tracks; ``segments`` are
    the saved segments whose stored membership `record_interaction` keeps up to date for the
    customer it records for (see `refresh_segment`); ``loyalty`` is the loyalty `Programme`
    whose points recording an interaction earns (see `points_balance`). ``default_region``
    (an ISO 3166-1 alpha-2 code such as ``"DE"``) is the country a national phone number is
    read in for a customer without an address; with one, the address country is used.
    """

    def __init__(
        self,
        open_unit_of_work: OpenUnitOfWork,
        *,
        tenant: str = DEFAULT_TENANT,
        clock: Clock | None = None,
        ids: IdSource | None = None,
        trait_schema: TraitSchema | None = None,
        default_region: str | None = None,
        store: SqlStore | InMemoryStore | None = None,
        lifecycles: Iterable[LifecycleModel] = (),
        segments: Iterable[Segment] = (),
        loyalty: Programme | None = None,
    ) -> None:
        #: The storage this CRM runs on, when built from one (e.g. for ``store.outbox()``).
        self.store = store
        super().__init__(
            open_unit_of_work=open_unit_of_work,
            tenant=tenant,
            clock=clock or SystemClock(),
            ids=ids or UuidIds(),
            trait_schema=trait_schema,
            default_region=default_region,
            lifecycles=lifecycles,
            segments=segments,
            loyalty=loyalty,
        )

    @classmethod
    def in_memory(
        cls,
        *,
        tenant: str = DEFAULT_TENANT,
        clock: Clock | None = None,
        ids: IdSource | None = None,
        trait_schema: TraitSchema | None = None,
        default_region: str | None = None,
        store: InMemoryStore | None = None,
        lifecycles: Iterable[LifecycleModel] = (),
        segments: Iterable[Segment] = (),
        loyalty: Programme | None = None,
    ) -> CRM:
        """A CRM kept in process memory: for tests, prototypes and short-lived tools.

        Pass the same ``store`` to several CRMs (e.g. one per tenant) to share data.
        """
        from crmkit.adapters.memory import InMemoryStore

        return cls.from_store(
            store or InMemoryStore(),
            tenant=tenant,
            clock=clock,
            ids=ids,
            trait_schema=trait_schema,
            default_region=default_region,
            lifecycles=lifecycles,
            segments=segments,
            loyalty=loyalty,
        )

    @classmethod
    def sqlite(
        cls,
        path: str | Path,
        *,
        migrate: bool = True,
        tenant: str = DEFAULT_TENANT,
        clock: Clock | None = None,
        ids: IdSource | None = None,
        trait_schema: TraitSchema | None = None,
        default_region: str | None = None,
        lifecycles: Iterable[LifecycleModel] = (),
        segments: Iterable[Segment] = (),
        loyalty: Programme | None = None,
    ) -> CRM:
        """A CRM kept in the SQLite file at ``path`` (created if missing; ``":memory:"`` for a
        throw-away database). Needs ``crmkit[sql]``. The schema is migrated to the latest
        version unless ``migrate=False`` (then the file must exist already: nothing is
        created). Raises `ValidationError` naming ``path`` when it is no path (``None``, a
        number, empty text), `ConfigurationError` when the file cannot be used."""
        from crmkit.adapters.sqlalchemy import sqlite_url

        region_code(default_region, "default_region")  # before any file is created
        return cls.from_url(
            sqlite_url(path),
            migrate=migrate,
            tenant=tenant,
            clock=clock,
            ids=ids,
            trait_schema=trait_schema,
            default_region=default_region,
            lifecycles=lifecycles,
            segments=segments,
            loyalty=loyalty,
        )

    @classmethod
    def from_url(
        cls,
        url: str | URL | Engine,
        *,
        migrate: bool = True,
        tenant: str = DEFAULT_TENANT,
        clock: Clock | None = None,
        ids: IdSource | None = None,
        trait_schema: TraitSchema | None = None,
        default_region: str | None = None,
        lifecycles: Iterable[LifecycleModel] = (),
        segments: Iterable[Segment] = (),
        loyalty: Programme | None = None,
    ) -> CRM:
        """A CRM in the database at a SQLAlchemy ``url`` (``sqlite:///crm.db``,
        ``postgresql+psycopg://…``, ``mariadb+pymysql://…``) or in a host's existing
        ``Engine``. Raises `ConfigurationError` naming the URL (its secrets masked) when it
        cannot be used: malformed, unsupported, a driver or an option missing or refused, a
        server that cannot be reached, a SQLite file missing with ``migrate=False`` (nothing
        is created then), a database written by a newer crmkit."""
        from sqlalchemy import Engine

        from crmkit.adapters.sqlalchemy import SqlStore
        from crmkit.adapters.sqlalchemy.engine import check_engine
        from crmkit.adapters.sqlalchemy.sqlite_files import require_sqlite_file

        if not flag(migrate, "migrate") and not isinstance(url, Engine):
            require_sqlite_file(url)  # a read-only open must not leave an empty file behind

        region_code(default_region, "default_region")  # before the database is touched
        store = (
            SqlStore(check_engine(url), migrate=migrate)
            if isinstance(url, Engine)
            else SqlStore.open(url, migrate=migrate)
        )
        if not migrate:
            try:
                store.require_schema()
            except BaseException:
                if not isinstance(url, Engine):  # the host's own engine stays the host's
                    store.dispose()
                raise
        return cls.from_store(
            store,
            tenant=tenant,
            clock=clock,
            ids=ids,
            trait_schema=trait_schema,
            default_region=default_region,
            lifecycles=lifecycles,
            segments=segments,
            loyalty=loyalty,
        )

    @classmethod
    def from_store(
        cls,
        store: SqlStore | InMemoryStore,
        *,
        tenant: str = DEFAULT_TENANT,
        clock: Clock | None = None,
        ids: IdSource | None = None,
        trait_schema: TraitSchema | None = None,
        default_region: str | None = None,
        lifecycles: Iterable[LifecycleModel] = (),
        segments: Iterable[Segment] = (),
        loyalty: Programme | None = None,
    ) -> CRM:
        """A CRM on a store the host already opened (to share it between tenants or CRMs)."""
        if not callable(getattr(store, "unit_of_work", None)):
            raise ValidationError.single(
                "store", store, "must be a store, e.g. InMemoryStore() or SqlStore.sqlite(path)"
            )
        return cls(
            store.unit_of_work,
            tenant=tenant,
            clock=clock,
            ids=ids,
            trait_schema=trait_schema,
            default_region=default_region,
            store=store,
            lifecycles=lifecycles,
            segments=segments,
            loyalty=loyalty,
        )

    def outbox(self, *, all_tenants: bool = False) -> Outbox:
        """The events committed with their changes, waiting to be forwarded: this tenant's, or
        every tenant's with ``all_tenants=True``. Raises `UsageError` for a CRM built without
        a store."""
        flag(all_tenants, "all_tenants")
        if self.store is None:
            raise UsageError("this CRM was built without a store, so it has no outbox")
        return self.store.outbox(tenant=None if all_tenants else self.tenant)

    def for_tenant(self, tenant: str) -> CRM:
        """The same storage, clock, ids and settings, bound to another tenant (with its own
        event subscribers)."""
        return type(self)(
            self._open_unit_of_work,
            tenant=tenant,
            clock=self.clock,
            ids=self.ids,
            trait_schema=self.trait_schema,
            default_region=self.default_region,
            store=self.store,
            lifecycles=self.lifecycles,
            segments=self.segments,
            loyalty=self.loyalty,
        )


# Wrong calls name `CRM.method`, not the use-case class that defines it.
name_methods_after(CRM)
