"""The errors crmkit raises.

Every error derives from `CrmError`, so a host can catch crmkit's failures in one
place. Each message names the field path and the offending value, so that a log line alone
says what was wrong and where.

```
CrmError
├── ValidationError        bad input (a field, a value, a document); carries every FieldError
│   └── CurrencyMismatch   Money arithmetic across two currencies
├── NotFound               nothing with that id or key in this tenant
├── Conflict               the change collides with what is stored
│   ├── DuplicateCustomer  the email or external id belongs to another customer
│   ├── DuplicateAccount   the web domain belongs to another account
│   ├── IdempotencyConflict an external reference replayed with different content
│   ├── ConcurrencyConflict another writer changed the aggregate first (retryable)
│   │   └── LockTimeout    another transaction held a lock for longer than the database waits
│   ├── IllegalTransition  a lifecycle move the model does not allow (names the allowed ones)
│   ├── GuardFailed        a lifecycle move whose guard condition does not hold
│   ├── InsufficientPoints a redemption beyond the member's available points (writes nothing)
│   └── ReferralRefused    a self-referral, or a referee who was already referred
├── ConfigurationError     the CRM was opened with settings that cannot work
├── StorageError           the database failed for a reason unrelated to the data
└── UsageError             an API used in a way that cannot work
```
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

# Every error that shows a caller's value shows it through `show`: bounded, printable, and
# never raising (an integer of 5,000 digits has no repr, a host's object may have a broken one).
from crmkit._reprs import differing_text, key_text, printable
from crmkit._reprs import show as _show

__all__ = [
    "ConcurrencyConflict",
    "ConfigurationError",
    "Conflict",
    "CrmError",
    "CurrencyMismatch",
    "DuplicateAccount",
    "DuplicateCustomer",
    "FieldError",
    "GuardFailed",
    "IdempotencyConflict",
    "IllegalTransition",
    "InsufficientPoints",
    "LockTimeout",
    "NotFound",
    "ReferralRefused",
    "StorageError",
    "UsageError",
    "ValidationError",
]


class CrmError(Exception):
    """The base of every error crmkit raises on purpose."""

    #: True when retrying the same operation may succeed (e.g. after a concurrent write).
    retryable: bool = False


class FieldError:
    """One problem with one field: where it is, what was there and what is wrong.

    Attributes:
        path: a dotted path from the root of the input, e.g. ``address.country`` or
            ``consents[2].at``; empty for the root itself.
        value: the offending value, as given.
        message: what is wrong with it, in plain words.
    """

    __slots__ = ("message", "path", "value")

    def __init__(self, path: str, value: Any, message: str) -> None:
        self.path = path
        self.value = value
        self.message = message

    def __str__(self) -> str:
        where = printable(self.path) or "<root>"
        return f"{where}: {printable(self.message)} (got {_show(self.value)})"

    def __repr__(self) -> str:
        return (
            f"FieldError(path={_show(self.path)}, value={_show(self.value)}, "
            f"message={_show(self.message, 200)})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldError):
            return NotImplemented
        return (self.path, self.message) == (other.path, other.message)

    def __hash__(self) -> int:
        return hash((self.path, self.message))

    def prefixed(self, prefix: str) -> FieldError:
        """Return this error with ``prefix`` put in front of its path."""
        if not prefix:
            return self
        if not self.path:
            path = prefix
        elif self.path.startswith("["):
            path = prefix + self.path
        else:
            path = f"{prefix}.{self.path}"
        return FieldError(path, self.value, self.message)


class ValidationError(CrmError, ValueError):
    """Input that crmkit refuses: a field with a bad value, or a document with bad fields.

    ``errors`` lists every problem found, each with its path, value and message.
    """

    #: The most problems the message spells out; ``errors`` still holds every one.
    MAX_REPORTED = 20

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        if not self.errors:
            self.errors = (FieldError("", None, "invalid input"),)
        shown = [str(e) for e in self.errors[: self.MAX_REPORTED]]
        if len(self.errors) > self.MAX_REPORTED:
            shown.append(f"and {len(self.errors) - self.MAX_REPORTED} more problems")
        super().__init__("; ".join(shown))

    @classmethod
    def single(cls, path: str, value: Any, message: str) -> ValidationError:
        """Build the error for one bad field."""
        return cls([FieldError(path, value, message)])

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths of every bad field, in the order found."""
        return tuple(e.path for e in self.errors)

    def prefixed(self, prefix: str) -> ValidationError:
        """Return the same error with every path under ``prefix``."""
        return type(self)([e.prefixed(prefix) for e in self.errors])


