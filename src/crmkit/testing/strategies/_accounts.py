"""Strategies for B2B accounts and a customer's link to one."""

from __future__ import annotations

from hypothesis import strategies as st

from crmkit.domain import (
    Account,
    AccountLink,
    CompanySize,
)
from crmkit.testing.strategies._values import _text, account_ids, utc_datetimes, web_domains


def account_links() -> st.SearchStrategy[AccountLink]:
    """Links from a customer to an account, with a role."""
    return st.builds(
        AccountLink, account_ids(), st.sampled_from(["contact", "billing", "decision_maker"])
    )


def accounts() -> st.SearchStrategy[Account]:
    """Accounts as stored (version 0)."""
    return st.builds(
        lambda created, later, fields: Account(
            created_at=created, updated_at=max(created, later), **fields
        ),
        utc_datetimes(),
        utc_datetimes(),
        st.fixed_dictionaries(
            {
                "id": account_ids(),
                "name": _text(40),
                "domain": st.none() | web_domains(),
                "industry": st.none() | st.sampled_from(["retail", "software", "logistics"]),
                "size": st.none() | st.sampled_from(CompanySize),
            }
        ),
    )
