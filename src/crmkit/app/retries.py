"""How a use case tries a unit of work again after a `ConcurrencyConflict`.

A conflict means the database refused the whole transaction (another writer changed what it
read, or got in its way), so nothing of the attempt is stored and running it again from a
fresh read is safe. Use cases whose answer is documented whatever other callers do at the same
time (an idempotent replay, a change without ``expected_version``, a redemption) retry such
conflicts themselves; only when every attempt conflicts does the caller see the (retryable)
error.

A `LockTimeout` is not tried again: the database has already waited for the lock as long as
it is configured to (SQLite's busy timeout, a server's lock wait timeout), and ten more such
waits would hold the caller for a minute. It reaches the caller after about one timeout.

Between attempts it waits a little, longer each time and by a random fraction, so that
callers that collided once do not collide again in step.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import TypeVar

from crmkit.errors import ConcurrencyConflict, LockTimeout

__all__ = ["MAX_ATTEMPTS", "retry_conflicts", "retry_conflicts_over"]

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the items of an import

#: How often a use case tries its unit of work in all before the conflict reaches the caller.
MAX_ATTEMPTS = 10
#: The longest wait before one attempt, and the first (seconds); each wait doubles the last.
_LONGEST_WAIT_S = 0.25
_FIRST_WAIT_S = 0.005


def retry_conflicts(attempt: Callable[[], T], *, attempts: int = MAX_ATTEMPTS) -> T:
    """The result of ``attempt()``, called again (up to ``attempts`` times in all, about a
    second of waiting at most) while it raises `ConcurrencyConflict` other than
    `LockTimeout`; ``attempt`` must build everything it stores afresh."""
    wait = _FIRST_WAIT_S
    for _ in range(attempts - 1):
        try:
            return attempt()
        except LockTimeout:
            raise
        except ConcurrencyConflict:
            pass
        time.sleep(random.uniform(wait / 2, wait))
        wait = min(wait * 2, _LONGEST_WAIT_S)
    return attempt()  # the last attempt's conflict reaches the caller


def retry_conflicts_over(items: Iterable[I], attempt: Callable[[Iterable[I]], T]) -> T:
    """``attempt(items)``, retried as `retry_conflicts` does when ``items`` can be read again
    (a list, a tuple, any collection); once only for a one-shot iterator (a generator, a
    file being read), whose items a failed attempt has already consumed."""
    if isinstance(items, Collection) and not isinstance(items, Iterator):
        return retry_conflicts(lambda: attempt(items))
    return attempt(items)
