"""The detector's JSON parser (jsonparse.c, jsonscan.h) against the parser it replaced, kept
in tests/detect/jsonref: both are compiled here with a walk that keeps every leaf and writes
each call (trace.c), and must give the same verdict and the same calls with the same paths,
on documents written token by token (test_jsonwalk_text's), the same damaged, and strings,
keys and separators placed at every offset of a sixteen-byte step and near the document's
end. The product's eight-byte path (no SSE2) is compiled and compared too. The reference
hands the walk every string; the product, given min_inert, drops an inert one without
escapes that is shorter (inert.h), so its calls are the reference's without those, told
by decoders.py's _inert."""

from __future__ import annotations

import ctypes
import subprocess
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.detect.decoders import _inert
from tests.detect.test_jsonwalk_text import Doc, containers, nested

HERE = Path(__file__).parent
DETECT = HERE.parent.parent / "harness" / "detect"

Trace = Callable[[bytes, int, int, int], tuple[int, bytes]]


def build(out: Path, source: Path, *flags: str) -> Trace:
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-shared", "-fPIC", *flags,
                    f"-I{sysconfig.get_paths()['include']}", f"-I{DETECT}",
                    str(HERE / "jsonref" / "trace.c"), str(source), "-o", str(out)],
                   check=True)
    lib = ctypes.PyDLL(str(out))  # PyDLL: the parser allocates with PyMem, under the GIL
    fn = lib.trace
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_char_p, ctypes.c_ssize_t, ctypes.c_ssize_t, ctypes.c_ssize_t,
                   ctypes.c_ssize_t, ctypes.c_char_p, ctypes.c_size_t,
                   ctypes.POINTER(ctypes.c_size_t)]

    def trace(doc: bytes, min_leaf: int, min_int: int, min_inert: int) -> tuple[int, bytes]:
        cap = 64 * len(doc) + 4096
        buf = ctypes.create_string_buffer(cap)
        used = ctypes.c_size_t()
        verdict = fn(doc, len(doc), min_leaf, min_int, min_inert, buf, cap,
                     ctypes.byref(used))
        assert used.value < cap
        return verdict, buf.raw[:used.value]
    return trace


@pytest.fixture(scope="module")
def parsers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trace]:
    out = tmp_path_factory.mktemp("jsonref")
    return {"reference": build(out / "ref.so", HERE / "jsonref" / "jsonparse.c"),
            "product": build(out / "new.so", DETECT / "jsonparse.c"),
            "words": build(out / "words.so", DETECT / "jsonparse.c", "-U__SSE2__")}


def handed(doc: bytes, calls: bytes, min_inert: int) -> bytes:
    """The reference's calls for leaves without the string calls the product does not make
    given min_inert (an inert string without escapes shorter than it), and without the
    calls that close a container, which depend on how many leaves the walk has kept (it
    keeps every leaf here)."""
    def kept(line: bytes) -> bool:
        if line.startswith(b"c "):
            return False
        if not line.startswith(b"s "):
            return True
        _, _, start, end, escaped = line.split(b" ")[:5]
        b = doc[int(start):int(end)]
        return escaped == b"1" or len(b) >= min_inert or not _inert(b)
    return b"".join(line for line in calls.splitlines(keepends=True) if kept(line))


def same(parsers: dict[str, Trace], doc: bytes) -> None:
    for min_leaf, min_int in ((0, 0), (4, 5)):
        want = parsers["reference"](doc, min_leaf, min_int, 0)
        for name in ("product", "words"):
            assert parsers[name](doc, min_leaf, min_int, 0) == want, (name, doc)
    for min_leaf, min_int, min_inert in ((4, 14, 14), (0, 0, 10**6)):
        verdict, calls = parsers["reference"](doc, min_leaf, min_int, 0)
        for name in ("product", "words"):
            got, got_calls = parsers[name](doc, min_leaf, min_int, min_inert)
            assert (got, handed(doc, got_calls, 0)) == (verdict,
                                                        handed(doc, calls, min_inert)), (name, doc)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(nested(), st.sampled_from([b"", b" ", b"\n", b"\t\r\n  ", b"\x0b"]))
