"""Rewrite README.md's configuration table from SETTINGS (src/poetry_ci_image/settings/table.py).

    .venv/bin/python scripts/readme.py

tests/unit/test_settings.py fails while the README's table differs from what this writes.
"""

from __future__ import annotations

from pathlib import Path

from poetry_ci_image.settings.table import configuration_table


README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- configuration-table: start -->\n"
END = "<!-- configuration-table: end -->"


def main() -> None:
    text = README.read_text()
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    if not rest:
        raise SystemExit(f"README.md has no {START.strip()} marker")
    README.write_text(before + START + configuration_table() + END + after)


if __name__ == "__main__":
    main()
