"""The rules on time: the points job, and the shared clock moving on (as a scheduler runs)."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import rule

from crmkit.domain import PointsJobReport, TenantId
from crmkit.testing.stateful._base import MachineState
from crmkit.testing.stateful._config import TENANTS
from crmkit.testing.stateful._model import _check, _Raised, _Side


class ClockRules(MachineState):
    """Run the points job and let time pass."""

    @rule(
        tenant=st.sampled_from(TENANTS),
        days=st.sampled_from([0, 0, 0, -1, -4]),
        batch_size=st.sampled_from([1, 2, 500]),
        twice=st.booleans(),
    )
    def run_points_job(self, tenant: TenantId, days: int, batch_size: int, twice: bool) -> None:
        """Mature and expire points with `CRM.run_points_job`, as of now or some days ago
        (members with later entries are skipped), page by page. Run twice at the same
        ``as_of``, the second run must report nothing matured, expired or changed, publish
        nothing and leave what is stored as it was."""
        self._run_job(tenant, self.clock.now() + timedelta(days=days), batch_size, twice=twice)

    def _run_job(self, tenant: TenantId, as_of: datetime, batch_size: int, *, twice: bool) -> None:
        def run(side: _Side) -> tuple[PointsJobReport, PointsJobReport | None, bool]:
            crm = side.crms[tenant]
            first = crm.loyalty.run_job(as_of=as_of, batch_size=batch_size)
            if not twice:
                return first, None, True
            stored = side.points(tenant)
            second = crm.loyalty.run_job(as_of=as_of, batch_size=batch_size)
            return first, second, side.points(tenant) == stored

        outcome = self._on_both(
            "run the points job" + (" twice" if twice else ""),
            f"running the points job of {tenant!r} as of {as_of}",
            run,
        )
        self._last_job[tenant] = as_of
        if isinstance(outcome, _Raised) or outcome[1] is None:
            return
        first, second, unchanged = outcome
        _check(
            "a second run of the points job at the same as_of",
            attrs.evolve(first, members=0, matured=0, expired=0),
            second,
        )
        _check("what is stored after a second run of the points job", True, unchanged)

    @rule(
        days=st.integers(0, 90) | st.integers(0, 6),
        seconds=st.integers(1, 24 * 3600),
        nightly=st.booleans(),
    )
    def let_time_pass(self, days: int, seconds: int, nightly: bool) -> None:
        """Move the shared clock forward: up to 90 days, or up to a week (so that pending
        points mature, some to expire later); then, as a scheduler would, sometimes run the
        points job of each tenant as of the new instant. (Days are drawn apart from seconds,
        as Hypothesis favours small integers: seconds up to 90 days would mostly stay under
        one day.)"""
        self.clock.advance(timedelta(days=days, seconds=seconds))
        if nightly:
            for tenant in TENANTS:
                self._run_job(tenant, self.clock.now(), 500, twice=False)
