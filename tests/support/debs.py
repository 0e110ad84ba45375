"""Real Debian packages made on the fly for tests, by the host's own `dpkg-deb`, and a Packages
index paragraph for each (as an archive would list it)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


def build_deb(
    directory: Path,
    name: str,
    version: str,
    *,
    files: Mapping[str, bytes | str] | None = None,
    links: Mapping[str, str] | None = None,
    hard_links: Mapping[str, str] | None = None,
    control: Mapping[str, str] | None = None,
    scripts: Mapping[str, str] | None = None,
    conffiles: tuple[str, ...] = (),
    architecture: str = "amd64",
    compression: str = "xz",
) -> Path:
    """A .deb of `name` `version` holding `files` (path -> content, no leading slash; a path
    ending in `+x` is executable), `links` (path -> target) and `hard_links` (path -> another
    path of `files`), with extra control fields and maintainer scripts."""
    if shutil.which("dpkg-deb") is None:
        raise FileNotFoundError("dpkg-deb is not installed (Debian's dpkg)")
    tree = directory / f"{name}-{version}-tree"
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "DEBIAN").mkdir(parents=True)
    for path, content in (files or {}).items():
        executable = path.endswith("+x")
        target = tree / path.removesuffix("+x")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        target.chmod(0o755 if executable else 0o644)
    for path, link_target in (links or {}).items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link_target, tree / path)
    for path, original in (hard_links or {}).items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        os.link(tree / original, tree / path)
    fields = {
        "Package": name,
        "Version": version,
        "Architecture": architecture,
        "Maintainer": "Tests <tests@example.invalid>",
        "Priority": "optional",
        "Section": "misc",
        "Installed-Size": "1",
        **(control or {}),
        "Description": f"{name} for tests\nmade by tests/support/debs.py",
    }
    text = "".join(
        f"{key}: {value.replace(chr(10), chr(10) + ' ')}\n" for key, value in fields.items()
    )
    (tree / "DEBIAN" / "control").write_text(text)
    for script, body in (scripts or {}).items():
        (tree / "DEBIAN" / script).write_text(body)
        (tree / "DEBIAN" / script).chmod(0o755)
    if conffiles:
        (tree / "DEBIAN" / "conffiles").write_text("".join(f"/{path}\n" for path in conffiles))
    for root, directories, names in os.walk(tree):
        for entry in directories + names:
            os.utime(os.path.join(root, entry), (1700000000, 1700000000), follow_symlinks=False)
    deb = directory / f"{name}_{version}_{architecture}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(tree), str(deb)],
        check=True,
        capture_output=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"},
    )
    shutil.rmtree(tree)
    return deb


def packages_paragraph(deb: Path, filename: str) -> str:
    """The deb's paragraph of a Packages index: its control fields, where it is in the pool, its
    size and sha256."""
    control = subprocess.run(
        ["dpkg-deb", "--field", str(deb)], check=True, capture_output=True, text=True
    ).stdout.rstrip("\n")
    data = deb.read_bytes()
    return (
        f"{control}\nFilename: {filename}\nSize: {len(data)}\n"
        f"SHA256: {hashlib.sha256(data).hexdigest()}\n"
    )
