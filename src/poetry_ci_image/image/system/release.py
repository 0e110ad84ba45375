"""A suite's release file, verified as apt verifies it: its OpenPGP signature checked by the
base's own `gpgv` against the keyrings the base's apt trusts for that source, run on the host
through the base's own loader (base_runtime.py), with no container and no gpg of the host.

Only the signed text counts (what gpgv writes out), and only when at least one signature is
valid and none is bad; an expired release (`Valid-Until` passed) is refused too, as apt refuses
it. The release then names the sha256 and size of each index file, which archive.py checks.
"""

from __future__ import annotations

import base64
import email.utils
import subprocess
import time

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.errors import SystemPackageError
from poetry_ci_image.image.base_runtime import RuntimeUnavailable
from poetry_ci_image.image.base_runtime import program_of
from poetry_ci_image.image.system.apt_sources import keyrings
from poetry_ci_image.image.system.control import ControlError
from poetry_ci_image.image.system.control import field
from poetry_ci_image.image.system.control import paragraphs


if TYPE_CHECKING:
    from pathlib import Path

    from poetry_ci_image.image.base_root import BaseRoot
    from poetry_ci_image.image.system.apt_sources import AptSource
    from poetry_ci_image.image.system.archive import Archive


GPGV = "/usr/bin/gpgv"


@dataclass(frozen=True)
class Release:
    """What a verified release file says of its suite."""

    source: AptSource
    files: dict[str, tuple[str, int]]  # path under dists/<suite>/ -> (sha256, size)
    by_hash: bool  # Acquire-By-Hash: indexes may be read by their hash (no race with updates)
    not_automatic: bool  # NotAutomatic: yes (experimental, backports): only when asked for
    date: str

    def index(self, stem: str) -> tuple[str, str, int] | None:
        """The best-compressed index file `stem` (`main/binary-amd64/Packages`) the release
        names: (path, sha256, size), or None."""
        for suffix in (".xz", ".gz", ""):
            found = self.files.get(stem + suffix)
            if found is not None:
                return (stem + suffix, *found)
        return None


def release(
    source: AptSource, archive: Archive, root: BaseRoot, base: str, workdir: Path
) -> Release:
    """`source`'s verified release file (a SystemPackageError when it is missing, unsigned or
    signed by no key the base trusts, or expired)."""
    inline = archive.get(source.url("InRelease"), f"the release file of {source.label}")
    if inline is None:
        raise SystemPackageError(
            f"The archive has no signed release file for {source.label} (dists/{source.suite}/"
            "InRelease). Nothing was pushed.",
            "Check the suite's name in the base's apt sources (or system-sources), and that the "
            "archive still serves it.",
        )
    signed = verify(inline, source, root, base, workdir)
    try:
        fields = next(paragraphs(signed.decode(errors="replace")))
    except (StopIteration, ControlError) as error:
        raise SystemPackageError(
            f"The signed release file of {source.label} cannot be read ({error}).",
            "Check the archive, or name another in system-sources in [tool.poetry-ci-image].",
        ) from None
    _check_valid(fields, source)
    files: dict[str, tuple[str, int]] = {}
    for line in field(fields, "SHA256").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            files[parts[2]] = (parts[0], int(parts[1]))
    if not files:
        raise SystemPackageError(
            f"The release file of {source.label} names no sha256 of its index files, so nothing "
            "it lists can be checked.",
            "Use an archive whose release file has a SHA256 section (every Debian and Ubuntu "
            "archive has).",
        )
    return Release(
        source=source,
        files=files,
        by_hash=field(fields, "Acquire-By-Hash").lower() == "yes",
        not_automatic=field(fields, "NotAutomatic").lower() == "yes",
        date=field(fields, "Date"),
    )


