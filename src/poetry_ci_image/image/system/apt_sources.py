"""Where the system packages come from: the archives the base's own apt sources name, or the
ones the settings name instead (`system-sources`, one-line sources.list entries: a company
mirror, a snapshot of the archive), and the keyrings each is checked against.

The base's sources are read from its root (base_root.py): `/etc/apt/sources.list` and
`/etc/apt/sources.list.d/*.list` (one-line form), `*.sources` (deb822 form, as the official
`python` images write them). Only `deb` entries count; a source without `signed-by` is checked
against every keyring apt trusts in the base (`/etc/apt/trusted.gpg` and `trusted.gpg.d/`).
"""

from __future__ import annotations

import posixpath
import shlex

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.image.system.control import ControlError
from poetry_ci_image.image.system.control import field
from poetry_ci_image.image.system.control import paragraphs
from poetry_ci_image.plumbing.urls import strip_credentials


if TYPE_CHECKING:
    from collections.abc import Sequence

    from poetry_ci_image.image.base_root import BaseRoot


SOURCES_LIST = "etc/apt/sources.list"
SOURCES_DIRECTORY = "etc/apt/sources.list.d"
TRUSTED = ("etc/apt/trusted.gpg", "etc/apt/trusted.gpg.d")


@dataclass(frozen=True)
class AptSource:
    """One suite of one archive (a sources entry with three suites is three of these)."""

    uri: str  # may hold credentials (from the environment): print `label` instead
    suite: str
    components: tuple[str, ...]
    signed_by: tuple[str, ...]  # keyrings, paths in the base (empty: apt's trusted ones)
    architectures: tuple[str, ...] = ()  # empty: every architecture
    inline_keys: str = ""  # a deb822 Signed-By that holds the key itself (armored)

    @property
    def label(self) -> str:
        """The archive and suite, for messages (no credentials)."""
        return f"{strip_credentials(self.uri).rstrip('/')} {self.suite}"

    def url(self, path: str) -> str:
        """`dists/<suite>/<path>` of this source's archive."""
        return f"{self.uri.rstrip('/')}/dists/{self.suite}/{path}"

    def pool(self, filename: str) -> str:
        """A file of the archive's pool, by the Packages index's `Filename`."""
        return f"{self.uri.rstrip('/')}/{filename}"

    def serves(self, architecture: str) -> bool:
        return not self.architectures or architecture in self.architectures


def base_sources(root: BaseRoot, base: str) -> list[AptSource]:
    """The `deb` sources of the base's apt configuration, in apt's order."""
    found: list[AptSource] = []
    texts = []
    if root.read(SOURCES_LIST) is not None:
        texts.append(SOURCES_LIST)
    directory = root.resolve(SOURCES_DIRECTORY)
    if directory is not None and root.host_path(directory).is_dir():
        for entry in sorted(root.host_path(directory).iterdir()):
            if entry.name.endswith((".list", ".sources")):
                texts.append(f"{SOURCES_DIRECTORY}/{entry.name}")
    for path in texts:
        text = (root.read(path) or b"").decode(errors="replace")
        try:
            found += deb822_sources(text) if path.endswith(".sources") else one_line_sources(text)
        except ControlError as error:
            raise ConfigError(
                f"The base image {base} has an apt source that cannot be read (/{path}: {error}).",
                "Fix the base's apt sources, or name the archives in system-sources in "
                "[tool.poetry-ci-image].",
            ) from None
    return found


def one_line_sources(text: str, where: str = "") -> list[AptSource]:
    """The `deb` entries of a sources.list (`deb [options] uri suite [component...]`)."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            raise ControlError(f"line {number} is not a sources.list entry") from None
        kind, words = words[0], words[1:]
        if kind == "deb-src":
            continue
        if kind != "deb":
            raise ControlError(f"{where}line {number} is not a `deb` entry: {line[:60]!r}")
        options: dict[str, str] = {}
        if words and words[0].startswith("["):
            closing = next((i for i, word in enumerate(words) if word.endswith("]")), None)
            if closing is None:
                raise ControlError(f"{where}line {number} has an unclosed `[`")
            inside = " ".join(words[: closing + 1])[1:-1]
            for option in inside.split():
                key, _, value = option.partition("=")
                options[key.strip().lower()] = value.strip()
            words = words[closing + 1 :]
        if len(words) < 2:
            raise ControlError(f"{where}line {number} names no archive and suite")
        uri, suite, components = words[0], words[1], tuple(words[2:])
        found.append(_source(uri, suite, components, options, f"{where}line {number}"))
    return found


def deb822_sources(text: str) -> list[AptSource]:
    """The `deb` entries of a `.sources` file, one per suite."""
    found = []
    for number, entry in enumerate(paragraphs(text), start=1):
        if field(entry, "Enabled", "yes").lower() == "no":
            continue
        if "deb" not in field(entry, "Types").split():
            continue
        signed_by = field(entry, "Signed-By")
        options = {
            "signed-by": "" if "BEGIN PGP" in signed_by else " ".join(signed_by.split()),
            "arch": ",".join(field(entry, "Architectures").split()),
            "trusted": field(entry, "Trusted"),
        }
        for uri in field(entry, "URIs").split():
            for suite in field(entry, "Suites").split():
                source = _source(
                    uri,
                    suite,
                    tuple(field(entry, "Components").split()),
                    options,
                    f"entry {number}",
                )
                if "BEGIN PGP" in signed_by:
                    source = AptSource(
                        source.uri,
                        source.suite,
                        source.components,
                        (),
                        source.architectures,
                        inline_keys=signed_by,
                    )
                found.append(source)
    return found


def configured_sources(lines: Sequence[str]) -> list[AptSource]:
    """The sources `system-sources` names, as one-line sources.list entries."""
    try:
        return one_line_sources("\n".join(lines), "system-sources ")
    except ControlError as error:
        raise ConfigError(
            f"system-sources in [tool.poetry-ci-image] has an entry apt would not read: {error}.",
            'Write each as a sources.list line, e.g. "deb https://mirror.example/debian bookworm '
            'main" (with [signed-by=/usr/share/keyrings/<keyring>] for a keyring of the base).',
        ) from None


def keyrings(source: AptSource, root: BaseRoot) -> list[str]:
    """The keyrings (paths in the base) a source's release file is checked against: its
    signed-by, else every one apt trusts in the base."""
    if source.signed_by:
        return list(source.signed_by)
    found = []
    for path in TRUSTED:
        real = root.resolve(path)
        if real is None:
            continue
        host = root.host_path(real)
        if host.is_file():
            found.append("/" + path)
        elif host.is_dir():
            found += [
                "/" + posixpath.join(path, entry.name)
                for entry in sorted(host.iterdir())
                if entry.name.endswith((".gpg", ".asc"))
            ]
    return found


def _source(
    uri: str, suite: str, components: tuple[str, ...], options: dict[str, str], where: str
) -> AptSource:
    if options.get("trusted", "").lower() == "yes":
        raise ControlError(
            f"{where} is marked trusted=yes: apt would install from it unchecked, and the plugin "
            "installs only what a signature vouches for"
        )
    if suite.endswith("/") and not components:
        raise ControlError(f"{where} is a flat repository ({suite}), which is not supported")
    if not uri.startswith(("http://", "https://")):
        raise ControlError(f"{where} names {strip_credentials(uri)}: only http(s) archives work")
    signed_by = tuple(item for item in options.get("signed-by", "").replace(",", " ").split())
    architectures = tuple(item for item in options.get("arch", "").split(",") if item)
    return AptSource(uri, suite, components, signed_by, architectures)
