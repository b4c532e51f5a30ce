"""The SQL referral repository: ``crmkit_referrals``, one row per referral.

Its unique key (tenant, programme, referee) is what keeps a referee referred at most once
per programme, even when two transactions record a referral of the same customer at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import exc, insert, select, update

from crmkit.adapters.sqlalchemy.loyalty.tables import referrals
from crmkit.adapters.sqlalchemy.rows import at_or_none, from_us, hydrate, to_us, us_or_none
from crmkit.adapters.sqlalchemy.session import Session
from crmkit.domain import CustomerId, Referral, ReferralStatus
from crmkit.domain._arguments import instance_of
from crmkit.errors import ConcurrencyConflict, NotFound, ReferralRefused, ValidationError

__all__ = ["SqlReferrals"]

_R = referrals.c
_KIND = "referral"


def _about_referee(error: exc.IntegrityError) -> bool:
    """True when ``error`` is the (programme, referee) key's, not the primary key's."""
    text = str(error.orig).strip().splitlines()[0].lower() if str(error.orig).strip() else ""
    # MariaDB quotes the duplicate values before the key's name: read only the name.
    if "for key" in text:
        text = text.rsplit("for key", 1)[1]
    return "referee" in text


class SqlReferrals:
    """Referrals in ``crmkit_referrals``."""

    def __init__(self, session: Session) -> None:
        self._s = session

    @property
    def _tenant(self) -> str:
        return self._s.tenant

    def add(self, referral: Referral) -> None:
        """Store a new referral (version 0); it becomes version 1. Raises `ReferralRefused`
        if its referee already has a referral in the programme, `ConcurrencyConflict` if
        its id is taken."""
        instance_of(referral, Referral, "referral")
        if referral.version != 0:
            raise ValidationError.single(
                "version", referral.version, "a new referral has version 0"
            )
        # Asked first, so the usual refusals leave the transaction usable on PostgreSQL too;
        # the keys still catch a writer that committed the same referral meanwhile.
        if self._version(referral.id) is not None:
            raise ConcurrencyConflict(_KIND, referral.id, 0, "it already exists")
        if self.for_referee(referral.programme, referral.referee_id) is not None:
            raise ReferralRefused.already_referred(referral.referee_id)
        try:
            self._s.connection.execute(insert(referrals), [referral_row(self._tenant, referral, 1)])
        except exc.IntegrityError as error:
            if _about_referee(error):
                raise ReferralRefused.already_referred(referral.referee_id) from None
            raise ConcurrencyConflict(_KIND, referral.id, 0, "it already exists") from None
        referral.version = 1
        self._s._track(referral)

    def update(self, referral: Referral) -> None:
        """Store a referral's new status if its stored version is still
        ``referral.version``, then bump it; raises `ConcurrencyConflict` if another writer
        got there first, `NotFound` if it was never added, `ValidationError` (writing
        nothing) if it changed who it links (programme, referrer or referee)."""
        instance_of(referral, Referral, "referral")
        version = referral.version
        row = referral_row(self._tenant, referral, version + 1)
        links = ("programme", "referrer_id", "referee_id")
        result = self._s.connection.execute(
            update(referrals)
            .where(
                _R.tenant_id == self._tenant,
                _R.id == referral.id,
                _R.version == version,
                *(referrals.c[name] == row[name] for name in links),
            )
            .values({k: v for k, v in row.items() if k not in ("tenant_id", "id", *links)})
        )
        if result.rowcount == 1:
            referral.version += 1
            self._s._track(referral)
            return
        # A locking read, so MariaDB compares with the latest commit, not the snapshot.
        stored = (
            self._s.connection.execute(
                select(_R.version, *(referrals.c[name] for name in links))
                .where(_R.tenant_id == self._tenant, _R.id == referral.id)
                .with_for_update()
            )
            .mappings()
            .first()
        )
        if stored is None:
            raise NotFound(_KIND, referral.id)
        if int(stored["version"]) != version:
            raise ConcurrencyConflict(_KIND, referral.id, version)
        raise ValidationError.single("referral", referral.id, "changed who it links")

    def _version(self, referral_id: str) -> int | None:
        found = self._s.connection.execute(
            select(_R.version).where(_R.tenant_id == self._tenant, _R.id == referral_id)
        ).scalar()
        return None if found is None else int(found)

    def _one(self, *conditions: Any) -> Referral | None:
        row = (
            self._s.connection.execute(
                select(referrals).where(_R.tenant_id == self._tenant, *conditions)
            )
            .mappings()
            .first()
        )
        return None if row is None else referral_from_row(row)

    def get(self, referral_id: str) -> Referral:
        """The referral with that id; raises `NotFound`."""
        found = self._one(_R.id == referral_id)
        if found is None:
            raise NotFound(_KIND, referral_id)
        return found

    def for_referee(self, programme: str, referee_id: CustomerId) -> Referral | None:
        """The referral that brought ``referee_id`` into ``programme``, or ``None``."""
        return self._one(_R.programme == programme, _R.referee_id == referee_id)

    def by_referrer(self, programme: str, referrer_id: CustomerId) -> list[Referral]:
        """The referrals ``referrer_id`` made in ``programme``, oldest first (then by id)."""
        rows = (
            self._s.connection.execute(
                select(referrals)
                .where(
                    _R.tenant_id == self._tenant,
                    _R.programme == programme,
                    _R.referrer_id == referrer_id,
                )
                .order_by(_R.created_at_us, _R.id)
            )
            .mappings()
            .all()
        )
        return [referral_from_row(row) for row in rows]


def referral_row(tenant: str, referral: Referral, version: int) -> dict[str, Any]:
    """The ``crmkit_referrals`` row of a referral, stored at ``version``."""
    return {
        "tenant_id": tenant,
        "id": referral.id,
        "programme": referral.programme,
        "referrer_id": referral.referrer_id,
        "referee_id": referral.referee_id,
        "code": referral.code,
        "created_at_us": to_us(referral.created_at),
        "status": referral.status.value,
        "qualified_at_us": us_or_none(referral.qualified_at),
        "qualifying_interaction_id": referral.qualifying_interaction_id,
        "rewarded_at_us": us_or_none(referral.rewarded_at),
        "version": version,
    }


_REFERRAL_STATUSES = ReferralStatus._value2member_map_


def referral_from_row(row: Mapping[Any, Any]) -> Referral:
    """A referral from its ``crmkit_referrals`` row."""
    return hydrate(
        Referral,
        id=row["id"],
        programme=row["programme"],
        referrer_id=row["referrer_id"],
        referee_id=row["referee_id"],
        created_at=from_us(row["created_at_us"]),
        code=row["code"],
        status=_REFERRAL_STATUSES[row["status"]],
        qualified_at=at_or_none(row["qualified_at_us"]),
        qualifying_interaction_id=row["qualifying_interaction_id"],
        rewarded_at=at_or_none(row["rewarded_at_us"]),
        version=int(row["version"]),
        _events=[],
    )
