"""The compile server: runs inside the target's own interpreter and turns sources into pycs.

It is started by compiler.py with the base image's CPython (run on the host through the base's
own loader), never with the host's Python, since a pyc must come from the interpreter that will
load it. Its argv: the path of canonical.py (executed here, so that the canonical form is
written by the target's own marshal) and the pyc kind, "checked" or "unchecked" (PEP 552
hash-based pycs, which stay valid in the image whatever the files' times).

The protocol, on stdin and stdout, all integers 4-byte big-endian:

    hello:    length + JSON {"version": [3, 11, 2], "magic": "<hex>", "cache_tag": "..."}
    request:  length + the file's path in the image (UTF-8), length + its source bytes
    answer:   0 + length + the pyc's bytes, or 1 + length + why it does not compile (UTF-8)

A request with an empty path ends the server. This file runs in CPython 3.8 to 3.15 (`-S -s`),
so it uses the standard library only and the syntax of Python 3.8.
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import struct
import sys
import warnings

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO


_LENGTH = struct.Struct(">I")


def _read(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the compile server's input ended")
    return data


def _frame(stream: BinaryIO) -> bytes:
    (size,) = _LENGTH.unpack(_read(stream, 4))
    return _read(stream, size)


def _answer(stream: BinaryIO, status: int, payload: bytes) -> None:
    stream.write(bytes((status,)) + _LENGTH.pack(len(payload)) + payload)
    stream.flush()


def serve(canonicalize: Callable[[bytes, tuple[int, int]], bytes], checked: bool) -> None:
    source_in: BinaryIO = sys.stdin.buffer
    pyc_out: BinaryIO = sys.stdout.buffer
    version = sys.version_info[:2]
    magic = importlib.util.MAGIC_NUMBER
    flags = struct.pack("<I", 0b11 if checked else 0b01)  # PEP 552: hash-based, checked or not
    hello = {
        "version": list(sys.version_info[:3]),
        "magic": magic.hex(),
        "cache_tag": sys.implementation.cache_tag,
    }
    data = json.dumps(hello).encode()
    pyc_out.write(_LENGTH.pack(len(data)) + data)
    pyc_out.flush()
    warnings.simplefilter("ignore")  # SyntaxWarnings of the sources are not ours to print
    while True:
        path = _frame(source_in).decode("utf-8")
        if not path:
            return
        source = _frame(source_in)
        try:
            code = compile(source, path, "exec", dont_inherit=True, optimize=0)
        except (SyntaxError, ValueError, UnicodeDecodeError, OverflowError) as error:
            _answer(pyc_out, 1, f"{type(error).__name__}: {error}".encode("utf-8", "replace"))
            continue
        body = canonicalize(marshal.dumps(code), version)
        header = magic + flags + importlib.util.source_hash(source)
        _answer(pyc_out, 0, header + body)


def main() -> None:
    canonical_path, kind = sys.argv[1], sys.argv[2]
    namespace: dict[str, object] = {"__name__": "canonical"}
    with open(canonical_path, "rb") as stream:
        exec(compile(stream.read(), canonical_path, "exec"), namespace)
    serve(namespace["canonicalize"], kind == "checked")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
