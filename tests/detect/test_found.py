"""find() with its loop in C (harness/detect/found.c: verification, chains, the seen set,
excerpts) and its roots in C (roots.c) against find(compiled=False), the Python walk, loop
and urllib.parse: the same findings and notes, in the same order, for generated runs of
messages (odd and non-ASCII URLs, headers that are not ASCII or not UTF-8, needles in
base64 at every alignment and in both alphabets, blobs that a raw body goes on after, near
misses a byte off or cut short, nested encodings, bodies past the depth limit, message ids
that repeat)."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import itertools
import json
import urllib.parse
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.detect import _detect
from harness.detect.decoders import Decoder
from harness.detect.derive import derive
from harness.detect.finding import Finding, Needle
from harness.detect.findings import (
    CONTROL_HOSTS,
    EXCERPT,
    UNCUT,
    _controls,
    _plan,
    find,
    find_unnumbered,
    render,
)
from harness.detect.matcher import Matcher
from harness.detect.rootpairs import root_pairs
from harness.device.base import NeedleClass
from harness.parse.message import Message, MessageKind
from tests.detect.test_expand import NEEDLES, bodies, headers
from tests.detect.test_roots import urls

ID = NEEDLES[0].value.encode()


AROUND = ((b"k=", b"&z=1"), (b"data ", b" tail"), (b"\x85", b"\r\n"), (b"t ", b'"}'))
"""What a blob sits between: a form value (a layer that ends where the blob does), or other
bytes of a raw body that decodes to no layer ending there (the groups verified must stop at
the blob's last character)."""


def _b64_at(shift: int, url: bool, near: bool, pad: bytes, edge: bytes = b"x",
            tail: bytes = b"tail", around: tuple[bytes, bytes] = AROUND[0]) -> bytes:
    """The needle inside a larger base64 blob, ``shift`` bytes into its group, after bytes
    of ``edge`` and before ``tail`` (0xfb and 0xff put '+/' or '-_' in the groups it shares
    with them), the blob between the bytes ``around``; ``near`` changes its last byte (a
    near miss the matched characters cannot tell apart)."""
    value = ID[:-1] + (b"9" if near else ID[-1:])
    raw = edge * shift + value + tail
    enc = base64.urlsafe_b64encode(raw) if url else base64.b64encode(raw)
    return around[0] + enc.rstrip(b"=") + pad + around[1]


aligned = st.builds(_b64_at, st.integers(0, 2), st.booleans(), st.booleans(),
                    st.sampled_from([b"", b"=", b"==", b"-", b"_x", b"+/"]),
                    st.sampled_from([b"x", b"\xfb", b"\xff"]),
                    st.sampled_from([b"", b"t", b"ta", b"tail", b"\xff", b"\xfb\xff"]),
                    st.sampled_from(AROUND))
SWAP = bytes.maketrans(b"+/-_", b"-_+/")
"""Each alphabet's own characters to the other's that read the same bits."""


def _swapped(body: bytes, i: int) -> bytes:
    """``body`` with one of its '+', '/', '-' or '_' in the other alphabet (a blob of mixed
    alphabets, or one that a byte of the other's ends)."""
    marks = [k for k, c in enumerate(body) if c in b"+/-_"]
    k = marks[i % len(marks)] if marks else len(body)
    return body[:k] + body[k:k + 1].translate(SWAP) + body[k + 1:]


aligned = aligned | st.builds(_swapped, aligned, st.integers(0, 40))
text = st.text(max_size=12) | st.sampled_from(["é", "\udce9", "\ud800", "Ａ", "İ", "ß"])
odd_headers = st.lists(st.tuples(st.sampled_from(["X-Id", "COOKIE", "É-Name", "x_İ"]) | text,
                                 text | st.just(NEEDLES[0].value)), max_size=3).map(tuple)


def message(mid: str, body: bytes, url: str, hs: tuple[tuple[str, str], ...],
            kind: MessageKind = MessageKind.REQUEST, host: str = "sa.lab.test") -> Message:
    return Message(id=mid, kind=kind, t=1.0, direction="out", source="native.tls",
                   method="POST", host=host, url=url, body=body, headers=hs, phase="p")


messages = st.builds(
    message, st.sampled_from(["m1", "m2", "m3"]), bodies | aligned,
    urls | st.sampled_from(["https://sa.lab.test/i?d=" + base64.b64encode(b"xa1b2c3d4e5f60718")
                            .decode(), "https://canary.lab.test/c/cnry42?q=qz%D0%BA"]),
    headers | odd_headers, st.sampled_from(list(MessageKind)),
    st.sampled_from(["sa.lab.test", *CONTROL_HOSTS]))


def same(ms: list[Message], needles: list[Needle] = NEEDLES) -> list[Finding]:
    """The findings of ``ms``, once it is checked that C and Python give the same."""
    notes_py: list[str] = []
    notes_c: list[str] = []
    got = find(ms, needles, None, notes_c)
    assert got == find(ms, needles, None, notes_py, compiled=False)
    assert notes_c == notes_py
    return got


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(messages, min_size=1, max_size=4))
@example([message("m1", b"t " + base64.b64encode(b"x" + ID + b"yy") + b" u",
                  "https://sa.lab.test/a b?id=a1b2c3d4e5f60718&id=a1b2c3d4e5f60718", ())] * 2)
