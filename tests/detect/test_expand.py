"""The message walk in C (harness/detect/expand.c) against the Python decoder it stands in
for (Decoder.expand and _decode): for generated messages full of nested encodings, the same
layers are scanned in the same order, and the findings and notes are identical; the C walk
hands back (False) exactly where a note would be written or its JSON walk cannot be exact."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import urllib.parse
import zlib

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.detect import _detect
from harness.detect.decoders import Budget, Decoder, java_hash_py
from harness.detect.derive import derive
from harness.detect.finding import Needle
from harness.detect.findings import NOTES_SHOWN, find
from harness.detect.matcher import Match, Matcher
from harness.detect.rootpairs import root_pairs
from harness.device.base import NeedleClass
from harness.parse.message import Message, MessageKind

NEEDLES = [Needle("id", NeedleClass.DEVICE_ID, "a1b2c3d4e5f60718", "device"),
           Needle("mac", NeedleClass.NETWORK_ID, "02:00:5e:10:00:01", "device"),
           Needle("word", NeedleClass.BROWSING, "qzкотики7", "canary"),
           Needle("url", NeedleClass.BROWSING, "https://canary.lab.test/c/cnry42", "canary")]
MATCHER = Matcher([p for n in NEEDLES for p in derive(n)])


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _sensors(payload: bytes) -> str:
    data = _b64(gzip.compress(payload))
    return f"crc=1&gzip=1&data_list={urllib.parse.quote(data, safe='')}"


# a value, as any layer of an app's payload might carry it
plain = st.sampled_from([n.value for n in NEEDLES] + ["a1b2c3d4e5f6071", "x" * 30, "plain",
                                                       "k=v&a=b", "aGVsbG8=", "7" * 40,
                                                       "fifteen bytes!!"])
encodings = st.sampled_from([
    lambda s: s, lambda s: s.upper(), lambda s: urllib.parse.quote(s, safe=""),
    lambda s: _b64(s.encode()), lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
    lambda s: s.encode().hex(), lambda s: hashlib.md5(s.encode()).hexdigest(),
    lambda s: _b64(gzip.compress(s.encode())), lambda s: _b64(zlib.compress(s.encode())),
    lambda s: json.dumps({"v": s}), lambda s: f"q={urllib.parse.quote(s)}&t=1",
    lambda s: "prefix " + _b64(("xx" + s + "yy").encode()) + " suffix",
    lambda s: _b64(gzip.compress(s.encode()))[:-6],  # a damaged gzip: a note
    lambda s: _sensors(json.dumps([{"w": s}]).encode()),
])
values = st.builds(lambda s, fs: _apply(s, fs), plain, st.lists(encodings, max_size=3)) \
    | st.text(max_size=30) | st.integers(-10**20, 10**20) | st.none()
trees = st.recursive(values, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.sampled_from(["a", "b", "data", "id", "u"]), inner,
                                       max_size=4), max_leaves=12)


def _apply(s: str, fs: list[object]) -> str:
    for f in fs:
        s = f(s)  # type: ignore[operator]
    return s


def _gz(b: bytes) -> bytes:
    return gzip.compress(b)


bodies = st.one_of(
    trees.map(lambda t: json.dumps(t, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    trees.map(lambda t: _gz(json.dumps(t).encode())),
    values.map(lambda v: str(v).encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    # a protobuf string field (field 1): text with one or two bytes that are not
    values.map(lambda v: str(v).encode()[:120]).map(lambda b: bytes([0x0A, len(b)]) + b),
    st.builds(lambda a, b: a + b, st.binary(max_size=40), values.map(
        lambda v: str(v).encode("utf-8", "surrogatepass"))),
)


def message(body: bytes, url: str, headers: tuple[tuple[str, str], ...]) -> Message:
    return Message(id="m1", kind=MessageKind.REQUEST, t=1.0, direction="out",
                   source="native.tls", method="POST", host="sa.lab.test", url=url,
                   body=body, headers=headers, phase="p")


def scanned(m: Message, compiled: bool,
            transforms: dict[bytes, tuple[str, bytes]] | None = None,
            limits: dict[str, int] | None = None) -> tuple[list[bytes], object]:
    seen: list[bytes] = []

    def scan(data: bytes) -> list[Match]:
        seen.append(data)
        return MATCHER.scan(data)

    decoder = Decoder(transforms, Budget(**limits or {}))
    hooks = decoder.hooks(scan) if compiled else None
    got = _detect.expand(root_pairs(m), hooks) if hooks is not None else False
    if got is False:  # find's rule: where the C walk hands back, the Python walk runs
        got = list(decoder.matched(root_pairs(m), scan))
    return seen, got


def check(m: Message, transforms: dict[bytes, tuple[str, bytes]] | None = None,
          limits: dict[str, int] | None = None) -> bool:
    """The two walks agree on this message; True when the C walk did it (no hand-back)."""
    c = _detect.expand(root_pairs(m),
                       Decoder(transforms, Budget(**limits or {})).hooks(MATCHER.scan))
    py_seen, py = scanned(m, False, transforms, limits)
    c_seen, c_got = scanned(m, True, transforms, limits)
    assert c_got == py  # when C handed back, both ran the Python walk
    if c is not False:
        assert c_seen == py_seen
    notes_py: list[str] = []
    notes_c: list[str] = []
    assert find([m], NEEDLES, transforms, notes_py, compiled=False) == \
        find([m], NEEDLES, transforms, notes_c, compiled=True)
    assert notes_py == notes_c
    return c is not False


urls = st.sampled_from(["https://sa.lab.test/sa?project=x",
                        "https://sa.lab.test/s?q=qz%D0%BA%D0%BE%D1%82%D0%B8%D0%BA%D0%B87",
                        "https://sa.lab.test/i?d=" + _b64(b"a1b2c3d4e5f60718xyz"),
                        "http://[::1"])
headers = st.lists(st.tuples(st.sampled_from(["Cookie", "X-Id", "User-Agent"]), values.map(str)),
                   max_size=3).map(tuple)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies, urls, headers)
@example(b'{"a": "' + _b64(gzip.compress(b'{"id": "a1b2c3d4e5f60718"}')).encode() + b'"}',
         "https://sa.lab.test/", ())
@example(b"fifteen bytes!!".hex().encode(), "https://sa.lab.test/", ())  # 30 hex digits
@example(b"\x0a\x1c" + b"id a1b2c3d4e5f60718 and text", "https://sa.lab.test/", ())
# decoded blobs near _plausible's thresholds: UTF-8 with 55% text, Latin-1 with 83%
@example(b"text " + _b64(("a1b2c3d4e5f60718 id: " + "к" * 9).encode()).encode(),
         "https://sa.lab.test/", ())
@example(b"text " + _b64(b"a1b2c3d4e5f60718 xx" + b"\xe9" * 4).encode(), "https://sa.lab.test/",
         ())
@example(b"=a1b2c3d4e5f60718&b=1", "https://sa.lab.test/", ())  # a form needs names
def test_generated_messages_give_the_same_layers_and_findings(
        body: bytes, url: str, hs: tuple[tuple[str, str], ...]) -> None:
    check(message(body, url, hs))


def test_the_c_walk_does_the_common_cases_itself() -> None:
    """Not a test that passes by handing everything back: these run in C."""
    sensors = _sensors(json.dumps([{"u": NEEDLES[3].value, "id": NEEDLES[0].value}]).encode())
    for body in (json.dumps({"a": [NEEDLES[0].value, {"b": NEEDLES[1].value}]}).encode(),
                 sensors.encode(), gzip.compress(b'{"x": "a1b2c3d4e5f60718"}'),
                 b"text " + _b64(b"id=a1b2c3d4e5f60718&k=1").encode() + b" more",
                 NEEDLES[0].value.encode().hex().encode(), bytes(range(256))):
        assert check(message(body, "https://sa.lab.test/x?id=a1b2c3d4e5f60718", ())), body


def test_leaves_left_unscanned_are_those_without_a_match() -> None:
    """A JSON leaf that is a span of its parent's bytes is not scanned when none of the
    parent's matches overlaps it (children.c, unmatched): needles flush with a leaf's ends,
    the whole leaf, spanning a key and its value, twice, and in a leaf whose escapes hide
    the needle from the parent's scan (scanned all the same)."""
    v = NEEDLES[0].value
    for doc in ({"a": v}, {"a": v + " tail", "b": "head " + v}, {v[:12]: v[12:] + " rest"},
                [v, v, "other value here"], {"n": 123456789, "a": [{"b": "x" + v}]}):
        body = json.dumps(doc).encode()
        assert check(message(body, "https://sa.lab.test/", ())), body
        chains = {f.chain[-1] for f in find([message(body, "https://sa.lab.test/", ())],
                                            NEEDLES)}
        # found in the leaves (none across a key and its value)
        assert bool(chains) == (v.encode() in body), body
        assert all(c.startswith("json:$") for c in chains), (body, chains)
    hidden = ('{"a": "' + v[:5] + "\\u00" + v[5].encode().hex() + v[6:]
              + ' and some more text"}').encode()  # long enough not to be inert
    assert check(message(hidden, "https://sa.lab.test/", ())), hidden
    assert [f.chain[-1] for f in find([message(hidden, "https://sa.lab.test/", ())],
                                      NEEDLES)] == ["json:$.a"]


