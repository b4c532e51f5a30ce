"""The closed vocabularies shared by consent and interactions."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from crmkit.errors import ValidationError

__all__ = ["Channel", "Direction", "InteractionKind", "SubjectKind", "channel_of", "enum_of"]

E = TypeVar("E", bound=StrEnum)


def enum_of(enum: type[E], value: Any, path: str) -> E:
    """Return ``value`` as a member of ``enum`` (by value), or raise `ValidationError`."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ValidationError.single(path, value, f"must be one of {allowed}") from None


def channel_of(value: Any, path: str = "channel") -> Channel:
    """Return ``value`` as a `Channel`, or raise `ValidationError` naming the allowed ones."""
    return enum_of(Channel, value, path)


class Channel(StrEnum):
    """How a customer and the business reach each other."""

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"
    PUSH = "push"
    CHAT = "chat"
    SOCIAL = "social"
    WEB = "web"
    APP = "app"
    IN_PERSON = "in_person"
    OTHER = "other"


class Direction(StrEnum):
    """Who started an interaction."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class InteractionKind(StrEnum):
    """The standard kinds of interaction. Hosts may record other kinds as lower-case slugs
    (``"webinar_attended"``); these are the ones crmkit's analytics know by name."""

    PURCHASE = "purchase"
    REFUND = "refund"
    SUPPORT_CASE = "support_case"
    CAMPAIGN_TOUCH = "campaign_touch"
    REFERRAL = "referral"
    NOTE = "note"
    MEETING = "meeting"
    SURVEY_RESPONSE = "survey_response"
    SIGN_UP = "sign_up"
    REVIEW = "review"


class SubjectKind(StrEnum):
    """What a lifecycle model tracks: customers (people) or accounts (companies)."""

    CUSTOMER = "customer"
    ACCOUNT = "account"
