"""HTTP/2 read in C (``_hpack.read_frames``, harness/parse/h2frames.c) against the Python
reader it stands in for (``h2ref._Direction``, kept as the reference): on generated
connections, both give the same drafts, field by field (headers, bodies, notes, meta,
events, the request each response answers), and the same connection notes.

The connections: conversations of h2's own state machines (valid by construction), frames
written here with hpack's encoder carrying one dynamic table per direction (padding,
priority, CONTINUATION, trailers, 1xx, push, RST_STREAM, GOAWAY, streams interleaved),
then damaged (bytes flipped, cut, junk spliced in, bad padding, oversized and unknown
frames), and random bytes. Each flow is split into events at random points (empty and
truncated events included), which decides the events each draft names.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import hpack
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.parse import http2
from harness.parse.draft import Draft
from harness.parse.message import MessageKind
from harness.parse.reassembly import Chunk, ConnFacts, Flow
from harness.testing.certs import make_pki
from tests.parse.wire import h2_server

FIELDS = [f for f in Draft.__slots__ if f != "request"]  # type: ignore[attr-defined]


def _fields(d: Draft, drafts: list[Draft]) -> dict[str, Any]:
    # each value with its type: the C drafts' slots are written directly, so 0 for 0.0 or
    # a str subclass would otherwise pass
    out: dict[str, Any] = {f: (type(getattr(d, f)), getattr(d, f)) for f in FIELDS}
    # the request a response answers: by its place among the drafts, or by its fields
    req = d.request
    out["request"] = None if req is None else (
        [i for i, x in enumerate(drafts) if x is req] or [_fields(req, [])])
    return out


def _both(out_flow: Flow, in_flow: Flow, facts: ConnFacts, budget: int = 1 << 20,
          out_start: int = 0, in_start: int = 0, upgraded: Draft | None = None) -> list[Draft]:
    got = http2.parse(out_flow, in_flow, facts, budget, out_start, in_start, upgraded)
    want = http2.parse(out_flow, in_flow, facts, budget, out_start, in_start, upgraded,
                       native=False)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert type(g) is Draft
        assert _fields(g, got) == _fields(w, want)
    for f in ("headers", "meta", "notes"):  # each draft's own, as the dataclass makes them
        assert len({id(getattr(g, f)) for g in got}) == len(got)
    return got


def _flow(direction: str, data: bytes, cuts: list[int], lossy: list[int], seqs: list[int]
          ) -> Flow:
    """``data`` as the events a hook would have recorded: split at ``cuts`` (the same cut
    twice is an empty event), the events at ``lossy`` truncated."""
    bounds = sorted(min(c, len(data)) for c in cuts)
    chunks: list[Chunk] = []
    starts: list[int] = []
    prev = 0
    for i, b in enumerate([*bounds, len(data)]):
        seq = seqs[i % len(seqs)] + i if seqs else i
        chunks.append(Chunk(prev, b - prev, seq, 1000.0 + i, 7 if i in lossy else 0))
        starts.append(prev)
        prev = b
    return Flow(direction, data, chunks, starts, bool(lossy))


# ---- frames written here ----

def frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") \
        + payload


names = st.sampled_from([":status", ":method", ":path", ":authority", ":scheme", "host",
                         "Host", "content-type", "content-encoding", "transfer-encoding",
                         "grpc-encoding", "x-a", "X-Canary", "user-agent", "h\xe9"])
values = st.sampled_from(["200", "204", "100", "103", "20", "2000", "0200", "+20", "GET",
                          "POST", "/", "/p?q=1", "a.test", "a.test:443", "[::1]:8443",
                          "::1", "", "gzip", "identity, gzip", "chunked",
                          "application/grpc", "application/grpc+proto", "text/plain",
                          "https", "x" * 50, "caf\xe9", "\u043a\u043e\u0442"])
raw_values = st.binary(max_size=6) | st.just(b"\xff\xfe" + "é".encode("latin-1") * 45)
header_list = st.lists(st.tuples(names, values | raw_values), max_size=7)


def _encode(enc: hpack.Encoder, headers: list[tuple[str, str | bytes]], huffman: bool) -> bytes:
    fields = [(k.encode("latin-1"), v if isinstance(v, bytes) else v.encode())
              for k, v in headers]
    return bytes(enc.encode(fields, huffman=huffman))


@st.composite
def body_bytes(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=40))
    if kind == 1:
        return gzip.compress(draw(st.binary(max_size=200)))
    if kind == 2:  # gRPC framing, whole or cut
        msg = draw(st.binary(max_size=20))
        flag = draw(st.sampled_from([0, 0, 1, 7]))
        data = bytes([flag]) + len(msg).to_bytes(4, "big") + msg
        return data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data
    return b"x" * draw(st.integers(1000, 3000))


@st.composite
def direction_frames(draw: st.DrawFn) -> bytes:
    """One direction's frames, header blocks encoded with one table (as a sender does)."""
    enc = hpack.Encoder()
    if draw(st.booleans()):
        enc.header_table_size = draw(st.sampled_from([0, 256, 4096]))
    out = []
    sids = st.sampled_from([1, 3, 5, 2, 4, 7])
    for _ in range(draw(st.integers(0, 12))):
        op = draw(st.integers(0, 12))
        sid = draw(sids)
        if op <= 3:  # HEADERS (+ CONTINUATION), maybe padded, with priority
            block = _encode(enc, draw(header_list), draw(st.booleans()))
            pieces = draw(st.integers(1, 3))
            cut = [len(block) * i // pieces for i in range(pieces + 1)]
            parts = [block[cut[i] : cut[i + 1]] for i in range(pieces)]
            flags = (http2.END_STREAM if draw(st.booleans()) else 0) | \
                (http2.END_HEADERS if pieces == 1 else 0)
            payload = parts[0]
            if draw(st.booleans()):
                flags |= http2.PRIORITY_FLAG
                payload = b"\x00\x00\x00\x01\x10" + payload
            if draw(st.booleans()):
                pad = draw(st.integers(0, 5))
                flags |= http2.PADDED
                payload = bytes([pad]) + payload + b"\0" * pad
            out.append(frame(http2.HEADERS, flags, sid, payload))
            for i, part in enumerate(parts[1:], 2):
                if draw(st.integers(0, 9)) == 0:  # something else in the middle
                    out.append(frame(http2.DATA, 0, sid, b"in between"))
                out.append(frame(http2.CONTINUATION, http2.END_HEADERS if i == pieces else 0,
                                 draw(st.sampled_from([sid, sid, sid, 9])), part))
        elif op <= 6:  # DATA, maybe padded, maybe over several frames
            data = draw(body_bytes())
            n = draw(st.integers(1, 3))
            for i in range(n):
                part = data[len(data) * i // n : len(data) * (i + 1) // n]
                flags = http2.END_STREAM if i == n - 1 and draw(st.booleans()) else 0
                if draw(st.integers(0, 3)) == 0:  # the pad length said may be all or more
                    pad = draw(st.integers(0, 4))
                    said = draw(st.sampled_from([pad, pad, pad + len(part), pad + len(part) + 1,
                                                 pad + len(part) + 2]))
                    part = bytes([min(said, 255)]) + part + b"\0" * pad
                    flags |= http2.PADDED
                out.append(frame(http2.DATA, flags, sid, part))
        elif op == 7:  # PUSH_PROMISE
            block = _encode(enc, draw(header_list), False)
            promised = draw(st.sampled_from([2, 4, 6, 3]))
            out.append(frame(http2.PUSH_PROMISE, http2.END_HEADERS, sid,
                             promised.to_bytes(4, "big") + block))
        elif op == 8:
            out.append(frame(http2.RST_STREAM, 0, sid,
                             draw(st.sampled_from([0, 8, 13, 99])).to_bytes(4, "big")))
        elif op == 9:
            debug = draw(st.sampled_from([b"", b"bye", b"\xff" * 300]))
            out.append(frame(http2.GOAWAY, 0, 0, draw(sids).to_bytes(4, "big")
                             + draw(st.sampled_from([0, 2, 11, 77])).to_bytes(4, "big")
                             + debug))
        elif op == 10:
            out.append(draw(st.sampled_from([
                frame(http2.SETTINGS, 0, 0, b"\x00\x01\x00\x00\x10\x00"),
                frame(http2.SETTINGS, 1, 0, b""), frame(http2.PING, 0, 0, b"12345678"),
                frame(http2.WINDOW_UPDATE, 0, sid, b"\x00\x01\x00\x00"),
                frame(http2.PRIORITY, 0, sid, b"\x00\x00\x00\x00\x10"),
                frame(0x0A, 0, sid, b"unknown type"),
            ])))
        elif op == 12:  # many streams open at once, ended in another order
            opened = draw(st.lists(st.integers(1, 200), min_size=9, max_size=30, unique=True))
            for n in opened:
                out.append(frame(http2.HEADERS, http2.END_HEADERS, n,
                                 _encode(enc, [(":method", "GET"), (":path", f"/{n}")], True)))
            for n in draw(st.permutations(opened))[: draw(st.integers(0, len(opened)))]:
                out.append(frame(http2.DATA, http2.END_STREAM, n, b"end"))
        else:  # malformed on purpose: bad padding, short priority, short push, oversized
            out.append(draw(st.sampled_from([
                frame(http2.DATA, http2.PADDED, sid, b"\x09abc"),
                frame(http2.DATA, http2.PADDED, sid, b"\x04abc"),
                frame(http2.DATA, http2.PADDED, sid, b"\x03abc"),
                frame(http2.HEADERS, http2.PADDED | http2.END_HEADERS, sid, b"\x02\x82"),
                frame(http2.DATA, http2.PADDED, sid, b""),
                frame(http2.HEADERS, http2.PADDED | http2.END_HEADERS, sid, b"\x05\x82"),
                frame(http2.HEADERS, http2.PRIORITY_FLAG | http2.END_HEADERS, sid, b"\x00"),
                frame(http2.PUSH_PROMISE, http2.END_HEADERS, sid, b"\x00\x02"),
                frame(http2.CONTINUATION, http2.END_HEADERS, sid, b"\x82"),
                frame(http2.HEADERS, http2.END_HEADERS, sid, b"\xbe\xff"),
                frame(http2.HEADERS, 0, sid, b"\x82") + frame(http2.CONTINUATION, 0, sid, b""),
                frame(http2.HEADERS, http2.END_HEADERS, 0x80000000 | sid, b"\x82"),
                frame(http2.RST_STREAM, 0, sid, b"\x00\x00"),
                b"\x10\x00\x01" + bytes([http2.DATA, 0]) + sid.to_bytes(4, "big"),
            ])))
    return b"".join(out)


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.integers(0, 3))
        at = draw(st.integers(0, len(data)))
        if how == 0 and at < len(data):
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        elif how == 1:
            data = data[:at]
        elif how == 2:
            data = data[:at] + draw(st.binary(min_size=1, max_size=20)) + data[at:]
        else:
            data = data[:at] + data[at + draw(st.integers(1, 12)) :]
    return data


@st.composite
def split(draw: st.DrawFn, direction: str, data: bytes) -> Flow:
    cuts = draw(st.lists(st.integers(0, max(len(data), 1)), max_size=8))
    lossy = draw(st.lists(st.integers(0, 8), max_size=2))
    seqs = draw(st.lists(st.integers(0, 10_000), max_size=3))
    return _flow(direction, data, cuts, lossy, seqs)


facts = st.builds(ConnFacts, st.just("c"), st.just("native.tls"), st.sampled_from(["tls", "tcp"]),
                  st.sampled_from([None, "", "10.0.0.2"]), st.just(443),
                  st.sampled_from([None, "", "sni.test"]))


@st.composite
def connection(draw: st.DrawFn) -> tuple[Flow, Flow]:
    out = draw(direction_frames())
    inn = draw(direction_frames())
    if draw(st.booleans()):
        out = http2.PREFACE + out
    if draw(st.booleans()):
        out = draw(damaged(out))
        inn = draw(damaged(inn))
    return draw(split("out", out)), draw(split("in", inn))


SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(connection(), facts, st.sampled_from([1 << 20, 64]))
def test_written_connections_read_alike(flows: tuple[Flow, Flow], facts: ConnFacts,
                                        budget: int) -> None:
    _both(*flows, facts, budget)


@SETTINGS
@given(st.binary(max_size=300), st.binary(max_size=300), facts, st.data())
@example(b"\0\0\0\x04\0\0\0\0\0", b"", ConnFacts("c", "native.tls", "tls"), None)
def test_random_bytes_read_alike(out: bytes, inn: bytes, facts: ConnFacts,
                                 data: st.DataObject | None) -> None:
    if data is None:
        _both(Flow("out", out), Flow("in", inn), facts)
        return
    _both(data.draw(split("out", http2.PREFACE + out)), data.draw(split("in", inn)), facts)


# ---- conversations of h2's state machines ----

@st.composite
def conversation(draw: st.DrawFn) -> tuple[bytes, bytes]:
    lax = {"validate_outbound_headers": False, "validate_inbound_headers": False,
           "normalize_outbound_headers": False}  # odd :status values and empty ones too
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, **lax))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, **lax))
    client.initiate_connection()
    server.initiate_connection()
    out, inn = bytearray(client.data_to_send()), bytearray(server.data_to_send())
    server.receive_data(bytes(out))
    client.receive_data(bytes(inn))
    for _ in range(draw(st.integers(1, 5))):
        sid = client.get_next_available_stream_id()
        extra = draw(st.lists(st.tuples(st.sampled_from(["x-a", "cookie", "content-type",
                                                         "content-encoding", "user-agent"]),
                                        values), max_size=4))
        body = draw(body_bytes())[:1000]
        client.send_headers(sid, [(":method", "POST"), (":path", "/p"),
                                  (":authority", "a.test"), (":scheme", "https"), *extra])
        client.send_data(sid, body, end_stream=True)
        sent = client.data_to_send()
        out += sent
        for ev in server.receive_data(sent):
            if isinstance(ev, h2.events.StreamEnded):
                if draw(st.booleans()):
                    server.send_headers(ev.stream_id, [(":status", "103"), ("link", "</a>")])
                server.send_headers(ev.stream_id, [(":status", draw(values)),
                                                   *draw(st.lists(st.tuples(
                                                       st.sampled_from(["x-b", "grpc-status",
                                                                        "content-type"]),
                                                       values), max_size=3))])
                server.send_data(ev.stream_id, draw(body_bytes())[:1000])
                if draw(st.booleans()):
                    server.send_headers(ev.stream_id, [("grpc-status", "0")], end_stream=True)
                elif draw(st.booleans()):
                    server.reset_stream(ev.stream_id)
                else:
                    server.end_stream(ev.stream_id)
        inn += server.data_to_send()  # the client need not read it: bodies fit its window
    if draw(st.booleans()):
        server.close_connection(error_code=draw(st.integers(0, 13)))
        inn += server.data_to_send()
    return bytes(out), bytes(inn)


