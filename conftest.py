"""Suite-wide configuration: Hypothesis profiles, and Sybil to run the code in the docs.

Profiles (choose with HYPOTHESIS_PROFILE; CI=true picks ``ci``):

- ``dev``: the default inner loop, 50 examples per property.
- ``ci``: derandomised, 40 examples, no deadline (shared 2-core machines are noisy).
- ``thorough``: 1000 examples, for the nightly run or before a release.
"""

from __future__ import annotations

import os
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE

from hypothesis import HealthCheck, settings
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

# The reliability suites' backends, each with a private server database.
pytest_plugins = ["tests.server_fixtures"]

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

# Every ```python block in the docs and the README runs, in order, sharing one namespace per page.
pytest_collect_file = Sybil(
    parsers=[
        PythonCodeBlockParser(doctest_optionflags=ELLIPSIS | NORMALIZE_WHITESPACE),
        SkipParser(),
    ],
    patterns=["*.md"],
    excludes=["CHANGELOG.md"],
).pytest()