@example([message("m1", b"k=" + base64.b64encode(b"xx" + ID[:-1] + b"9") + b"&z",
                  "//h/p?q#f", (("X-İd", "\udce9a1b2c3d4e5f60718"),))])
def test_generated_runs_give_the_same_findings(ms: list[Message]) -> None:
    same(ms)


def test_base64_at_every_alignment_and_its_near_misses() -> None:
    # the value inside the blob or at its end, the blob a form value or in a raw body
    for shift, url, near, pad, (tail, around) in itertools.product(
            range(3), (False, True), (False, True), (b"", b"=", b"==", b"-", b"_x", b"+/"),
            ((b"tail", AROUND[0]), (b"", AROUND[0]), (b"", AROUND[1]), (b"t", AROUND[1]))):
        body = _b64_at(shift, url, near, pad, tail=tail, around=around)
        got = same([message("m1", body, "https://sa.lab.test/", ())])
        assert any(f.needle == "id" for f in got) is (not near), (body, got)
    for shift, url, edge, tail, around in itertools.product(
            range(3), (False, True), (b"\xfb", b"\xff"), (b"", b"\xff", b"\xfb\xff"), AROUND[:2]):
        # a url-safe blob's '-' or '_' next to a value whose own characters are the same in
        # both alphabets: the standard derivation matches, and verifies in the url-safe one
        body = _b64_at(shift, url, False, b"", edge, tail, around)
        chains = [f.chain for f in same([message("m1", body, "https://h/", ())])
                  if f.needle == "id"]
        assert chains, body
        assert url or not any("derive:base64url@" in c[-1] for c in chains), (body, chains)


def _ids(body: bytes) -> list[tuple[str, ...]]:
    return [f.chain for f in same([message("m1", body, "https://h/", ())]) if f.needle == "id"]


def test_the_groups_verified_stop_where_the_blob_does() -> None:
    """A value at the end of an unpadded blob that a raw body goes on after: found as where
    the body ends with the blob (on main the groups decoded took in the bytes after it, and
    refused it). What stops them is the first byte that is no base64 character, so a blob
    cut inside the value's last group, or broken there by such a byte, is refused: the
    characters left do not decode to its last byte (for one of them, to nothing)."""
    for shift, url, edge, around in itertools.product(range(3), (False, True), (b"x", b"\xff"),
                                                      AROUND):
        body = _b64_at(shift, url, False, b"", edge, b"", around)
        ended = _b64_at(shift, url, False, b"", edge, b"", (around[0], b""))
        assert _ids(body) == _ids(ended) != [], body
        blob = body[len(around[0]):len(body) - len(around[1])]
        for cut in (blob[:-1], blob[:-1] + b" " + blob[-1:], blob[:-2] + b"=" + blob[-2:]):
            assert _ids(around[0] + cut + around[1]) == [], cut


