"""poetry-ci-image: a Poetry plugin for CI images that hold exactly the locked dependencies."""

from __future__ import annotations


__version__ = "0.1.0"
# Where users report what the plugin cannot handle (an unsupported Poetry, an unexpected error).
ISSUES_URL = "https://github.com/poetry-ci-image/poetry-ci-image/issues"
