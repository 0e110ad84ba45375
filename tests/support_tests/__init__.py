"""Self-tests of the test support modules in ``tests/support``."""

from __future__ import annotations
