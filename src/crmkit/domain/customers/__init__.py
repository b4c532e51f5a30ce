"""Customers: the customer aggregate, its consent and its typed traits."""
