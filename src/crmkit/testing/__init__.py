"""crmkit's testing kit, for crmkit's own suite and for its users'.

- `crmkit.testing.strategies`: Hypothesis strategies for every public type.
- `crmkit.testing.contract`: the adapter contract suite, to subclass for any adapter.
- `crmkit.testing.stateful`: a Hypothesis state machine holding an adapter to the in-memory
  model, to subclass for any adapter.
- `crmkit.testing.databases`: helpers for running the SQL suites against real servers.
- `crmkit.testing.plugin`: pytest fixtures (``crm``, ``crm_clock``, ``crm_ids``), loaded
  automatically.

This package imports nothing heavy itself; import the submodule you need.
"""

__all__ = ["contract", "databases", "plugin", "stateful", "strategies"]
