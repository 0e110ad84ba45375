"""What the packages' maintainer scripts would have done, since none of them runs here.

dpkg runs a package's `preinst` before it unpacks it and its `postinst` after; the plugin runs
neither (nothing of the image runs). What the common scripts do is done here instead:

- `update-alternatives --install LINK NAME PATH PRIORITY [--slave LINK NAME PATH]...`: the
  links (`LINK -> /etc/alternatives/NAME -> PATH`, the highest priority winning, as in auto
  mode) and dpkg's record of them (`/var/lib/dpkg/alternatives/NAME`);
- `ldconfig` (and the libc trigger that runs it): a library in the loader's default
  directories (`/lib/<triplet>`, `/usr/lib/<triplet>`, `/lib`, `/usr/lib`) is found without
  the loader's cache; one a package puts elsewhere (named in `/etc/ld.so.conf.d/`) is found
  through `LD_LIBRARY_PATH` in the image's config;
- what has no effect in an image (services, documentation indexes, debconf questions, conffile
  moves on upgrade) is left out.

Anything else a script runs is named in `missing`, per package, so the push says which effects
the image lacks (for example gdk-pixbuf's loader cache, or a system user a package creates).
"""

from __future__ import annotations

import re
import shlex

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping


# Commands whose effect a CI image does not need, or that only act on an upgrade or removal.
NO_EFFECT_HERE = frozenset(
    {
        "deb-systemd-helper",
        "deb-systemd-invoke",
        "systemctl",
        "invoke-rc.d",
        "update-rc.d",
        "dpkg-maintscript-helper",
        "dpkg-trigger",
        "dpkg-query",
        "dpkg",
        "py3compile",
        "pycompile",
        "py3clean",
        "pyclean",
        "install-info",
        "update-menus",
        "mandb",
        "db_get",
        "db_set",
        "db_input",
        "db_go",
        "db_stop",
        "db_purge",
        "db_fset",
        "db_fget",
        "db_register",
        "db_unregister",
        "db_reset",
        "db_version",
        "db_capb",
        "db_title",
        "db_subst",
        "ldconfig",  # see the module's docstring
        "update-alternatives",  # done here
        "rm",  # on a fresh install, what a script removes is an older version's leftover
        "rmdir",
    }
)
# The shell's own words and builtins, and commands that only read.
SHELL = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "case",
        "esac",
        "for",
        "while",
        "until",
        "do",
        "done",
        "in",
        "function",
        "return",
        "exit",
        "set",
        "unset",
        "export",
        "local",
        "shift",
        "true",
        "false",
        "test",
        "[",
        "[[",
        "]",
        "]]",
        ".",
        ":",
        "echo",
        "printf",
        "read",
        "eval",
        "exec",
        "trap",
        "command",
        "type",
        "hash",
        "wait",
        "break",
        "continue",
        "readonly",
        "umask",
        "cd",
        "pwd",
        "which",
        "grep",
        "sed",
        "awk",
        "cut",
        "head",
        "tail",
        "sort",
        "cat",
        "basename",
        "dirname",
        "tr",
        "uname",
        "id",
        "getent",
    }
)


@dataclass(frozen=True)
class Alternative:
    """One alternative a package installs: `link` -> /etc/alternatives/`name` -> `path`."""

    link: str
    name: str
    path: str
    priority: int
    slaves: tuple[tuple[str, str, str], ...] = ()  # (link, name, path)


@dataclass
class ScriptEffects:
    """What a set of packages' scripts would have done."""

    alternatives: list[tuple[str, Alternative]] = field(default_factory=list)  # (package, ...)
    missing: dict[str, list[str]] = field(default_factory=dict)  # package -> commands not run


def script_effects(scripts: Mapping[str, Mapping[str, bytes]]) -> ScriptEffects:
    """The effects of each package's `preinst` and `postinst` (package -> member -> bytes)."""
    effects = ScriptEffects()
    for package in sorted(scripts):
        members = scripts[package]
        commands: list[list[str]] = []
        texts = {
            name: _substituted(members.get(name, b"").decode(errors="replace"))
            for name in ("preinst", "postinst")
        }
        for name, action in (("preinst", "install"), ("postinst", "configure")):
            commands += _commands(texts[name], action)
        missing = []
        defined: set[str] = set()
        computed: set[str] = set()  # links of alternatives whose arguments a command computes
        for text in texts.values():
            text = re.sub(r"\\\n", " ", text)
            defined |= _functions(text)
            computed |= set(
                re.findall(r"update-alternatives\b[^\n]*--install\s+(\S+)[^\n]*\$", text)
            )
        for words in commands:
            program = words[0].rsplit("/", 1)[-1]
            if program == "update-alternatives" and "--install" in words:
                alternative = _alternative(words)
                if alternative is not None and alternative.link not in computed:
                    effects.alternatives.append((package, alternative))
                    continue
                program = "update-alternatives (with arguments computed when it runs)"
            elif program in defined:
                continue  # the script's own function: its commands are read where it is defined
            if program in NO_EFFECT_HERE or program in SHELL or program.startswith("db_"):
                continue
            if program not in missing:
                missing.append(program)
        if missing:
            effects.missing[package] = missing
    return effects


