"""How a use case tries a unit of work again after a `ConcurrencyConflict`.

A conflict means the database refused the whole transaction (another writer changed what it
read, or got in its way), so nothing of the attempt is stored and running it again from a
fresh read is safe. Use cases whose answer is documented whatever other callers do at the same
time (an idempotent replay, a change without ``expected_version``, a redemption) retry such
conflicts themselves; only when every attempt conflicts does the caller see the (retryable)
error.

Between attempts it waits a little, longer each time and by a random fraction: SQLite refuses
a transaction that read before another writer took the lock at once (its busy timeout does
not apply), so an immediate retry would only meet the same writer again, and callers that
collided once would collide again in step.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from crmkit.errors import ConcurrencyConflict

__all__ = ["MAX_ATTEMPTS", "retry_conflicts"]

T = TypeVar("T")

#: How often a use case tries its unit of work in all before the conflict reaches the caller.
MAX_ATTEMPTS = 10
#: The longest wait before one attempt, and the first (seconds); each wait doubles the last.
_LONGEST_WAIT_S = 0.25
_FIRST_WAIT_S = 0.005


def retry_conflicts(attempt: Callable[[], T], *, attempts: int = MAX_ATTEMPTS) -> T:
    """The result of ``attempt()``, called again (up to ``attempts`` times in all, about a
    second of waiting at most) while it raises `ConcurrencyConflict`; ``attempt`` must build
    everything it stores afresh."""
    wait = _FIRST_WAIT_S
    for tried in range(1, attempts + 1):
        try:
            return attempt()
        except ConcurrencyConflict:
            if tried == attempts:
                raise
        time.sleep(random.uniform(wait / 2, wait))
        wait = min(wait * 2, _LONGEST_WAIT_S)
    raise AssertionError("unreachable")  # pragma: no cover
