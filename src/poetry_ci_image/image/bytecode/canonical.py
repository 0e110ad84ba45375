"""One canonical byte form for a CPython marshal stream (the body of a .pyc file).

CPython's marshal writer is not deterministic: the same source compiled by the same interpreter
can give different bytes in two processes. It flags an object for back-reference (FLAG_REF, 0x80
on its type byte) when its reference count happens to be above one, numbers the references in
the order it meets them, writes a string in an "interned" type ('Z', 'A', 't') or not ('z', 'a',
'u') after whether that very object happened to be interned in the process (which for 0- and
1-character strings, shared singletons, and in 3.13 for a class's qualname, depends on what ran
before), and before 3.11 writes a frozenset's elements in hash-table order. Layers of .pyc files
would then differ from build to build, and so would their digests.

`canonicalize` reads the stream into a tree (a TYPE_REF 'r' stands for the object it names) and
writes it again:
- structurally equal objects become one: equal means equal canonical encodings, so 1, 1.0,
  True, 0.0 and -0.0 stay apart. Lists, dicts, sets (mutable) and frozendicts (some 3.15
  loaders cannot follow a reference to one, cpython issue 155315) keep their identity instead;
- each object is written once, with FLAG_REF only if it is met again; references are numbered
  in the order the loader reserves them: a container or code object before its children;
- a frozenset's (or set's) elements are sorted by their own canonical encoding (their strings
  taken as interned, the form not being settled before the whole stream is read);
- a string is written interned if any occurrence of it was, and always if it has 0 or 1
  characters. That is what a fresh process writes (the compiler interns identifier-like
  constants, 3.13 every 1-character latin-1 string at start-up), and interning such a string
  on load changes nothing but the string table;
- every other form (int or long, short or long ASCII, a code object's raw fields) is kept.

`marshal.loads` of the result equals `marshal.loads` of the input, and canonicalizing twice
changes nothing. The module runs inside the target interpreter (CPython 3.8 to 3.15, `-I -S`),
so it uses the standard library only and the syntax of Python 3.8.
"""

from __future__ import annotations

import gc
import struct
import sys

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    # A node is bytes (a scalar's encoding, or raw bytes: a singleton such as None, a dict's
    # end, a code object's firstlineno), or a container: (header, children's node numbers).
    Node = bytes | tuple[bytes, tuple[int, ...]]

_I32 = struct.Struct("<i").unpack_from
_REF = struct.Struct("<ci").pack
_BYTE = [bytes((b,)) for b in range(256)]
_SMALL_TUPLE = [b")" + _BYTE[n] for n in range(256)]
_SINGLETON = {c: _BYTE[c] for c in b"NFTS."}  # the loader ignores FLAG_REF on these
_FIXED = {ord("i"): 5, ord("I"): 9, ord("g"): 9, ord("y"): 17}  # scalars of a fixed size
_SIZED = {ord("s"), ord("a"), ord("A"), ord("u"), ord("t")}  # a 32-bit size, then the bytes
_INTERNED = {ord("z"): ord("Z"), ord("a"): ord("A"), ord("u"): ord("t")}
_SCALAR = {*_FIXED, ord("l"), ord("f"), ord("x")}
_COUNTED = {ord("("), ord("["), ord("<"), ord(">")}  # a 32-bit count, then the items
_MERGED = {ord(c) for c in ")(>c:"}  # immutable containers: equal ones become one
_RAW = -(1 << 62)  # the uses of a raw node (written as is, never flagged): never above one


def _code_layout(version: tuple[int, int]) -> tuple[int, int, int]:
    """A code object's header size (type byte, raw 32-bit fields), objects before and after
    its raw firstlineno; per Python/marshal.c w_complex_object / r_object of each version."""
    if not (
        isinstance(version, tuple)
        and len(version) == 2
        and version[0] == 3
        and isinstance(version[1], int)
        and 8 <= version[1] <= 15
    ):
        raise ValueError(f"unsupported Python version {version!r}: expected (3, 8) to (3, 15)")
    # 3.8-3.10: argcount, posonlyargcount, kwonlyargcount, nlocals, stacksize, flags; code,
    # consts, names, varnames, freevars, cellvars, filename, name; firstlineno; lnotab.
    # 3.11-3.15: the same without nlocals; code, consts, names, localsplusnames,
    # localspluskinds, filename, name, qualname; firstlineno; linetable, exceptiontable.
    return (25, 8, 1) if version[1] <= 10 else (21, 8, 2)


