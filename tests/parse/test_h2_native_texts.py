"""The C HTTP/2 reader's shortcuts against the Python reference (``h2ref._Direction``), where
a shortcut could go wrong without the generated connections of test_h2_native showing it:

- header names and ASCII values kept between calls by their bytes (h2headers.c's tables):
  the same bytes as a name and as a value that is not UTF-8, texts of every length around
  the hash's eight-byte ends and the table's length limit, texts that share a slot;
- the URL joined from texts of each kind (one byte, two, four; a str that is not text);
- gRPC content types lowered in C when ASCII (test_h2_native's finished bodies have more),
  and the names that name a coding, read from a name's bytes;
- the chunk an offset is in, found from the last one (events of one byte each, empty
  events between them, seqs out of order);
- closed streams reused for the next ones (bodies on either side of the size whose buffer
  is kept, streams reset and pushed in between).
"""

from __future__ import annotations

import gzip
import tracemalloc

import hpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.parse import http2
from harness.parse.reassembly import ConnFacts, Flow
from tests.parse.test_h2_native import _both, _flow, frame

FACTS = ConnFacts("c", "native.tls", "tls", "10.0.0.2", 443, "s.test")


def _request(headers: list[tuple[bytes, bytes]], body: bytes = b"") -> bytes:
    block = bytes(hpack.Encoder().encode(headers, huffman=False))
    end = 0 if body else http2.END_STREAM
    return http2.PREFACE + frame(http2.HEADERS, http2.END_HEADERS | end, 1, block) + \
        (frame(http2.DATA, http2.END_STREAM, 1, body) if body else b"")


def _read(headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
    _both(Flow("out", _request(headers, body)), Flow("in"), FACTS)


# Texts whose hash (length, first and last eight bytes) is the same: each takes the slot of
# the one before, and only the bytes between tell them apart.
SAME_SLOT = [b"abcdefgh" + bytes([c]) * 5 + b"12345678" for c in b"xyz\xe9"]
LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 255, 256, 257, 300]


@pytest.mark.parametrize("text", [
    b"h\xe9", b"\xe9" * 9, b"caf\xc3\xa9", b"\xff\xfe", *SAME_SLOT,
    *[b"v" * n for n in LENGTHS], *[b"\xe9" * n for n in LENGTHS]])
def test_the_same_bytes_as_name_and_value_read_alike(text: bytes) -> None:
    """A latin-1 name kept in the table is never taken for a value that is not UTF-8 (the
    value's note must still come), in either order and across calls."""
    _read([(b":method", b"GET"), (b"x-" + text, text), (b"x-b", text)])
    _read([(b":method", b"GET"), (b"x-c", text), (b"x-" + text, b"1")])
    _read([(b":method", b"GET"), (text or b"e", text), (b"x-" + text, text)])


@pytest.mark.parametrize(("first", "then"), [(b"caf\xc3\xa9", b"caf\xe9"),
                                             (b"\xc3\xa9" * 9, b"\xe9" * 9)])
def test_a_latin1_value_is_not_taken_for_its_bytes_read_alike(first: bytes, then: bytes) -> None:
    """A UTF-8 value of one-byte characters that are not ASCII is not kept in the table: its
    characters are the bytes of another value, which is not UTF-8 and must get its note."""
    _read([(b":method", b"GET"), (b"x-a", first)])
    _read([(b":method", b"GET"), (b"x-a", then)])


def test_many_latin1_values_read_alike() -> None:
    """The same in bulk: a thousand such pairs in one block, so that some pairs share a slot
    of the table whatever its hash (a value kept there must never serve the other)."""
    pairs = [(f"{k}\xe9".encode(), f"{k}\xe9".encode("latin-1")) for k in range(1000)]
    _read([(b":method", b"GET"), *((b"x-" + name, v) for a, b in pairs
                                   for name, v in ((b"a", a), (b"b", b)))])


def test_many_texts_alike_but_the_end_read_alike() -> None:
    """Names and values of every length texttable.h compares apart (under 4 bytes, under 8,
    up to 16, more), so many of each that differ only in their last bytes (every byte, for
    the short ones) that some share a slot whatever its hash: only a comparison of every
    byte tells them apart."""
    texts = [(b"v" * 24 + str(i).encode())[-n:] for n in range(1, 24)
             for i in range(min(300, 10 ** n))] + \
        [start + bytes([c]) for start in (b"", b"a", b"ab", b"abc") for c in range(256)]
    _read([(b":method", b"GET"), *((b"x" + t, t) for t in texts)])
    _read([(b":method", b"GET"), *((t, b"y" + t) for t in reversed(texts))])


