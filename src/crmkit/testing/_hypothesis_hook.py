"""Registers crmkit's strategies with Hypothesis (run by its ``hypothesis`` entry point), so
that ``st.from_type(Customer)`` works in any suite once crmkit is installed."""

from __future__ import annotations


def register_strategies() -> None:
    """Register a strategy for every public crmkit type."""
    from hypothesis import strategies as st

    from crmkit import domain as d
    from crmkit.testing import strategies as s

    for cls, strategy in (
        (d.Account, s.accounts()),
        (d.AccountLink, s.account_links()),
        (d.ConsentRecord, s.consent_records()),
        (d.ContactPoint, s.contact_points()),
        (d.Customer, s.customers()),
        (d.DomainEvent, s.domain_events()),
        (d.EmailAddress, s.emails()),
        (d.Interaction, s.interactions()),
        (d.Money, s.money()),
        (d.PhoneNumber, s.phone_numbers()),
        (d.PostalAddress, s.postal_addresses()),
        (d.TraitSchema, s.trait_schemas()),
    ):
        st.register_type_strategy(cls, strategy)
