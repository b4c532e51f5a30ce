"""`crm.consent`: record customers' consent decisions and ask whether a contact is allowed."""

from __future__ import annotations

from datetime import datetime

from crmkit.app.context import Context
from crmkit.app.customer_changes import change_customer
from crmkit.app.customers import CustomerService
from crmkit.domain import Channel, ConsentRecord, ConsentStatus, Customer, DoubleOptIn

__all__ = ["ConsentService"]


class ConsentService:
    """Consent per purpose and channel: ``crm.consent``."""

    def __init__(self, context: Context, customers: CustomerService) -> None:
        self._context = context
        self._customers = customers

    def record(
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
        """Record a consent decision of the customer and return it.

        Args:
            customer_id: the customer who decided.
            purpose: what the contact is for (a slug such as ``"marketing"``).
            channel: the channel it covers; ``None`` covers every channel.
            status: granted, denied or withdrawn.
            source: where the decision was taken (a form, a call, an import).
            at: when the customer decided; now by default.
            method: how it was given (e.g. ``"checkbox"``).
            evidence: a reference to the proof kept by the host.
            double_opt_in: whether a confirmation is required, pending or confirmed.

        Returns:
            The recorded decision.

        Raises:
            NotFound: no such customer.
            ValidationError: a value is invalid.
        """
        now = self._context.now()
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

        change_customer(self._context, customer_id, None, record_it)
        return record

    def may_contact(
        self,
        customer_id: str,
        channel: Channel | str,
        purpose: str,
        *,
        as_of: datetime | None = None,
    ) -> bool:
        """Whether the customer may be contacted on ``channel`` for ``purpose`` at ``as_of``
        (now by default), by the deciding consent record.

        Returns:
            ``True`` when the deciding record allows the contact, else ``False``.

        Raises:
            NotFound: no such customer.
        """
        customer = self._customers.get(customer_id)
        return customer.may_contact(channel, purpose, self._context.as_of(as_of))
