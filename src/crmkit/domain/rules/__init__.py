"""The rule language: conditions over a customer (or account) and its interactions."""