def test_written_documents_parse_the_same(parsers: dict[str, Trace], doc: Doc,
                                          ws: bytes) -> None:
    same(parsers, ws + doc.text + ws)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(containers, st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3),
                                      st.integers(0, 3)), min_size=1, max_size=3))
def test_damaged_documents_parse_the_same(parsers: dict[str, Trace], doc: Doc,
                                          edits: list[tuple[int, bytes, int]]) -> None:
    text = bytearray(doc.text)
    for at, insert, delete in edits:
        at %= len(text) + 1
        text[at:at + delete] = insert
    same(parsers, bytes(text))
    same(parsers, bytes(text[:len(text) // 2]))


SPECIAL = [b"a", b"\xc3\xa9", b"\xff", b"\\n", b"\\u00e9", b"\\", b"\x1f", b"\x7f", b'"']
"""Bytes a string's scan stops at or must see: non-ASCII (valid or not), escapes (whole or
cut), a control byte, DEL, a quote that ends it early."""


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 40), st.integers(0, 40), st.sampled_from(SPECIAL), st.booleans(),
       st.sampled_from([b": ", b":", b" : ", b":  ", b": \n"]),
       st.sampled_from([b", ", b",", b" , ", b",  ", b"}"]), st.integers(0, 40))
@example(16, 0, b"a", True, b": ", b", ", 0)
@example(15, 1, b"\xc3\xa9", True, b": ", b",", 0)
def test_strings_at_every_offset_parse_the_same(
        parsers: dict[str, Trace], pad: int, at: int, special: bytes, in_key: bool,
        colon: bytes, comma: bytes, cut: int) -> None:
    text = b"x" * at + special + b"y" * (pad % 17)
    key, value = (text, b"v" * pad) if in_key else (b"k" * pad, text)
    doc = b" " * (pad % 16) + b'{"' + key + b'"' + colon + b'"' + value + b'"' + comma
    doc += b'"n"' + colon + b"12345}" if comma != b"}" else b""
    same(parsers, doc)
    same(parsers, doc[:len(doc) - cut])  # a scan near the end: the last bytes one by one


def test_edges_parse_the_same(parsers: dict[str, Trace]) -> None:
    deep = b"[" * 199 + b'{"k": 1}' + b"]" * 199
    for doc in [b"{}", b"[]", b" {} ", b"{} x", b"{,}", b"[1,]", b'{"a" 1}', b'{"a":}',
                b'{"a": 1 "b": 2}', b"[1 2]", b"[-]", b"[01]", b"[1.]", b"[1e]", b"[-I]",
                b"[NaN]", b"[Infinity]", b"[-Infinity]", b"[nul]", b"[true false]",
                b"[truex]", b'["a\\x"]', b'["\\u12"]', b'["\\u12G4"]', b'["abc', b'{"a": "b',
                b'{"a": 1, "a": 2}', b"[" + b"9" * 4001 + b"]", b"[" + b"9" * 4000 + b"]",
                deep, b"[" + deep + b"]", b"[" * 300, b'{"\xc3\xa9": 1}', b'{"\\u00e9": 1}',
                b'{"' + b"k" * 16 + b'\xc3\xa9": 1}', b'{"k": 1, }', b"[1,\x0b2]",
                b"\xef\xbb\xbf{}"]:
        same(parsers, doc)


@pytest.mark.parametrize("byte", [b for b in range(0x20, 0x100) if b not in b'"\\'])
def test_inert_strings_are_told_as_decoders_tells_them(parsers: dict[str, Trace],
                                                        byte: int) -> None:
    """Every byte a string without escapes can hold, at every offset of strings of every
    length an inert one can have (and one more), with and without the document's end
    within sixteen bytes of the string's first: the product drops the string exactly when
    _inert says it is inert (and hands it otherwise)."""
    for length in range(1, 26):
        for at in range(length):
            text = bytes(b"abcdefghijklmnopqrstuvwxyz"[i] if i != at else byte
                         for i in range(length))
            for tail in (b"]", b", 1, 2, 3, 4, 5, 6, 7, 8, 9]"):
                doc = b'["' + text + b'"' + tail
                calls = parsers["product"](doc, 0, 0, 10**6)[1]
                assert (b"s 0 " in calls) == (not _inert(text)), (doc, calls)