@pytest.mark.parametrize("name", [b"content-encoding", b"Content-Encoding", b"xontent-encoding",
                                  b"content-encodinx", b"transfer-encoding", b"Transfer-encodinG",
                                  b"xransfer-encoding", b"content-type", b"xontent-type",
                                  b"content-typx", b"content-encodin", b"\xe9ontent-encoding"])
def test_coding_names_read_alike(name: bytes) -> None:
    """Only the names Draft.header matches name a coding: the body is undone by them alone."""
    _read([(b":method", b"POST"), (name, b"gzip"), (b"content-type", b"application/grpc")],
          gzip.compress(b"\x00\x00\x00\x00\x02hi"))


def test_coding_names_near_misses_read_alike() -> None:
    """Each character of each name that names a coding or a type in capitals, as the
    characters next to A-Z and as itself less or plus 0x20 (a "\\r" where the name has "-"):
    compared eight at a time, only the names str.lower() takes to it act."""
    from tests.parse.test_http1_c_texts import near_misses

    for looked_up in ("content-encoding", "transfer-encoding", "content-type"):
        for name in [looked_up.upper().encode(), *near_misses(looked_up)]:
            _read([(b":method", b"POST"), (name, b"gzip"), (b"content-type", b"application/grpc")],
                  gzip.compress(b"\x00\x00\x00\x00\x02hi"))
            _read([(b":method", b"POST"), (name, b"application/grpc")],
                  b"\x00\x00\x00\x00\x02hi")


texts = st.sampled_from([*SAME_SLOT, b"", b"a", b"abcdefgh", b"abcdefgh1", b"\xe9",
                         b"caf\xc3\xa9", b"caf\xe9",
                         "кот".encode(), b"\xf0\x9d\x84\x9e", b"v" * 256, b"v" * 257])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(texts, texts), max_size=6), min_size=1, max_size=4))
def test_texts_reused_between_connections_read_alike(
        blocks: list[list[tuple[bytes, bytes]]]) -> None:
    for fields in blocks:
        _read([(b":method", b"GET"), *((b"x-" + k, v) for k, v in fields)])


@pytest.mark.parametrize("authority", ["a.test", "caf\xe9.test", "кот.test", "\U0001d11e.test",
                                       "", None])
@pytest.mark.parametrize("path", ["/", "/caf\xe9", "/кот", "/\U0001d11e", None])
@pytest.mark.parametrize("scheme", ["https", "h\xe9", None])
@pytest.mark.parametrize("facts", [FACTS, ConnFacts("c", "native.tcp", "tcp"),
                                   ConnFacts("c", "native.tcp", "tcp", None, 80, "")])
def test_urls_of_every_text_kind_read_alike(authority: str | None, path: str | None,
                                            scheme: str | None, facts: ConnFacts) -> None:
    """Every mix of one-, two- and four-byte texts; no authority with an SNI, an address,
    or neither (the URL then says None, as the f-string does)."""
    headers = [(b":method", b"GET")] + [
        (name, value.encode()) for name, value in ((b":authority", authority),
                                                   (b":path", path), (b":scheme", scheme))
        if value is not None]
    _both(Flow("out", _request(headers)), Flow("in"), facts)


@pytest.mark.parametrize("odd", [b":", b":m", b":methods", b":Method", b":s", b":statu",
                                 b":schemes", b":a", b":authority2", b":p", b":paths", b"::"])
def test_odd_pseudo_names_read_alike(odd: bytes) -> None:
    """Names that start as a pseudo-header does and are none: before and after each one."""
    fields = [(b":status", b"204"), (b":method", b"GET"), (b":scheme", b"http"),
              (b":authority", b"a.test:8080"), (b":path", b"/p")]
    _read([(odd, b"x"), *fields, (odd, b"y")])
    _read([*fields[:2], (odd, b"1"), *fields[2:], (odd, b"2")])


