"""Figure 11: what a runner's engine downloads after a one-package bump, measured on the wire.

Every package of the webservice lock is bumped, one at a time: its previous commit locks the
package's release before the committed one (the lock's entry edited to that release's version
and files, as listed by the index), everything else as committed. The plugin pushes both images
(Poetry's cache kept). Then each engine pulls the bumped image while it holds the previous one,
through a loopback proxy in front of the registry that counts the bytes of every response body:
what the client really fetched, not arithmetic on manifests.

- dockerd's classic store (overlay2, Debian's dockerd 20.10): it holds the previous image only
  (`docker pull` of it, then `docker rmi` of the bumped one), and pulls the bumped one.
- containerd's store (the same engine's containerd, through `ctr`, in a namespace of its own):
  the same, `ctr images rm --sync` removing the bumped image's blobs before its pull.

Each pull is set against the layer that holds the bumped package in the bumped image (from
`push --json`).
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import urllib.request

from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import tomlkit

from packaging.utils import canonicalize_name
from packaging.utils import parse_sdist_filename
from packaging.utils import parse_wheel_filename
from packaging.version import Version
from tests.support.proxy import RegistryProxy

from benchmarks.bench import log
from benchmarks.cold import MB
from benchmarks.history import holding
from benchmarks.results import Check
from benchmarks.results import Figure
from benchmarks.results import Row
from benchmarks.timing import Samples
from benchmarks.timing import paired_ratio
from benchmarks.workspace import HOST_CA_BUNDLE
from benchmarks.workspace import copy_project


if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmarks.bench import Bench


NAMESPACE = "poetry-ci-image-pulls"  # containerd's, for ctr: apart from dockerd's own


@dataclass(frozen=True)
class Fetched:
    """What one pull fetched, counted on the wire by request path."""

    total: int  # every response body: manifests, config, layers
    layers: int  # of which the responses to the image's layer blobs


@dataclass(frozen=True)
class Pulled:
    package: str
    change: str  # "x 1.0 -> 1.1"
    layer: int  # bytes of the bumped image's layer that holds the package
    classic: Fetched  # what the classic store's pull fetched
    containerd: Fetched  # what containerd's pull fetched


def figure11(bench: Bench) -> Figure:
    project = bench.webservice
    repository = bench.repository(project, "-pulls")
    current = bench.push(project, repository)
    previous = _previous_commits(bench)
    log(f"pulls: {len(previous)} one-package bumps of {project.name}, each image pushed")
    pushes = {name: bench.push(copy, repository) for name, (copy, _) in previous.items()}
    results: list[Pulled] = []
    with RegistryProxy(bench.registry_host) as proxy:
        through = current.reference.replace(bench.registry_host, proxy.host, 1)
        containerd = _Containerd(bench)
        bench.engine.pull(through)
        containerd.pull(through)
        layers = frozenset([*current.base_layers, *(layer.digest for layer in current.layers)])
        for name, (_, change) in previous.items():
            before = pushes[name].reference.replace(bench.registry_host, proxy.host, 1)
            layer = holding(current.layers, name).size
            engine, ctr = bench.engine, containerd
            results.append(
                Pulled(
                    name,
                    change,
                    layer,
                    _measure(proxy, layers, before, through, engine.pull, engine.remove),
                    _measure(proxy, layers, before, through, ctr.pull, ctr.remove),
                )
            )
            done = results[-1]
            log(
                f"  {change}: layer {layer / MB:.2f} MB; layers fetched: classic "
                f"{done.classic.layers / MB:.2f} MB, containerd "
                f"{done.containerd.layers / MB:.2f} MB"
            )
        bench.engine.remove(through)
        containerd.remove(through)
    return _figure(results, len(current.layers))


def _measure(
    proxy: RegistryProxy,
    layers: frozenset[str],
    before: str,
    bumped: str,
    pull: Callable[[str], None],
    remove: Callable[[str], None],
) -> Fetched:
    """What the bumped image's pull fetched, with the previous image held (and not the bumped
    one); afterwards the engine holds the bumped image only, as it did before."""
    pull(before)
    remove(bumped)
    sent = proxy.sent_to()
    pull(bumped)
    fetched = {
        path: size - sent.get(path, 0)
        for path, size in proxy.sent_to().items()
        if size != sent.get(path, 0)
    }
    remove(before)
    return Fetched(
        total=sum(fetched.values()),
        layers=sum(size for path, size in fetched.items() if path.rsplit("/", 1)[-1] in layers),
    )


class _Containerd:
    """The benchmark engine's own containerd, through `ctr`, in a namespace of its own."""

    def __init__(self, bench: Bench) -> None:
        state = Path(bench.engine.docker_host.removeprefix("unix://")).parent
        self.address = str(state / "exec" / "containerd" / "containerd.sock")

    def pull(self, reference: str) -> None:
        self._ctr("images", "pull", "--plain-http", reference)

    def remove(self, reference: str) -> None:
        self._ctr("images", "rm", "--sync", reference)

    def _ctr(self, *args: str) -> None:
        done = subprocess.run(
            ["ctr", "--address", self.address, "--namespace", NAMESPACE, *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ctr {' '.join(args)} failed: {done.stderr.strip()[-500:]}")


# --------------------------------------------------------------------------- the previous commits


def _previous_commits(bench: Bench) -> dict[str, tuple[Path, str]]:
    """For each package the target installs: a copy of the project whose lock has its previous
    release (its version and files, as the index lists them), and what changed."""
    project = bench.webservice
    stdout = bench.poetry_output(
        bench.plugin, project, "image", "tag", "--json", *bench.image_args(project)
    )
    planned = json.loads(stdout)["platforms"][0]["packages"]
    lock_text = (project / "poetry.lock").read_text(encoding="utf-8")
    commits: dict[str, tuple[Path, str]] = {}
    for package in planned:
        name, version = package["name"], package["version"]
        files = _index_files(bench.index_url, name)
        older = sorted(v for v in files if v < Version(version) and not v.is_prerelease)
        if not older:
            log(f"  {name} {version}: no earlier release on the index, left out")
            continue
        earlier = older[-1]
        copy = copy_project(project, bench.workspace.projects / f"{project.name}-before-{name}")
        (copy / "poetry.lock").write_text(
            _with_release(lock_text, name, str(earlier), files[earlier]), encoding="utf-8"
        )
        commits[name] = (copy, f"{name} {earlier} -> {version}")
    return commits


def _with_release(lock: str, name: str, version: str, files: list[tuple[str, str]]) -> str:
    document = tomlkit.parse(lock)
    for entry in document["package"]:
        if canonicalize_name(str(entry["name"])) == name:
            entry["version"] = version
            table = tomlkit.array()
            for filename, digest in files:
                item = tomlkit.inline_table()
                item.update({"file": filename, "hash": f"sha256:{digest}"})
                table.append(item)
            table.multiline(True)
            entry["files"] = table
            return tomlkit.dumps(document)
    raise RuntimeError(f"{name} is not in the lock")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)


def _index_files(index_url: str, name: str) -> dict[Version, list[tuple[str, str]]]:
    """Every release of `name` on the index: its files and their sha256, by version."""
    context = ssl.create_default_context(cafile=str(HOST_CA_BUNDLE))
    with urllib.request.urlopen(f"{index_url}/{name}/", context=context, timeout=60) as page:
        parser = _Links()
        parser.feed(page.read().decode())
    releases: dict[Version, list[tuple[str, str]]] = {}
    for link in parser.links:
        path, _, fragment = link.partition("#")
        filename = path.rsplit("/", 1)[-1]
        digest = re.match(r"sha256=([0-9a-f]{64})", fragment)
        if not digest:
            continue
        try:
            if filename.endswith(".whl"):
                version = parse_wheel_filename(filename)[1]
            else:
                version = parse_sdist_filename(filename)[1]
        except ValueError:
            continue
        releases.setdefault(version, []).append((filename, digest[1]))
    return releases


# --------------------------------------------------------------------------- the figure


def _figure(results: list[Pulled], layers: int) -> Figure:
    def mb(values: list[int]) -> Samples:
        return Samples(tuple(value / MB for value in values))

    figure = Figure(
        11,
        "Bytes a runner pulls after a one-package bump (webservice)",
        f"Every package the image holds, bumped alone from its previous release ({len(results)} "
        f"bumps; the image has {layers} layers of its own). An engine holding the previous "
        "image pulls the bumped one through a loopback proxy that counts the bytes of every "
        "response, by request: dockerd 20.10's classic store (overlay2) and the same engine's "
        "containerd (`ctr`). Layers: the responses to the image's layer blobs; in all: the "
        "manifests and the config too. Against the layer of the bumped image that holds the "
        "package.",
        [
            Row("the changed layer", mb([r.layer for r in results]), "MB"),
            Row("classic store: layers fetched", mb([r.classic.layers for r in results]), "MB"),
            Row("classic store: in all", mb([r.classic.total for r in results]), "MB"),
            Row("containerd: layers fetched", mb([r.containerd.layers for r in results]), "MB"),
            Row("containerd: in all", mb([r.containerd.total for r in results]), "MB"),
        ],
        [
            Check(
                "classic store: the median bump fetches at most 5x the changed layer",
                paired_ratio([(r.classic.layers, r.layer) for r in results]),
                5,
                False,
            ),
            Check(
                "containerd: the median bump fetches at most 1x the changed layer",
                paired_ratio([(r.containerd.layers, r.layer) for r in results]),
                1.0,
                False,
            ),
        ],
    )
    worst = max(results, key=lambda r: r.classic.layers / r.layer)
    extra = [r.containerd.total - r.containerd.layers for r in results]
    figure.notes += [
        f"Worst on the classic store: {worst.change}, {worst.classic.layers / MB:.1f} MB of "
        f"layers for a {worst.layer / MB:.2f} MB layer "
        f"({worst.classic.layers / worst.layer:.0f}x).",
        "Besides the layers, each pull fetched the manifests and the config: "
        + (
            f"{min(extra) / 1e3:.0f} kB"
            if round(min(extra) / 1e3) == round(max(extra) / 1e3)
            else f"{min(extra) / 1e3:.0f} to {max(extra) / 1e3:.0f} kB"
        )
        + " on containerd.",
    ]
    figure.notes += [
        f"{r.change}: layer {r.layer / MB:.2f} MB; classic {r.classic.layers / MB:.2f} MB "
        f"({r.classic.layers / r.layer:.1f}x); containerd {r.containerd.layers / MB:.2f} MB "
        f"({r.containerd.layers / r.layer:.2f}x)."
        for r in sorted(results, key=lambda r: -r.layer)
    ]
    return figure