def canonicalize(data: bytes, version: tuple[int, int]) -> bytes:
    """The canonical form of marshal stream `data`, written by CPython `version` (major, minor).

    Raises ValueError for an unsupported version, an unknown type code or malformed data.
    """
    head, before, after = _code_layout(version)
    minor = version[1]
    data = bytes(data)
    size = len(data)
    nodes: list[Node] = []
    index: dict[Node, int] = {}  # merged nodes by their content
    raw: dict[bytes, int] = {}  # bytes written as they are: singletons, firstlineno, dict end
    uses: list[int] = []  # how often each node is the child of a distinct node
    refs: list[int | None] = []  # the loader's reference list; None while being read
    encodings: dict[int, bytes] = {}
    pos = 0

    def raw_node(b: bytes) -> int:
        i = raw.get(b)
        if i is None:
            i = raw[b] = len(nodes)
            nodes.append(b)
            uses.append(_RAW)
        return i

    singleton = {t: raw_node(b) for t, b in _SINGLETON.items()}

    def refer(p: int) -> int:
        n: int = _I32(data, p + 1)[0]
        i = refs[n] if 0 <= n < len(refs) else None
        if i is None:
            raise ValueError(f"marshal data has an invalid reference {n} at offset {p}")
        return i

    def read_items(count: int) -> list[int]:
        """The next `count` objects, as node numbers."""
        nonlocal pos
        items: list[int] = []
        append = items.append
        p = pos
        for _ in range(count):
            code = data[p]
            if code == 0x72:  # 'r', by far the most common
                n = _I32(data, p + 1)[0]
                i = refs[n] if 0 <= n < len(refs) else None
                append(refer(p) if i is None else i)
                p += 5
                continue
            t = code & 0x7F
            plain = None  # a string's non-interned form, while no occurrence is interned
            if t == 0x7A or t == 0x5A:  # 'z', 'Z': 8-bit size
                n = data[p + 1]
                end = p + 2 + n
                if t == 0x7A:
                    if n > 1:
                        plain = data[p:end] if t == code else b"z" + data[p + 1 : end]
                    t = 0x5A
            elif t in _SIZED:
                n = _I32(data, p + 1)[0]
                end = p + 5 + n
                if n < 0:
                    raise ValueError(f"marshal data has a negative size at offset {p}")
                if t in _INTERNED:
                    one = (
                        t == 0x75
                        and n <= 4
                        and len(data[p + 5 : end].decode("utf-8", "surrogatepass")) == 1
                    )
                    if n > 1 and not one:  # not a 0- or 1-character string
                        plain = data[p:end] if t == code else _BYTE[t] + data[p + 1 : end]
                    t = _INTERNED[t]
            elif t in singleton:
                append(singleton[t])
                p += 1
                continue
            elif t not in _SCALAR:  # a container (or an unknown type code)
                pos = p
                append(read_container(p, code, t))
                p = pos
                continue
            elif t in _FIXED:
                end = p + _FIXED[t]
            elif t == 0x6C:  # 'l': 32-bit digit count (negative for a negative int), 16-bit digits
                end = p + 5 + 2 * abs(_I32(data, p + 1)[0])
            elif t == 0x66:  # 'f': the float as text, 8-bit size
                end = p + 2 + data[p + 1]
            else:  # 'x': two of those
                end = p + 2 + data[p + 1]
                end += 1 + data[end]
            # A slice past the end is short: the next read, or the final check, sees it.
            node = data[p:end] if t == code else _BYTE[t] + data[p + 1 : end]
            p = end
            i = index.setdefault(node, len(nodes))
            if i == len(nodes):
                nodes.append(node if plain is None else plain)
                uses.append(0)
            elif plain is None:
                nodes[i] = node  # a string met interned is written interned
            if code & 0x80:
                refs.append(i)
            append(i)
        pos = p
        return items

    def read_container(p: int, code: int, t: int) -> int:
        nonlocal pos
        if t == 0x29:  # ')': small tuple, 8-bit count
            header = _SMALL_TUPLE[data[p + 1]]
            pos = p + 2
        elif t in _COUNTED:
            pos = p + 5
            header = _BYTE[t] + data[p + 1 : pos]
        elif t == 0x63:  # 'c': code object
            pos = p + head
            header = _BYTE[t] + data[p + 1 : pos]
        elif t == 0x7B or (t == 0x7D and minor >= 15) or (t == 0x3A and minor >= 14):
            pos = p + 1  # '{' dict, '}' frozendict, ':' slice
            header = _BYTE[t]
        elif t == 0x72:  # 'r' with FLAG_REF, which the loader ignores
            pos = p + 5
            return refer(p)
        elif t == 0x30:
            raise ValueError(f"marshal data has a NULL object outside a dict at offset {p}")
        else:
            raise ValueError(f"marshal data has an unknown type code {chr(t)!r} at offset {p}")
        slot = -1
        if code & 0x80:  # the loader reserves the index before reading the children
            slot = len(refs)
            refs.append(None)
        if t == 0x63:
            items = read_items(before)
            items.append(raw_node(data[pos : pos + 4]))
            pos += 4
            items += read_items(after)
        elif t == 0x7B or t == 0x7D:
            items = []
            while data[pos] & 0x7F != 0x30:
                items += read_items(2)
            pos += 1
            items.append(raw_node(b"0"))
        elif t == 0x3A:
            items = read_items(3)
        else:
            n = data[p + 1] if t == 0x29 else _I32(header, 1)[0]
            if n < 0:
                raise ValueError(f"marshal data has a negative size at offset {p}")
            items = read_items(n)
            if t == 0x3C or t == 0x3E:
                items.sort(key=encoding)
        node = (header, tuple(items))
        # Mutable containers and frozendicts keep their identity: they are never merged.
        i = index.setdefault(node, len(nodes)) if t in _MERGED else len(nodes)
        if i == len(nodes):
            nodes.append(node)
            uses.append(0)
            for k in items:
                uses[k] += 1
        if slot >= 0:
            refs[slot] = i
        return i

    def encoding(k: int) -> bytes:
        """Node `k` written on its own, strings interned (their final form is not known yet):
        a set element's sort key."""
        node = nodes[k]
        if isinstance(node, bytes):
            return _BYTE[_INTERNED[node[0]]] + node[1:] if node[0] in _INTERNED else node
        found = encodings.get(k)
        if found is None:
            counts = {k: 1}
            subtree: dict[int, Node] = {k: node}
            todo = [node]
            while todo:
                for c in todo.pop()[1]:
                    if c not in subtree:
                        subtree[c] = child = nodes[c]
                        if isinstance(child, bytes):
                            if child[0] in _INTERNED:
                                subtree[c] = _BYTE[_INTERNED[child[0]]] + child[1:]
                        else:
                            todo.append(child)
                    counts[c] = counts.get(c, 0) + 1 if uses[c] >= 0 else _RAW
            found = encodings[k] = _write(k, subtree, counts)
        return found

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    collecting = gc.isenabled()
    gc.disable()  # many small acyclic tuples: collecting them as they come only costs time
    try:
        root = read_items(1)[0]
        if pos < size:
            raise ValueError(f"marshal data has {size - pos} bytes after its object")
        if pos > size:
            raise IndexError
        uses[root] += 1
        return _write(root, nodes, uses)
    except (IndexError, struct.error):
        raise ValueError(f"marshal data truncated: {size} bytes end inside an object") from None
    except RecursionError:
        raise ValueError("marshal data nested too deeply") from None
    finally:
        sys.setrecursionlimit(limit)
        if collecting:
            gc.enable()


def _write(
    root: int, nodes: list[Node] | dict[int, Node], uses: list[int] | dict[int, int]
) -> bytes:
    """Node `root` written out: each node once, flagged if met again, later as 'r' + index."""
    out: list[bytes] = []
    append = out.append
    refs: dict[int, bytes] = {}

    def write(i: int) -> None:
        node = nodes[i]
        header = node if isinstance(node, bytes) else node[0]
        if uses[i] > 1:
            refs[i] = _REF(b"r", len(refs))
            append(_BYTE[header[0] | 0x80] + header[1:])
        else:
            append(header)
        if isinstance(node, bytes):
            return
        for k in node[1]:
            if uses[k] > 1:
                ref = refs.get(k)
                if ref is not None:
                    append(ref)
                    continue
                child = nodes[k]
                if isinstance(child, bytes):
                    refs[k] = _REF(b"r", len(refs))
                    append(_BYTE[child[0] | 0x80] + child[1:])
                    continue
            else:
                child = nodes[k]
                if isinstance(child, bytes):
                    append(child)
                    continue
            write(k)

    write(root)
    return b"".join(out)
