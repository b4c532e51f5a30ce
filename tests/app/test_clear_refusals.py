"""Questions that cannot mean anything get a clear error, not a silent "no" or "nothing":
a consent purpose that is no purpose, a reversed time window, an account id where a
customer was assumed. On the in-memory and every SQL backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crmkit import CRM, Customer, CustomerId, Settings
from crmkit.domain import may_contact
from crmkit.errors import NotFound, ValidationError
from crmkit.lifecycle import CUSTOMER_LIFECYCLE, DEAL_PIPELINE
from tests.conftest import MakeCrm, crm_maker

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def make_crm(any_store: object) -> MakeCrm:
    return crm_maker(any_store, T0, lifecycles=(CUSTOMER_LIFECYCLE, DEAL_PIPELINE))


@pytest.fixture
def crm(make_crm: MakeCrm) -> CRM:
    return make_crm()


class TestConsentPurposes:
    @pytest.mark.parametrize("purpose", ["News Letter", "newsletter ", "Newsletter", "", 7])
    def test_a_purpose_that_is_no_purpose_slug_is_refused(self, crm: CRM, purpose: object) -> None:
        """``"News Letter"`` can match no consent record: a typo, so say so."""
        ada = crm.customers.register(email="ada@example.com")
        with pytest.raises(ValidationError) as caught:
            crm.consent.may_contact(ada.id, "email", purpose)  # type: ignore[arg-type]
        assert caught.value.paths == ("purpose",)
        assert "lower-case slugs" in str(caught.value)

    def test_a_valid_purpose_never_recorded_is_simply_no(self, crm: CRM) -> None:
        """Opt-in by default: a purpose nobody asked about permits nothing, silently."""
        ada = crm.customers.register(email="ada@example.com")
        assert crm.consent.may_contact(ada.id, "email", "newsletter") is False

    def test_the_domain_lookups_refuse_it_too(self) -> None:
        """`Customer.may_contact`, `Customer.consent_for` and `may_contact` share the check."""
        ada = Customer.register(CustomerId("c1"), at=T0)
        for ask in (ada.may_contact, ada.consent_for):
            with pytest.raises(ValidationError) as caught:
                ask("email", "News Letter", T0)
            assert caught.value.paths == ("purpose",)
        with pytest.raises(ValidationError):
            may_contact((), "email", "News Letter", T0)  # type: ignore[arg-type]


class TestTimeWindows:
    def test_a_reversed_timeline_window_is_refused(self, crm: CRM) -> None:
        """``since`` after ``until`` is swapped arguments, not an empty window."""
        ada = crm.customers.register(email="ada@example.com")
        with pytest.raises(ValidationError) as caught:
            crm.interactions.timeline(ada.id, since=T0 + timedelta(days=1), until=T0)
        assert caught.value.paths == ("until",)
        assert "since" in str(caught.value)

    def test_an_empty_window_is_an_empty_answer(self, crm: CRM) -> None:
        """``since == until`` is the empty half-open window ``[t, t)``: nothing, no error."""
        ada = crm.customers.register(email="ada@example.com")
        crm.interactions.record(ada.id, kind="note", channel="web", occurred_at=T0)
        assert crm.interactions.timeline(ada.id, since=T0, until=T0) == []
        assert (
            len(crm.interactions.timeline(ada.id, since=T0, until=T0 + timedelta(seconds=1))) == 1
        )

    def test_a_reversed_conversion_period_is_refused(self, crm: CRM) -> None:
        """The stage reports refuse reversed periods as well (they always did)."""
        with pytest.raises(ValidationError) as caught:
            crm.lifecycle.conversion(since=T0 + timedelta(days=1), until=T0)
        assert caught.value.paths == ("until",)
        with pytest.raises(ValidationError):
            crm.lifecycle.funnel(
                ["subscriber"], entered_since=T0 + timedelta(days=1), entered_until=T0
            )


class TestAnAccountWhereACustomerIsAssumed:
    def test_moving_an_account_without_a_model_says_it_is_an_account(self, crm: CRM) -> None:
        """The default model tracks customers: the error says the id is an account, which
        models it is in, and that ``model=`` is needed."""
        acme = crm.accounts.register(name="Acme", domain="acme.com")
        with pytest.raises(ValidationError) as caught:
            crm.lifecycle.move(acme.id, "contacted")
        message = str(caught.value)
        assert caught.value.paths == ("subject_id",)
        assert "is an account, not a customer" in message
        assert "deal_pipeline" in message
        assert "model=" in message
        moved = crm.lifecycle.move(acme.id, "contacted", model="deal_pipeline")
        assert moved.current == "contacted"

    def test_the_other_lifecycle_lookups_say_so_too(self, crm: CRM) -> None:
        """Entering, reading the history or the current stage, and evaluating the rules of
        an account as a customer are refused alike."""
        acme = crm.accounts.register(name="Acme", domain="acme.com")
        calls = [
            lambda: crm.lifecycle.enter(acme.id),
            lambda: crm.lifecycle.history(acme.id),
            lambda: crm.lifecycle.current_stage(acme.id),
        ]
        for call in calls:
            with pytest.raises(ValidationError, match=r"is an account, not a customer.*model="):
                call()
        for call in (
            lambda: crm.lifecycle.stages_of(acme.id),
            lambda: crm.lifecycle.evaluate(acme.id),
        ):
            with pytest.raises(ValidationError, match="subject='account'"):
                call()

    def test_a_customer_in_an_account_model_is_named_a_customer(self, crm: CRM) -> None:
        """The other way round: a customer id in the deal pipeline."""
        ada = crm.customers.register(email="ada@example.com")
        with pytest.raises(ValidationError, match="is a customer, not an account"):
            crm.lifecycle.move(ada.id, "contacted", model="deal_pipeline")
        with pytest.raises(ValidationError, match="subject='customer'"):
            crm.lifecycle.evaluate(ada.id, subject="account")

    def test_an_unknown_id_is_still_not_found(self, crm: CRM) -> None:
        """An id of neither kind stays `NotFound` (or ``None``, where that is the answer)."""
        with pytest.raises(NotFound):
            crm.lifecycle.move("nobody", "lead")
        with pytest.raises(NotFound):
            crm.lifecycle.history("nobody")
        assert crm.lifecycle.current_stage("nobody") is None
        assert crm.lifecycle.stages_of("nobody") == {}

    def test_an_id_that_is_both_kinds_is_the_kind_asked_for(self, crm: CRM) -> None:
        """Customers and accounts are keyed apart: a shared id is no mistake."""
        crm.accounts.register(name="Acme", domain="acme.com", account_id="x1")
        crm.customers.register(email="ada@example.com", customer_id="x1")
        assert crm.lifecycle.current_stage("x1") == "subscriber"
        assert crm.lifecycle.move("x1", "lead").current == "lead"

    def test_a_crm_without_an_account_model_says_it_has_none(self) -> None:
        """No account model configured: the error says there is none to name."""
        crm = CRM.in_memory(Settings(lifecycles=[CUSTOMER_LIFECYCLE]))
        acme = crm.accounts.register(name="Acme", domain="acme.com")
        with pytest.raises(ValidationError, match="this CRM has none"):
            crm.lifecycle.move(acme.id, "lead")
