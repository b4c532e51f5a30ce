"""`Settings`: the configuration a host keeps in a file. Its clock and id source are not
data (they are the host's objects), so a document neither holds nor sets them: a structured
`Settings` runs on the system clock and random ids until the host evolves it with others."""

from __future__ import annotations

import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from crmkit.app.settings import Settings
from crmkit.serialization._limits import dict_fn

__all__ = ["register_settings"]


def register_settings(conv: cattrs.Converter) -> None:
    """A settings document: every part but the clock and the id source."""
    conv.register_structure_hook(
        Settings,
        dict_fn(conv, Settings, clock=override(omit=True), ids=override(omit=True)),
    )
    conv.register_unstructure_hook(
        Settings,
        make_dict_unstructure_fn(
            Settings, conv, clock=override(omit=True), ids=override(omit=True)
        ),
    )