TILDE = Needle("tilde", NeedleClass.DEVICE_ID, "a1~~~b2c3d4e5f6", "device")
"""A value whose base64 holds '+' (standard) or '-' (url-safe) at every alignment: its own
characters name the alphabet of a blob around it."""
BINARY = b"\xff\xfe\xfd" * 2
"""Whole groups of a blob before a value's ('//79' or '__79'): the blob decoded is no
layer (not plausible), so what is found of the value is its derivations'."""


def _derived(needle: Needle, body: bytes) -> list[tuple[str, ...]]:
    return [f.chain for f in same([message("m1", body, "https://h/", ())], [*NEEDLES, TILDE])
            if f.needle == needle.name]


def _encoded(url: bool, raw: bytes) -> bytes:
    return (base64.urlsafe_b64encode if url else base64.b64encode)(raw).rstrip(b"=")


def test_a_blob_ends_at_a_character_of_the_other_alphabet() -> None:
    """A standard blob that a raw body goes on after with '-' or '_' (a url-safe one with
    '+' or '/'): the first '+', '/', '-' or '_' of the value's groups named the blob's
    alphabet, so the other's end it, and the value is found as where a space follows the
    blob. On main the groups took them in: refused where the standard pattern has a '+' or
    '/', else said to be url-safe. Where nothing in the value's groups names an alphabet,
    the first character after them that does decides: it may name the url-safe one."""
    for needle, shift, edge, url, after in itertools.product(
            (*NEEDLES[:3], TILDE), range(3), (b"x", b"\xfb", b"\xff"), (False, True),
            (b"-x", b"_y", b"-", b"_", b"+x", b"/y", b"+", b"/")):
        if (after[:1] in b"+/") is not url:
            continue
        enc = _encoded(url, BINARY + edge * shift + needle.value.encode())
        spaced = _derived(needle, b"data " + enc + b" " + after)
        got = _derived(needle, b"data " + enc + after)
        assert spaced, enc
        if any(c in enc[8:] for c in b"+/-_"):
            assert got == spaced, (enc, after)
        else:
            assert [(*c[:-1], c[-1].replace("url@", "@")) for c in got] == spaced, (enc, after)


