"""Which packages a request installs on top of the base, decided as `apt-get install
--no-install-recommends` decides on an image with empty caches:

- a requested package the base already has (at a version the request allows) is not installed
  again; otherwise its newest version the request allows, from the suites apt would take it
  from (a suite marked NotAutomatic, such as backports, only for a pinned version);
- Pre-Depends and Depends hold: a clause the base or the set already satisfies (by the name or
  a Provides, at a version it allows) needs nothing; otherwise its first alternative that can
  be installed is, with its own dependencies; a virtual package is installed through its one
  provider (several providers: the first by priority, then name, as none is preferred);
- Recommends and Suggests are not installed;
- Conflicts and Breaks between the set and the base, or within the set, are refused.

The result is sorted by name: the same request on the same indexes gives the same set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.errors import SystemPackageError
from poetry_ci_image.image.system.index import provided_names
from poetry_ci_image.image.system.versions import satisfies


if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence

    from poetry_ci_image.image.system.control import Relation
    from poetry_ci_image.image.system.index import Candidate
    from poetry_ci_image.image.system.index import Installed
    from poetry_ci_image.image.system.index import Universe
    from poetry_ci_image.image.system.versions import Version


PRIORITIES = ("required", "important", "standard", "optional", "extra")


@dataclass(frozen=True)
class Resolution:
    """What a request adds to the base."""

    packages: tuple[Candidate, ...]  # to install, sorted by name
    requested: frozenset[str]  # the names asked for (the others are installed automatically)
    already: tuple[tuple[str, str], ...]  # (name, version) asked for that the base has


def resolve(
    requests: Sequence[Relation],
    universe: Universe,
    installed: Mapping[str, Installed],
    where: str,
) -> Resolution:
    """The packages `requests` install on a base with `installed`; a SystemPackageError naming
    what cannot be satisfied (`where`: the suites searched, for that message)."""
    return _Resolver(universe, installed, where).run(requests)


class _Resolver:
    def __init__(self, universe: Universe, installed: Mapping[str, Installed], where: str) -> None:
        self.universe = universe
        self.installed = dict(installed)
        self.installed_provides = provided_names(installed.values())
        self.where = where
        self.selected: dict[str, Candidate] = {}
        self.why: dict[str, str] = {}  # name -> what needs it, for messages

    def run(self, requests: Sequence[Relation]) -> Resolution:
        already = []
        todo: list[Candidate] = []
        for request in requests:
            base = self.installed.get(request.name)
            if base is not None and _allows(request, base.version):
                already.append((request.name, str(base.version)))
                continue
            candidate = self._requested(request)
            if candidate.name not in self.selected:
                self._select(candidate, "your request")
                todo.append(candidate)
        while todo:
            package = todo.pop(0)
            for clause in package.depends:
                if self._satisfied(clause):
                    continue
                chosen = self._choose(clause, package)
                self._select(chosen, f"{package.name} {package.version}")
                todo.append(chosen)
        self._check_conflicts()
        return Resolution(
            tuple(sorted(self.selected.values(), key=lambda c: c.name)),
            frozenset(request.name for request in requests),
            tuple(sorted(already)),
        )

    def _requested(self, request: Relation) -> Candidate:
        candidates = [c for c in self.universe.named(request.name) if _allows(request, c.version)]
        pinned = request.relation == "="
        usable = [c for c in candidates if pinned or not c.not_automatic]
        if usable:
            return usable[0]
        if candidates:
            return candidates[0]
        providers = self.universe.providing(request.name)
        if providers and request.relation is None:
            names = sorted({provider.name for provider in providers})
            if len(names) == 1:
                return providers[0]
            raise SystemPackageError(
                f"{request.name} is a virtual package, provided by {', '.join(names)}.",
                "Name the one you want in system-packages.",
            )
        versions = ", ".join(str(c.version) for c in self.universe.named(request.name))
        if versions:
            raise SystemPackageError(
                f"No version of {request.name} in {self.where} is {request.relation} "
                f"{request.version} (it has {versions}).",
                "Fix the version in system-packages (the archive keeps only the current ones), "
                "or leave it out to take the newest.",
            )
        raise SystemPackageError(
            f"No package named {request.name} in {self.where}.",
            "Check the name (`apt-cache search` in the base finds it), and that the base's apt "
            "sources (or system-sources) include the component that has it.",
        )

    def _select(self, candidate: Candidate, why: str) -> None:
        self.selected[candidate.name] = candidate
        self.why.setdefault(candidate.name, why)

    def _satisfied(self, clause: tuple[Relation, ...]) -> bool:
        return any(self._has(relation) for relation in clause)

    def _has(self, relation: Relation) -> bool:
        """Whether the base or the set satisfies `relation` (by name or by a Provides)."""
        chosen = self.selected.get(relation.name)
        if chosen is not None:
            return _allows(relation, chosen.version)
        base = self.installed.get(relation.name)
        if base is not None and _allows(relation, base.version):
            return True
        for provider in self.installed_provides.get(relation.name, ()):
            if provider.name not in self.selected and any(
                _provides(item, relation) for item in provider.provides
            ):
                return True
        return any(
            _provides(item, relation)
            for package in self.selected.values()
            for item in package.provides
            if item.name == relation.name
        )

    def _choose(self, clause: tuple[Relation, ...], needed_by: Candidate) -> Candidate:
        """The first alternative of `clause` that can be installed."""
        for relation in clause:
            real = [
                c
                for c in self.universe.named(relation.name)
                if _allows(relation, c.version) and not c.not_automatic
            ]
            if real:
                return real[0]
            providers = [
                c
                for c in self.universe.providing(relation.name)
                if not c.not_automatic
                and any(
                    _provides(item, relation) for item in c.provides if item.name == relation.name
                )
            ]
            if providers:
                providers.sort(key=lambda c: (_rank(c.priority), c.name))
                return providers[0]
        wanted = " | ".join(str(relation) for relation in clause)
        chain = self._chain(needed_by.name)
        raise SystemPackageError(
            f"{needed_by.name} {needed_by.version} needs {wanted}, and no package in {self.where} "
            f"satisfies it ({chain}).",
            "The base may be older or newer than the archive's release: use a base of the same "
            "release, or a version of the package that fits it.",
        )

    def _chain(self, name: str) -> str:
        """`libpq5, needed by your request` or a longer chain, for messages."""
        steps = [name]
        seen = {name}
        why = self.why.get(name, "your request")
        while why != "your request":
            steps.append(f"needed by {why}")
            parent = why.split(" ")[0]
            if parent in seen:
                break
            seen.add(parent)
            why = self.why.get(parent, "your request")
        steps.append("asked for in system-packages")
        return ", ".join(steps)

    def _check_conflicts(self) -> None:
        problems = []
        for package in self.selected.values():
            for relation in package.conflicts:
                for other in self._present(relation):
                    if other != package.name:  # a package may conflict with what it provides
                        problems.append(f"{package.name} {package.version} conflicts with {other}")
        for base in self.installed.values():
            if base.name in self.selected:
                continue
            for relation in base.conflicts:
                chosen = self.selected.get(relation.name)
                if chosen is not None and _allows(relation, chosen.version):
                    problems.append(f"the base's {base.name} {base.version} breaks {chosen.name}")
        if problems:
            raise SystemPackageError(
                "The system packages cannot be installed together: "
                + "; ".join(sorted(set(problems)))
                + ".",
                "Leave out one of them, or use a base that does not have the other.",
            )

    def _present(self, relation: Relation) -> list[str]:
        """The names in the image (base or set) that `relation` (a Conflicts) matches."""
        found = []
        chosen = self.selected.get(relation.name)
        if chosen is not None and _allows(relation, chosen.version):
            found.append(chosen.name)
        base = self.installed.get(relation.name)
        if (
            base is not None
            and relation.name not in self.selected
            and _allows(relation, base.version)
        ):
            found.append(base.name)
        if relation.relation is None:
            found += [
                package.name
                for package in self.selected.values()
                if any(item.name == relation.name for item in package.provides)
            ]
        return found


def _allows(relation: Relation, version: Version) -> bool:
    if relation.relation is None or relation.version is None:
        return True
    return satisfies(version, relation.relation, relation.version)


def _provides(item: Relation, relation: Relation) -> bool:
    """Whether a Provides entry `item` satisfies `relation` (a versioned relation needs a
    versioned Provides, as dpkg rules)."""
    if item.name != relation.name:
        return False
    if relation.relation is None:
        return True
    if item.version is None or relation.version is None:
        return False
    return satisfies(item.version, relation.relation, relation.version)


def _rank(priority: str) -> int:
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)