@pytest.mark.parametrize("ctype", [
    "application/grpc", "application/grp", "application/grpx", "application/json",
    "applicatioN/grpc", "application/grpc-web-text",
    "application/grpc;" + "y" * 226 + "grpc-web-text",  # 256 characters, the last ones
    "application/grpc;" + "y" * 227 + "grpc-web-text",  # 257: lowered in Python
    "application/grpc" + "x" * 300, "APPLICATION/gRPC+proto", "application/grpc\xe9"])
def test_grpc_content_types_read_alike(ctype: str) -> None:
    """A body the C takes for gRPC goes back to Python; one it does not is never unframed:
    a wrong no would show."""
    _read([(b":method", b"POST"), (b"content-type", ctype.encode())],
          b"\x00\x00\x00\x00\x02hi")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=3), st.data())
def test_one_byte_events_read_alike(empties: list[int], data: st.DataObject) -> None:
    """Every byte its own event, with empty events between some, so that the chunk found
    last and the one after it are right, wrong and equal in turn."""
    out = _request([(b":method", b"GET"), (b":path", b"/a")], b"body") + \
        frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, 3,
              bytes(hpack.Encoder().encode([(b":method", b"GET")])))
    inn = frame(http2.HEADERS, http2.END_HEADERS, 1,
                bytes(hpack.Encoder().encode([(b":status", b"200")]))) + \
        frame(http2.DATA, 0, 1, b"x" * 30) + frame(http2.DATA, http2.END_STREAM, 1, b"y")
    cuts = list(range(len(out))) + data.draw(st.lists(st.integers(0, len(out)), max_size=20))
    seqs = data.draw(st.lists(st.integers(0, 1000), min_size=1, max_size=3))
    _both(_flow("out", out, cuts, [], seqs),
          _flow("in", inn, [i for i in range(len(inn)) if i % (empties[0] + 1) == 0] * 2,
                empties, []), FACTS)


@pytest.mark.parametrize("sizes", [[70_000, 3, 0], [60_000, 70_000, 5], [0, 65_536, 65_537, 1]])
def test_streams_one_after_another_read_alike(sizes: list[int]) -> None:
    """Each stream opened after the one before closed, so it reuses it: its body, headers,
    events and state must all be its own."""
    enc, out = hpack.Encoder(), [http2.PREFACE]
    for i, size in enumerate(sizes):
        sid = 2 * i + 1
        head = [(b":method", b"POST"), (b":path", b"/%d" % i)] + \
            ([(b"content-encoding", b"gzip")] if i == 1 else [])
        body = gzip.compress(b"z" * size) if i == 1 else bytes([65 + i]) * size
        out.append(frame(http2.HEADERS, http2.END_HEADERS, sid, bytes(enc.encode(head))))
        for k in range(0, len(body), 16384):
            out.append(frame(http2.DATA, 0, sid, body[k : k + 16384]))
        out.append(frame(http2.RST_STREAM, 0, sid, b"\x00\x00\x00\x08") if i == 0 else
                   frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, sid,
                         bytes(enc.encode([(b"grpc-status", b"0")]))))
    inn = frame(http2.PUSH_PROMISE, http2.END_HEADERS, 1, b"\x00\x00\x00\x02\x82\x84") + \
        frame(http2.HEADERS, http2.END_HEADERS, 2, bytes(hpack.Encoder().encode(
            [(b":status", b"200")]))) + frame(http2.DATA, http2.END_STREAM, 2, b"pushed")
    _both(_flow("out", b"".join(out), [5, 70_000], [], []), _flow("in", inn, [9], [], []),
          FACTS)


def test_streams_reused_hold_nothing_of_the_last() -> None:
    """A stream kept for reuse lets go of its headers, URL and notes: reading the same
    connection again and again does not grow the memory held."""
    out = _request([(b":method", b"GET"), (b":path", b"/leak"), (b"x-a", "\xe9".encode())],
                   b"body") + frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, 3,
                                    b"\x82\x84")  # the second stream reuses the first
    flows = (_flow("out", out, [3, 30], [], []), Flow("in"))

    def held() -> int:
        for _ in range(300):
            http2.parse(*flows, FACTS)
        return tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        before = held()
        assert held() - before < 30_000
    finally:
        tracemalloc.stop()
