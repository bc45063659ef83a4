"""The detector's JSON walk in C (jsonwalk.c, jsonparse.c: leaves kept as the document is
parsed) against the Python walk, on JSON text written token by token rather than by
json.dumps: every escape (\\u of any code point, surrogate pairs and lone surrogates, the
short ones), raw UTF-8 and bytes that are not UTF-8, numbers in every form JSON allows and
some it does not, literals, any whitespace, duplicate keys, nesting past the C walk's depth,
and the same documents damaged. The C walk must give the Python walk's leaves and the same
"not JSON", and hand a document back (False) only for what it says it leaves to Python."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.detect import _detect
from harness.detect.decoders import _MIN_LEAF
from tests.detect.test_jsonwalk import number_literals, python_leaves


@dataclass(frozen=True)
class Doc:
    text: bytes
    depth: int
    """The deepest value's depth (the top container's is 0)."""
    python_only: bool
    """Holds what the C walk leaves to Python: a key with an escape or a non-ASCII byte, a
    duplicate key, NaN or Infinity."""


def rarely(common: st.SearchStrategy[bytes], rare: st.SearchStrategy[bytes]
           ) -> st.SearchStrategy[bytes]:
    """common, and one time in fifty rare: a document has dozens of tokens, and one that is
    not JSON (or is Python's) makes the whole of it so. (Not at 0: hypothesis draws the
    ends of a range far more often than the rest.)"""
    return st.integers(0, 49).flatmap(lambda i: rare if i == 37 else common)


printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E,
                                  exclude_characters='"\\'), min_size=1, max_size=10)
pieces = rarely(st.one_of(
    printable.map(str.encode),
    st.sampled_from([b'\\"', b"\\\\", b"\\/", b"\\b", b"\\f", b"\\n", b"\\r", b"\\t"]),
    st.builds(lambda c, upper: (b"\\u%04X" if upper else b"\\u%04x") % c,
              st.integers(0, 0xFFFF), st.booleans()),
    st.builds(lambda hi, lo: b"\\u%04x\\u%04x" % (hi, lo),
              st.integers(0xD800, 0xDBFF), st.integers(0xDC00, 0xDFFF)),
    st.characters(min_codepoint=0x80).map(lambda c: c.encode("utf-8", "surrogatepass")),
    st.binary(min_size=1, max_size=2).filter(lambda b: b'"' not in b and b"\\" not in b
                                             and min(b) >= 0x20),  # not UTF-8, often
), st.binary(min_size=1, max_size=2))  # a quote, a backslash or a control byte, maybe
string_bodies = st.lists(pieces, max_size=8).map(b"".join)
keys = rarely(st.sampled_from([b"a", b"b", b"id", b"$lib", b"long key name"])
              | printable.map(str.encode),
              st.sampled_from([b"k\\u00e9", "k\u00e9".encode()]) | string_bodies)
numbers = rarely(number_literals.map(str.encode) | st.sampled_from(
    [b"-0", b"1E400", b"-1e-400", b"1000", b"999.5", b"1e3", b"-1234567890123456789012"]),
    st.sampled_from([b"01", b"1.", b".5", b"-", b"+1", b"1e", b"--1", b"0x10"]))
literals = rarely(st.sampled_from([b"true", b"false", b"null"]),
                  st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"nul", b"True"]))
spaces = rarely(st.sampled_from([b"", b"", b" ", b"\n", b"\t", b"\r\n  "]),
                st.sampled_from([b"\x0b", b"\xc2\xa0"]))


def leaf(text: bytes) -> Doc:
    return Doc(text, 0, text.lstrip(b"-") in (b"NaN", b"Infinity"))


scalars = st.one_of(string_bodies.map(lambda b: Doc(b'"' + b + b'"', 0, False)),
                    numbers.map(leaf), literals.map(leaf))


def deeper(d: Doc) -> int:
    return d.depth + 1


@st.composite
def arrays(draw: st.DrawFn, items: st.SearchStrategy[Doc]) -> Doc:
    got = draw(st.lists(items, max_size=5))
    ws = [draw(spaces) for _ in range(len(got) + 1)]
    text = b"[" + b",".join(w + d.text for w, d in zip(ws, got, strict=False)) + ws[-1] + b"]"
    return Doc(text, max(map(deeper, got), default=0), any(d.python_only for d in got))


@st.composite
def objects(draw: st.DrawFn, items: st.SearchStrategy[Doc]) -> Doc:
    members = draw(st.lists(st.tuples(keys, items), max_size=5))
    ws = [draw(spaces) for _ in range(2 * len(members) + 1)]
    text = b"{" + b",".join(ws[2 * i] + b'"' + k + b'"' + ws[2 * i + 1] + b":" + d.text
                            for i, (k, d) in enumerate(members)) + ws[-1] + b"}"
    names = [k for k, _ in members]
    odd = len(set(names)) < len(names) or any(b"\\" in k or max(k, default=0) >= 0x80
                                                 for k in names)
    return Doc(text, max((deeper(d) for _, d in members), default=0),
               odd or any(d.python_only for _, d in members))


values = st.recursive(scalars, lambda inner: arrays(inner) | objects(inner), max_leaves=30)
containers = arrays(values) | objects(values)


@st.composite
def nested(draw: st.DrawFn) -> Doc:
    """A container, sometimes deep inside arrays and objects: up to past MAX_DEPTH (200)."""
    doc = draw(containers)
    levels = draw(st.sampled_from([0, 0, 0, 1, 3, 199, 200, 201, 205]))
    for i in range(levels):
        doc = (Doc(b"[" + doc.text + b"]", doc.depth + 1, doc.python_only) if i % 3
               else Doc(b'{"k": ' + doc.text + b"}", doc.depth + 1, doc.python_only))
    return doc


def check(text: bytes, doc: Doc | None, hot: tuple[bytes, ...] | None) -> None:
    got = _detect.leaves(text, _MIN_LEAF, hot)
    want = python_leaves(text, hot)
    if got is False:
        # only for what the C walk leaves to Python (a damaged document may hold it, too);
        # at depth 200, a container with a byte that is not whitespace before its end is a
        # value at 201 as far as the C walk reads
        assert doc is None or doc.python_only or doc.depth >= 200, text
    else:
        assert got == want, text


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(nested(), spaces, st.data())
def test_written_documents_walk_the_same(doc: Doc, ws: bytes, data: st.DataObject) -> None:
    text = doc.text if ws in (b"\x0b", b"\xc2\xa0") else ws + doc.text + ws
    cut = data.draw(st.integers(0, max(0, len(text) - 1)))
    for hot in (None, (), (text[cut:cut + data.draw(st.integers(1, 5))], b"00")):
        check(text, doc, hot)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(containers, st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3),
                                      st.integers(0, 3)), min_size=1, max_size=3))
def test_damaged_written_documents_are_judged_the_same(
        doc: Doc, edits: list[tuple[int, bytes, int]]) -> None:
    text = bytearray(doc.text)
    for at, insert, delete in edits:
        at %= len(text) + 1
        text[at:at + delete] = insert
    stripped = bytes(text).strip()
    if stripped[:1] in (b"{", b"[") and stripped[-1:] in (b"}", b"]"):
        for hot in (None, (b"1",)):
            check(stripped, None, hot)
