"""`PointsJobReport`: what one run of the points job (maturing, expiring) did."""

from __future__ import annotations

from datetime import datetime

import attrs

from crmkit.domain._checks import non_negative_int, to_utc, utc
from crmkit.domain.values.ids import CustomerId

__all__ = ["PointsJobReport"]


@attrs.frozen
class PointsJobReport:
    """What one run of `LoyaltyService.run_job` did.

    Attributes:
        as_of: the instant it matured and expired points at.
        members: the members whose points or tier it changed.
        matured: the points that became available.
        expired: the points that expired.
        skipped: members it left alone because their ledger has entries after ``as_of``.
    """

    as_of: datetime = attrs.field(converter=to_utc, validator=utc)
    members: int = attrs.field(validator=non_negative_int)
    matured: int = attrs.field(validator=non_negative_int)
    expired: int = attrs.field(validator=non_negative_int)
    skipped: tuple[CustomerId, ...] = ()
