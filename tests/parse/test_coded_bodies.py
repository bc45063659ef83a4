"""Coded bodies finished in C (zinflate.c's zs_body from _http1.c and h2stream.c) against
http1.finish_body in Python, the reference, which the parsers' Python routes call
(``compiled=False``, ``native=False``).

The C undoes a body's coding itself only when Content-Encoding and Transfer-Encoding name
exactly one of gzip, x-gzip and deflate and it decodes whole within the budget; everything
else still goes to finish_body. So the bodies here are gzip (several members, NULs or
garbage after), zlib and raw deflate, whole, truncated and corrupted, under budgets at
their edges, named with the spellings where the two could part (case, whitespace that
str.strip takes and bytes.strip does not, commas, Unicode, several codings, br/zstd), in
HTTP/1 (Content-Length and chunked) and HTTP/2 (split over DATA frames, gRPC inside).
"""

from __future__ import annotations

import gzip
import zlib

import hpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.parse import _hpack, _http1, http1, http2
from harness.parse.draft import Draft
from harness.parse.message import MessageKind
from harness.parse.reassembly import Coded, ConnFacts
from tests.parse import test_h2_native as h2t
from tests.parse import test_http1_c as h1t
from tests.parse.test_encoding import GZIP, RAW, ZLIB, _compress

FACTS = ConnFacts("c", "native.tls", "tls", "10.0.0.1", 443, sni="s.test")

SPELLINGS = ["gzip", "GZIP", "Gzip", " gzip ", "\tgzip", "gzip\x1c", "\x1fgzip", "x-gzip",
             "X-GZIP", "deflate", "DEFLATE", " deflate", "gzip,", ",gzip", " , gzip , ",
             "identity, gzip", "gzip, identity", "gzip, gzip", "deflate, gzip", "br", "zstd",
             "br, gzip", "gzip\xa0", "\u2000gzip", "gzi\u212ap", "g\u0130zip", "gzi p", "",
             " ", ",", "chunked", "gzip;q=1", "gzip\x00"]
"""Content-Encoding values: undone in C, left to Python, or nothing to undo."""

TRANSFER = [None, None, "chunked", "Chunked", "gzip, chunked", "deflate, chunked",
            "chunked, gzip", "gzip", "identity", "x-gzip, CHUNKED", "chun\u212aed"]
"""Transfer-Encoding values (None: no header); with "chunked" in them the body is framed
chunked, else by Content-Length."""


payloads = st.one_of(
    st.binary(max_size=600),
    st.lists(st.sampled_from([b"a", b"{\"id\": 1}", b"\x00", b"token=", b"\xff" * 30]),
             max_size=200).map(b"".join))


@st.composite
def coded(draw: st.DrawFn) -> tuple[bytes, int]:
    """A gzip, zlib or raw deflate body (maybe damaged) and the size of what it holds."""
    wbits = draw(st.sampled_from([GZIP, ZLIB, RAW]))
    members = draw(st.lists(payloads, min_size=1, max_size=3 if wbits == GZIP else 1))
    data = b"".join(_compress(p, wbits, draw(st.integers(0, 9))) for p in members)
    data += draw(st.sampled_from([b"", b"", b"\x00" * 70, b"garbage", b"\x00" * 64 + b"x",
                                  gzip.compress(b"next", mtime=0)]))
    damage = draw(st.integers(0, 5))
    if damage == 0:  # truncated
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == 1 and data:  # one byte changed
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    return data, sum(map(len, members))


