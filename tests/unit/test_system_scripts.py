"""What a fresh install's maintainer scripts would have done: alternatives are done here, what
has no effect in an image is left out, and the rest is named. The scripts below have the shapes
Debian's packages use (debhelper's sections, `case "$1"`, upgrade-only branches)."""

from __future__ import annotations

import pytest

from poetry_ci_image.image.system.scripts import Alternative
from poetry_ci_image.image.system.scripts import script_effects


DEBHELPER_ONLY = """\
#!/bin/sh
set -e
# Automatically added by dh_installdeb/13.11.4
dpkg-maintscript-helper rm_conffile /etc/bash_completion.d/tool 1:1.8.0-1\\~ -- "$@"
# End automatically added section
# Automatically added by dh_installsystemd/13.11.4
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ]; then
	deb-systemd-helper unmask 'tool.service' >/dev/null || true
	if deb-systemd-helper --quiet was-enabled 'tool.service'; then
		deb-systemd-helper enable 'tool.service' >/dev/null || true
	fi
fi
# End automatically added section
"""

UPGRADE_ONLY = """\
#!/bin/sh
set -e
# a transition of an old layout, on upgrade from an old version only
if test "$1" = upgrade &&
   dpkg --compare-versions "$2" lt-nl '1:1.8.4~rc0-1'; then
	mkdir -m 755 -p /var/lib/tool
	(
		cd /var/lib/tool
		for target in ../../cache/tool/*; do
			ln -s "$target" "${target#../../cache/tool/}"
		done
	)
fi
"""

ALTERNATIVES = """\
#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
  update-alternatives --quiet --install /usr/bin/cc cc /usr/bin/gcc 20 \\
    --slave /usr/share/man/man1/cc.1.gz cc.1.gz /usr/share/man/man1/gcc.1.gz
fi
exit 0
"""

CASES = """\
#!/bin/sh
set -e
case "$1" in
  configure)
    gdk-pixbuf-query-loaders --update-cache
    ;;
  abort-upgrade|abort-remove|abort-deconfigure)
    rm -f /usr/lib/x86_64-linux-gnu/gdk-pixbuf-2.0/2.10.0/loaders.cache
    ;;
esac
"""

ONE_LINE = """\
#!/bin/sh
if [ "$1" = upgrade ]; then mkdir -p /var/old; else adduser --system --group tool; fi
"""


@pytest.mark.parametrize(
    ("script", "missing"),
    [
        pytest.param(DEBHELPER_ONLY, [], id="debhelper's conffile and service sections: none"),
        pytest.param(UPGRADE_ONLY, [], id="a branch that runs on upgrade only: none"),
        pytest.param(CASES, ["gdk-pixbuf-query-loaders"], id="the configure branch of a case"),
        pytest.param(
            ONE_LINE,
            ["mkdir", "adduser"],
            id="a one-line if: every command counts (said, not lost)",
        ),
    ],
)
def test_what_a_postinst_would_have_done_is_named(script: str, missing: list[str]) -> None:
    effects = script_effects({"tool": {"postinst": script.encode()}})
    assert effects.missing.get("tool", []) == missing


def test_alternatives_are_read_with_their_slaves() -> None:
    effects = script_effects({"gcc": {"postinst": ALTERNATIVES.encode()}})
    assert effects.alternatives == [
        (
            "gcc",
            Alternative(
                "/usr/bin/cc",
                "cc",
                "/usr/bin/gcc",
                20,
                (("/usr/share/man/man1/cc.1.gz", "cc.1.gz", "/usr/share/man/man1/gcc.1.gz"),),
            ),
        )
    ]
    assert effects.missing == {}


COMPUTED = """\
#!/bin/sh
set -e
slave () {
	echo "--slave $1/$2 $2 $1/$3"
}
update-alternatives --install /usr/bin/lzma lzma /usr/bin/xz 20 $(
	slave /usr/bin unlzma unxz
)
rm -f /usr/share/doc/old
"""


def test_an_alternative_whose_arguments_a_command_computes_is_named_not_guessed() -> None:
    """The script's own function is not a missing program; the alternative it builds is."""
    effects = script_effects({"xz": {"postinst": COMPUTED.encode()}})
    assert effects.alternatives == []
    assert effects.missing == {"xz": ["update-alternatives (with arguments computed when it runs)"]}


def test_variables_set_once_are_read_into_an_alternative() -> None:
    """automake's shape: the version in a variable, used in the links."""
    script = (
        "#!/bin/sh\nset -e\nver=1.16\nprio=34\n"
        "update-alternatives --install /usr/bin/automake automake \\\n"
        "\t/usr/bin/automake-$ver $prio \\\n"
        "\t--slave /usr/bin/aclocal aclocal /usr/bin/aclocal-${ver}\n"
    )
    effects = script_effects({"automake": {"postinst": script.encode()}})
    assert effects.alternatives == [
        (
            "automake",
            Alternative(
                "/usr/bin/automake",
                "automake",
                "/usr/bin/automake-1.16",
                34,
                (("/usr/bin/aclocal", "aclocal", "/usr/bin/aclocal-1.16"),),
            ),
        )
    ]


def test_a_preinst_is_read_for_a_fresh_install() -> None:
    """dpkg runs the preinst with `install`: a branch for `upgrade` is skipped."""
    preinst = '#!/bin/sh\nif [ "$1" = install ]; then\n  groupadd -r tool\nfi\n'
    effects = script_effects({"tool": {"preinst": (preinst + UPGRADE_ONLY).encode()}})
    assert effects.missing == {"tool": ["groupadd"]}
