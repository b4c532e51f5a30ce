"""Accounts: the B2B organisations customers belong to."""
