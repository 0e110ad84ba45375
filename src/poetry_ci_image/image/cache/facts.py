"""Small facts kept under a key (for example: this base needs no standard-library layer)."""

from __future__ import annotations

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from poetry_ci_image.image.cache.records import Records


class Facts:
    def __init__(self, records: Records) -> None:
        self._records = records

    def remember(self, key: str, value: str) -> None:
        self._records.store(key, {"value": value})

    def recall(self, key: str) -> str | None:
        data = self._records.load(key)
        value = data.get("value") if data else None
        return value if isinstance(value, str) else None
