"""Pin Poetry's dependencies for the image: src/poetry_ci_image/poetry/pins.json.

    .venv/bin/python scripts/pin_poetry.py --index-url <simple index URL> [--uv PATH]
        [--exclude-newer TIME] [VERSION ...]

Why: the image's Poetry (/opt/poetry) is Poetry and its whole dependency closure for the target.
Taken from the host, it would follow whatever the host's Poetry runs with, and the dependencies
only older Pythons need (importlib-metadata, zipp, backports.tarfile, ...) would be "the newest
that fits" at each push from an empty cache: the same tag, another layer. With these pins,
Poetry's layers are a function of the Poetry version and the target alone.

For each Poetry version (default: those .ci/poetry-matrix tests and the one poetry.lock has),
each CPython minor the plugin targets that Poetry's Requires-Python allows, each architecture and
each libc (glibc, as manylinux_2_28; musl, as musllinux_1_2), `uv pip compile` resolves
`poetry==VERSION` with wheels only, and the set of `name==version` it gives is recorded. Equal
sets are stored once. Each set is then checked: it holds poetry==VERSION, satisfies Poetry's own
requirements for the target (recorded beside the sets, for the tests), and every member has a
wheel the target accepts on the index.

uv does the resolving (`pip install uv` into a throwaway venv; where the system's certificates
are needed, set SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt). `--exclude-newer` (default:
now) is recorded with each Poetry version's pins, so a later run with the same value and index
gives the same pins. Naming versions adds or renews theirs and keeps the others; naming none
renews every tested version. The index URL is only an argument: it is never written to a file.
"""

from __future__ import annotations

import argparse
import datetime
import email.message
import email.parser
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zipfile

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from poetry_ci_image.poetry.pins import PINNED_LIBC
from poetry_ci_image.poetry.pins import PINS_FILE
from poetry_ci_image.poetry.pins import pin_key
from poetry_ci_image.poetry.pins import pins_data
from poetry_ci_image.poetry.pins import unmet_requirements
from poetry_ci_image.settings.target import NEWEST_MINOR
from poetry_ci_image.settings.target import PLATFORMS
from poetry_ci_image.settings.target import POETRY_OLDEST_MINOR
from poetry_ci_image.settings.target import Libc
from poetry_ci_image.settings.target import Target


