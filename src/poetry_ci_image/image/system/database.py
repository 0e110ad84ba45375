"""dpkg's and apt's records of the installed packages, as they would be after `apt-get install`,
so that `dpkg -s`, `apt-get check`, a later `apt-get install` in a test job and the scanners
that read the dpkg database know the system packages.

- Each package's own files under `/var/lib/dpkg/info/` (`<package>.list`: every path it
  installs; `.md5sums`, `.conffiles`, its maintainer scripts: what dpkg keeps to remove or
  upgrade it later) go into the package's own layer: they are a function of the .deb alone.
- `/var/lib/dpkg/status` (the base's paragraphs, and one per package with `Status: install ok
  installed` and its conffiles' md5sums), `/var/lib/apt/extended_states` (what was installed
  automatically, as apt marks it), and the alternatives' links and records go into one layer
  above them: they depend on the whole set.
"""

from __future__ import annotations

import hashlib

from typing import TYPE_CHECKING

from poetry_ci_image.image.system.control import field
from poetry_ci_image.image.system.control import paragraphs
from poetry_ci_image.image.system.control import render
from poetry_ci_image.image.system.deb import KEPT_CONTROL
from poetry_ci_image.image.system.deb import through_aliases
from poetry_ci_image.image.tarball import Entry
from poetry_ci_image.image.tarball import file_entry
from poetry_ci_image.image.tarball import symlink_entry


if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence

    from poetry_ci_image.image.system.deb import DebContents
    from poetry_ci_image.image.system.scripts import Alternative


INFO = "var/lib/dpkg/info"
STATUS = "var/lib/dpkg/status"
EXTENDED_STATES = "var/lib/apt/extended_states"
ALTERNATIVES = "var/lib/dpkg/alternatives"
SCRIPTS = frozenset({"preinst", "postinst", "prerm", "postrm", "config"})


def info_name(control: Mapping[str, str]) -> str:
    """The name dpkg gives a package's info files: `<package>`, or `<package>:<arch>` for a
    Multi-Arch: same package."""
    name = field(control, "Package")
    if field(control, "Multi-Arch") == "same":
        return f"{name}:{field(control, 'Architecture')}"
    return name


def control_fields(contents: DebContents) -> dict[str, str]:
    return next(paragraphs(contents.control["control"].decode("utf-8", errors="replace")))


def info_entries(contents: DebContents) -> list[Entry]:
    """The package's files under /var/lib/dpkg/info."""
    name = info_name(control_fields(contents))
    listed = "\n".join(contents.paths) + "\n"
    entries = [file_entry(f"{INFO}/{name}.list", listed.encode())]
    for member in KEPT_CONTROL:
        data = contents.control.get(member)
        if data is not None:
            executable = member in SCRIPTS
            entries.append(file_entry(f"{INFO}/{name}.{member}", data, executable=executable))
    return entries


def status_paragraph(contents: DebContents) -> str:
    """The package's paragraph of dpkg's status file: its control fields, installed."""
    control = control_fields(contents)
    fields: dict[str, str] = {"Package": control["Package"], "Status": "install ok installed"}
    conffiles = _conffiles(contents)
    for key, value in control.items():
        if key == "Package":
            continue
        if key == "Description" and conffiles:
            fields["Conffiles"] = conffiles
        fields[key] = value
    if conffiles and "Conffiles" not in fields:
        fields["Conffiles"] = conffiles
    return render(fields)


def _conffiles(contents: DebContents) -> str:
    """`\\n /etc/x <md5>` per conffile, as dpkg records them."""
    names = contents.control.get("conffiles", b"").decode(errors="replace").split()
    if not names:
        return ""
    digests = {
        "/" + entry.path: hashlib.md5(_bytes(entry), usedforsecurity=False).hexdigest()
        for entry in contents.entries
        if entry.kind == "file"
    }
    return "".join(f"\n{name} {digests.get(name, 'newconffile')}" for name in names)


def _bytes(entry: Entry) -> bytes:
    with entry.open() as stream:
        return stream.read()


def database_entries(
    base_status: bytes,
    base_extended_states: bytes,
    installed: Sequence[str],
    automatic: Sequence[str],
    architecture: str,
    alternatives: Mapping[str, Sequence[Alternative]],
    aliases: Mapping[str, str],
) -> list[Entry]:
    """The status file, apt's extended states and the alternatives, for the base plus the
    packages whose status paragraphs are `installed` (`automatic`: the names installed only as
    dependencies)."""
    ours = {field(next(paragraphs(text)), "Package"): text for text in installed}
    kept = {}
    for paragraph in base_status.decode("utf-8", errors="replace").split("\n\n"):
        text = paragraph.strip("\n")
        if not text:
            continue
        name = field(next(paragraphs(text)), "Package")
        if name not in ours:
            kept[name] = text + "\n"
    merged = {**kept, **ours}
    status = "\n".join(merged[name] for name in sorted(merged))
    entries = [file_entry(STATUS, status.encode())]
    entries.append(
        file_entry(
            EXTENDED_STATES,
            _extended_states(base_extended_states, automatic, architecture).encode(),
        )
    )
    for name, candidates in alternatives.items():
        entries += _alternative_entries(name, candidates, aliases)
    return entries


def _extended_states(base: bytes, automatic: Sequence[str], architecture: str) -> str:
    text = base.decode("utf-8", errors="replace").strip("\n")
    known = {field(fields, "Package") for fields in paragraphs(text)} if text else set()
    added = [
        f"Package: {name}\nArchitecture: {architecture}\nAuto-Installed: 1\n"
        for name in sorted(automatic)
        if name not in known
    ]
    return "\n".join([*([text + "\n"] if text else []), *added])


def _alternative_entries(
    name: str, candidates: Sequence[Alternative], aliases: Mapping[str, str]
) -> list[Entry]:
    """The links of the chosen (first) candidate, and dpkg's record of all of them."""
    chosen = candidates[0]
    entries = [
        symlink_entry(f"etc/alternatives/{name}", chosen.path),
        symlink_entry(
            through_aliases(chosen.link.lstrip("/"), aliases), f"/etc/alternatives/{name}"
        ),
    ]
    for link, slave, path in chosen.slaves:
        entries.append(symlink_entry(f"etc/alternatives/{slave}", path))
        entries.append(
            symlink_entry(through_aliases(link.lstrip("/"), aliases), f"/etc/alternatives/{slave}")
        )
    slaves = sorted({(slave, link) for c in candidates for link, slave, _ in c.slaves})
    lines = ["auto", chosen.link]
    for slave, link in slaves:
        lines += [slave, link]
    lines.append("")
    for candidate in candidates:
        lines += [candidate.path, str(candidate.priority)]
        paths = {slave: path for _, slave, path in candidate.slaves}
        lines += [paths.get(slave, "") for slave, _ in slaves]
    lines.append("")
    entries.append(file_entry(f"{ALTERNATIVES}/{name}", ("\n".join(lines) + "\n").encode()))
    return entries
