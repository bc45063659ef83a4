"""The JSON layers the C walk skips (harness/detect/barren.c) against the Python walk: for
every layer _detect.barren holds for, the Python decoder, scanning each layer it makes,
finds no match and writes no note, and makes no layer but the document's leaves, at most
one a string, none with children; adversarial documents (a needle or a blob only visible
once an escape is read, a form, a zlib head, JSON in a string) are not skipped; and whole
messages with skipped layers give the same findings and notes as the Python walk, budget
limits included (the skipped leaves counted at their most)."""

from __future__ import annotations

import base64
import json
import zlib

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.detect import _detect
from harness.detect.decoders import Budget, Decoder, Layer
from harness.detect.rootpairs import root_pairs
from harness.parse.message import Message
from tests.detect.test_expand import MATCHER, NEEDLES, check, message

NEEDLE = NEEDLES[0].value  # a1b2c3d4e5f60718


def python_layers(doc: bytes, limits: dict[str, int] | None = None
                  ) -> tuple[list[Layer], list[str], int]:
    """Every layer the Python walk makes of doc as a body (the root first), its notes, and
    how many of them matched (Decoder.matched's loop, keeping the layers it does not
    yield)."""
    decoder = Decoder(None, Budget(**limits or {}))
    decoder.found = {}
    layers: list[Layer] = []
    matched = 0
    for layer in decoder.expand(Layer(("body",), doc)):
        hits = MATCHER.scan(layer.data)
        decoder.found[layer.chain] = tuple({h.pattern.value for h in hits})
        layers.append(layer)
        matched += bool(hits)
    return layers, decoder.budget.notes, matched


def same(m: Message, limits: dict[str, int] | None = None) -> bool:
    """test_expand's check, and the layers the C walk matched with the Scanner's own scan
    (which the rule needs) against the Python walk's; True when the C walk did it."""
    in_c = check(m, limits=limits)
    c = _detect.expand(root_pairs(m), Decoder(None, Budget(**limits or {})).hooks(MATCHER.scan))
    assert in_c == (c is not False)
    if c is not False:
        py = Decoder(None, Budget(**limits or {})).matched(root_pairs(m), MATCHER.scan)
        assert c == list(py)
    return in_c


def yields_nothing(doc: bytes) -> None:
    """barren's promise for doc, when it makes one."""
    strings = _detect.barren(doc)
    if strings is None or MATCHER.scan(doc):
        return
    layers, notes, matched = python_layers(doc)
    assert (notes, matched) == ([], 0), doc
    leaves = layers[1:]
    assert len(leaves) <= strings, doc
    assert sum(len(x.data) for x in leaves) <= len(doc.strip()), doc
    # the root's children are its leaves, and they have none (the walk is depth first: a
    # child of a leaf would be a layer whose chain is longer than two steps)
    assert all(len(x.chain) == 2 and x.chain[1].startswith("json:") for x in leaves), doc


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
texts = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    st.text(_B64, min_size=20, max_size=40),  # runs near and over the 24 a run needs
    st.text("0123456789abcdef", min_size=28, max_size=40),  # hex, near hex_whole's 32
    st.sampled_from([
        NEEDLE, "x^abcdef", "x ab", "x?yz", "x}", "xylophone and more", " {\"a\": 1}",
        "[1, 2]", "k=v", "k=v&a=b", "aGVsbG8=", "dGVzdA==", "http://a.test/p?x=1&y=2",
        "%7B%22id%22%3A%221%22%7D", "é", "tab\there", "line\nbreak", "\x0b", "\x7f",
        "/slash", "e3" * 20, "1f23d56ba35a89719b54a33f",
        base64.b64encode(json.dumps({"id": NEEDLE}).encode()).decode(),
        base64.b64encode(b"plain text that is long enough to decode").decode(),
        base64.b64encode(b"plain text, no padding, as long as this").decode(),  # nor form
        base64.b64encode(bytes(range(200, 236))).decode(),  # nothing plausible
        base64.b64encode(zlib.compress(b"zzzz" * 10)).decode(),
        NEEDLE.encode().hex(), "ab" * 16, "  padded  ",
    ]))
keys = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8) \
    | st.sampled_from(["data", "x^k", "a=b", _B64[:30]])
scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) \
    | st.floats(allow_nan=True, allow_infinity=True) | texts
trees = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(keys, inner, max_size=4), max_leaves=16)
containers = st.lists(trees, max_size=4) | st.dictionaries(keys, trees, max_size=4)


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(containers, st.booleans(), st.sampled_from([b"", b" ", b"\n", b"\t "]))
@example({"a": "hello world, plain text", "b": ["1f23d56ba35a89719b54a33f"]}, True, b"")
def test_a_skipped_layer_yields_nothing_in_the_python_walk(
        tree: object, escaped: bool, ws: bytes) -> None:
    # ensure_ascii=False keeps text raw (what the rule reads); True writes \u escapes
    text = json.dumps(tree, ensure_ascii=escaped, indent=1 if ws == b"\n" else None)
    yields_nothing(ws + text.encode("utf-8", "surrogatepass") + ws)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from([b"{", b"}", b"[", b"]", b'"', b":", b",", b" ", b"=", b"x",
                                 b"x^", b"a", b"1", b"NaN", b"\\", b"\\u0041", b"aGVsbG8=",
                                 b"ab" * 16, b"%41", b"\n"]), max_size=30).map(b"".join))
