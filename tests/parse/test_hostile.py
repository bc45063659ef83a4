"""Hostile and broken input: every case ends with messages and notes, never a crash, and
what was intact around the damage is still parsed."""

from __future__ import annotations

from pathlib import Path

import hpack
import pytest

from harness.parse.message import Message, MessageKind
from harness.parse.storeread import MessageStore
from tests.parse.wire import gzip_bomb, run_from_bytes

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + \
        payload


def _parse(tmp_path: Path, conns: list[list[tuple[str, bytes]]], **kw: object) -> list[Message]:
    run = run_from_bytes(tmp_path, conns, **kw)  # type: ignore[arg-type]
    with MessageStore.open(run) as store:
        return list(store.messages())


def _split(conv: list[tuple[str, bytes]]) -> tuple[bytes, bytes]:
    return (b"".join(b for d, b in conv if d == "out"), b"".join(b for d, b in conv if d == "in"))


def _requests(msgs: list[Message]) -> list[Message]:
    return [m for m in msgs if m.kind is MessageKind.REQUEST]


def test_real_h2_baseline(tmp_path: Path, h2_conversation: list[tuple[str, bytes]]) -> None:
    msgs = _parse(tmp_path, [h2_conversation])
    assert [(m.method, m.body) for m in _requests(msgs)] == [("POST", b"first=1"), ("GET", b"")]
    assert not any(m.notes for m in msgs)


def test_malformed_hpack_after_real_streams(tmp_path: Path,
                                            h2_conversation: list[tuple[str, bytes]]) -> None:
    out, inn = _split(h2_conversation)
    # stream 5 carries an HPACK block indexing far past the tables; the table is restarted,
    # so stream 7 (static entries only) still decodes, while stream 9, which refers to a
    # dynamic entry we cannot know, is reported undecodable, its body kept
    bad = _frame(1, 0x4, 5, b"\xff\xff\xff\xff\x0f") + \
        _frame(1, 0x4, 7, b"\x83\x86") + _frame(0, 0x1, 7, b"after-bad-hpack") + \
        _frame(1, 0x4, 9, b"\x83\xbe") + _frame(0, 0x1, 9, b"secret-kept")
    msgs = _parse(tmp_path, [[("out", out + bad), ("in", inn)]])
    reqs = _requests(msgs)
    assert [r.method for r in reqs[:2]] == ["POST", "GET"]  # intact streams unaffected
    by_stream = {m.meta.get("stream"): m for m in reqs}
    assert any("malformed HPACK" in n for n in by_stream[5].notes)
    assert by_stream[7].method == "POST"
    assert by_stream[7].body == b"after-bad-hpack"
    assert by_stream[9].headers == ()
    assert by_stream[9].body == b"secret-kept"
    assert any("lost earlier" in n for n in by_stream[9].notes)


def test_malformed_frames(tmp_path: Path) -> None:
    enc = hpack.Encoder()
    h = enc.encode([(":method", "POST"), (":path", "/p"), (":scheme", "https"),
                    (":authority", "x.test")])
    out = PREFACE + _frame(4, 0, 0, b"") + \
        _frame(1, 0x0, 9, h[:3]) + _frame(9, 0x4, 9, h[3:]) + _frame(0, 0x1, 9, b"ok9") + \
        _frame(0, 0x8 | 0x1, 11, b"\x02ab\0\0") + \
        _frame(3, 0, 13, b"\0\0\0\x08") + \
        _frame(1, 0x8 | 0x4, 1, b"\xff" + h) + \
        _frame(9, 0x4, 3, b"\x82") + \
        _frame(7, 0, 0, b"\0\0\0\x09\0\0\0\x01debug") + \
        b"\x00\x00\x05\xee\x00\x00\x00\x00\x00hello" + \
        b"\xff\xff\xff\x00\x01\x00\x00\x00\x0fnot-a-frame-trailing-bytes"
    msgs = _parse(tmp_path, [[("out", out)]], alpn="h2")
    by_stream = {m.meta.get("stream"): m for m in msgs if m.meta.get("stream")}
    assert any("malformed padded" in n for m in msgs for n in m.notes)
    assert any("CONTINUATION" in n for m in msgs for n in m.notes)
    assert by_stream[9].method == "POST"
    assert by_stream[9].body == b"ok9"  # CONTINUATION joined
    assert by_stream[11].body == b"ab"  # padding removed
    raw = [m for m in msgs if m.kind is MessageKind.RAW]
    assert raw
    assert raw[-1].body.endswith(b"not-a-frame-trailing-bytes")  # nothing lost
    assert any("GOAWAY" in n for m in msgs for n in m.notes)


