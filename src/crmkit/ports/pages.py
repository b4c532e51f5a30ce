"""Pages of results and the outcome of a bulk import."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

import attrs

from crmkit.errors import ValidationError

__all__ = ["ImportResult", "OnExisting", "Page", "check_on_existing"]

T = TypeVar("T")


@attrs.frozen
class Page(Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next (``None``: the end)."""

    items: tuple[T, ...]
    next_cursor: str | None = None


#: What a bulk import does with a row that is already stored: refuse it (``"error"``, the
#: default) or, if it holds the same content, skip it (``"skip"``: a re-run is idempotent).
OnExisting = Literal["error", "skip"]


def check_on_existing(value: Any) -> OnExisting:
    """``value`` if it is an `OnExisting`; raises `ValidationError` otherwise."""
    if type(value) is not str or value not in ("error", "skip"):
        raise ValidationError.single("on_existing", value, "must be 'error' or 'skip'")
    return value  # type: ignore[return-value]


@attrs.frozen
class ImportResult:
    """What a bulk import did.

    Attributes:
        imported: how many rows it stored.
        skipped: the positions (0-based, in the order given) of the rows it skipped because
            they were already stored with the same content (``on_existing="skip"``).
    """

    imported: int
    skipped: tuple[int, ...] = ()

    def __add__(self, later: ImportResult) -> ImportResult:
        """This result followed by ``later``'s, whose rows came after this one's."""
        offset = self.imported + len(self.skipped)
        return ImportResult(
            self.imported + later.imported,
            (*self.skipped, *(offset + position for position in later.skipped)),
        )
