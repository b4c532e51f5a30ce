"""Consent: an append-only history of decisions, and `may_contact` answering from it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmkit import Channel, ConsentRecord, ConsentStatus, DoubleOptIn
from crmkit.domain import deciding_consent, may_contact
from crmkit.errors import ValidationError
from tests.strategies import T0, consent_histories, instants

GRANTED, WITHDRAWN = ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN


def record(
    status: ConsentStatus = GRANTED,
    at: datetime = T0,
    channel: Channel | None = Channel.EMAIL,
    purpose: str = "marketing",
    double_opt_in: DoubleOptIn = DoubleOptIn.NOT_REQUIRED,
) -> ConsentRecord:
    return ConsentRecord(purpose, channel, status, at, "test", double_opt_in=double_opt_in)


def model_may_contact(
    records: list[ConsentRecord], channel: Channel, purpose: str, at: datetime
) -> bool:
    """The rule, stated plainly: among the records for this purpose that cover the channel
    and were made at or before ``at``, only the latest instant counts; contact is allowed
    only if every record of that instant allows it (so a withdrawal, or a pending double
    opt-in, at the same instant wins). No record: no contact."""
    relevant = [
        r for r in records if r.purpose == purpose and r.channel in (None, channel) and r.at <= at
    ]
    if not relevant:
        return False
    latest = max(r.at for r in relevant)
    return all(
        r.status is GRANTED and r.double_opt_in is not DoubleOptIn.PENDING
        for r in relevant
        if r.at == latest
    )


class TestConsentRecord:
    """A consent decision with its evidence."""

    def test_text_values_become_enums(self) -> None:
        """Channel, status and double opt-in may be given as their text values."""
        made = ConsentRecord("marketing", "sms", "withdrawn", T0, "call_centre")
        assert (made.channel, made.status) == (Channel.SMS, WITHDRAWN)
        assert made.double_opt_in is DoubleOptIn.NOT_REQUIRED

    def test_an_aware_instant_is_converted_to_utc(self) -> None:
        """Instants are stored in UTC, whatever zone they came in."""
        cest = timezone(timedelta(hours=2))
        made = record(at=datetime(2024, 1, 1, 2, tzinfo=cest))
        assert made.at == T0
        assert made.at.utcoffset() == timedelta(0)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("purpose", "Marketing"),
            ("channel", "pigeon"),
            ("status", "maybe"),
            ("at", datetime(2024, 1, 1)),
            ("source", "  "),
            ("double_opt_in", "later"),
        ],
    )
    def test_a_bad_field_is_refused_by_name(self, field: str, value: object) -> None:
        """Each field is checked, and the error names it and the value."""
        fields: dict[str, object] = {
            "purpose": "marketing",
            "channel": "email",
            "status": "granted",
            "at": T0,
            "source": "form",
            field: value,
        }
        with pytest.raises(ValidationError) as caught:
            ConsentRecord(**fields)  # type: ignore[arg-type]
        assert caught.value.paths == (field,)
        assert caught.value.errors[0].value == value

    def test_a_pending_grant_does_not_permit(self) -> None:
        """A double opt-in grant permits only once confirmed."""
        assert not record(double_opt_in=DoubleOptIn.PENDING).permits
        assert record(double_opt_in=DoubleOptIn.CONFIRMED).permits
        assert not record(WITHDRAWN).permits

    def test_an_all_channel_record_covers_every_channel(self) -> None:
        """``channel=None`` speaks about every channel, for its purpose only."""
        everywhere = record(channel=None)
        assert all(everywhere.covers(channel, "marketing") for channel in Channel)
        assert not everywhere.covers(Channel.EMAIL, "surveys")


class TestMayContact:
    """`may_contact` obeys the latest decision."""

    def test_no_record_means_no_contact(self) -> None:
        """crmkit is opt-in: nobody asked, nobody is contacted."""
        assert not may_contact([], Channel.EMAIL, "marketing", T0)

    def test_a_grant_permits_from_its_instant_on(self) -> None:
        """Before the grant there is no consent; at and after it there is."""
        history = [record(at=T0)]
        assert not may_contact(history, Channel.EMAIL, "marketing", T0 - timedelta(seconds=1))
        assert may_contact(history, Channel.EMAIL, "marketing", T0)

    def test_a_later_withdrawal_ends_a_grant(self) -> None:
        """The latest record decides."""
        history = [record(at=T0), record(WITHDRAWN, at=T0 + timedelta(days=1))]
        assert may_contact(history, Channel.EMAIL, "marketing", T0 + timedelta(hours=1))
        assert not may_contact(history, Channel.EMAIL, "marketing", T0 + timedelta(days=2))

    def test_at_the_same_instant_a_withdrawal_wins(self) -> None:
        """Whatever the order recorded, a simultaneous withdrawal beats a grant."""
        for history in ([record(), record(WITHDRAWN)], [record(WITHDRAWN), record()]):
            assert not may_contact(history, Channel.EMAIL, "marketing", T0)

    def test_an_all_channel_withdrawal_overrides_a_channel_grant(self) -> None:
        """Unsubscribing from everything stops email too."""
        history = [record(at=T0), record(WITHDRAWN, at=T0 + timedelta(hours=1), channel=None)]
        assert not may_contact(history, Channel.EMAIL, "marketing", T0 + timedelta(hours=2))

    def test_another_channel_or_purpose_does_not_count(self) -> None:
        """A grant for SMS is no grant for email; a grant for surveys none for marketing."""
        history = [record(channel=Channel.SMS), record(purpose="surveys")]
        assert not may_contact(history, Channel.EMAIL, "marketing", T0)

    def test_the_deciding_record_is_the_evidence(self) -> None:
        """`deciding_consent` returns the record behind the answer."""
        grant, withdrawal = record(), record(WITHDRAWN, at=T0 + timedelta(days=1))
        assert deciding_consent([grant, withdrawal], Channel.EMAIL, "marketing", T0) is grant
        assert deciding_consent([], Channel.EMAIL, "marketing", T0) is None

    def test_a_naive_instant_is_refused(self) -> None:
        """The question must say when, unambiguously."""
        with pytest.raises(ValidationError) as caught:
            may_contact([record()], Channel.EMAIL, "marketing", datetime(2024, 1, 1))
        assert caught.value.paths == ("at",)

    @given(consent_histories(), st.sampled_from([Channel.EMAIL, Channel.SMS]), instants())
    def test_may_contact_agrees_with_the_plain_model(
        self, history: list[ConsentRecord], channel: Channel, at: datetime
    ) -> None:
        """For any history of one purpose, `may_contact` gives the model's answer."""
        expected = model_may_contact(history, channel, "marketing", at)
        assert may_contact(history, channel, "marketing", at) is expected

    @given(consent_histories(), st.sampled_from([Channel.EMAIL, Channel.SMS]), instants())
    def test_the_answer_does_not_depend_on_recording_order(
        self, history: list[ConsentRecord], channel: Channel, at: datetime
    ) -> None:
        """Only instants matter, not the order records were appended."""
        forward = may_contact(history, channel, "marketing", at)
        assert may_contact(list(reversed(history)), channel, "marketing", at) is forward

    @given(consent_histories(), st.sampled_from([Channel.EMAIL, Channel.SMS]), instants())
    def test_the_deciding_record_explains_the_answer(
        self, history: list[ConsentRecord], channel: Channel, at: datetime
    ) -> None:
        """The deciding record covers the question, precedes ``at`` and carries the answer."""
        decision = deciding_consent(history, channel, "marketing", at)
        if decision is None:
            assert not may_contact(history, channel, "marketing", at)
            return
        assert decision.covers(channel, "marketing")
        assert decision.at <= at
        assert decision.permits is may_contact(history, channel, "marketing", at)
