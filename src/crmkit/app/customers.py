"""Use cases on customers: register, find, update the profile and traits, record consent."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from crmkit.app.context import ServiceContext
from crmkit.app.progression import enter_models
from crmkit.app.retries import retry_conflicts
from crmkit.domain import (
    UNCHANGED,
    AccountId,
    Channel,
    ConsentRecord,
    ConsentStatus,
    Customer,
    CustomerId,
    DoubleOptIn,
    EmailAddress,
    SubjectKind,
    normalize_tag,
)
from crmkit.domain._arguments import each_of, expected_version_of, items_of
from crmkit.domain.values.ids import check_id
from crmkit.domain.values.texts import ensure_text
from crmkit.errors import ConcurrencyConflict, DuplicateCustomer, NotFound
from crmkit.ports import ImportResult, OnExisting, Page, UnitOfWork, check_on_existing

__all__ = ["CustomerUseCases"]


class CustomerUseCases(ServiceContext):
    """The customer use cases of the `CRM` front door."""

    def register_customer(
        self,
        *,
        email: EmailAddress | str | None = None,
        phone: Any = None,
        given_name: str | None = None,
        family_name: str | None = None,
        customer_id: str | None = None,
        traits: Mapping[str, Any] | None = None,
        consents: Iterable[ConsentRecord] = (),
        **profile: Any,
    ) -> Customer:
        """Register a new customer and return it (at version 1).

        The customer enters each of the CRM's customer lifecycle models at its initial stage,
        in the same unit of work.

        Email and phone may be given as text. A national phone number (one without ``+``) is
        read in the country of the customer's ``address``, or, without one, in the CRM's
        ``default_region``; an extension (``"ext. 5"``) is kept beside the E.164 number.
        Traits are checked against the CRM's trait schema. A second customer with the same
        email or external id is refused with `DuplicateCustomer`. Further keyword arguments
        are profile fields: ``address``, ``locale``, ``tags``, ``external_ids``,
        ``other_contacts``, ``account``.
        """
        # Built afresh at each attempt (a conflict retried discards the unstored copy and its
        # events); one-shot iterators are read once, here.
        new_id, at = CustomerId(customer_id or self._new_id()), self._now()
        email, phone = self._email(email), self._phone(phone, address=profile.get("address"))
        consents = _reusable(items_of(consents, "consents"))
        profile = {k: _reusable(v) for k, v in profile.items()}

        def register() -> Customer:
            customer = Customer.register(
                new_id,
                at=at,
                schema=self.trait_schema,
                traits=traits,
                consents=consents,
                email=email,
                phone=phone,
                given_name=given_name,
                family_name=family_name,
                **profile,
            )
            with self.unit_of_work() as uow:
                _check_keys_and_links(uow, customer)
                uow.customers.add(customer)
                models = self._models_for(SubjectKind.CUSTOMER)
                enter_models(uow, models, customer.id, at=customer.created_at, reason="registered")
                uow.commit()
            return customer

        # A racing registration of the same email or external id (SQLite: "database is
        # locked") is retried: the next attempt finds the other customer (DuplicateCustomer).
        return retry_conflicts(register)

    def import_customers(
        self,
        customers: Iterable[Customer],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        """Bulk-import new customers (version 0, e.g. from `Customer.register` or
        `crmkit.serialization.structure`) in one transaction.

        Built for moving data in: it records no events, and a duplicate id, email or external
        id raises `DuplicateCustomer` with nothing stored. With ``on_existing="skip"``, a
        customer whose id is already stored with the same content (`Customer.same_content`)
        is skipped, so re-running the same import stores nothing twice; one whose content
        differs is still refused, naming the fields that differ.

        Args:
            customers: the customers to store, in any iterable (read once, a batch at a time).
            batch_size: how many rows go to the database per statement (1 to 10,000).
            on_existing: ``"error"`` (the default) or ``"skip"``.

        Returns:
            How many customers were stored, and the positions of those skipped.

        Raises:
            DuplicateCustomer: an id, email or external id is taken (nothing is stored).
            ValidationError: a customer is not new, an item is no `Customer` (named by its
                index), or a parameter is invalid.

        It is not retried on a conflict (retryable, nothing stored): the customers are set
        to version 1 batch by batch as they are written, so a second attempt would refuse
        them as not new.
        """
        check_on_existing(on_existing)
        checked = each_of(customers, Customer, "customers")  # a bad item is named by index
        with self.unit_of_work() as uow:
            result = uow.customers.add_many(checked, batch_size=batch_size, on_existing=on_existing)
            uow.commit()
        return result

    def get_customer(self, customer_id: str) -> Customer:
        """The customer with that id; raises `NotFound`."""
        with self._reading() as uow:
            return uow.customers.get(CustomerId(check_id("customer_id", customer_id)))

    def find_customer_by_email(self, email: EmailAddress | str) -> Customer | None:
        """The customer whose primary email is ``email`` (in any spelling), or ``None``."""
        address = self._email(email)
        assert address is not None
        with self._reading() as uow:
            return uow.customers.find_by_email(address)

    def find_customer_by_external_id(self, source: str, external_id: str) -> Customer | None:
        """The customer that host system ``source`` knows as ``external_id``, or ``None``."""
        for path, value in (("source", source), ("external_id", external_id)):
            ensure_text(value, path)
        with self._reading() as uow:
            return uow.customers.find_by_external_id(source, external_id)

    def update_profile(
        self, customer_id: str, *, expected_version: int | None = None, **changes: Any
    ) -> Customer:
        """Change profile fields and return the customer as stored.

        Give ``expected_version`` (the version you displayed) to refuse the change with
        `ConcurrencyConflict` if somebody else saved the customer meanwhile.

        A phone given as text is read as in `register_customer`, in the country of the
        address the customer has after this change (the new one, if ``address`` changes
        too). A phone already stored stays as it is when the address changes later: it was
        read once, as an international number.
        """
        if "email" in changes and changes["email"] is not UNCHANGED:
            changes["email"] = self._email(changes["email"])
        at = self._now()
        changes = {name: _reusable(value) for name, value in changes.items()}

        def update(customer: Customer) -> tuple[str, ...]:
            fields = dict(changes)
            if "phone" in fields and fields["phone"] is not UNCHANGED:
                address = fields.get("address", UNCHANGED)
                fields["phone"] = self._phone(
                    fields["phone"], address=customer.address if address is UNCHANGED else address
                )
            return customer.update_profile(at=at, **fields)

        return self._change(customer_id, expected_version, update)

    def set_traits(
        self,
        customer_id: str,
        values: Mapping[str, Any],
        *,
        remove: Iterable[str] = (),
        expected_version: int | None = None,
    ) -> Customer:
        """Set (merge) and remove custom traits, checked against the trait schema."""
        at = self._now()
        schema = self.trait_schema
        remove = _reusable(remove)
        return self._change(
            customer_id,
            expected_version,
            lambda c: c.set_traits(values, at=at, schema=schema, remove=remove),
        )

    def record_consent(
        self,
        customer_id: str,
        *,
        purpose: str,
        channel: Channel | str | None,
        status: ConsentStatus | str,
        source: str,
        at: datetime | None = None,
        method: str | None = None,
        evidence: str | None = None,
        double_opt_in: DoubleOptIn | str = DoubleOptIn.NOT_REQUIRED,
    ) -> ConsentRecord:
        """Record a consent decision (``channel=None`` covers every channel).

        ``at`` is when the customer decided; it defaults to now.
        """
        now = self._now()
        record = ConsentRecord(
            purpose=purpose,
            channel=channel,
            status=status,
            at=at if at is not None else now,
            source=source,
            method=method,
            evidence=evidence,
            double_opt_in=double_opt_in,
        )

        def record_it(customer: Customer) -> tuple[str, ...]:
            customer.record_consent(record, at=now)
            return ("consents",)

        self._change(customer_id, None, record_it)
        return record

    def may_contact(
        self, customer_id: str, channel: Channel | str, purpose: str, *, at: datetime | None = None
    ) -> bool:
        """May we contact the customer on ``channel`` for ``purpose`` (now, or at ``at``)?"""
        customer = self.get_customer(customer_id)
        return customer.may_contact(channel, purpose, at if at is not None else self._now())

    def list_customers(
        self,
        *,
        tag: str | None = None,
        account_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Customer]:
        """One page of customers in id order; pass ``page.next_cursor`` for the next.

        ``tag`` is read as customers' tags are stored (``"VIP"`` finds those tagged
        ``"vip"``), as `tagged` reads it."""
        account = AccountId(check_id("account_id", account_id)) if account_id is not None else None
        wanted = None if tag is None else normalize_tag(tag, "tag")
        with self._reading() as uow:
            return uow.customers.list(tag=wanted, account_id=account, limit=limit, cursor=cursor)

    def stream_customers(self, *, batch_size: int = 1000) -> Iterator[Customer]:
        """Every customer of the tenant, in id order, with bounded memory."""
        with self._reading() as uow:
            yield from uow.customers.stream(batch_size=batch_size)

    def _change(
        self,
        customer_id: str,
        expected_version: int | None,
        change: Callable[[Customer], tuple[str, ...]],
    ) -> Customer:
        expected_version = expected_version_of(expected_version)

        def attempt() -> Customer:
            with self.unit_of_work() as uow:
                customer = uow.customers.get(CustomerId(check_id("customer_id", customer_id)))
                if expected_version is not None and customer.version != expected_version:
                    raise ConcurrencyConflict("customer", customer_id, expected_version)
                if change(customer):
                    _check_keys_and_links(uow, customer)
                    uow.customers.update(customer)
                    uow.commit()
                return customer

        if expected_version is not None:
            return attempt()  # the caller asked to hear of any other writer
        # Without one, another writer saving the customer meanwhile is no reason to refuse:
        # the change is applied again to what they stored.
        return retry_conflicts(attempt)


def _reusable(value: Any) -> Any:
    """``value``, or its items as a tuple if it is a one-shot iterator (a generator)."""
    return tuple(value) if isinstance(value, Iterator) else value


def _check_keys_and_links(uow: UnitOfWork, customer: Customer) -> None:
    if customer.email is not None:
        owner = uow.customers.find_by_email(customer.email)
        if owner is not None and owner.id != customer.id:
            raise DuplicateCustomer("email", str(customer.email), owner.id)
    for source, ref in customer.external_ids.items():
        owner = uow.customers.find_by_external_id(source, ref)
        if owner is not None and owner.id != customer.id:
            raise DuplicateCustomer(f"external_ids.{source}", ref, owner.id)
    if customer.account is not None and uow.accounts.find(customer.account.account_id) is None:
        raise NotFound("account", customer.account.account_id)
