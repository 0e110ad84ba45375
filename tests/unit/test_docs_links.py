"""Every relative link of the README and the docs reaches a file, and every `#anchor` a heading
of it (as GitHub makes anchors: lower case, punctuation dropped, spaces to hyphens)."""

from __future__ import annotations

import re

from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(
    [
        ROOT / "README.md",
        ROOT / "ARCHITECTURE.md",
        ROOT / "CHANGELOG.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "benchmarks").glob("*.md"),
    ]
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def anchors(document: Path) -> set[str]:
    found = set()
    for line in FENCE.sub("", document.read_text()).splitlines():
        heading = re.match(r"#+ (.*)", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading[1].strip().lower())
            found.add(text.replace(" ", "-"))
    return found


def links(document: Path) -> list[str]:
    text = FENCE.sub("", document.read_text())
    return [link for link in LINK.findall(text) if not link.startswith(("http", "mailto:"))]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_reaches_its_file_and_heading(document: Path) -> None:
    broken = []
    for link in links(document):
        path, _, anchor = link.partition("#")
        target = (document.parent / path).resolve() if path else document
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{link}: no such heading")
    assert not broken


def test_the_readme_is_what_a_newcomer_reads_to_the_end() -> None:
    """Under 350 lines: the reference lives in docs/, linked from it."""
    assert len((ROOT / "README.md").read_text().splitlines()) < 350
