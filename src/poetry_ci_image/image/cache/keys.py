"""Cache keys: a key names one content, so a hit is exactly what writing would give."""

from __future__ import annotations

import hashlib
import json


def cache_key(*parts: object) -> str:
    """A key for `parts` (JSON-able values): the hex sha256 of their canonical JSON."""
    return hashlib.sha256(
        json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
