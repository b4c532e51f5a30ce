"""Instances of attrs classes filled with values already checked, at the cost of plain stores.

A `Customer` checks every assignment (attrs' ``on_setattr``) and a frozen value refuses them,
so both take each attribute store through a Python-level ``__setattr__``; even storing
through the slots' own descriptors costs a call per field. A *filling* class is a private
subclass that adds no slot and has ``object``'s ``__setattr__`` and ``__delattr__``, so the
interpreter stores each attribute straight into its slot. Once filled, the instance becomes
the real class by ``__class__`` assignment (allowed: the layouts are the same), a complete,
ordinary instance.

Only for values that passed the class's own checks: when they were given (`Customer.register`'s
fast path) or before they were stored (the SQL adapter's hydration).
"""

from __future__ import annotations

from typing import Any

__all__ = ["filling"]


def filling(cls: type) -> Any:
    """The filling class of the slotted class ``cls``: make an instance with
    ``object.__new__``, assign its fields, then set its ``__class__`` to ``cls``.

    Args:
        cls: a class with ``__slots__`` (an attrs class).

    Returns:
        A subclass of ``cls`` with plain attribute stores.
    """
    attributes = {
        "__slots__": (),
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,  # both object's: the interpreter's own slot stores
        "__module__": __name__,
    }
    return type(f"{cls.__name__}Filling", (cls,), attributes)