def test_groups_that_mix_the_alphabets_are_refused() -> None:
    """Groups of a value that hold characters of both alphabets ('+' and '_', or '-' and
    '/', as a character of a blob in one alphabet changed to the other's, which reads the
    same bits) are base64 in neither: refused, whichever alphabet the pattern's. On main
    the groups were decoded in either alphabet: a url-safe pattern's accepted a '+', a
    standard pattern that also stands for the url-safe one accepted both. The other
    alphabet's characters in the whole groups before the value's do not count."""
    mixes = 0
    for needle, shift, url in itertools.product((NEEDLES[0], TILDE), (1, 2), (False, True)):
        value = needle.value.encode()
        enc = _encoded(url, BINARY + b"\xfb" * shift + value + b"\xfb\xff")
        size = shift + len(value)
        own = range(8, 8 + size // 3 * 4 + (size % 3 + 1 if size % 3 else 0))
        marks = [i for i in own if enc[i] in b"+/-_"]  # one alone would change the alphabet
        assert _derived(needle, b"data " + enc + b" tail"), enc
        for i in marks if len(marks) > 1 else ():
            mixes += 1
            mixed = enc[:i] + enc[i:i + 1].translate(SWAP) + enc[i + 1:]
            assert _derived(needle, b"data " + mixed + b" tail") == [], mixed
        for i in range(4):
            mixed = enc[:i] + enc[i:i + 1].translate(SWAP) + enc[i + 1:]
            assert _derived(needle, b"data " + mixed + b" tail") == _derived(
                needle, b"data " + enc + b" tail"), mixed
    assert mixes >= 12


def test_the_chain_names_the_alphabet_that_verified() -> None:
    """A value whose own characters are the same in both alphabets, in a blob of binary
    bytes (not decoded as a layer of its own), next to bytes that put '-' or '_' (url-safe)
    or '/' and '+' (standard) in the groups it shares: found in both, and the chain says
    which encoding it was (on main, the url-safe blob gave no finding)."""
    for shift, tail in ((1, b"\xfb\xff"), (2, b"\xff"), (2, b"\xfb\xff")):
        for encode, name in ((base64.urlsafe_b64encode, "base64url"), (base64.b64encode, "base64")):
            body = b"k=" + encode(b"\xff" * shift + ID + tail).rstrip(b"=") + b"&z=1"
            m = message("m1", body, "https://h/", ())
            same([m])
            assert [f.chain[1:] for f in find([m], NEEDLES) if f.needle == "id"] == [
                ("form:k", f"derive:{name}@{shift}")], body


def _blob(value: bytes, before: bytes, after: bytes, url: bool, padded: bool, near: str,
          where: str) -> tuple[bytes, str]:
    """A message's body and URL with ``value`` inside a base64 blob between ``before`` and
    ``after``, in one alphabet, padded or not; ``near`` changes its first or last byte (a
    near miss); ``where`` the blob sits: a JSON string, a form value, a query value
    (percent-encoded), the whole body, a raw body that goes on after it."""
    if near:
        i = 0 if near == "first" else len(value) - 1
        value = value[:i] + bytes([value[i] ^ 1]) + value[i + 1:]
    enc = (base64.urlsafe_b64encode if url else base64.b64encode)(before + value + after)
    enc = enc if padded else enc.rstrip(b"=")
    url_ = "https://sa.lab.test/p"
    if where == "json":
        return b'{"k": "' + enc + b'"}', url_
    quoted = urllib.parse.quote(enc, safe="")  # as a client sends it: '+' is a space there
    if where == "form":
        return f"k={quoted}&z=1".encode(), url_
    if where == "query":
        return b"", f"{url_}?k={quoted}&z=1"
    if where == "raw":
        return b"data " + enc + b" tail", url_
    return enc, url_


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(NEEDLES), st.binary(max_size=7), st.binary(max_size=7), st.booleans(),
       st.booleans(), st.sampled_from(["", "first", "last"]),
       st.sampled_from(["json", "form", "query", "bare", "raw"]))
@example(NEEDLES[0], b"\xfb", b"", True, False, "", "bare")  # '-' before it: refused on main
@example(NEEDLES[0], b"\xff\xff", b"\xff", True, False, "", "bare")  # '_' on both sides
@example(NEEDLES[0], b"\xff\xff", b"\xff", True, False, "last", "bare")
@example(NEEDLES[2], b"", b"\xff", True, True, "", "json")  # its own url-safe derivation
@example(NEEDLES[0], b"", b"", False, False, "", "raw")  # refused on main
@example(NEEDLES[2], b"\xff", b"", True, False, "", "raw")  # refused on main
@example(NEEDLES[2], b"\xff", b"", True, False, "last", "raw")
def test_a_value_in_a_base64_blob_of_either_alphabet(
        needle: Needle, before: bytes, after: bytes, url: bool, padded: bool, near: str,
        where: str) -> None:
    """Whatever the bytes around it and the alphabet, a value inside a base64 blob is found
    (at its derivation, or in the blob decoded), the same in C and in Python; a near miss in
    its first or last byte is not; and no chain says url-safe of a standard blob."""
    body, url_ = _blob(needle.value.encode(), before, after, url, padded, near, where)
    m = message("m1", body, url_, ())
    same([m])
    got = [f for f in find([m], NEEDLES) if f.needle == needle.name]
    assert bool(got) is (not near), (body, url_, got)
    # a std blob's groups hold no '-' or '_': its own alphabet verifies first
    assert url or not any(f.chain[-1].startswith("derive:base64url@") for f in got), got


