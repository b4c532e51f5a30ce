"""Registers crmkit's strategies with Hypothesis (run by its ``hypothesis`` entry point), so
that ``st.from_type(Customer)`` works in any suite once crmkit is installed.

The table of types and strategies is `crmkit.testing.strategies._registry.STRATEGIES`; each
row is lazy, so nothing is drawn, or built, until a strategy is first asked for.
"""

from __future__ import annotations


def register_strategies() -> None:
    """Register a strategy for every public crmkit type."""
    from crmkit.testing.strategies._registry import register_all

    register_all()