@st.composite
def budgets(draw: st.DrawFn, size: int) -> int:
    return draw(st.sampled_from([size - 1, size, size + 1, 0, 1, 1 << 20, size // 2]))


def _h1(start: bytes, names: tuple[str, str], ce: str | None, te: str | None, body: bytes,
        enc: str, split: int) -> bytes:
    lines = [start]
    if ce is not None:
        lines.append(names[0].encode() + b": " + ce.encode(enc, "replace"))
    if te is not None:
        lines.append(names[1].encode() + b": " + te.encode(enc, "replace"))
    if te is not None and "chunked" in te.lower():
        parts = [p for p in (body[:split], body[split:]) if p]
        wire = b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in parts) + b"0\r\n\r\n"
    else:
        lines.append(b"Content-Length: %d" % len(body))
        wire = body
    return b"\r\n".join(lines) + b"\r\n\r\n" + wire


header_names = st.tuples(
    st.sampled_from(["Content-Encoding", "content-encoding", "CONTENT-ENCODING"]),
    st.sampled_from(["Transfer-Encoding", "transfer-encoding"]))


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data(), coded(), coded(), st.sampled_from(SPELLINGS), st.sampled_from(SPELLINGS),
       st.sampled_from(TRANSFER), header_names, st.sampled_from(["utf-8", "latin-1"]))
def test_http1_bodies_finish_alike(data: st.DataObject, req: tuple[bytes, int],
                                   resp: tuple[bytes, int], ce_out: str, ce_in: str,
                                   te: str | None, names: tuple[str, str], enc: str) -> None:
    budget = data.draw(budgets(max(req[1], resp[1])))
    split = data.draw(st.integers(0, len(req[0])))
    out = _h1(b"POST /p HTTP/1.1\r\nHost: h.test", names, ce_out, te, req[0], enc, split)
    if data.draw(st.booleans()):  # a second Content-Encoding: the first one counts
        out = out.replace(b"\r\n\r\n", b"\r\nContent-Encoding: br\r\n\r\n", 1)
    inn = _h1(b"HTTP/1.1 200 OK", names, ce_in, te, resp[0], enc, split)
    cuts = data.draw(st.lists(st.integers(0, len(out)), max_size=3))
    h1t._same(h1t._flow("out", out * 2, cuts, {}), h1t._flow("in", inn * 2, cuts, {}), FACTS,
              budget)


def _h2(enc: hpack.Encoder, head: list[tuple[str, str]], body: bytes, pieces: int,
        sid: int = 1) -> bytes:
    frames = [h2t.frame(http2.HEADERS, http2.END_HEADERS, sid,
                        h2t._encode(enc, head, False))]  # type: ignore[arg-type]
    for i in range(pieces):
        part = body[len(body) * i // pieces : len(body) * (i + 1) // pieces]
        frames.append(h2t.frame(http2.DATA, http2.END_STREAM if i == pieces - 1 else 0, sid,
                                part))
    return b"".join(frames)


def _grpc(payload: bytes) -> bytes:
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data(), coded(), coded(), st.sampled_from(SPELLINGS), st.sampled_from(SPELLINGS),
       st.sampled_from(TRANSFER), st.sampled_from(["content-encoding", "Content-Encoding"]),
       st.sampled_from([None, "text/plain", "application/grpc"]))
def test_http2_bodies_finish_alike(data: st.DataObject, req: tuple[bytes, int],
                                   resp: tuple[bytes, int], ce_out: str, ce_in: str,
                                   te: str | None, name: str, ctype: str | None) -> None:
    budget = data.draw(budgets(max(req[1], resp[1])))
    if ctype == "application/grpc" and data.draw(st.booleans()):  # gRPC framing inside
        resp = data.draw(st.sampled_from([
            (gzip.compress(_grpc(b"msg") + _grpc(b"\x08\x01"), mtime=0), 13),
            (gzip.compress(b"", mtime=0), 0)]))  # nothing inside: no gRPC to unframe
    extra = [("transfer-encoding", te)] if te is not None else []
    extra += [("content-type", ctype)] if ctype is not None else []
    head = [(":method", "POST"), (":path", "/p"), (":scheme", "https"),
            (":authority", "a.test"), (name, ce_out), *extra]
    out = http2.PREFACE + _h2(hpack.Encoder(), head, req[0], data.draw(st.integers(1, 3)))
    inn = _h2(hpack.Encoder(), [(":status", "200"), (name, ce_in), *extra], resp[0],
              data.draw(st.integers(1, 3)))
    cuts = data.draw(st.lists(st.integers(0, len(inn)), max_size=3))
    h2t._both(h2t._flow("out", out, [], [], []), h2t._flow("in", inn, cuts, [], []), FACTS,
              budget)


def _counting(calls: list[int]) -> object:
    def finish_body(d: Draft, wire: bytes, budget: int = 1 << 20,
                    coded: dict[int, Coded | None] | None = None) -> None:
        calls.append(1)
        http1.finish_body(d, wire, budget, coded)
    return finish_body


def test_one_coding_that_decodes_whole_is_finished_in_c() -> None:
    """What the differential tests compare is the C finishing the common body: it calls
    finish_body only for the others."""
    calls: list[int] = []
    _http1.setup(Draft, MessageKind.REQUEST, MessageKind.RESPONSE, MessageKind.RAW,
                 _counting(calls), http1.MAX_HEAD)
    try:
        for ce, body, python in [("gzip", gzip.compress(b"x" * 9), False),
                                 ("Deflate", zlib.compress(b"x"), False),
                                 ("deflate", _compress(b"x", -zlib.MAX_WBITS, 6), False),
                                 ("br", b"x", True), ("gzip, gzip", b"x", True),
                                 ("gzip", gzip.compress(b"x" * 9)[:-1], True)]:
            calls.clear()
            wire = _h1(b"POST / HTTP/1.1", ("Content-Encoding", ""), ce, None, body, "utf-8", 0)
            (d,) = http1.parse_requests(h1t._flow("out", wire, [], {}), 0, FACTS).drafts
            assert len(calls) == int(python)
            assert python or d.meta["content_encoding"] == ce.lower()
    finally:
        _http1.setup(Draft, MessageKind.REQUEST, MessageKind.RESPONSE, MessageKind.RAW,
                     http1.finish_body, http1.MAX_HEAD)
    enc = hpack.Encoder()
    inn = _h2(enc, [(":status", "200"), ("content-encoding", "gzip")],
              gzip.compress(b"y" * 9), 2) + \
        _h2(enc, [(":status", "200"), ("content-encoding", "br")], b"y", 1, 3)
    flow = h2t._flow("in", inn, [], [], [])
    starts, seqs = flow.columns()
    done, pending, _ = _hpack.read_frames(flow, FACTS, MessageKind.RESPONSE, 0, starts, seqs,
                                          {}, 4096, 1 << 20, 1 << 20)
    assert [d.body for d in done[:1]] == [b"y" * 9]
    assert [d.meta["stream"] for d, _flags in pending] == [3]