def test_excerpts_cut_at_both_ends() -> None:
    """Matches at the start and the end of a layer, and EXCERPT bytes from each, or one
    more or less: what is cut, and whether it says so."""
    for before, after in itertools.product((0, 1, EXCERPT - 1, EXCERPT, EXCERPT + 1, 200),
                                           repeat=2):
        body = b"a" * before + ID + b"z" * after
        same([message("m1", body, "https://sa.lab.test/", ())])


def test_nested_past_the_depth_limit_and_repeated_ids() -> None:
    """The most specific findings are chosen for each message as it is done (in C, or after
    the Python walk where C handed back), and over the whole run where ids repeat."""
    deep = ID
    for _ in range(12):
        deep = base64.b64encode(b"some text " + deep)
    nested = gzip.compress(json.dumps({"a": [NEEDLES[0].value, NEEDLES[1].value]}).encode())
    url = "https://sa.lab.test/?id=a1b2c3d4e5f60718&u=" + NEEDLES[1].value
    run = [message("m1", deep, url, ()), message("m2", nested, url, ()),
           message("m3", nested, "https://canary.lab.test/c/cnry42", ()),
           message("m4", b"id=a1b2c3d4e5f60718", url, (("X", NEEDLES[0].value),))]
    same(run)
    same([*run, message("m2", b"id=a1b2c3d4e5f60718&a=" + deep, "https://h/", ())])


def _c_find(m: Message) -> tuple[bool, list[tuple[Any, ...]]]:
    """What found.c appends for one message: each finding with its keep flag."""
    matcher = Matcher([p for n in NEEDLES for p in derive(n)])
    hooks = Decoder().hooks(matcher.scan)
    assert hooks is not None
    found: list[tuple[Any, ...]] = []
    keep: list[bool] = []
    done = _detect.find(root_pairs(m), hooks, _plan(matcher.patterns), EXCERPT,
                        (m.id, m.host, m.phase, _controls(m), m.t), found, set(), keep)
    return done, [(*f, k) for f, k in zip(found, keep, strict=True)]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(messages)
@example(message("m1", json.dumps({"id": NEEDLES[0].value}).encode(),
                 "https://sa.lab.test/p?id=a1b2c3d4e5f60718&q=qz%D0%BA", ()))
def test_only_the_kept_findings_have_their_excerpt_cut(m: Message) -> None:
    """found.c renders a finding's excerpt once the message's own _most_specific choice
    keeps it: the kept ones are the Python loop's findings, excerpts included, and each one
    it drops has UNCUT (its excerpt never made)."""
    done, found = _c_find(m)
    if not done:
        return  # handed back: the Python walk runs
    assert [f[:8] for f in found if f[8]] == find_unnumbered([[m]], NEEDLES, compiled=False)
    assert all(f[3] == UNCUT for f in found if not f[8])


