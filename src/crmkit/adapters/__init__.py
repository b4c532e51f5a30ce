"""Adapters: implementations of crmkit's ports. ``memory`` is the reference implementation."""