def test_truncated_h2_and_h1(tmp_path: Path, h2_conversation: list[tuple[str, bytes]]) -> None:
    out, inn = _split(h2_conversation)
    msgs = _parse(tmp_path, [[("out", out[: len(out) - 5]), ("in", inn[:-7])],
                             [("out", b"POST /x HTTP/1.1\r\nHost: h.test\r\nContent-Length: 50"
                                      b"\r\n\r\nonly-part")]])
    assert any("cut" in n or "truncated" in n or "not finished" in n
               for m in msgs for n in m.notes)
    h1 = next(m for m in msgs if m.protocol == "HTTP/1.1")
    assert h1.body == b"only-part"
    assert any("truncated" in n for n in h1.notes)
    assert _requests(msgs)[0].body == b"first=1"


def test_agent_truncated_event_is_noted(tmp_path: Path) -> None:
    req = b"POST /u HTTP/1.1\r\nHost: h.test\r\nContent-Length: 10\r\n\r\n0123456789"
    msgs = _parse(tmp_path, [[("out", req[:40]), ("out", req[40:])]], truncate={0: 4000})
    assert any("not recorded" in n for m in msgs for n in m.notes)


def test_invalid_utf8_everywhere(tmp_path: Path) -> None:
    req = (b"GET /caf\xe9?q=\xff HTTP/1.1\r\nHost: h.test\r\nX-Bin: \xc3\x28\xa0\r\n"
           b"Content-Length: 4\r\n\r\n\xff\xfe\xfd\xfc")
    msgs = _parse(tmp_path, [[("out", req), ("in", b"\xff\xfe garbage that is not HTTP")]])
    r = _requests(msgs)[0]
    assert r.body == b"\xff\xfe\xfd\xfc"
    assert r.header("x-bin") is not None
    assert r.header("x-bin").encode("latin-1") == b"\xc3\x28\xa0"  # type: ignore[union-attr]
    assert any("Latin-1" in n for n in r.notes)
    raw = [m for m in msgs if m.kind is MessageKind.RAW]
    assert raw[0].body == b"\xff\xfe garbage that is not HTTP"


def test_gzip_bomb_is_cut_with_a_note(tmp_path: Path) -> None:
    bomb = gzip_bomb(10 * 1024**3)  # 10 GiB of zeros in ~10 MB
    req = (b"POST /bomb HTTP/1.1\r\nHost: h.test\r\nContent-Encoding: gzip\r\n"
           b"Content-Length: %d\r\n\r\n" % len(bomb))
    nxt = b"GET /after HTTP/1.1\r\nHost: h.test\r\n\r\n"
    msgs = _parse(tmp_path, [[("out", req), ("out", bomb), ("out", nxt)]])
    reqs = _requests(msgs)
    assert [r.url for r in reqs] == ["https://h.test/bomb", "https://h.test/after"]
    assert len(reqs[0].body) == 64 * 1024 * 1024
    assert reqs[0].body_len_wire == len(bomb)
    assert any("cut at the budget" in n for n in reqs[0].notes)


def test_garbage_resyncs_to_next_request(tmp_path: Path) -> None:
    data = (b"GET /a HTTP/1.1\r\nHost: h.test\r\nContent-Length: zz\r\n\r\n"
            b"\x00\x01binary junk\r\nGET /b HTTP/1.1\r\nHost: h.test\r\n\r\n")
    msgs = _parse(tmp_path, [[("out", data)]])
    assert any(m.kind is MessageKind.RAW for m in msgs)
    assert any("Content-Length" in n for m in msgs for n in m.notes)


def test_h2_capture_starting_mid_connection(tmp_path: Path,
                                            h2_conversation: list[tuple[str, bytes]]) -> None:
    out, inn = _split(h2_conversation)
    # hooks attached late: the client's bytes start 7 bytes into its SETTINGS frame; the
    # GET on stream 3 is still found, its body and response kept, the lost part kept raw
    cut = out[len(PREFACE) + 7 :]
    msgs = _parse(tmp_path, [[("out", cut), ("in", inn)]], alpn="h2")
    raw = [m for m in msgs if m.kind is MessageKind.RAW]
    assert raw
    assert raw[0].body == cut[: len(raw[0].body)]
    streams = {m.meta.get("stream") for m in _requests(msgs)}
    assert {1, 3} <= streams
    post = next(m for m in _requests(msgs) if m.meta.get("stream") == 1)
    assert post.body == b"first=1"
    assert post.method == "POST"  # HPACK restarted with an empty table: still decodable
    resps = [m for m in msgs if m.kind is MessageKind.RESPONSE]
    assert len(resps) == 2


