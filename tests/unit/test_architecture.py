"""The tree shows the architecture, and these checks keep it so (read from the source, no import).

Every import counts: at module level, under TYPE_CHECKING and inside functions.
"""

from __future__ import annotations

import ast
import re

from pathlib import Path
from typing import TYPE_CHECKING

import pytest


if TYPE_CHECKING:
    from collections.abc import Mapping


PACKAGE = Path(__file__).resolve().parents[2] / "src" / "poetry_ci_image"
MAX_LOOSE_MODULES = 6
MAX_LINES = 350
# The plugin API, which the command layer may use; every other Poetry import is an internal.
POETRY_API = {
    "poetry.plugins.application_plugin",
    "poetry.console.commands.command",
    "poetry.console.application",
    "poetry.poetry",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path, modules: Mapping[str, Path] = MODULES) -> set[str]:
    """Every module `path` imports, by its full name (`from a import b` names a.b when b is one
    of `modules`, else a)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                names.add(candidate if candidate in modules else node.module)
    return names


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Each of `modules`, and those of them it imports."""
    return {
        name: {other for other in imported(path, modules) if other in modules and other != name}
        for name, path in modules.items()
    }


GRAPH = import_graph(MODULES)
BENCHMARKS = PACKAGE.parents[1] / "benchmarks"
BENCHMARK_MODULES = {f"benchmarks.{path.stem}": path for path in sorted(BENCHMARKS.glob("*.py"))}


def cycles(graph: Mapping[str, set[str]] = GRAPH) -> list[list[str]]:
    """The import cycles between the modules of `graph` (strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in GRAPH[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_no_import_cycles() -> None:
    """No module imports one that imports it back, however indirectly, type-only or not."""
    assert cycles() == []


def within(name: str, part: str) -> bool:
    prefix = f"poetry_ci_image.{part}"
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize(
    ("part", "independent_of"),
    [
        pytest.param("registry", "image", id="the registry client knows no image"),
        pytest.param("registry", "tag", id="the registry client knows no tag"),
        pytest.param("tag", "image", id="the tag half does not need the image half"),
        pytest.param("tag", "jobs", id="the tag half does not reach forward to the jobs"),
        pytest.param("image", "jobs", id="the image half does not reach back to the jobs"),
        pytest.param("image", "commands", id="the image half does not reach back to commands"),
        pytest.param("image", "poetry", id="the image half works without Poetry's seam"),
        pytest.param("engine", "poetry", id="the engine seam works without Poetry's seam"),
        pytest.param("engine", "jobs", id="the engine seam does not reach back to the jobs"),
    ],
)
def test_parts_are_independent(part: str, independent_of: str) -> None:
    """What a part imports, directly or not, lies outside the part it must not depend on."""
    for module in (name for name in GRAPH if within(name, part)):
        reached = sorted(other for other in reachable(module) if within(other, independent_of))
        assert reached == [], f"{module} depends on {reached}"


# The tag half's resolution: reading the lock and making the plans (the rest of tag/ is plain
# values: the plan's types, the recipe, the label names).
TAG_RESOLUTION = ("poetry_ci_image.tag.resolve", "poetry_ci_image.tag.plan_cache")


@pytest.mark.parametrize("part", ["image", "engine"])
def test_the_image_half_takes_plain_values(part: str) -> None:
    """image/ and engine/ are given plain values: they reach none of the tag's resolution."""
    for module in (name for name in GRAPH if within(name, part)):
        reached = sorted(other for other in reachable(module) if other in TAG_RESOLUTION)
        assert reached == [], f"{module} depends on {reached}"


def test_the_oci_vocabulary_is_a_leaf() -> None:
    """oci.py, which image/, registry/ and the layout writer share, imports none of them."""
    assert GRAPH["poetry_ci_image.oci"] == set()


def test_few_loose_modules_at_the_top() -> None:
    """The parts are folders; only a handful of modules sit beside them."""
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= MAX_LOOSE_MODULES, loose


def test_no_module_is_long() -> None:
    """Modules of one job each: none over MAX_LINES lines."""
    long = {
        name: lines
        for name, path in MODULES.items()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_poetry_internals_only_in_the_seam() -> None:
    """Apart from the plugin API, Poetry is imported only under poetry_ci_image.poetry."""
    outside = {
        name: sorted(
            other
            for other in imported(path)
            if other.split(".")[0] == "poetry" and other not in POETRY_API
        )
        for name, path in MODULES.items()
        if not name.startswith("poetry_ci_image.poetry")
    }
    assert {name: found for name, found in outside.items() if found} == {}


def test_the_benchmarks_import_no_cycle() -> None:
    """benchmarks/ as well: no module imports one that imports it back."""
    assert cycles(import_graph(BENCHMARK_MODULES)) == []


def test_the_benchmarks_import_no_conftest_and_no_private_name() -> None:
    """What a benchmark takes from another module (of the benchmarks, of tests/support) is a
    public name of an ordinary module: no conftest (pytest's own), no `_name`."""
    taken = sorted(
        f"{name}: {node.module}.{alias.name}"
        for name, path in BENCHMARK_MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
        if "conftest" in node.module.split(".")
        or (alias.name.startswith("_") and not alias.name.startswith("__"))
    )
    assert taken == []


DOCUMENT = PACKAGE.parents[1] / "ARCHITECTURE.md"


def test_the_architecture_document_names_every_module() -> None:
    """A reader finds each module of the package in ARCHITECTURE.md (by its file name)."""
    text = DOCUMENT.read_text()
    unnamed = sorted(
        name
        for name, path in MODULES.items()
        if path.name != "__init__.py"
        and f"`{path.name}`" not in text
        and f"{path.parent.name}/{path.name}" not in text
    )
    assert unnamed == []


def test_the_architecture_document_names_no_module_that_is_not_there() -> None:
    """Every `*.py` it names is a module of the package (or a script of the repository)."""
    text = DOCUMENT.read_text()
    names = {path.name for path in MODULES.values()}
    others = {path.name for path in (PACKAGE.parents[1] / "scripts").glob("*.py")}
    others.add(Path(__file__).name)  # the page names the test that checks it
    named = set(re.findall(r"([A-Za-z_]+\.py)\b", text))
    assert sorted(named - names - others) == []
