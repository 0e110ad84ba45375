from __future__ import annotations

from ci_image_example import attributes


def test_a_dn_is_read_by_the_compiled_parser() -> None:
    assert attributes("uid=ada,ou=people,dc=example,dc=org") == ["uid", "ou", "dc", "dc"]
