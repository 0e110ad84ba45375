"""Canonical marshal streams: the same bytecode gives the same bytes, whatever process wrote it."""

from __future__ import annotations

import marshal
import math
import os
import struct
import subprocess
import sys

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from poetry_ci_image.image.bytecode import canonical
from poetry_ci_image.image.bytecode.canonical import canonicalize


HOST = (sys.version_info[0], sys.version_info[1])
PYENV = Path("/root/.pyenv/versions")
FILES = 300

# Runs inside the interpreter under test (3.8+, -I -S): executes canonical.py's source there,
# compiles FILES files of that interpreter's own stdlib (sources up to 20 kB, evenly spread over
# the sorted paths), and writes, per
# file, the raw marshal bytes, the canonical bytes, whether both load to equal objects and
# whether canonicalizing again changes nothing. "plain" compiles them in order in a fresh
# process; "disturbed" first imports modules, interns every 1-character string and compiles
# the files once (kept alive, so their strings stay interned and shared), then compiles them
# again in reverse order, each kept alive.
WORKER = r"""
import marshal, os, sys, types, warnings
source, mode, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
space = {"__name__": "canonical"}
exec(compile(open(source, "rb").read(), source, "exec"), space)
canonicalize = space["canonicalize"]
warnings.simplefilter("ignore")
root = os.path.dirname(os.__file__)
paths = []
for folder, subfolders, names in os.walk(root):
    subfolders[:] = sorted(d for d in subfolders if d not in ("site-packages", "__pycache__"))
    paths += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".py")]
paths = [p for p in paths if os.path.getsize(p) <= 20000]
paths = paths[:: max(1, len(paths) // count)][:count]
FIELDS = ("argcount posonlyargcount kwonlyargcount nlocals stacksize flags code consts names "
          "varnames freevars cellvars filename name qualname firstlineno lnotab linetable "
          "exceptiontable").split()

def shape(o):
    # Like ==, but a NaN equals a NaN with the same bits (== fails on a NaN constant).
    if isinstance(o, types.CodeType):
        return ("code",) + tuple(shape(getattr(o, "co_" + f, None)) for f in FIELDS)
    if isinstance(o, (tuple, list)):
        return (type(o).__name__,) + tuple(shape(x) for x in o)
    if isinstance(o, (set, frozenset)):
        return (type(o).__name__,) + tuple(sorted(repr(shape(x)) for x in o))
    if isinstance(o, float):
        return ("float", o.hex())
    if isinstance(o, complex):
        return ("complex", o.real.hex(), o.imag.hex())
    return (type(o).__name__, o)

def code(path):
    try:
        return compile(open(path, "rb").read(), path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None

keep = []
if mode == "disturbed":
    import argparse, decimal, email.parser, http.client, json, typing
    for c in range(256):
        sys.intern(chr(c))
    keep += [code(p) for p in paths]
    paths = paths[::-1]
result = {}
for path in paths:
    compiled = code(path)
    if compiled is None:
        continue
    keep.append(compiled)
    raw = marshal.dumps(compiled)
    canon = canonicalize(raw, sys.version_info[:2])
    back, original = marshal.loads(canon), marshal.loads(raw)
    equal = back == original or shape(back) == shape(original)
    fixed = canonicalize(canon, sys.version_info[:2]) == canon
    result[os.path.relpath(path, root)] = (raw, canon, equal, fixed)
with open(out, "wb") as f:
    marshal.dump(result, f)
"""


def interpreter(minor: int) -> Path | None:
    """The newest CPython 3.<minor> installed by pyenv, if any."""
    found = [*PYENV.glob(f"3.{minor}/bin/python3"), *PYENV.glob(f"3.{minor}.*/bin/python3")]
    patch = {path: path.parts[-3].split(".")[2:] for path in found}
    found = [path for path in found if all(part.isdigit() for part in patch[path])]
    return max(found, key=lambda path: [int(part) for part in patch[path]], default=None)


Results = dict[str, tuple[bytes, bytes, bool, bool]]


def run_worker(python: Path, mode: str, out: Path) -> Results:
    """WORKER's results in `mode`, run by `python` with a fixed hash seed."""
    environment = {"PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", "")}
    subprocess.run(
        [str(python), "-I", "-S", "-c", WORKER, canonical.__file__, mode, str(FILES), str(out)],
        check=True,
        env=environment,
        timeout=300,
    )
    results: Results = marshal.loads(out.read_bytes())
    return results


