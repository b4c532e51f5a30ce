"""Interactions: the append-only log of what happened with a customer, on which channel."""