def test_notes_and_inexact_json_are_handed_back() -> None:
    deep = NEEDLES[0].value.encode()
    for _ in range(12):
        deep = _b64(b"some text " + deep).encode()
    for body in (deep, _b64(gzip.compress(b"x" * 1000)).encode()[:-8],
                 b'{"a": "a1b2c3d4e5f60718", "a": "x"}', b'[NaN, "a1b2c3d4e5f60718"]'):
        assert not check(message(body, "https://sa.lab.test/", ())), body
    big = json.dumps([NEEDLES[0].value + str(i) for i in range(50)]).encode()
    assert not check(message(big, "https://sa.lab.test/", ()), limits={"max_layers": 10})


def test_compressed_layers_are_inflated_the_same_way() -> None:
    """children.c inflates gzip and zlib itself (zinflate.c) as Decoder._inflate does
    through decompress, and hands back wherever that writes a note: truncated, damaged, cut
    at what is left of the byte budget, a raw deflate stream behind a zlib-looking head."""
    inner = json.dumps({"id": NEEDLES[0].value, "pad": "x" * 3000}).encode()
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = raw.compress(inner) + raw.flush()
    cases = {
        "gzip": (gzip.compress(inner), True), "zlib": (zlib.compress(inner), True),
        "two members": (gzip.compress(inner) + gzip.compress(b"and more"), True),
        "member, NUL padding": (gzip.compress(inner) + b"\0" * 80, True),
        "empty": (gzip.compress(b""), True),
        "truncated": (gzip.compress(inner)[:-10], False),
        "damaged": (gzip.compress(inner)[:20] + b"\xff" * 20, False),
        "trailing garbage": (gzip.compress(inner) + b"garbage", False),
        "raw deflate, zlib head": (b"\x78\x9c" + deflated, False),
    }
    for name, (body, in_c) in cases.items():
        m = message(body, "https://sa.lab.test/", ())
        assert check(m) == in_c, name
        # the budget left: a cut (inflated past it) is a note, handed back
        assert not check(m, limits={"max_bytes": len(inner) // 2}) or name == "empty", name
        check(message(b"text " + _b64(body).encode(), "https://sa.lab.test/", ()))
    # no layer inflates past 32 MiB, whatever the budget left: one byte more is a cut
    for size in ((32 << 20), (32 << 20) + 1):
        assert check(message(gzip.compress(bytes(size)), "https://sa.lab.test/", ())) == (
            size == 32 << 20)


def test_base64_edges_give_the_same_layers() -> None:
    """The base64 rules b64.c reproduces, met in a walk: padding, alphabets, runs."""
    inner = b'{"id": "a1b2c3d4e5f60718", "k": "v"}'
    std, url = base64.b64encode(inner), base64.urlsafe_b64encode(b"\xfb\xff" + inner)
    for body in (std, std.rstrip(b"="), std + b"==", std + b"=", url, url.rstrip(b"="),
                 std[:8] + url[8:], b"  " + std + b"\n", b"x " + std + b"=== y",
                 b"x " + std[:-2] + b"=A " + std, b"t " + std.rstrip(b"=")[:25] + b" u"):
        check(message(body, "https://sa.lab.test/", ()))


_B64_CLASS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
# text around and between base64 runs: blobs that decode to text (kept), runs of the class
# near the 24 a run needs, padding, bytes that end a run
pieces = st.lists(
    st.sampled_from(["a1b2c3d4e5f60718", "id: a1b2c3d4e5f60718 and text", "x" * 17, "k"])
    .map(lambda t: _b64(t.encode())) | st.text(_B64_CLASS, min_size=1, max_size=30)
    | st.sampled_from(["=", "==", "===", " ", ".", ", ", "\n", "\t", "\"", "é"]),
    max_size=14).map("".join)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(pieces)
@example("x " + "A" * 23 + " " + "B" * 24 + "=" + "C" * 25 + "==" + "D" * 48)
@example("." + "A" * 22 + "." + _b64(b"id: a1b2c3d4e5f60718 and text") + "...")
def test_base64_runs_in_text_are_found_the_same_way(text: str) -> None:
    # children.c's search skips ahead 24 bytes at a time where it can: the same runs as
    # _B64_RUN.finditer, kept or not alike
    check(message(("say " + text).encode(), "https://sa.lab.test/", ()))


def test_app_transforms_are_followed_the_same_way() -> None:
    secret = b"\x93\x11" + bytes(range(40))
    m = message(secret, "https://sa.lab.test/", ())
    transforms = {secret: ("cipher:AES/CBC", json.dumps({"id": NEEDLES[0].value}).encode())}
    assert check(m, transforms)
    got = find([m], NEEDLES, transforms)
    assert [f.chain[1:] for f in got] == [("cipher:AES/CBC", "json:$.id")]


def test_app_transforms_of_json_leaves_are_followed_the_same_way() -> None:
    """A JSON leaf stays a span of its parent's bytes until something needs it as bytes
    (expand.h's lazy layers): the transform hook does, for each leaf, and so does comparing
    a transform's input with the leaves of the layer it comes from."""
    secret = b"opaque-cipher-text-0123456789-abcdefghij"
    m = message(b'{"a": "' + secret + b'", "b": [12345678]}', "https://sa.lab.test/", ())
    transforms = {secret: ("cipher:AES/CBC", json.dumps({"id": NEEDLES[0].value}).encode())}
    assert check(m, transforms)
    got = find([m], NEEDLES, transforms)
    assert [f.chain[1:] for f in got] == [("json:$.a", "cipher:AES/CBC", "json:$.id")]
    # the body's transform gives one of its own leaves (the second): not a child a second time
    body = b'{"a": "another-opaque-value-0123456789-xyz", "b": "' + secret + b'"}'
    assert check(message(body, "https://sa.lab.test/", ()), {body: ("cipher:x", secret)})


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies, urls, headers)
@example(b'{"a": "' + _b64(gzip.compress(b'{"id": "a1b2c3d4e5f60718"}')).encode() + b'"}',
         "https://sa.lab.test/?id=a1b2c3d4e5f60718", (("X-Id", "a1b2c3d4e5f60718"),))
def test_the_scanner_run_in_c_gives_what_calling_it_gives(
        body: bytes, url: str, hs: tuple[tuple[str, str], ...]) -> None:
    """expand.c runs a Scanner's own scan method itself (scanner.c), making match objects
    only for layers that matched; any other scan it calls. Same layers, same matches."""
    rs = root_pairs(message(body, url, hs))
    assert isinstance(getattr(MATCHER.scan, "__self__", None), _detect.Scanner)  # run in C
    direct = _detect.expand(rs, Decoder().hooks(MATCHER.scan))
    called = _detect.expand(rs, Decoder().hooks(lambda data: MATCHER.scan(data)))
    assert direct == called
    if direct is not False:
        assert all(type(h) is Match and h.pattern in MATCHER.patterns
                   for _chain, _data, hits in direct for h in hits)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
@example("")
@example("a" * 10_000 + "😀\ud800")
def test_java_hash_in_c_is_the_python_one(s: str) -> None:
    assert _detect.java_hash(s) == java_hash_py(s)


def test_java_hash_is_javas() -> None:
    # what Java 17 printed for "hello".hashCode() and the others (java H.java)
    assert java_hash_py("hello") == 99162322
    assert java_hash_py("polygenelubricants") == -2147483648
    assert _detect.java_hash("😀") == java_hash_py("\ud83d\ude00") == 1772899


def test_the_budget_note_comes_first() -> None:
    """The budget note is written once, and first among a message's notes (they are cut at
    five): it was written only while there were none, so the depth-limit notes met first
    hid that the rest of the message was not scanned."""
    v = NEEDLES[0].value
    deep = v.encode()
    for _ in range(5):
        deep = _b64(b"some text " + deep).encode()
    body = json.dumps({"a": deep.decode(), "b": [
        _b64(json.dumps({"k": v + str(i), "j": "x" + v}).encode()) for i in range(30)]})
    decoder = Decoder(None, Budget(max_depth=3, max_layers=60))
    m = message(body.encode(), "https://sa.lab.test/", ())
    list(decoder.matched(root_pairs(m), MATCHER.scan))
    notes = decoder.budget.notes
    assert notes[0] == (f"decode budget reached (60 layers, {decoder.budget.bytes} bytes);"
                        " deeper content not scanned")
    assert len(notes) > 5
    assert all(n.startswith("depth limit at ") for n in notes[1:])


def test_notes_past_the_shown_ones_are_counted() -> None:
    """A message's decoder notes are cut at NOTES_SHOWN; how many more there were is said
    (they were dropped unsaid), in the C walk's hand-back and the Python walk alike."""
    def deep(i: int) -> str:
        blob = f"{NEEDLES[0].value}-{i}".encode()
        for _ in range(12):  # past the default depth limit (10)
            blob = _b64(b"some text " + blob).encode()
        return blob.decode()

    body = json.dumps({f"k{i}": deep(i) for i in range(8)}).encode()
    for compiled in (True, False):
        notes: list[str] = []
        find([message(body, "https://sa.lab.test/", ())], NEEDLES, None, notes, compiled)
        assert len(notes) == NOTES_SHOWN + 1, notes
        assert all(": depth limit at " in n for n in notes[:NOTES_SHOWN])
        assert notes[-1].endswith(f": {8 - NOTES_SHOWN} more decoder notes not shown")


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["x" * 30, "1f23d56ba35a89719b54a33f", "A" * 24, "A" * 23, "A" * 25,
                        "A" * 26, "A" * 27, _b64(b"a1b2c3d4e5f60718 and text")[:-2],
                        "YTFiMmMzZDRlNWY2MDcxOA", "-_" * 14, "+/" * 14])
       | st.binary(min_size=14, max_size=40).map(
           lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
       st.sampled_from(["", " ", "\n\t", " \r\n\x0b\x0c"]), st.sampled_from(["", "=", "==", "==="]),
       st.sampled_from(["", " ", "\n", "\x00", " tail"]))
