"""The rules on lifecycle stages: moving, entering, evaluating and re-evaluating subjects."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import rule

from crmkit.app.progression import facts_of
from crmkit.domain import (
    DEAL_PIPELINE,
    CustomerId,
    LifecycleModel,
    ProgressionReport,
    StageHistory,
    SubjectKind,
    TenantId,
)
from crmkit.errors import ConcurrencyConflict
from crmkit.testing import strategies
from crmkit.testing.stateful._base import MachineState, account_keys, customer_keys
from crmkit.testing.stateful._config import CUSTOMER_MODELS, NOWHERE, TENANTS, _AccountKey, _Key
from crmkit.testing.stateful._draws import _names, _rarely, _sometimes, _usually
from crmkit.testing.stateful._model import _attempt, _check, _Raised, _save_history, _Side


class LifecycleRules(MachineState):
    """Move customers and accounts through the lifecycle models, put them into a model, apply
    the rules, re-evaluate whole tenants, and race a stale history."""

    @rule(
        key=customer_keys,
        elsewhere=_rarely(),
        stranger=_sometimes(strategies.customer_ids()),
        model=st.sampled_from(CUSTOMER_MODELS),
        legal=_usually(),
        pick=st.integers(0, 9),
        minutes=_sometimes(st.integers(-5, 5)),
        expected_version=_sometimes(st.integers(0, 3)),
        reason=_names(),
        actor=st.none() | st.sampled_from(["alice", "bob"]),
    )
    def move_stage(
        self,
        key: _Key,
        elsewhere: bool,
        stranger: CustomerId | None,
        model: LifecycleModel,
        legal: bool,
        pick: int,
        minutes: int | None,
        expected_version: int | None,
        reason: str | None,
        actor: str | None,
    ) -> None:
        """Move a customer by hand with `CRM.move_stage`: mostly to a stage the model allows
        next (whose guard may fail), else to any stage or one of no model; sometimes a
        customer of the other tenant or none at all, sometimes at an earlier instant than
        the last change or with a stale expected version."""
        tenant, customer_id = self._where(key, elsewhere)
        if stranger is not None:
            customer_id = stranger
        self._move(
            model, tenant, customer_id, legal, pick, minutes, expected_version, reason, actor
        )

    @rule(
        key=account_keys,
        elsewhere=_rarely(),
        action=st.sampled_from(["move", "enter", "evaluate", "move"]),
        legal=_usually(),
        pick=st.integers(0, 9),
        minutes=_sometimes(st.integers(-5, 5)),
        expected_version=_sometimes(st.integers(0, 3)),
    )
    def move_account_through_the_pipeline(
        self,
        key: _AccountKey,
        elsewhere: bool,
        action: str,
        legal: bool,
        pick: int,
        minutes: int | None,
        expected_version: int | None,
    ) -> None:
        """Move an account in the deal pipeline (its guards look at the account's domain and
        its contacts' meetings; ``won`` is final), put it in the pipeline at some stage, or
        apply the pipeline's rules to it."""
        home, account_id = key
        tenant = self._other(home) if elsewhere else home
        if action == "move":
            self._move(
                DEAL_PIPELINE,
                tenant,
                account_id,
                legal,
                pick,
                minutes,
                expected_version,
                None,
                None,
            )
        elif action == "enter":
            self._enter(DEAL_PIPELINE, tenant, account_id, pick, minutes)
        else:
            self._evaluate(SubjectKind.ACCOUNT, tenant, account_id)

    @rule(
        key=customer_keys,
        elsewhere=_rarely(),
        model=st.sampled_from(CUSTOMER_MODELS),
        pick=st.integers(0, 11),
        minutes=_sometimes(st.integers(-5, 5)),
    )
    def enter_lifecycle(
        self,
        key: _Key,
        elsewhere: bool,
        model: LifecycleModel,
        pick: int,
        minutes: int | None,
    ) -> None:
        """Put a customer into a model with `CRM.enter_lifecycle`, at its initial stage or
        another (sometimes one of no model); a customer already in it is refused alike."""
        tenant, customer_id = self._where(key, elsewhere)
        self._enter(model, tenant, customer_id, pick, minutes)

    @rule(key=customer_keys, elsewhere=_rarely())
    def evaluate_progression(self, key: _Key, elsewhere: bool) -> None:
        """Apply every customer model's rules to one customer as of now with
        `CRM.evaluate_progression`; evaluating again at the same instant must move nothing."""
        tenant, customer_id = self._where(key, elsewhere)
        self._evaluate(SubjectKind.CUSTOMER, tenant, customer_id)

    @rule(
        tenant=st.sampled_from(TENANTS),
        subject=st.sampled_from(SubjectKind),
        days=st.sampled_from([0, 0, 0, -1, 200]),
        batch_size=st.sampled_from([1, 2, 500]),
        twice=st.booleans(),
    )
    def reevaluate_all(
        self, tenant: TenantId, subject: SubjectKind, days: int, batch_size: int, twice: bool
    ) -> None:
        """Re-evaluate every customer (or account) of a tenant with `CRM.reevaluate_all`, as
        of now (or a day ago, or 200 days ahead), page by page; those with no history enter
        the models first. Run twice at the same ``as_of``, the second run must report no
        move and no entry, publish nothing and leave what is stored as it was."""
        as_of = self.clock.now() + timedelta(days=days)

        def reevaluate(side: _Side) -> tuple[ProgressionReport, ProgressionReport | None, bool]:
            crm = side.crms[tenant]
            first = crm.lifecycle.reevaluate_all(
                as_of=as_of, subject=subject, batch_size=batch_size
            )
            if not twice:
                return first, None, True
            stored, published = side.contents(tenant), len(side.published)
            second = crm.lifecycle.reevaluate_all(
                as_of=as_of, subject=subject, batch_size=batch_size
            )
            unchanged = side.contents(tenant) == stored and len(side.published) == published
            return first, second, unchanged

        outcome = self._on_both(
            "reevaluate all" + (" twice" if twice else ""),
            f"re-evaluating every {subject} of {tenant!r} as of {as_of}",
            reevaluate,
        )
        if isinstance(outcome, _Raised) or outcome[1] is None:
            return
        first, second, unchanged = outcome
        _check(
            "a second re-evaluation at the same as_of",
            attrs.evolve(first, entered=0, moved=0, changes=()),
            second,
        )
        _check("what is stored after a second re-evaluation at the same as_of", True, unchanged)

    @rule(
        key=customer_keys,
        model=st.sampled_from(CUSTOMER_MODELS),
        theirs=st.integers(0, 9),
        mine=st.integers(0, 9),
    )
    def move_a_stale_history(
        self, key: _Key, model: LifecycleModel, theirs: int, mine: int
    ) -> None:
        """Load a customer's history, let `CRM.move_stage` move it meanwhile, then move and
        save the stale copy: it must raise `ConcurrencyConflict` on both sides and change
        nothing."""
        tenant, customer_id = key
        at = self.clock.now()
        their_stage = self._target(model, tenant, customer_id, legal=True, pick=theirs)
        my_stage = self._target(model, tenant, customer_id, legal=True, pick=mine)

        race = functools.partial(
            self._race_history, tenant, model, customer_id, (their_stage, my_stage), at
        )
        outcome = self._on_both(
            "stale stage move", f"racing a stale move of {customer_id!r} in {model.name}", race
        )
        if isinstance(outcome, _Raised) or outcome is None:
            return
        base, newer, moved, late, stored = outcome
        if isinstance(newer, StageHistory) and newer.version > base:
            # The stale copy's own move may be refused first (illegal, guarded, too early).
            refused = late if isinstance(moved, _Raised) else _Raised(ConcurrencyConflict, "")
            _check("saving a stale stage history", refused, late)
            _check("the history after a refused stale move", newer, stored)

    @staticmethod
    def _race_history(
        tenant: TenantId,
        model: LifecycleModel,
        customer_id: CustomerId,
        stages: tuple[str, str],
        at: datetime,
        side: _Side,
    ) -> tuple[int, object, object, object, object] | None:
        """On ``side``: read the customer's history, move it to the first of ``stages`` with
        `CRM.move_stage`, then move the stale copy to the second and save it. Returns the
        version read, the outcomes of the newer move, of the stale move and of its save, and
        the history stored at the end (``None`` if the customer has no history)."""
        their_stage, my_stage = stages
        # Read-only across the other move, saved in a later unit (as a stale update).
        with side.reader(tenant) as reader:
            stale = reader.stage_histories.find(model.name, customer_id)
            if stale is None:
                return None
            base = stale.version
            facts = facts_of(reader, model.subject, customer_id, at)
            newer = _attempt(
                functools.partial(
                    side.crms[tenant].lifecycle.move, customer_id, their_stage, model=model.name
                )
            )
        move = functools.partial(stale.move, model, my_stage, at=at, facts=facts)
        moved = _attempt(move)
        late: object = moved
        if not isinstance(moved, _Raised):
            with side.uow(tenant) as first:
                late = _attempt(functools.partial(_save_history, first, stale))
        with side.reader(tenant) as uow:
            return base, newer, moved, late, uow.stage_histories.find(model.name, customer_id)

    def _target(
        self, model: LifecycleModel, tenant: TenantId, subject_id: str, *, legal: bool, pick: int
    ) -> str:
        """A stage to move a subject to: with ``legal``, one the model allows next from the
        subject's stage (as the model side holds it), if any; else any stage, or none."""
        with self.model.reader(tenant) as uow:
            found = uow.stage_histories.find(model.name, subject_id, subject_kind=model.subject)
        current = model.initial if found is None else found.current
        options = model.allowed_from(current) if legal else ()
        if not options:
            options = (*model.stage_names, NOWHERE)
        return options[pick % len(options)]

    def _at(self, minutes: int | None) -> datetime | None:
        return None if minutes is None else self.clock.now() + timedelta(minutes=minutes)

    def _move(
        self,
        model: LifecycleModel,
        tenant: TenantId,
        subject_id: str,
        legal: bool,
        pick: int,
        minutes: int | None,
        expected_version: int | None,
        reason: str | None,
        actor: str | None,
    ) -> None:
        to = self._target(model, tenant, subject_id, legal=legal, pick=pick)
        at = self._at(minutes)

        def move(side: _Side) -> StageHistory:
            return side.crms[tenant].lifecycle.move(
                subject_id,
                to,
                model=model.name,
                reason=reason,
                actor=actor,
                at=at,
                expected_version=expected_version,
            )

        outcome = self._on_both(
            f"move stage ({model.subject})",
            f"moving {subject_id!r} of {tenant!r} to {to!r} in {model.name}",
            move,
        )
        if not isinstance(outcome, _Raised):
            _check(f"the stage of {subject_id!r} after moving it to {to!r}", to, outcome.current)

    def _enter(
        self,
        model: LifecycleModel,
        tenant: TenantId,
        subject_id: str,
        pick: int,
        minutes: int | None,
    ) -> None:
        stages = (None, *model.stage_names, NOWHERE)  # None: the initial stage
        stage = stages[pick % len(stages)]
        at = self._at(minutes)

        def enter(side: _Side) -> StageHistory:
            return side.crms[tenant].lifecycle.enter(
                subject_id, model=model.name, stage=stage, at=at, reason="imported"
            )

        self._on_both(
            f"enter lifecycle ({model.subject})",
            f"putting {subject_id!r} of {tenant!r} into {model.name} at {stage!r}",
            enter,
        )

    def _evaluate(self, subject: SubjectKind, tenant: TenantId, subject_id: str) -> None:
        as_of = self.clock.now()

        def evaluate(side: _Side) -> tuple[object, object]:
            crm = side.crms[tenant]
            first = crm.lifecycle.evaluate(subject_id, subject=subject)
            second = crm.lifecycle.evaluate(subject_id, subject=subject, as_of=as_of)
            return first, second

        outcome = self._on_both(
            f"evaluate progression ({subject})",
            f"evaluating the rules for {subject} {subject_id!r} of {tenant!r}",
            evaluate,
        )
        if not isinstance(outcome, _Raised):
            _check(f"evaluating {subject_id!r} again at the same as_of", [], outcome[1])