def test_damaged_documents_are_skipped_only_when_they_yield_nothing(body: bytes) -> None:
    for doc in (b"{" + body + b"}", b"[" + body + b"]", b'{"a": "' + body + b'"}'):
        yields_nothing(doc)


def test_skipped_documents() -> None:
    """Documents the rule is there for: not a test that passes by skipping nothing."""
    for doc, strings in ((b'{"a": "hello world"}', 2), (b'[1, 2.5, null, true]', 0),
                         (b'{"s": "1f23d56ba35a89719b54a33f", "u": "http://a.test/?x=1"}', 4),
                         (b'{\n "a": {\n  "b": ["c d e f"]\n }\n}', 3),
                         (b'{"a": "x-ray", "X": "Xy"}', 4),
                         (b'{"k": "' + b"ab" * 15 + b'"}', 2),  # 30 hex digits
                         (b'{"a": 1, "a": 2}', 2), (b"[NaN, Infinity]", 0),
                         (b"[" * 300 + b"]" * 300, 0)):
        assert _detect.barren(doc) == strings, doc
        yields_nothing(doc)


def test_documents_that_may_yield_are_read() -> None:
    """Each of these has something a decoder opens, or may: the walk reads them."""
    hidden = NEEDLE[:5] + "\\u00" + NEEDLE[5].encode().hex() + NEEDLE[6:]
    blob = base64.b64encode(json.dumps({"id": NEEDLE}).encode()).decode()
    docs = [
        '{"a": "' + hidden + ' and more"}',  # a needle only an unescape shows
        '{"a": "' + blob[:10] + "\\/" + blob[10:] + '"}',  # a blob split by an escape
        '{"a": "' + blob + '"}', '["' + blob.rstrip("=") + '"]',  # base64 of JSON
        '{"a": "' + NEEDLE.encode().hex() + '"}',  # hex of text
        '["' + base64.b64encode(b"plain text, no padding, as long as this").decode() + '"]',
        '["' + base64.b64encode(b"text " * 1200).decode() + '"]',  # read past 4096 bytes
        '{"a": "x^abcdef"}', '{"a": "x ab"}', '{"a": "x?yz"}', '{"a": "x}"}',  # zlib heads
        '{"a": "{\\"b\\": 1}"}', '{"a": " [1, 2]"}', '{"a": "{}"}',  # JSON in a string
        '{"a": "k=v&id=1"}', '{"a": "  k=v"}', '{"a": "dGVzdA=="}',  # forms
        "[a=b]", "[a]=b&c=[d]",  # a form at the start of a document that is not JSON
        '{"a": "caf\u00e9"}', '{"a": "\x7f"}', '{"a":\x0b"b"}',  # bytes that are not text
        '{"a": "' + base64.b64encode(b"\x1f\x8b" + bytes(30)).decode() + '"}',
    ]
    for doc in docs:
        assert _detect.barren(doc.encode()) is None, doc
    # and the Python walk does make something of most of them
    opened = [d for d in docs if len(python_layers(d.encode())[0]) > 1
              and any(len(x.chain) > 2 or not x.chain[-1].startswith("json:")
                      for x in python_layers(d.encode())[0][1:])]
    assert len(opened) >= 10, opened


def test_messages_with_skipped_layers_find_the_same() -> None:
    """Whole messages, a needle around the skipped document (the URL, a header, a form's
    other field), with budget limits the skipped leaves may or may not reach: the C walk
    gives the Python walk's layers, findings and notes, or hands the message back."""
    plain = json.dumps({f"k{i}": f"value number {i} here, long enough" for i in range(12)})
    assert _detect.barren(plain.encode()) == 24
    blob = base64.b64encode(b"id: " + NEEDLE.encode() + b" and text")
    bodies = [plain.encode(), b"b=" + blob + b"&a=" + plain.encode(),
              json.dumps({"id": NEEDLE, "doc": plain}).encode()]
    done = 0
    for body in bodies:
        for limits in (None, {"max_layers": 3}, {"max_layers": 14}, {"max_layers": 40},
                       {"max_bytes": len(plain) + 40}, {"max_depth": 1}, {"max_depth": 2}):
            m = message(body, "https://sa.lab.test/x?id=" + NEEDLE, (("X-Id", NEEDLE),))
            done += same(m, limits)
    assert done >= 10


def test_the_unread_leaves_count_at_their_most() -> None:
    """A skipped document's leaves are not counted one by one: the message is handed back
    wherever they could have reached the budget, and done in C where they could not."""
    plain = json.dumps(["short", "value number one, long enough", "and two, long enough too"])
    assert _detect.barren(plain.encode()) == 3  # two leaves in fact (an inert one is not)
    assert len(python_layers(plain.encode())[0]) == 3
    # form:b and form:a, then a's two leaves (or three, unread), then b's base64: that
    # last layer is taken when fewer than max_layers were before it
    blob = base64.b64encode(b"id: " + NEEDLE.encode() + b" and text")
    m = message(b"b=" + blob + b"&a=" + plain.encode(), "https://sa.lab.test/", ())
    assert same(m)
    assert not same(m, limits={"max_layers": 4})  # a note: the Python walk's
    assert not same(m, limits={"max_layers": 5})  # within the unread bound: handed back
    assert same(m, limits={"max_layers": 6})
    layers, notes, _ = python_layers(m.body, {"max_layers": 5})
    assert (len(layers), notes) == (6, [])