ROOT = Path(__file__).resolve().parent.parent
# uv's name for each libc the pins are resolved for (PINNED_LIBC: the oldest they serve).
UV_PLATFORM = {"glibc": "{machine}-manylinux_2_28", "musl": "{machine}-unknown-linux-musl"}
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-url", required=True, help="a PEP 503/691 simple index of PyPI")
    parser.add_argument("--uv", default=shutil.which("uv") or "uv", help="uv to resolve with")
    parser.add_argument(
        "--exclude-newer",
        help="only what was uploaded before this time (RFC 3339; default: now)",
    )
    parser.add_argument("versions", nargs="*", help="Poetry versions (default: the tested ones)")
    arguments = parser.parse_args()

    started = time.monotonic()
    index = Index(arguments.index_url.rstrip("/"))
    now = datetime.datetime.now(datetime.timezone.utc)
    exclude_newer = arguments.exclude_newer or now.strftime("%Y-%m-%dT%H:%M:%SZ")
    versions = arguments.versions or tested_versions()
    uv = Uv(arguments.uv, index.url, exclude_newer)

    # Named versions are added to (or replace theirs in) the pins there are; by default the
    # tested versions replace them all.
    kept = pins_data() if arguments.versions and PINS_FILE.exists() else {"poetry": {}, "sets": {}}
    poetry: dict[str, Any] = {v: e for v, e in kept["poetry"].items() if v not in versions}
    sets: dict[str, list[str]] = {
        name: pins
        for name, pins in kept["sets"].items()
        if any(name in entry["targets"].values() for entry in poetry.values())
    }
    for version in versions:
        metadata = index.metadata("poetry", version)
        requires_python = metadata.get("Requires-Python", "")
        requires = sorted(metadata.get_all("Requires-Dist") or [])
        targets = [
            target
            for minor in range(POETRY_OLDEST_MINOR, NEWEST_MINOR + 1)
            if SpecifierSet(requires_python).contains(f"3.{minor}.0")
            for target in pinned_targets(minor)
        ]
        with ThreadPoolExecutor(max_workers=6) as pool:
            resolved = list(pool.map(uv.compile, [version] * len(targets), targets))
        entry: dict[str, Any] = {
            "exclude_newer": exclude_newer,
            "requires_python": requires_python,
            "requires": requires,
            "targets": {},
        }
        for target, pins in zip(targets, resolved, strict=True):
            key = pin_key(target)
            if pins is None:
                entry.setdefault("unresolved", []).append(key)
                continue
            problems = check(version, requires, target, pins, index)
            if problems:
                print(f"Poetry {version}, {key}: {'; '.join(problems)}", file=sys.stderr)
                return 1
            name = set_name(pins)
            if sets.setdefault(name, pins) != pins:
                raise SystemExit(f"two sets are named {name}: make set_name longer")
            entry["targets"][key] = name
        poetry[version] = entry
        print(
            f"Poetry {version}: {len(entry['targets'])} targets, "
            f"{len(set(entry['targets'].values()))} sets"
            + (f", unresolved: {', '.join(entry['unresolved'])}" if "unresolved" in entry else ""),
            file=sys.stderr,
        )

    document = {
        "about": "Poetry's dependency closure per Poetry version and target, for the image's "
        "/opt/poetry. Written by scripts/pin_poetry.py: do not edit.",
        "libc": {family: list(version) for family, version in PINNED_LIBC.items()},
        "poetry": dict(sorted(poetry.items(), key=lambda item: Version(item[0]))),
        "sets": dict(sorted(sets.items())),
    }
    PINS_FILE.write_text(render(document))
    print(
        f"{PINS_FILE.relative_to(ROOT)}: {len(sets)} sets, {PINS_FILE.stat().st_size} bytes, "
        f"in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    return 0


def tested_versions() -> list[str]:
    """The Poetry versions .ci/poetry-matrix tests, and the one poetry.lock has."""
    matrix = (ROOT / ".ci" / "poetry-matrix").read_text()
    found = re.search(r'VERSIONS=\$\{POETRY_MATRIX:-"([^"]+)"\}', matrix)
    assert found is not None, "no VERSIONS in .ci/poetry-matrix"
    lock = (ROOT / "poetry.lock").read_text()
    locked = re.search(r'\nname = "poetry"\nversion = "([^"]+)"', lock)
    assert locked is not None, "no poetry in poetry.lock"
    return sorted({*found[1].split(), locked[1]}, key=Version)


def pinned_targets(minor: int) -> list[Target]:
    """The targets of CPython 3.`minor` the pins are made for: each architecture and libc."""
    return [
        Target((3, minor, 0), platform, Libc(family, version))
        for platform in PLATFORMS
        for family, version in PINNED_LIBC.items()
    ]


def set_name(pins: list[str]) -> str:
    return hashlib.sha256("\n".join(pins).encode()).hexdigest()[:10]


def check(
    version: str, requires: list[str], target: Target, pins: list[str], index: Index
) -> list[str]:
    """What is wrong with `pins` for `target` (nothing, normally)."""
    problems = [f"unmet: {text}" for text in unmet_requirements(requires, target, pins)]
    if f"poetry=={version}" not in pins:
        problems.append(f"no poetry=={version}")
    accepted = set(target.supported_tags())
    for pin in pins:
        name, _, pinned = pin.partition("==")
        wheels = [
            tags
            for filename in index.filenames(name)
            if filename.endswith(".whl")
            for _, wheel_version, _, tags in [parse_wheel_filename(filename)]
            if wheel_version == Version(pinned)
        ]
        if not any(tags & accepted for tags in wheels):
            problems.append(f"no wheel of {pin} for the target")
    return problems


class Uv:
    def __init__(self, uv: str, index_url: str, exclude_newer: str) -> None:
        self.uv = uv
        self.index_url = index_url
        self.exclude_newer = exclude_newer

    def compile(self, version: str, target: Target) -> list[str] | None:
        """`name==version` of Poetry's closure for the target, sorted; None if none resolves."""
        platform = UV_PLATFORM[target.libc.family].format(machine=target.machine)
        command = [
            self.uv,
            "pip",
            "compile",
            "-",
            "--no-config",
            "--no-python-downloads",
            "--quiet",
            "--index-url",
            self.index_url,
            "--exclude-newer",
            self.exclude_newer,
            "--python-version",
            target.python_minor,
            "--python-platform",
            platform,
            "--only-binary",
            ":all:",
            "--no-header",
            "--no-annotate",
        ]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
        done = subprocess.run(
            command,
            input=f"poetry=={version}\n",
            capture_output=True,
            text=True,
            env=environment,
            check=False,
        )
        if done.returncode != 0:
            reason = done.stderr.replace(self.index_url, "<index>").strip().splitlines()
            print(
                f"Poetry {version}, {pin_key(target)}: no resolution:\n  "
                + "\n  ".join(reason[-6:]),
                file=sys.stderr,
            )
            return None
        pins = []
        for line in done.stdout.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, pinned = line.partition("==")
                pins.append(f"{canonicalize_name(name)}=={pinned}")
        return sorted(pins)


class Index:
    """The package index's simple API (PEP 691 JSON): file names, and core metadata (PEP 658)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._files: dict[str, list[dict[str, Any]]] = {}

    def filenames(self, name: str) -> list[str]:
        return [file["filename"] for file in self._project(name)]

    def metadata(self, name: str, version: str) -> email.message.Message:
        """The core metadata of `name==version`, read from its wheel (checked by its hash)."""
        for file in self._project(name):
            filename = file["filename"]
            if filename.endswith(".whl") and parse_wheel_filename(filename)[1] == Version(version):
                url = urllib.parse.urljoin(f"{self.url}/{canonicalize_name(name)}/", file["url"])
                with urllib.request.urlopen(url.split("#")[0]) as answer:
                    data = answer.read()
                if hashlib.sha256(data).hexdigest() != file["hashes"]["sha256"]:
                    raise SystemExit(f"{filename}: not the index's sha256")
                with zipfile.ZipFile(io.BytesIO(data)) as wheel:
                    member = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
                    return email.parser.Parser().parsestr(wheel.read(member).decode())
        raise SystemExit(f"{name} {version} has no wheel on the index")

    def _project(self, name: str) -> list[dict[str, Any]]:
        key = str(canonicalize_name(name))
        if key not in self._files:
            request = urllib.request.Request(f"{self.url}/{key}/", headers={"Accept": SIMPLE_JSON})
            with urllib.request.urlopen(request) as answer:
                self._files[key] = json.load(answer)["files"]
        return self._files[key]


def render(value: Any, indent: str = "") -> str:
    """JSON with a line per key and a list of plain values on one line: a set, or a target,
    that changes is one changed line."""
    if isinstance(value, dict):
        inner = indent + " "
        lines = [f"{inner}{json.dumps(key)}: {render(item, inner)}" for key, item in value.items()]
        return "{\n" + ",\n".join(lines) + f"\n{indent}}}" + ("\n" if not indent else "")
    return json.dumps(value)


if __name__ == "__main__":
    sys.exit(main())