def _commands(script: str, action: str) -> list[list[str]]:
    """The simple commands a fresh install runs of a shell script (`action`: the argument dpkg
    gives it then, `configure` or `install`), roughly: each line's words split at `;`, `&&`,
    `||`, `|` and the shell's keywords, assignments before a command dropped; the branches of
    an `if` or a `case` that test for an upgrade, a removal or an older version are skipped."""
    found = []
    blocks: list[list[bool]] = []  # per open if/case: [skipped by an outer block, this branch]
    text = re.sub(r"\\\n", " ", script)
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#!") else ""
        if not line:
            continue
        first = line.split()[0]
        outer = any(any(block) for block in blocks)
        if first in {"if", "case"} and re.search(r"(^|;|\s)(fi|esac)\s*;?$", line):
            pass  # a whole block on one line: all its commands count (more said, not less)
        elif first in {"if", "case"}:
            blocks.append([outer, first == "if" and _upgrade_only(line, action)])
            if first == "case":
                continue
        elif first == "elif" and blocks:
            blocks[-1][1] = _upgrade_only(line, action)
        elif first == "else" and blocks:
            blocks[-1][1] = not blocks[-1][1]
        elif first in {"fi", "esac", "fi;", "esac;"}:
            if blocks:
                blocks.pop()
            continue
        elif blocks and (branch := re.match(r"^([^()$]*)\)", line)):
            patterns = {word.strip().strip("\"'") for word in branch.group(1).split("|")}
            blocks[-1][1] = not patterns & {action, "*"}
            line = line[branch.end() :].strip()
        if any(any(block) for block in blocks):
            continue
        for part in re.split(r";|&&|\|\||\||\(|\)|\{|\}|`|\$\(", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                words = part.split()
            while words and words[0] in {"then", "else", "do", "!", "elif", "if", "while", "for"}:
                words = words[1:] if words[0] != "for" else []
            while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                words = words[1:]
            if words and re.match(r"^[A-Za-z0-9_./+-]+$", words[0]):
                found.append(words)
    return found


def _substituted(script: str) -> str:
    """`script` with the variables it sets once to a plain word (`ver=1.16` at the top level,
    as automake's postinst does) replaced where they are used."""
    values: dict[str, str] = {}
    for name, value in re.findall(r"(?m)^([A-Za-z_][A-Za-z0-9_]*)=([^\s$`;'\"()]*)\s*$", script):
        values[name] = value if name not in values else ""  # set twice: not a constant
    for name, value in values.items():
        if value:
            script = re.sub(rf"\$\{{{name}\}}|\${name}\b", value, script)
    return script


def _functions(script: str) -> set[str]:
    """The names of the shell functions a script defines (`name () {`, `function name`)."""
    found = set(re.findall(r"(?m)^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\(\)", script))
    return found | set(re.findall(r"(?m)^\s*function\s+([A-Za-z_][A-Za-z0-9_-]*)", script))


def _upgrade_only(condition: str, action: str) -> bool:
    """Whether a condition is false on a fresh install (`$1` is `action`, `$2` is empty)."""
    if re.search(r"\$\{?1\}?\"?\s*=\s*\"?(upgrade|abort-|remove|purge|failed-upgrade)", condition):
        return True
    if re.search(r"-n\s+\"?\$\{?2", condition) or "compare-versions" in condition:
        return True  # an earlier version is installed: an upgrade
    other = re.search(r"\$\{?1\}?\"?\s*=\s*\"?([a-z-]+)", condition)
    return bool(other and other.group(1) != action)


def _alternative(words: list[str]) -> Alternative | None:
    """`update-alternatives [--quiet] --install LINK NAME PATH PRIORITY [--slave L N P]...`."""
    try:
        at = words.index("--install")
        link, name, path, priority = words[at + 1 : at + 5]
        slaves = []
        rest = words[at + 5 :]
        while len(rest) >= 4 and rest[0] == "--slave":
            slaves.append((rest[1], rest[2], rest[3]))
            rest = rest[4:]
        return Alternative(link, name, path, int(priority), tuple(slaves))
    except (ValueError, IndexError):
        return None  # a variable where a word should be: named as missing by the caller


def chosen_alternatives(
    alternatives: Iterable[tuple[str, Alternative]], existing: Iterable[str] = ()
) -> dict[str, list[Alternative]]:
    """Each alternative name (that the base does not manage already: `existing`) with its
    candidates, the highest priority first (then the path, for a stable choice)."""
    skip = set(existing)
    by_name: dict[str, list[Alternative]] = {}
    for _, alternative in alternatives:
        if alternative.name not in skip:
            by_name.setdefault(alternative.name, []).append(alternative)
    return {
        name: sorted(found, key=lambda a: (-a.priority, a.path))
        for name, found in sorted(by_name.items())
    }