@SETTINGS
@given(conversation(), facts, st.data())
def test_h2_conversations_read_alike(conv: tuple[bytes, bytes], facts: ConnFacts,
                                     data: st.DataObject) -> None:
    out, inn = conv
    if data.draw(st.integers(0, 3)) == 0:
        out, inn = data.draw(damaged(out)), data.draw(damaged(inn))
    drafts = _both(data.draw(split("out", out)), data.draw(split("in", inn)), facts)
    if out == conv[0] and inn == conv[1]:  # undamaged: every request read, and answered
        assert all(d.kind is not MessageKind.RAW for d in drafts)
        assert all(d.request is not None for d in drafts if d.kind is MessageKind.RESPONSE)


def test_an_upgraded_connection_reads_alike() -> None:
    """h2c after HTTP/1.1: the flows start at offsets, stream 1 answers the upgraded
    request."""
    upgraded = Draft(MessageKind.REQUEST, 1.0, "out", "native.tcp", 1, url="http://a/")
    enc = hpack.Encoder()
    prefix = b"GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"
    out = prefix + http2.PREFACE + frame(http2.SETTINGS, 0, 0, b"")
    resp = b"HTTP/1.1 101 Switching\r\n\r\n"
    inn = resp + frame(http2.HEADERS, http2.END_HEADERS, 1,
                       _encode(enc, [(":status", "200")], True)) + \
        frame(http2.DATA, http2.END_STREAM, 1, b"hi") + \
        frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, 3,
              _encode(enc, [(":status", "204")], True))
    drafts = _both(_flow("out", out, [5, 40], [], []), _flow("in", inn, [30], [], []),
                   ConnFacts("c", "native.tcp", "tcp", "10.0.0.2", 80), 1 << 20, len(prefix),
                   len(resp), upgraded)
    assert drafts[0].request is upgraded
    assert "response without a captured request" in drafts[1].notes