@pytest.fixture(
    scope="module",
    params=[pytest.param(minor, id=f"3.{minor}") for minor in range(8, 14)],
)
def runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Results, Results]:
    """One interpreter's plain and disturbed runs over the same files, side by side."""
    minor: int = request.param
    python = interpreter(minor)
    if python is None and minor == HOST[1]:
        python = Path(sys.executable)
    if python is None:
        pytest.skip(f"no CPython 3.{minor} under {PYENV}")
    folder = tmp_path_factory.mktemp(f"py3{minor}")
    with ThreadPoolExecutor(2) as pool:
        plain = pool.submit(run_worker, python, "plain", folder / "plain")
        disturbed = pool.submit(run_worker, python, "disturbed", folder / "disturbed")
        return plain.result(), disturbed.result()


def test_the_runs_compile_the_same_files(runs: tuple[Results, Results]) -> None:
    """Both runs compiled the same set of files, nearly FILES of them."""
    plain, disturbed = runs
    assert sorted(plain) == sorted(disturbed)
    assert len(plain) > FILES * 0.9


def test_raw_marshal_bytes_differ_between_runs(runs: tuple[Results, Results]) -> None:
    """Marshal alone is not deterministic: some file's raw bytes differ between the two runs."""
    plain, disturbed = runs
    assert [name for name in plain if plain[name][0] != disturbed[name][0]] != []


def test_canonical_bytes_are_identical_between_runs(runs: tuple[Results, Results]) -> None:
    """After canonicalize, in the interpreter that compiled them, every file is byte-identical."""
    plain, disturbed = runs
    assert [name for name in plain if plain[name][1] != disturbed[name][1]] == []


def test_canonical_loads_equal_and_is_a_fixed_point(runs: tuple[Results, Results]) -> None:
    """In every file the canonical stream loads to what the raw one did, and stays as it is."""
    for results in runs:
        assert [name for name, (_, _, equal, _) in results.items() if not equal] == []
        assert [name for name, (_, _, _, fixed) in results.items() if not fixed] == []


def canon(value: Any) -> bytes:
    """`value` marshalled by this interpreter, then canonicalized."""
    return canonicalize(marshal.dumps(value), HOST)


def frozenset_stream(*elements: Any) -> bytes:
    """A marshal frozenset with its elements in exactly this order."""
    items = b"".join(marshal.dumps(element) for element in elements)
    return b">" + struct.pack("<i", len(elements)) + items


def distinct(text: str) -> str:
    """An equal string that is another object, not interned."""
    return "".join(list(text))


def test_equal_objects_are_written_once_whether_shared_or_not() -> None:
    """Two equal but distinct constants and one shared constant give the same bytes."""
    shared = distinct("a shared constant")
    separate = (distinct("a shared constant"), distinct("a shared constant"))
    assert marshal.dumps((shared, shared)) != marshal.dumps(separate)
    assert canon((shared, shared)) == canon(separate)
    assert canon(separate).count(b"a shared constant") == 1
    assert marshal.loads(canon(separate)) == separate


def test_refs_are_numbered_in_the_order_the_loader_reserves_them() -> None:
    """A shared container takes its index before its children; only shared objects are flagged."""
    inner = (distinct("p q"), distinct("p q"))
    expected = (
        b")\x02"  # the outer tuple, met once: not flagged
        + b"\xa9\x02"  # the inner tuple, met twice: flagged, index 0
        + b"\xfa\x03p q"  # "p q", met twice: flagged, index 1
        + b"r\x01\x00\x00\x00"
        + b"r\x00\x00\x00\x00"
    )
    assert canon((inner, (distinct("p q"), distinct("p q")))) == expected
    assert marshal.loads(expected) == (inner, inner)


@pytest.mark.parametrize(
    "elements",
    [
        pytest.param((1, "a", 2.5, (1, "b"), b"x", None), id="mixed types"),
        pytest.param(("b", "a", "ab", "", "ba"), id="strings"),
        pytest.param((frozenset({1}), frozenset(), (2, 3), (2,)), id="nested containers"),
    ],
)
def test_frozenset_elements_are_ordered_whatever_the_written_order(
    elements: tuple[Any, ...],
) -> None:
    """A frozenset written in any element order gives one canonical order."""
    forward = canonicalize(frozenset_stream(*elements), HOST)
    backward = canonicalize(frozenset_stream(*reversed(elements)), HOST)
    assert forward == backward
    assert marshal.loads(forward) == frozenset(elements)


def test_zero_and_minus_zero_stay_apart() -> None:
    """0.0 and -0.0 are equal but are different constants: neither replaces the other."""
    loaded = marshal.loads(canon((0.0, -0.0, 0.0, -0.0)))
    assert [math.copysign(1, x) for x in loaded] == [1, -1, 1, -1]