class CurrencyMismatch(ValidationError):
    """Money arithmetic or comparison across two different currencies."""

    def __init__(self, left: str, right: str) -> None:
        self.left = left
        self.right = right
        message = f"cannot combine {key_text(left)} with {key_text(right)}"
        super().__init__([FieldError("currency", right, message)])

    def prefixed(self, prefix: str) -> ValidationError:
        return ValidationError([e.prefixed(prefix) for e in self.errors])


class NotFound(CrmError, LookupError):
    """Nothing of that kind with that key exists in this tenant."""

    def __init__(self, kind: str, key: Any) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} not found: {_show(key)}")


class Conflict(CrmError):
    """The change collides with what is already stored."""


class DuplicateCustomer(Conflict):
    """Another customer of the tenant already has this email address or external id, or (in
    a bulk import) a customer with this id is already stored.

    Attributes:
        field: the key that is taken (``"id"``, ``"email"``, ``"external_ids.<source>"`` …).
        value: its value.
        existing_id: the customer holding it, when known.
        differing: for a taken id, the names of the fields whose stored values differ from
            the ones given (empty: none does); ``None`` when they were not compared.
    """

    def __init__(
        self,
        field: str,
        value: Any,
        existing_id: str | None,
        *,
        differing: Sequence[str] | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.existing_id = existing_id
        self.differing = None if differing is None else tuple(differing)
        owner = f"customer {_show(existing_id)}" if existing_id else "another customer"
        super().__init__(
            f"{field}: {_show(value)} already belongs to {owner}{differing_text(differing)}"
        )


class DuplicateAccount(Conflict):
    """Another account of the tenant already has this web domain."""

    def __init__(self, field: str, value: Any, existing_id: str | None) -> None:
        self.field = field
        self.value = value
        self.existing_id = existing_id
        owner = f"account {_show(existing_id)}" if existing_id else "another account"
        super().__init__(f"{field}: {_show(value)} already belongs to {owner}")


class IdempotencyConflict(Conflict):
    """An idempotency key (an external reference) was replayed with different content, or
    an id or reference was already taken in a bulk import.

    Attributes:
        field: the key that is taken (``"external_ref"``, ``"id"``, a ledger ``"key"``).
        value: its value.
        existing_id: what holds it (the stored interaction's id …), when known.
        differing: the names of the fields whose stored values differ from the ones given
            (empty: none does, the key was replayed with the same content); ``None`` when
            they were not compared.
    """

    def __init__(
        self,
        field: str,
        value: Any,
        existing_id: str | None,
        *,
        differing: Sequence[str] | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.existing_id = existing_id
        self.differing = None if differing is None else tuple(differing)
        holder = f" as {_show(existing_id)}" if existing_id else ""
        text = f"was already recorded{holder}{differing_text(differing)}"
        super().__init__(f"{field}: {_show(value)} {text}")


class ConcurrencyConflict(Conflict):
    """Another writer changed the aggregate since it was read. Reload and retry.

    Attributes:
        kind: what was changed (``"customer"``, ``"points ledger"`` …), or ``"transaction"``
            when the database refused a transaction that was not writing an aggregate.
        key: the aggregate's id or key (for a transaction: what it was doing).
        expected_version: the version the writer read the aggregate at (0: it was new);
            ``None`` only for a transaction that was not writing an aggregate.
    """

    retryable = True

    def __init__(self, kind: str, key: Any, expected_version: int | None, detail: str = "") -> None:
        self.kind = kind
        self.key = key
        self.expected_version = expected_version
        if detail:
            reason = detail
        elif expected_version is None:
            reason = "it was changed since it was read"
        else:
            reason = f"it is no longer at version {_show(expected_version)}"
        super().__init__(f"{kind} {_show(key)} was changed by another writer: {reason}")

    @classmethod
    def contention(
        cls, during: str, detail: str, subject: tuple[str, Any, int] | None = None
    ) -> ConcurrencyConflict:
        """The database refused the transaction because another one held what it needed;
        ``subject`` is the aggregate it was writing then (kind, key, version it was read at)."""
        if subject is None:
            error = cls("transaction", during, None)
            error.args = (f"another transaction got in the way while {during}: {detail}",)
            return error
        kind, key, version = subject
        error = cls(kind, key, version)
        state = "new" if version == 0 else f"read at version {version}"
        error.args = (
            f"{kind} {_show(key)} ({state}): another transaction got in the way while "
            f"{during}: {detail}",
        )
        return error


class LockTimeout(ConcurrencyConflict):
    """Another transaction held a lock this one needed for longer than the database waits
    for it: SQLite's busy timeout (5 seconds for the engines crmkit configures), MariaDB's
    ``innodb_lock_wait_timeout``, PostgreSQL's ``lock_timeout``. Nothing was stored.

    It is retryable, but the database has already waited the whole timeout: crmkit's use
    cases do not retry it themselves (ten more waits would keep the caller for a minute),
    so it reaches the caller after about one timeout. A host may try again later, or report
    that the database is busy (HTTP 503). Its attributes are those of `ConcurrencyConflict`.
    """


class IllegalTransition(Conflict):
    """A lifecycle move the model does not allow from the subject's current stage.

    Attributes:
        model: the lifecycle model's name.
        current: the stage the subject is in (``None``: not yet in the model).
        requested: the stage asked for.
        allowed: the stages the model allows next from ``current``, in model order.
    """

    def __init__(
        self, model: str, current: str | None, requested: Any, allowed: Iterable[str]
    ) -> None:
        self.model = model
        self.current = current
        self.requested = requested
        self.allowed: tuple[str, ...] = tuple(allowed)
        options = ", ".join(self.allowed) if self.allowed else "none (it is a final stage)"
        super().__init__(
            f"{model}: cannot move from {_show(current)} to {_show(requested)}; "
            f"allowed next: {options}"
        )


class GuardFailed(Conflict):
    """A lifecycle move is allowed by the model, but its guard condition does not hold.

    Attributes:
        model: the lifecycle model's name.
        source: the stage the subject is in.
        target: the stage asked for.
        requirement: the guard, in words (e.g. ``has field 'email'``).
    """

    def __init__(self, model: str, source: str, target: str, requirement: str) -> None:
        self.model = model
        self.source = source
        self.target = target
        self.requirement = requirement
        super().__init__(
            f"{model}: moving from {_show(source)} to {_show(target)} requires: {requirement}"
        )


class InsufficientPoints(Conflict):
    """A redemption (or a negative adjustment) asked for more points than are available.

    Nothing is written. Attributes:
        customer_id: whose points.
        requested: the points asked for.
        available: the points available at that moment.
    """

    def __init__(self, customer_id: str, requested: int, available: int) -> None:
        self.customer_id = customer_id
        self.requested = requested
        self.available = available
        super().__init__(
            f"customer {_show(customer_id)}: cannot take {_show(requested)} points, "
            f"only {_show(available)} available"
        )


class ReferralRefused(Conflict):
    """A referral that cannot be recorded: a customer referring themselves, or a referee who
    was already referred in the programme.

    Attributes:
        referee_id: the customer who would have been referred.
        reason: why it was refused, in words.
    """

    def __init__(self, referee_id: str, reason: str) -> None:
        self.referee_id = referee_id
        self.reason = reason
        super().__init__(f"referral of customer {_show(referee_id)} refused: {reason}")

    @classmethod
    def already_referred(cls, referee_id: str) -> ReferralRefused:
        """The refusal of a second referral of one referee in a programme."""
        return cls(referee_id, "the customer was already referred in this programme")


class ConfigurationError(CrmError):
    """The CRM was opened or configured with settings that cannot work."""


class StorageError(CrmError):
    """The storage failed for a reason unrelated to the data (a lost connection, a full
    disk). ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class UsageError(CrmError):
    """crmkit was called in a way that cannot work (e.g. a unit of work used outside ``with``)."""
