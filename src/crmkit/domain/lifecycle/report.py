"""`ProgressionReport`: what one batch re-evaluation of lifecycle rules did."""

from __future__ import annotations

from datetime import datetime

import attrs

from crmkit.domain._checks import non_negative_int, to_utc, utc
from crmkit.domain.events import StageChanged

__all__ = ["ProgressionReport"]


@attrs.frozen
class ProgressionReport:
    """What a batch re-evaluation did.

    Attributes:
        as_of: the instant the rules were evaluated at.
        examined: how many subjects were looked at.
        entered: how many of them entered at least one model for the first time.
        moved: how many subjects changed stage.
        changes: every stage change made, in order, as the `StageChanged` events that
            announce them (each names its subject and model).
        skipped: ``(model, subject id)`` of every history left alone because its stage is
            no longer one of the model's stages (the model was changed under it).
    """

    as_of: datetime = attrs.field(converter=to_utc, validator=utc)
    examined: int = attrs.field(validator=non_negative_int)
    entered: int = attrs.field(validator=non_negative_int)
    moved: int = attrs.field(validator=non_negative_int)
    changes: tuple[StageChanged, ...]
    skipped: tuple[tuple[str, str], ...] = ()
