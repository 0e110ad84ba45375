"""poetry-ci-image: a Poetry plugin for CI images that hold exactly the locked dependencies."""

from __future__ import annotations


__version__ = "0.1.0"