def test_the_common_cases_are_done_in_c() -> None:
    """Not a test that passes by handing everything back to Python."""
    m = message("m1", json.dumps({"id": NEEDLES[0].value}).encode(),
                "https://sa.lab.test/p?id=a1b2c3d4e5f60718&q=qz%D0%BA%D0%BE%D1%82%D0%B8%D0%BA"
                "%D0%B87", (("X-Id", NEEDLES[0].value),))
    assert _detect.roots(m.url or "", "http:POST sa.lab.test", True, m.headers, m.body) \
        == root_pairs(m, compiled=False)
    done, found = _c_find(m)
    assert done
    assert [(f[0].name, f[2][1:], f[8]) for f in found] == [
        ("id", ("url",), False), ("word", ("url", "derive:url"), False),
        ("id", ("query:id",), True), ("word", ("query:q",), True),
        ("id", ("header:x-id",), True), ("id", (), False), ("id", ("json:$.id",), True)]
    # a dropped finding's excerpt is not rendered; a kept one's is
    assert found[1][3] == UNCUT
    assert found[3][3] == render((b"", urllib.parse.unquote_to_bytes(
        "qz%D0%BA%D0%BE%D1%82%D0%B8%D0%BA%D0%B87"), b"", False, False)) == "[[qzкотики7]]"
    done, found = _c_find(message("m1", b"", "https://canary.lab.test/c/cnry42", (),
                                  host="canary.lab.test"))
    assert done
    assert [(f[0].name, f[6]) for f in found] == [("url", True)]
    deep = ID
    for _ in range(12):
        deep = base64.b64encode(b"some text " + deep)
    done, found = _c_find(message("m1", deep, "https://sa.lab.test/", ()))
    assert not done
    assert found == []  # handed back: nothing appended


def test_what_the_loop_reads_of_a_message() -> None:
    """find's loop spells out root_pairs' first step and is_control for the C path, and
    watches for an id that comes twice: requests with a host and an IP, with an IP only,
    to a control host; and one id twice, the second message's finding below the first's
    (the same URL, the value in a JSON body), so the most specific is chosen over both."""
    value = NEEDLES[0].value
    url = "https://sa.lab.test/p"
    for host, ip in (("sa.lab.test", "10.0.0.1"), (None, "10.0.0.1"), (None, None),
                     (next(iter(CONTROL_HOSTS)), "10.0.0.1")):
        for kind in (MessageKind.REQUEST, MessageKind.RAW):
            # ASCII, or roots.c leaves the message to the Python roots
            m = message("m1", value.encode(), url + "?id=" + value,
                        (("Referer", NEEDLES[3].value),))
            same([dataclasses.replace(m, host=host, ip=ip, kind=kind)])
    first = message("m1", value.encode(), url, ())
    second = message("m1", json.dumps({"a": value}).encode(), url, ())
    same([first, second])
    assert [f.chain[1:] for f in find([first, second], NEEDLES)] == [("json:$.a",)]


def test_excerpts_escape_what_is_not_printable() -> None:
    """Bytes that are not UTF-8 become U+FFFD; characters that are not printable become
    ``\\x..`` below U+0100 and stay as they are above (U+2028); the cut ends say so."""
    assert render((b"a\x85", b"\xc2\x85", b"\x00\xff\xe2\x80\xa8", True, False)) == \
        "…a\ufffd[[\\x85]]\\x00\ufffd\u2028"
    assert render((b"", ID, b"\t", False, True)) == f"[[{ID.decode()}]]\\x09…"


def _show(b: bytes) -> str:
    """An excerpt's part as render showed each before it checked the three at once."""
    text = b.decode("utf-8", "replace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else c
                   for c in text)


_parts = st.binary(max_size=12) | st.sampled_from(
    [b"", ID, b"\t", b"\x00", b"\xc2\x85", b"\xe2\x80\xa8", b"\xff", b"\xc3\xa9", b"\x7f"])


@given(_parts, _parts, _parts, st.booleans(), st.booleans())
@example(b"ok", b"\x00", b"ok", False, False)
@example(b"\xc3", b"\xa9", b"", True, True)
def test_render_is_each_part_shown_alone(before: bytes, match: bytes, after: bytes,
                                         cut_before: bool, cut_after: bool) -> None:
    want = (("…" if cut_before else "") + _show(before) + "[[" + _show(match) + "]]"
            + _show(after) + ("…" if cut_after else ""))
    assert render((before, match, after, cut_before, cut_after)) == want