def verify(inline: bytes, source: AptSource, root: BaseRoot, base: str, workdir: Path) -> bytes:
    """The signed text of an InRelease file, checked by the base's gpgv against the keyrings
    the base's apt trusts for `source`."""
    try:
        gpgv = program_of(root, GPGV)
    except RuntimeUnavailable as error:
        raise SystemPackageError(
            f"The base image {base} has no gpgv to check {source.label}'s signature with "
            f"({error}).",
            "Use a Debian or Ubuntu base (they have apt, and gpgv with it).",
        ) from None
    rings = _keyring_files(source, root, workdir)
    if not rings:
        raise SystemPackageError(
            f"The base image {base} trusts no keyring for {source.label}, so its signature "
            "cannot be checked.",
            "Name the keyring in the source's signed-by (a path in the base), or use a base "
            "whose apt trusts the archive's key.",
        )
    signed_file = workdir / f"{_safe(source.suite)}.InRelease"
    out = workdir / f"{_safe(source.suite)}.Release"
    signed_file.write_bytes(inline)
    out.unlink(missing_ok=True)
    command = gpgv.command(
        "--status-fd", "1", *[arg for ring in rings for arg in ("--keyring", str(ring))],
        "--output", str(out), str(signed_file),
    )  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SystemPackageError(
            f"The base's gpgv cannot run on this host to check {source.label} ({error}).",
            "Push from a host of the base's architecture, or install QEMU user emulation.",
        ) from None
    status = done.stdout.decode(errors="replace").splitlines()
    valid = [line for line in status if line.startswith("[GNUPG:] VALIDSIG ")]
    bad = [line for line in status if line.startswith("[GNUPG:] BADSIG ")]
    if bad or not valid or not out.is_file():
        why = "a signature does not match its content" if bad else "no signature of a key it trusts"
        raise SystemPackageError(
            f"The release file of {source.label} failed the signature check of the base's gpgv: "
            f"{why}. Nothing was pushed.",
            "The archive, a mirror or a proxy in between altered it, or the base does not trust "
            "the archive's key: check the mirror, and the source's signed-by.",
        )
    return out.read_bytes()


def _keyring_files(source: AptSource, root: BaseRoot, workdir: Path) -> list[Path]:
    """Host files gpgv reads as keyrings: binary ones as they are, armored ones (`.asc`, an
    inline deb822 key) de-armored into `workdir`, as apt does before it calls gpgv."""
    found = []
    armored = [(f"inline-{_safe(source.suite)}", source.inline_keys)] if source.inline_keys else []
    for path in keyrings(source, root):
        real = root.resolve(path)
        if real is None or not root.host_path(real).is_file():
            continue
        if path.endswith(".asc"):
            text = root.host_path(real).read_text(errors="replace")
            armored.append((path.strip("/").replace("/", "_"), text))
        else:
            found.append(root.host_path(real))
    for name, text in armored:
        data = dearmor(text)
        if data:
            ring = workdir / f"{name}.gpg"
            ring.write_bytes(data)
            found.append(ring)
    return found


def dearmor(text: str) -> bytes:
    """The binary OpenPGP packets of every armored block in `text` (checksum lines dropped)."""
    data = b""
    inside, body = False, list[str]()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("-----BEGIN PGP"):
            inside, body = True, []
        elif line.startswith("-----END PGP") and inside:
            inside = False
            payload = "".join(item for item in body if not item.startswith("="))
            data += base64.b64decode(payload)
        elif inside and line and ":" not in line:  # armor headers ("Comment: ...") have one
            body.append(line)
    return data


def _check_valid(fields: dict[str, str], source: AptSource) -> None:
    until = field(fields, "Valid-Until")
    if not until:
        return
    parsed = email.utils.parsedate_to_datetime(until) if until else None
    if parsed is not None and parsed.timestamp() < time.time():
        raise SystemPackageError(
            f"The release file of {source.label} expired on {until}: an archive that stopped "
            "updating, or a replayed old copy. Nothing was pushed.",
            "Check the archive or mirror; a snapshot of the archive needs its own source in "
            "system-sources.",
        )


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