def test_an_oversized_header_block_reads_alike() -> None:
    """HEADERS + CONTINUATIONs over MAX_HEADER_BLOCK: dropped with a note, the table lost,
    and the next block (static entries only) read; the stream's DATA still kept."""
    big = b"\x00" * (1 << 19)
    out = http2.PREFACE + frame(http2.HEADERS, 0, 1, b"\x82" + big) + \
        frame(http2.CONTINUATION, 0, 1, big) + frame(http2.CONTINUATION, 0, 1, b"\x00\x00") + \
        frame(http2.DATA, http2.END_STREAM, 1, b"kept") + \
        frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, 3, b"\x82\x87\x84")
    drafts = _both(_flow("out", out, [100, 600_000], [], []), Flow("in"),
                   ConnFacts("c", "native.tls", "tls", sni="s.test"))
    assert "h2: header block over 1048576 bytes dropped" in drafts[0].notes
    assert drafts[0].body == b"kept"
    assert drafts[1].url == "https://s.test/"


@pytest.mark.parametrize(("ctypes", "coding", "body"), [
    (["application/grpc"], None, b"\x00"),  # one byte: unframed ("trailing bytes")
    (["application/grpc"], None, b""),
    (["application/grpc+proto"], "gzip", b"\x00\x00\x00\x00\x02hi"),
    (["Application/GRPC+proto"], None, b"\x00\x00\x00\x00\x02hi"),
    (["application/grpc-web-text"], None, b"\x00\x00\x00\x00\x02hi"),
    (["APPLICATION/GRPC-WEB-TEXT+proto"], None, b"\x00"),
    (["text/plain", "application/grpc"], None, b"\x00"),  # the first content-type decides
    (["application/grpc", "text/plain"], None, b"\x00"),
    (["\u0130application/grpc"], None, b"\x00"),  # lower() makes two characters of one
    (["text/plain"], "gzip", b"not gzip"),  # a content-coding error: a note, the body kept
    (["text/plain"], "gzip", gzip.compress(b"undone")),
    ([], "br, gzip", b"\x1f\x8b"),
])
def test_finished_bodies_read_alike(ctypes: list[str], coding: str | None, body: bytes) -> None:
    """The drafts read_frames leaves to Python (content codings, gRPC as grpc.is_grpc
    says), on a lossy flow: the truncation note comes before the codings' notes in both."""
    enc = hpack.Encoder()
    headers = [(":status", "200")] + [("content-type", c) for c in ctypes] + \
        ([("content-encoding", coding)] if coding else [])
    inn = frame(http2.HEADERS, http2.END_HEADERS, 1, _encode(enc, headers, False)) + \
        frame(http2.DATA, http2.END_STREAM, 1, body)
    out = http2.PREFACE + frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, 1,
                                b"\x82\x87\x84")
    drafts = _both(_flow("out", out, [], [], []), _flow("in", inn, [3, 20], [0], []),
                   ConnFacts("c", "native.tls", "tls", sni="s.test"))
    assert drafts[1].notes[0].startswith("capture truncated")