def test_grpc_messages_are_unframed(tmp_path: Path) -> None:
    import gzip

    enc = hpack.Encoder()
    h = enc.encode([(":method", "POST"), (":path", "/google.Svc/Log"), (":scheme", "https"),
                    (":authority", "g.test"), ("content-type", "application/grpc+proto"),
                    ("grpc-encoding", "gzip")])
    m1 = b"\x0a\x05hello"
    m2 = gzip.compress(b"\x12\x0bCANARY-grpc")
    body = b"\x00" + len(m1).to_bytes(4, "big") + m1 + b"\x01" + len(m2).to_bytes(4, "big") + m2
    out = PREFACE + _frame(4, 0, 0, b"") + _frame(1, 4, 1, h) + _frame(0, 1, 1, body)
    (req,) = _requests(_parse(tmp_path, [[("out", out)]]))
    assert req.body == m1 + b"\x12\x0bCANARY-grpc"
    assert req.meta["grpc_messages"] == 2


def test_hpack_bomb_is_refused(tmp_path: Path) -> None:
    """One 4 KB header added to the dynamic table, then referenced 2,000 times in a 2 KB
    block: 8 MB of headers from 6 KB of frames. Cut at the header list limit, noted; the
    stream's body is kept."""
    big = b"x" * 4000
    # literal with incremental indexing, new name "x-big" (RFC 7541 6.2.1), 4000-byte value
    first = b"\x40\x05x-big" + b"\x7f" + bytes([(4000 - 127) & 0x7F | 0x80, (4000 - 127) >> 7])
    block = b"\x83\x87\x84" + b"\x41\x01a" + first + big + b"\xbe" * 2000
    out = PREFACE + _frame(4, 0, 0, b"") + _frame(1, 0x4, 1, block) + \
        _frame(0, 0x1, 1, b"body-kept")
    (req,) = _requests(_parse(tmp_path, [[("out", out)]]))
    assert req.body == b"body-kept"
    assert any("HPACK" in n for n in req.notes)
    assert len(req.headers) < 100


def test_a_status_that_is_not_three_digits_is_none_with_a_note(tmp_path: Path) -> None:
    """HTTP/2's :status is text: 20 digits overflowed the store's INTEGER column (the whole
    build failed); " 200" and fullwidth digits are not statuses either. The response is kept
    with its body, its status None and a note; the good one beside it is unchanged."""
    for n, status in enumerate(("99999999999999999999", " 200", "２００", "-1")):
        req = hpack.Encoder().encode([(":method", "GET"), (":scheme", "https"),
                                      (":authority", "s.test"), (":path", "/")])
        enc = hpack.Encoder()
        resp = _frame(1, 4, 1, enc.encode([(":status", status)])) + _frame(0, 1, 1, b"body")
        resp += _frame(1, 5, 3, enc.encode([(":status", "204")]))
        out = PREFACE + _frame(1, 5, 1, req) + _frame(1, 5, 3, req)
        msgs = _parse(tmp_path / str(n), [[("out", out), ("in", resp)]])
        bad, good = [m for m in msgs if m.kind is MessageKind.RESPONSE]
        assert (bad.status, bad.body, good.status) == (None, b"body", 204), status
        assert any("bad :status" in note for note in bad.notes), status


def test_a_java_status_that_is_no_http_status_is_none(tmp_path: Path) -> None:
    from harness.capture.rundir import RunDir
    from harness.capture.writer import CaptureWriter, EventRow

    run = RunDir.create(tmp_path, "status")
    rows = [EventRow(t=float(i), kind="http", hook="java.okhttp3.CallServerInterceptor.intercept",
                     pid=7, direction="in", data=b"ok",
                     fields={"stack": "okhttp3", "phase": "response", "call": f"c{i}",
                             "url": "https://h.test/", "status": status})
            for i, status in enumerate((2 ** 63, True, -1, 200))]
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(7, 0, rows, connections=[])
    with MessageStore.open(run) as store:
        got = [(m.status, any("bad status" in n for n in m.notes)) for m in store.messages()]
    assert got == [(None, True), (None, True), (None, True), (200, False)]


@pytest.mark.parametrize("length", [b"+5", b"1_0", b"\xef\xbc\x95", b"9" * 4301, b"-0", b"0x5",
                                    b"99999999999999999999"])
def test_a_content_length_that_is_not_digits_resynchronises(tmp_path: Path,
                                                            length: bytes) -> None:
    req = (b"POST /a HTTP/1.1\r\nHost: h.test\r\nContent-Length: " + length
           + b"\r\n\r\nhello\r\n"
           b"GET /b HTTP/1.1\r\nHost: h.test\r\n\r\n")
    msgs = _parse(tmp_path, [[("out", req)]])
    notes = [n for m in msgs for n in m.notes]
    assert any("bad Content-Length" in n for n in notes), notes
    assert [r.url for r in _requests(msgs)][-1].endswith("/b")  # the next request is found


def test_a_repeated_content_length_is_read(tmp_path: Path) -> None:
    req = b"POST /a HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5, 5\r\n\r\nhello"
    r = _requests(_parse(tmp_path, [[("out", req)]]))[0]
    assert r.body == b"hello"