def test_equal_numbers_of_other_types_stay_apart() -> None:
    """1, True, 1.0 and 1+0j are equal in Python but keep their types."""
    loaded = marshal.loads(canon((1, True, 1.0, 1 + 0j, 1, 1.0)))
    assert [type(x) for x in loaded] == [int, bool, float, complex, int, float]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"z\x01.", b"Z\x01.", id="1 ASCII char not interned"),
        pytest.param(b"Z\x01.", b"Z\x01.", id="1 ASCII char interned"),
        pytest.param(b"\xfa\x01.", b"Z\x01.", id="1 ASCII char flagged"),
        pytest.param(b"z\x00", b"Z\x00", id="empty string"),
        pytest.param(b"u\x02\x00\x00\x00\xc3\xa9", b"t\x02\x00\x00\x00\xc3\xa9", id="1 non-ASCII"),
        pytest.param(b"z\x02ab", b"z\x02ab", id="2 chars not interned"),
        pytest.param(b"Z\x02ab", b"Z\x02ab", id="2 chars interned"),
    ],
)
def test_short_strings_take_the_interned_form(raw: bytes, expected: bytes) -> None:
    """0- and 1-character strings are always written interned; longer ones keep their form."""
    assert canonicalize(raw, HOST) == expected


def test_a_string_met_interned_anywhere_is_written_interned() -> None:
    """The same text once interned and once not (two objects) becomes one interned string."""
    stream = b")\x02z\x05a.b.c\xda\x05a.b.c"
    assert canonicalize(stream, HOST) == b")\x02\xda\x05a.b.cr\x00\x00\x00\x00"


NESTED = """
import os
def outer(a, b=1.5, *args, c=-0.0, **kw):
    x = {1, "two", (3, None), 4.0}
    def inner(y):
        return [z * a for z in y if z not in frozenset({"p", "q"})]
    class Local:
        label = "Local" + "."
        def method(self):
            return lambda: (outer, inner, x, "é")
    return inner, Local
f = [lambda: 0, lambda: 0]
"""


def test_nested_code_objects_load_equal_and_still_run() -> None:
    """Nested functions, classes and lambdas survive: equal code, the same behaviour."""
    code = compile(NESTED, "nested.py", "exec")
    canonical_bytes = canon(code)
    assert marshal.loads(canonical_bytes) == code
    assert canonicalize(canonical_bytes, HOST) == canonical_bytes
    namespace: dict[str, Any] = {}
    exec(marshal.loads(canonical_bytes), namespace)
    inner, _ = namespace["outer"](2)
    assert inner([1, 2]) == [2, 4]


@pytest.mark.parametrize(
    "version",
    [
        pytest.param((3, 7), id="3.7"),
        pytest.param((3, 16), id="3.16"),
        pytest.param((2, 7), id="2.7"),
        pytest.param((4, 0), id="4.0"),
    ],
)
def test_an_unknown_version_is_refused(version: tuple[int, int]) -> None:
    """Only the layouts read from CPython 3.8 to 3.15's marshal.c are accepted."""
    with pytest.raises(ValueError, match="unsupported Python version"):
        canonicalize(b"N", version)


@pytest.mark.parametrize("keep", [1, 2, 100, -1])
def test_a_truncated_stream_is_refused(keep: int) -> None:
    """A stream cut short anywhere is a ValueError that says so."""
    data = marshal.dumps(compile(NESTED, "nested.py", "exec"))
    with pytest.raises(ValueError, match="truncated"):
        canonicalize(data[:keep], HOST)


@pytest.mark.parametrize(
    ("data", "version", "problem"),
    [
        pytest.param(b"?", HOST, "unknown type code '\\?'", id="unknown type code"),
        pytest.param(b":NNN", (3, 13), "unknown type code ':'", id="slice before 3.14"),
        pytest.param(b"}0", (3, 14), "unknown type code '}'", id="frozendict before 3.15"),
        pytest.param(b")\x01r\x00\x00\x00\x00", HOST, "invalid reference", id="bad reference"),
        pytest.param(b"NN", HOST, "1 bytes after", id="trailing bytes"),
        pytest.param(b")\x010", HOST, "NULL object", id="NULL in a tuple"),
    ],
)
def test_malformed_data_is_refused(data: bytes, version: tuple[int, int], problem: str) -> None:
    """What the loader would refuse, or what is not a single object, is refused too."""
    with pytest.raises(ValueError, match=problem):
        canonicalize(data, version)


def test_slices_and_frozendicts_of_newer_versions_are_read() -> None:
    """3.14's slice constants and 3.15's frozendicts are parsed and canonicalized too."""
    one = b"i\x01\x00\x00\x00"
    slices = b")\x02:N" + one + b"N:N" + one + b"N"
    assert canonicalize(slices, (3, 14)) == b")\x02\xbaN" + one + b"Nr\x00\x00\x00\x00"
    frozendict = b"}z\x01a" + one + b"0"
    assert canonicalize(frozendict, (3, 15)) == b"}Z\x01a" + one + b"0"