def test_curl_bytes_read_alike(tmp_path: Path) -> None:
    """Real client bytes: curl over TLS to h2's server on 127.0.0.1, each read one event."""
    pki = make_pki(tmp_path / "pki")
    with h2_server(pki.cert, pki.key) as (port, rec):
        base, ca = f"https://127.0.0.1:{port}", str(pki.ca_cert)
        subprocess.run(["curl", "-sS", "--max-time", "20", "-o", "/dev/null", "--http2",
                        "--cacert", ca, "-H", "X-Canary: c1", "-d", "a=1", f"{base}/one",
                        "--next", "--http2", "--cacert", ca, f"{base}/two?q=2"],
                       check=True, timeout=30)
    (reads,) = rec.conns
    flows = []
    for direction in ("out", "in"):
        chunks, pos = [], 0
        for seq, (t, d, b) in enumerate(reads):
            if d == direction:
                chunks.append(Chunk(pos, len(b), seq, t))
                pos += len(b)
        data = b"".join(b for _, d, b in reads if d == direction)
        flows.append(Flow(direction, data, chunks, [c.offset for c in chunks]))
    drafts = _both(*flows, ConnFacts("c", "native.tls", "tls", "127.0.0.1", port))
    assert [(d.kind, d.method or d.status) for d in drafts] == [
        (MessageKind.REQUEST, "POST"), (MessageKind.REQUEST, "GET"),
        (MessageKind.RESPONSE, 200), (MessageKind.RESPONSE, 200)]
    assert drafts[2].body == b"h2 echo /one a=1"  # gzip undone
