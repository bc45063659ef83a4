"""The detector's JSON walk in C (harness/detect/jsonwalk.c) against the Python walk it
replaces (json.loads, then Decoder._walk_json): the same leaves, paths, bytes and inert
flags in the same order, the same "not JSON", for generated and damaged documents; and
False (the caller runs the Python walk) only where the C walk says it cannot be exact."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.detect import _detect as _jsonwalk
from harness.detect.decoders import _MIN_LEAF, Decoder

CHAIN = ("body",)


Leaves = list[tuple[str, bytes, bool]]


def python_leaves(doc: bytes, hot: tuple[bytes, ...] | None) -> Leaves | None:
    d = Decoder()
    d.found = None if hot is None else {CHAIN: hot}
    parsed = d._json(doc)
    if parsed is None:
        return None
    return [(layer.chain[-1].removeprefix("json:"), layer.data, layer.inert)
            for layer in d._walk_json(parsed, CHAIN, "$")]


def same(doc: bytes, hot: tuple[bytes, ...] | None) -> bool:
    """Checks one document; True when the C walk answered (not False)."""
    got = _jsonwalk.leaves(doc, _MIN_LEAF, hot)
    if got is False:
        return False
    assert got == python_leaves(doc, hot), doc
    return True


ascii_keys = st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'),
                     max_size=8)
"""Keys JSON writes without an escape (the C walk leaves the others to Python)."""
any_text = st.text(max_size=40)  # every code point, lone surrogates included
numbers = st.integers(-10**30, 10**30) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.sampled_from([999, 1000, -1000, 999.99, 1e3, 1e22, 5e-324, -0.0])
scalars = st.none() | st.booleans() | numbers | any_text \
    | st.sampled_from(["xhello", "a/b", "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=", "plain words"])
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(ascii_keys, inner, max_size=5), max_leaves=25)
containers = st.lists(values, max_size=5) | st.dictionaries(ascii_keys, values, max_size=6)


def dumps(value: object, ensure_ascii: bool, spaced: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ensure_ascii,
                      separators=(", ", ": ") if spaced else (",", ":"))
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(containers, st.booleans(), st.booleans(), st.data())
@example({"a": "\ud83d" + "x" * 30, "b": "\udc80\udcff tail", "c": "\ud83d\ude00 pair"},
         True, False, None)
def test_generated_documents_walk_the_same(value: object, ensure_ascii: bool, spaced: bool,
                                           data: st.DataObject | None) -> None:
    doc = dumps(value, ensure_ascii, spaced)
    hots: list[tuple[bytes, ...] | None] = [None, ()]
    if data is not None:
        cut = data.draw(st.integers(0, max(0, len(doc) - 4)))
        hots.append((doc[cut:cut + data.draw(st.integers(1, 6))], b"zz"))
        # one pattern, longer than many values: they are dropped by its length alone
        cut = data.draw(st.integers(0, max(0, len(doc) - 4)))
        hots.append((doc[cut:cut + data.draw(st.integers(1, 14))],))
    for hot in hots:
        # Documents with ASCII keys and no NaN: the C walk always answers.
        assert same(doc, hot)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(containers, st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3),
                                      st.integers(0, 3)), min_size=1, max_size=4))
def test_damaged_documents_are_judged_the_same(value: object,
                                               edits: list[tuple[int, bytes, int]]) -> None:
    doc = bytearray(dumps(value, False, False))
    for at, insert, delete in edits:
        at %= len(doc) + 1
        doc[at:at + delete] = insert
    stripped = bytes(doc).strip()
    if stripped[:1] in (b"{", b"[") and stripped[-1:] in (b"}", b"]"):
        same(stripped, None)
        same(stripped, (b"a",))


number_literals = st.builds(
    lambda sign, whole, frac, exp: f"{sign}{whole}{frac}{exp}", st.sampled_from(["", "-"]),
    st.sampled_from(["0", "9", "99", "998", "999", "1000"]) | st.integers(0, 10**6).map(str)
    | st.text("0123456789", min_size=1, max_size=25).map(lambda d: d.lstrip("0") or "0"),
    st.text("0123456789", min_size=1, max_size=25).map(lambda d: "." + d)
    | st.sampled_from(["", ".99999999999999994", "." + "9" * 20, ".4999999999999999999"]),
    st.sampled_from(["", "e0", "e-1", "E+2", "e3", "e-400"]))
"""Numbers as an app may write them (json.dumps never writes 999.99999999999999999, which
is 1000.0: the C walk must not take it for a small number)."""


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(number_literals, min_size=1, max_size=6))
@example(["999.99999999999999999", "-999.9999999999999999", "998.9999999999999999999"])
def test_number_literals_walk_the_same(literals: list[str]) -> None:
    doc = ("[" + ", ".join(literals) + "]").encode()
    for hot in (None, (b"1000",), (b".",)):
        assert same(doc, hot)


KEYS = ["a", "b", "ab", "ba", "", "$lib_version", "$app_version", "abcdefgh-X-stuvwxyz",
        "abcdefgh-Y-stuvwxyz", "abcdefghstuvwxyz"]
"""Keys that repeat, and keys that share their length and first and last eight bytes without
being equal: the duplicate check's first test (jsonparse.c, key_word) cannot tell them
apart, the pairwise one must."""


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(KEYS) | ascii_keys, max_size=40), st.booleans())
@example(KEYS[:1] + [f"k{i}" for i in range(15)] + KEYS[:1], False)  # the 17th repeats the 1st
@example([f"k{i}" for i in range(16)] + ["k0"], False)
@example([f"k{i}" for i in range(20)], True)
def test_duplicate_keys_and_only_they_go_to_python(keys: list[str], nested: bool) -> None:
    members = ", ".join(f'"{k}": "value number {i}"' for i, k in enumerate(keys))
    doc = ("{" + members + "}").encode()
    if nested:
        doc = b'[1, {"a": ' + doc + b', "b": [' + doc + b"]}]"
    got = _jsonwalk.leaves(doc, _MIN_LEAF, None)
    assert (got is False) == (len(set(keys)) < len(keys)), doc
    if got is not False:
        assert got == python_leaves(doc, None)


def test_a_nested_objects_keys_are_its_own() -> None:
    # the keys of an object nested in another are no duplicates of the outer one's, also
    # where all of the outer one's are compared pairwise (more than KEY_WORDS of them)
    inner = b'{"k0": "inner value", "k1": [{"k2": "deep value", "k0": "again"}]}'
    for count in (2, 15, 16, 17, 40):
        members = b", ".join(b'"k%d": "value %d"' % (i, i) for i in range(count))
        assert same(b'{"n": ' + inner + b", " + members + b"}", None)
        assert same(b'{' + members + b', "n": ' + inner + b"}", None)


def test_objects_of_many_keys_nested_in_one_another() -> None:
    # an object's first KEY_WORDS keys are kept in its own frame, the rest (and then those)
    # where the nested objects' are kept too: an inner object of more keys than that, read
    # before or after the outer one's keys go there, is no duplicate of the outer one's; a
    # repeated outer key, before or after, is
    def obj(count: int, prefix: str, inner: str | None, at: int, repeat: int | None) -> str:
        members = [f'"{prefix}{i}": "value {i}"' for i in range(count)]
        if repeat is not None:
            members.append(f'"{prefix}{repeat}": "again"')
        if inner is not None:
            members.insert(at, f'"{prefix}n": {inner}')
        return "{" + ", ".join(members) + "}"

    for inner_count in (2, 17, 40):
        inner = obj(inner_count, "k", None, 0, None)
        for outer_count in (3, 15, 16, 17, 40):
            for at in (0, 1, 15, 16, 17, outer_count):
                for repeat in (None, 0, outer_count - 1):
                    doc = obj(outer_count, "k", inner, min(at, outer_count), repeat).encode()
                    got = _jsonwalk.leaves(doc, _MIN_LEAF, None)
                    assert (got is False) == (repeat is not None), doc
                    assert got is False or got == python_leaves(doc, None), doc


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(containers, st.lists(st.sampled_from(["", " ", "  ", "\t", "\n", "\r\n", " \n  \t"]),
                            min_size=6, max_size=6))
def test_any_whitespace_walks_the_same(value: object, ws: list[str]) -> None:
    # json.dumps puts the separators' whitespace where JSON allows it; indent adds newlines
    text = json.dumps(value, separators=(ws[0] + "," + ws[1], ws[2] + ":" + ws[3]),
                      indent=ws[4] or None, ensure_ascii=False)
    doc = (ws[5] + text + ws[5]).encode("utf-8", "surrogatepass")
    for hot in (None, ()):
        assert same(doc.strip(), hot), doc
        assert same(doc, hot), doc


def test_digit_runs_end_at_any_byte() -> None:
    # a number's digits read eight at a time: every byte after a run of each length, at each
    # offset of a word; the bytes next to '0' and '9', and those with the high bit set
    for size in range(1, 20):
        for c in range(256):
            for lit in (b"1" * size, b"-0." + b"2" * size, b"7" * size + b".5"):
                doc = b"[" + lit + bytes([c]) + b"]"
                got = _jsonwalk.leaves(doc, 4, None)
                assert got is not False, doc
                assert got == python_leaves(doc, None), doc


def test_what_the_c_walk_leaves_to_python() -> None:
    assert _jsonwalk.leaves(b'{"k\\u00e9":"long enough value"}', 4, None) is False
    assert _jsonwalk.leaves('{"ké":"long enough value"}'.encode(), 4, None) is False
    assert _jsonwalk.leaves(b'{"a":"x1234","a":"y1234"}', 4, None) is False
    assert _jsonwalk.leaves(b'[NaN, 1]', 4, None) is False
    assert _jsonwalk.leaves(b'[-Infinity]', 4, None) is False
    assert _jsonwalk.leaves(b"[" * 300 + b"]" * 300, 4, None) is False
    for doc in (b'{"k\\u00e9":"long enough value"}', b'{"a":"x1234","a":"y1234"}',
                b'[NaN, 12345]', b"[" * 300 + b"]" * 300):
        assert python_leaves(doc, None) is not None  # JSON all the same: Python walks it


def test_documents_of_any_size_walk_the_same() -> None:
    # no node is kept per value: more than the 4M values the walk once left to Python, and
    # many kept leaves (their records grow, and move before a nested array's at its end)
    assert _jsonwalk.leaves(b"[" + b"1," * (4 << 20) + b"1]", 4, None) == []
    doc = b'[[' + b"12345," * 100_000 + b'0], "leaf after the nested one", ' + \
        b'"x%d",' * 100_000 + b'{"k": "v"}]'
    for hot in (None, (b"23",), ()):
        assert same(doc, hot)


def test_not_json() -> None:
    for doc in (b"{", b'{"a":1,}', b'{"a":01}', b'["\x01"]', b'["\\x"]', b'["\\u12"]',
                b"[1.]", b"[1e]", b"{} {}", b'{"a" 1}', b"[tru]", b"[\xff]"):
        assert _jsonwalk.leaves(doc, 4, None) is None, doc
        assert python_leaves(doc, None) is None, doc


def test_leaves_order_paths_and_filters() -> None:
    doc = (b'{"s":"short","long":"a value of some more length","n":12345,"f":1234.5,"small":999,'
           b'"nested":{"k":["xabc","y/yy",{"deep":"\\u00e9t\\u00e9 value"}]},"after":"tail!"}')
    assert _jsonwalk.leaves(doc, 4, None) == [
        ("$.s", b"short", True), ("$.long", b"a value of some more length", False),
        ("$.n", b"12345", True), ("$.f", b"1234.5", True), ("$.after", b"tail!", True),
        ("$.nested.k[0]", b"xabc", False), ("$.nested.k[1]", b"y/yy", False),
        ("$.nested.k[2].deep", "été value".encode(), False)]
    # with the parent's matches: an inert leaf only where it holds one
    assert [p for p, _, _ in _jsonwalk.leaves(doc, 4, (b"tail",)) or []] == [
        "$.long", "$.after", "$.nested.k[0]", "$.nested.k[1]", "$.nested.k[2].deep"]


def test_patterns_as_long_as_the_values() -> None:
    # a value shorter than every pattern holds none (jsonwalk.c tells it by length, and the
    # parser drops such an integer without a call); one of a pattern's length may be it
    doc = (b'{"i": 123456, "j": 12345, "k": -12345, "f": 1234.5, "e": 1e22, "s": "abcdef",'
           b' "t": "abcde", "long": "some longer value here", "d": [99999, "xyzxyz"]}')
    for hot in ((b"123456",), (b"12345",), (b"-12345",), (b"abcdef",), (b"2345", b"abcdef"),
                (b"1234.5",), (b"1e+22",), (b"zzzzzzz",), (b"99999",), (b"yzxyz", b"zzzzzzz"),
                (b"",), (), None):
        assert same(doc, hot), hot
    assert [p for p, _, _ in _jsonwalk.leaves(doc, _MIN_LEAF, (b"12345",)) or []] == [
        "$.i", "$.j", "$.k", "$.d[1]"]
    assert [p for p, _, _ in _jsonwalk.leaves(doc, _MIN_LEAF, (b"1e+22",)) or []] == [
        "$.e", "$.d[1]"]


STRING_BYTES = [b'\\"', b"\\\\", b"\\/", b"\\n", b"\\u00e9", b"\\ud83d\\ude00", b"\\udc80",
                b"\x01", b"\x1f", b"\x7f", b" ", b"!", b"#", b"[", b"]", b"\xc3\xa9", b"\xff",
                b"\x80", b"\xed\xa0\x80", b"\\x", b"\\u12"]
"""Bytes at which jsonparse.c's string scan (sixteen bytes at a time, then eight) must stop,
or must not: the escapes, raw control bytes (not JSON), the bytes next to '"', '\\' and 0x20,
non-ASCII."""


def test_string_bytes_at_every_offset() -> None:
    # each byte at each offset of a sixteen-byte block (and of the eight-byte words after
    # it), in values and in keys, strings ending at each offset, and strings cut off by the
    # end of the document
    for size in range(0, 40):
        for at in range(0, size + 1):
            for b in STRING_BYTES:
                text = b"a" * at + b + b"z" * (size - at)
                for doc in (b'["' + text + b'", "tail value"]', b'{"' + text + b'": "value!"}',
                            b'{"k": "' + text + b'"}', b'["' + text):
                    got = _jsonwalk.leaves(doc, 4, None)
                    want = python_leaves(doc, None)
                    if doc.startswith(b'{"' + text + b'":') and want is not None:
                        # a key with an escape or a non-ASCII byte: Python's, and only then
                        plain = b"\\" not in text and max(text, default=0) < 0x80
                        assert (got is False) == (not plain), doc
                    else:  # values, and documents cut off or broken: C answers them all
                        assert got is not False, doc
                    if got is not False:
                        assert got == want, doc


def test_inert_bytes() -> None:
    # every byte value in a short leaf: inert or not exactly as the Python walk says (its
    # bytes test is a table in jsonwalk.c); with no match, an inert leaf is dropped
    for c in range(256):
        raw = json.dumps(chr(c))[1:-1].encode() if c < 0x80 else bytes([c])
        for doc in (b'["ab' + raw + b'cd"]', b'["' + raw + b'abcdefgh"]'):
            for hot in (None, ()):
                assert same(doc, hot), doc
