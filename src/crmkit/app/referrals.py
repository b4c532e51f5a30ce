"""`crm.loyalty.referrals`: who referred whom into the loyalty programme."""

from __future__ import annotations

from crmkit.app.context import Context
from crmkit.app.retries import retry_conflicts
from crmkit.domain import CustomerId, InteractionKind, Programme, Referral
from crmkit.domain.values.ids import check_id
from crmkit.errors import ReferralRefused
from crmkit.ports import UnitOfWork

__all__ = ["ReferralService"]


class ReferralService:
    """The referrals of the settings' loyalty programme: ``crm.loyalty.referrals``."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def refer(self, referrer_id: str, referee_id: str, *, code: str | None = None) -> Referral:
        """Record that ``referrer_id`` referred ``referee_id`` (with the referral ``code``
        used, if any). The referral qualifies on the referee's first purchase recorded
        afterwards and is rewarded then, through the programme's `ReferralPolicy`. Raises
        `ReferralRefused` for a self-referral, a referee already referred, a referee who has
        already made a purchase (no longer a new customer) or one who referred the referrer
        (no mutual referrals), and `NotFound` for an unknown customer."""
        programme = self._context.settings.programme()
        referrer = CustomerId(check_id("referrer_id", referrer_id))
        referee = CustomerId(check_id("referee_id", referee_id))
        new_id, now = self._context.new_id(), self._context.now()

        def refer() -> Referral:
            with self._context.unit_of_work() as uow:
                uow.customers.get(referrer)
                uow.customers.get(referee)
                if referrer != referee:
                    _check_referee(uow, programme, referrer, referee)
                referral = Referral.record(
                    new_id, programme.name, referrer, referee, now, code=code
                )
                uow.referrals.add(referral)
                uow.commit()
            return referral

        # A racing referral of the same referee is retried: the next attempt finds it and
        # refuses this one (`ReferralRefused`), as it would have one call later.
        return retry_conflicts(refer)

    def get(self, referral_id: str) -> Referral:
        """The referral with that id; raises `NotFound`.

        Returns:
            The stored `Referral`.

        Raises:
            NotFound: the tenant holds no such referral.
        """
        with self._context.reading() as uow:
            return uow.referrals.get(check_id("referral_id", referral_id))

    def find_by_referee(self, referee_id: str) -> Referral | None:
        """The referral that brought ``referee_id`` into the programme, or ``None``.

        Returns:
            The `Referral`, or ``None`` when nobody referred the customer.

        Raises:
            UsageError: the settings have no loyalty programme.
            ValidationError: ``referee_id`` is no id.
        """
        programme = self._context.settings.programme()
        with self._context.reading() as uow:
            return uow.referrals.for_referee(
                programme.name, CustomerId(check_id("referee_id", referee_id))
            )

    def list_by_referrer(self, referrer_id: str) -> list[Referral]:
        """The referrals ``referrer_id`` made, oldest first.

        Returns:
            The referrals, oldest first (empty when there are none).

        Raises:
            UsageError: the settings have no loyalty programme.
            ValidationError: ``referrer_id`` is no id.
        """
        programme = self._context.settings.programme()
        with self._context.reading() as uow:
            return uow.referrals.by_referrer(
                programme.name, CustomerId(check_id("referrer_id", referrer_id))
            )


def _check_referee(
    uow: UnitOfWork, programme: Programme, referrer: CustomerId, referee: CustomerId
) -> None:
    if uow.referrals.for_referee(programme.name, referee) is not None:
        raise ReferralRefused.already_referred(referee)
    if uow.interactions.timeline(referee, kinds=frozenset({InteractionKind.PURCHASE}), limit=1):
        raise ReferralRefused(referee, "the customer has already made a purchase")
    back = uow.referrals.for_referee(programme.name, referrer)
    if back is not None and back.referrer_id == referee:
        raise ReferralRefused(referee, "the customer referred the referrer: no mutual referrals")
