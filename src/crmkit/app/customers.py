"""`crm.customers`: register, find, search, list, count and update customers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from crmkit.app.context import Context
from crmkit.app.customer_changes import change_customer, reusable
from crmkit.app.new_customers import import_customers, register_customer
from crmkit.app.rules import customer_filter
from crmkit.domain import (
    UNCHANGED,
    AccountId,
    AccountLink,
    Condition,
    ConsentRecord,
    ContactPoint,
    Customer,
    CustomerId,
    EmailAddress,
    PhoneNumber,
    PostalAddress,
    Segment,
    normalize_tag,
)
from crmkit.domain._arguments import page_limit
from crmkit.domain.values.ids import check_id
from crmkit.domain.values.texts import ensure_text
from crmkit.errors import ValidationError
from crmkit.ports import ImportResult, OnExisting, Page

__all__ = ["CustomerService"]


class CustomerService:
    """The customers of one tenant: ``crm.customers``."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def register(
        self,
        *,
        email: EmailAddress | str | None = None,
        phone: PhoneNumber | str | None = None,
        given_name: str | None = None,
        family_name: str | None = None,
        address: PostalAddress | None = None,
        locale: str | None = None,
        tags: Iterable[str] = (),
        traits: Mapping[str, Any] | None = None,
        external_ids: Mapping[str, str] | None = None,
        other_contacts: Iterable[ContactPoint] = (),
        account: AccountLink | None = None,
        consents: Iterable[ConsentRecord] = (),
        customer_id: str | None = None,
    ) -> Customer:
        """Register a new customer and return it (at version 1).

        The customer enters each of the settings' customer lifecycle models at its initial
        stage, in the same unit of work.

        Args:
            email: the primary email, as text or an `EmailAddress`.
            phone: the primary phone. A national number (without ``+``) is read in the
                country of ``address``, or without one in the settings' ``default_region``;
                an extension (``"ext. 5"``) is kept beside the E.164 number.
            given_name: the given (first) name.
            family_name: the family (last) name.
            address: the postal address.
            locale: a BCP 47 locale such as ``"de-DE"``.
            tags: tags (stored lower-cased).
            traits: custom traits, checked against the settings' trait schema.
            external_ids: the ids host systems know the customer by, by system.
            other_contacts: further contact points.
            account: a link to a B2B account, which must exist.
            consents: consent decisions to record at registration.
            customer_id: the id to use; a new one from the settings' ids by default.

        Returns:
            The stored customer.

        Raises:
            DuplicateCustomer: another customer has the email or an external id.
            NotFound: ``account`` names an account the tenant does not hold.
            ValidationError: a value is invalid (named by its field).
        """
        return register_customer(
            self._context,
            customer_id,
            email=email,
            phone=phone,
            given_name=given_name,
            family_name=family_name,
            address=address,
            locale=locale,
            tags=tags,
            traits=traits,
            external_ids=external_ids,
            other_contacts=other_contacts,
            account=account,
            consents=consents,
        )

    def get(self, customer_id: str) -> Customer:
        """The customer with that id.

        Returns:
            The stored customer.

        Raises:
            NotFound: the tenant holds no such customer.
        """
        with self._context.reading() as uow:
            return uow.customers.get(CustomerId(check_id("customer_id", customer_id)))

    def find_by_email(self, email: EmailAddress | str) -> Customer | None:
        """The customer whose primary email is ``email`` (in any spelling), or ``None``.

        Returns:
            The customer, or ``None`` when no customer of the tenant has that email.

        Raises:
            ValidationError: ``email`` is no email address.
        """
        address = self._context.email(email)
        if address is None:
            raise ValidationError.single("email", email, "must be an email address (text)")
        with self._context.reading() as uow:
            return uow.customers.find_by_email(address)

    def find_by_phone(self, phone: PhoneNumber | str) -> Customer | None:
        """The customer whose primary phone is ``phone`` (compared in E.164, an extension
        ignored), or ``None``; with several, the one with the smallest id. A national number
        is read in the settings' ``default_region``.

        Returns:
            The customer, or ``None`` when no customer of the tenant has that phone.

        Raises:
            ValidationError: ``phone`` is no phone number.
        """
        number = self._context.phone(phone)
        if number is None:
            raise ValidationError.single("phone", phone, "must be a phone number (text)")
        with self._context.reading() as uow:
            return uow.customers.find_by_phone(number)

    def find_by_external_id(self, source: str, external_id: str) -> Customer | None:
        """The customer that host system ``source`` knows as ``external_id``, or ``None``.

        Args:
            source: the host system's name, e.g. ``"shopify"``.
            external_id: the id that system gives the customer.

        Returns:
            The customer, or ``None`` when none is linked to that external id.

        Raises:
            ValidationError: ``source`` or ``external_id`` is empty or no text.
        """
        for path, value in (("source", source), ("external_id", external_id)):
            ensure_text(value, path)
        with self._context.reading() as uow:
            return uow.customers.find_by_external_id(source, external_id)

    def search(self, text: str, *, limit: int = 20, cursor: str | None = None) -> Page[Customer]:
        """One page of the customers whose email, given name or family name starts with
        ``text`` (case-insensitively), in id order; pass ``next_cursor`` for the next page.

        Returns:
            A `Page` of customers and the cursor of the next page (``None`` on the last).

        Raises:
            ValidationError: ``text`` is empty or no text, or ``limit`` is out of range.
        """
        ensure_text(text, "text")
        with self._context.reading() as uow:
            return uow.customers.search(text, limit=limit, cursor=cursor)

    def list(
        self,
        *,
        tag: str | None = None,
        account_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Customer]:
        """One page of customers in id order; pass ``page.next_cursor`` for the next.

        Args:
            tag: only customers with this tag; read as tags are stored (``"VIP"`` finds
                those tagged ``"vip"``).
            account_id: only the contacts of this account.
            limit: the page size.
            cursor: the ``next_cursor`` of the previous page, ``None`` for the first.

        Returns:
            A `Page` of customers and the cursor of the next page (``None`` on the last).

        Raises:
            ValidationError: a bad tag, account id, limit or cursor.
        """
        account = AccountId(check_id("account_id", account_id)) if account_id is not None else None
        wanted = None if tag is None else normalize_tag(tag, "tag")
        with self._context.reading() as uow:
            return uow.customers.list(tag=wanted, account_id=account, limit=limit, cursor=cursor)

    def stream(self, *, batch_size: int = 1000) -> Iterator[Customer]:
        """Every customer of the tenant, in id order, with bounded memory.

        Read a page of ``batch_size`` at a time, each in its own short transaction: no
        connection is held between pages, and the caller may write meanwhile. A customer
        registered during the stream is yielded if its id sorts after the page being read.

        Returns:
            An iterator over the customers.

        Raises:
            ValidationError: ``batch_size`` is out of range (when iteration starts).
        """
        page_limit(batch_size, "batch_size")
        cursor: str | None = None
        while True:
            with self._context.reading() as uow:
                customers, cursor = uow.customers.stream_page(limit=batch_size, cursor=cursor)
            yield from customers  # built as consumed, after the page's transaction ended
            if cursor is None:
                return

    def count(
        self,
        *,
        tag: str | None = None,
        account_id: str | None = None,
        where: Condition | Segment | None = None,
        as_of: datetime | None = None,
    ) -> int:
        """How many customers the tenant holds: all, or those with ``tag``, linked to
        ``account_id`` and matching the rule ``where`` (at ``as_of``, now by default).

        Returns:
            The number of matching customers.

        Raises:
            ValidationError: a bad tag, account id, rule or ``as_of``.
        """
        rule = customer_filter(self._context.settings, tag, account_id, where)
        moment = self._context.as_of(as_of)
        with self._context.reading() as uow:
            if rule is None:
                return uow.customers.count()
            return uow.customers.count_matching(rule, as_of=moment)

    def update(
        self,
        customer_id: str,
        *,
        email: EmailAddress | str | None = UNCHANGED,
        phone: PhoneNumber | str | None = UNCHANGED,
        given_name: str | None = UNCHANGED,
        family_name: str | None = UNCHANGED,
        address: PostalAddress | None = UNCHANGED,
        locale: str | None = UNCHANGED,
        tags: Iterable[str] = UNCHANGED,
        external_ids: Mapping[str, str] = UNCHANGED,
        other_contacts: Iterable[ContactPoint] = UNCHANGED,
        account: AccountLink | None = UNCHANGED,
        expected_version: int | None = None,
    ) -> Customer:
        """Change profile fields (those given) and return the customer as stored.

        Args:
            customer_id: the customer to change.
            email: the new primary email (``None`` removes it).
            phone: the new phone, read as in `register` in the country of the address the
                customer has after this change. A stored phone stays as it is when only the
                address changes: it was read once, as an international number.
            given_name: the new given name.
            family_name: the new family name.
            address: the new postal address.
            locale: the new locale.
            tags: the new tags (replacing the old ones).
            external_ids: the new external ids (replacing the old ones).
            other_contacts: the new further contact points.
            account: the new account link (see ``crm.accounts.link``).
            expected_version: the version you displayed: a change by anyone else since is
                refused with `ConcurrencyConflict`. Without it, the change is applied again
                to what another writer stored.

        Returns:
            The stored customer.

        Raises:
            NotFound: no such customer (or ``account`` names no stored account).
            DuplicateCustomer: another customer has the email or an external id.
            ConcurrencyConflict: ``expected_version`` is not the stored version.
        """
        ctx = self._context
        changes = {
            "email": email if email is UNCHANGED else ctx.email(email),
            "given_name": given_name,
            "family_name": family_name,
            "address": address,
            "locale": locale,
            "tags": reusable(tags),
            "external_ids": external_ids,
            "other_contacts": reusable(other_contacts),
            "account": account,
        }
        at = ctx.now()

        def update(customer: Customer) -> tuple[str, ...]:
            fields = dict(changes)
            if phone is not UNCHANGED:
                where = customer.address if address is UNCHANGED else address
                fields["phone"] = ctx.phone(phone, address=where)
            return customer.update_profile(at=at, **fields)

        return change_customer(ctx, customer_id, expected_version, update)

    def set_traits(
        self,
        customer_id: str,
        values: Mapping[str, Any],
        *,
        remove: Iterable[str] = (),
        expected_version: int | None = None,
    ) -> Customer:
        """Set (merge) and remove custom traits, checked against the trait schema.

        Args:
            customer_id: whose traits.
            values: the traits to set, merged into those the customer has.
            remove: the names of traits to remove.
            expected_version: see `update`.

        Returns:
            The customer as stored.

        Raises:
            NotFound: the tenant holds no such customer.
            ValidationError: a value does not fit the trait schema.
            ConcurrencyConflict: ``expected_version`` is not the stored version.
        """
        at = self._context.now()
        schema = self._context.settings.trait_schema
        removed = reusable(remove)
        return change_customer(
            self._context,
            customer_id,
            expected_version,
            lambda c: c.set_traits(values, at=at, schema=schema, remove=removed),
        )

    def import_many(
        self,
        customers: Iterable[Customer],
        *,
        batch_size: int = 5000,
        on_existing: OnExisting = "error",
    ) -> ImportResult:
        """Bulk-import new customers (version 0, e.g. from `Customer.register` or
        `crmkit.serialization.structure`) in one transaction.

        Built for moving data in: it records no events, and enters no lifecycle (see
        ``crm.lifecycle.reevaluate_all``). It is not retried on a conflict (retryable,
        nothing stored): the customers are set to version 1 batch by batch as they are
        written, so a second attempt would refuse them as not new.

        Args:
            customers: the customers to store, in any iterable (read once, a batch at a time).
            batch_size: how many rows go to the database per statement (1 to 10,000).
            on_existing: ``"error"`` (the default), or ``"skip"``: a customer whose id is
                already stored with the same content (`Customer.same_content`) is skipped, so
                re-running an import stores nothing twice; different content is refused.

        Returns:
            How many customers were stored, and the positions of those skipped.

        Raises:
            DuplicateCustomer: an id, email or external id is taken (nothing is stored).
            ValidationError: a customer is not new, an item is no `Customer` (named by its
                index), or a parameter is invalid.
        """
        return import_customers(
            self._context, customers, batch_size=batch_size, on_existing=on_existing
        )
