"""The in-memory adapter: the reference implementation of every port.

It is a real, transactional implementation, not a mock: a unit of work stages its writes and
applies them all at once on commit, under a lock, after checking versions and unique keys
again, so a failed or abandoned unit of work leaves nothing behind and concurrent writers get
`ConcurrencyConflict` exactly as with a database. Objects handed out are copies, so changing
one in place never changes what is stored.

One module per capability holds its repository (``customers``, ``accounts``,
``interactions``, ``lifecycle``, ``segments``, ``loyalty``); ``unit_of_work`` stages and
commits, ``store`` holds the tables and ``outbox`` reads the committed events.
"""

from __future__ import annotations

from crmkit.adapters.memory.outbox import InMemoryOutbox
from crmkit.adapters.memory.store import InMemoryStore
from crmkit.adapters.memory.unit_of_work import InMemoryUnitOfWork

__all__ = ["InMemoryOutbox", "InMemoryStore", "InMemoryUnitOfWork"]
