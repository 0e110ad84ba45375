from __future__ import annotations

from ci_image_example import newest


def test_versions_compare_as_versions() -> None:
    assert newest(["1.9", "1.10", "1.2"]) == "1.10"