@example("1f23d56ba35a89719b54a33f", " ", "", "")  # a session id: base64, not kept
def test_a_layer_that_is_one_base64_run(run: str, lead: str, pad: str, trail: str) -> None:
    # children.c searches such a layer for runs in text only where the whole-layer base64
    # test did not apply (a run kept, or not one run): the same layers either way
    check(message((lead + run + pad + trail).encode(), "https://sa.lab.test/", ()))


def test_every_byte_ends_a_base64_run_where_the_class_says() -> None:
    # bytetests.h reads a run sixteen bytes at a time (SSE2) and the rest one by one: each
    # byte value, in a whole-layer run and in a run inside text, in both parts (the layers
    # scanned compared: check()'s findings would take a minute here)
    run = _b64(b"id: a1b2c3d4e5f60718 and some more text to decode")  # 68 characters
    for c in range(256):
        for at in (0, 15, 16, 31, 60):
            body = run[:at].encode() + bytes([c]) + run[at + 1:].encode()
            for m in (message(body, "https://sa.lab.test/", ()),
                      message(b"say " + body, "https://sa.lab.test/", ())):
                assert scanned(m, True) == scanned(m, False), body


def test_every_byte_ends_a_form_name_where_the_class_says() -> None:
    # bytetests.h reads a form's names sixteen bytes at a time (SSE2) and the rest one by
    # one: each byte value at places in both parts of a first name and of a second one
    name = "abcdefghijklmnopqrstuvwxyz0123456789"
    for c in range(256):
        for at in (0, 15, 16, 31, 35):
            bad = name[:at].encode() + bytes([c]) + name[at + 1:].encode()
            for body in (bad + b"=a1b2c3d4e5f60718&b=2", b"a=1&" + bad + b"=v&c=",
                         bad + b"==&&x=1"):
                m = message(body, "https://sa.lab.test/", ())
                assert scanned(m, True) == scanned(m, False), body
