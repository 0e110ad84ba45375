"""Rewrite docs/configuration.md's table of keys from SETTINGS (settings/table.py).

    .venv/bin/python scripts/configuration_table.py

tests/unit/test_settings.py fails while the page's table differs from what this writes.
"""

from __future__ import annotations

from pathlib import Path

from poetry_ci_image.settings.table import configuration_table


PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
START = "<!-- configuration-table: start -->\n"
END = "<!-- configuration-table: end -->"


def main() -> None:
    text = PAGE.read_text()
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    if not rest:
        raise SystemExit(f"{PAGE.name} has no {START.strip()} marker")
    PAGE.write_text(before + START + configuration_table() + END + after)


if __name__ == "__main__":
    main()
