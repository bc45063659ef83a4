"""HTTP/1.1 framing cases real clients rarely produce on demand: pipelining, HEAD, 204/304,
chunked trailers, close-delimited bodies, CONNECT tunnels, bare-LF heads."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from harness.parse.message import Message, MessageKind
from harness.parse.storeread import MessageStore
from tests.parse.wire import run_from_bytes


def _parse(tmp_path: Path, out: bytes, inn: bytes) -> list[Message]:
    run = run_from_bytes(tmp_path, [[("out", out), ("in", inn)]])
    with MessageStore.open(run) as store:
        return list(store.messages())


def test_pipelined_with_bodiless_responses(tmp_path: Path) -> None:
    out = (b"HEAD /h HTTP/1.1\r\nHost: p.test\r\n\r\n"
           b"GET /n HTTP/1.1\r\nHost: p.test\r\n\r\n"
           b"GET /m HTTP/1.1\r\nHost: p.test\r\nIf-None-Match: x\r\n\r\n"
           b"POST /c HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Checksum: abc\r\n\r\n"
           b"GET /last HTTP/1.1\r\nHost: p.test\r\nConnection: close\r\n\r\n")
    deflated = zlib.compress(b"compressed tail")
    inn = (b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"  # HEAD: no body follows
           b"HTTP/1.1 204 No Content\r\n\r\n"
           b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
           b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
           b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nConnection: close\r\n\r\n"
           + deflated)
    msgs = _parse(tmp_path, out, inn)
    reqs = [m for m in msgs if m.kind is MessageKind.REQUEST]
    resps = [m for m in msgs if m.kind is MessageKind.RESPONSE]
    assert [r.url for r in reqs] == [f"https://p.test/{p}" for p in ("h", "n", "m", "c", "last")]
    assert reqs[3].body == b"wikipedia"
    assert ("X-Checksum", "abc") in reqs[3].headers  # trailer kept
    assert [r.status for r in resps] == [200, 204, 304, 200, 200]
    assert [r.request_id for r in resps] == [r.id for r in reqs]
    assert [r.body for r in resps] == [b"", b"", b"", b"ok", b"compressed tail"]
    assert not any(m.kind is MessageKind.RAW for m in msgs)


def test_connect_tunnel_is_kept_raw(tmp_path: Path) -> None:
    out = (b"CONNECT sa.api.intl.miui.com:443 HTTP/1.1\r\nHost: sa.api.intl.miui.com:443"
           b"\r\n\r\n\x16\x03\x01\x00\x05hello")
    inn = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x02hi"
    msgs = _parse(tmp_path, out, inn)
    by = {(m.kind, m.direction): m for m in msgs}
    assert len(by) == len(msgs) == 4
    assert by[(MessageKind.RAW, "out")].body == b"\x16\x03\x01\x00\x05hello"
    assert by[(MessageKind.RAW, "in")].body == b"\x16\x03\x03\x00\x02hi"
    assert by[(MessageKind.REQUEST, "out")].url == "https://sa.api.intl.miui.com:443"
    assert by[(MessageKind.RESPONSE, "in")].status == 200


def test_bare_lf_and_folded_headers(tmp_path: Path) -> None:
    out = b"GET /lf HTTP/1.0\nHost: lf.test\nX-Long: a\n  b\n\n"
    inn = b"HTTP/1.0 200 OK\nContent-Type: text/plain\n\nclose-delimited body"
    msgs = _parse(tmp_path, out, inn)
    req, resp = msgs
    assert req.protocol == "HTTP/1.0"
    assert req.header("x-long") == "a b"
    assert resp.body == b"close-delimited body"


def test_value_split_across_writes_is_joined_but_not_across_messages(tmp_path: Path) -> None:
    canary = b"CANARY-5e1f-8a2b"
    body = b"id=" + canary
    head = b"POST /a HTTP/1.1\r\nHost: s.test\r\nContent-Length: %d\r\n\r\n" % len(body)
    second = b"POST /b HTTP/1.1\r\nHost: s.test\r\nContent-Length: 8\r\n\r\n" + canary[8:]
    first_tail = b"POST /c HTTP/1.1\r\nHost: s.test\r\nContent-Length: 8\r\n\r\n" + canary[:8]
    # one body cut across two SSL_write calls (one request): joined, as the server reads it;
    # two halves in two requests: two messages, neither holding the whole value
    run = run_from_bytes(tmp_path, [[("out", head + body[:7]), ("out", body[7:]),
                                     ("out", first_tail), ("out", second)]])
    with MessageStore.open(run) as store:
        reqs = [m for m in store.messages() if m.kind is MessageKind.REQUEST]
    assert reqs[0].body == body
    assert reqs[0].events == (1, 2)
    assert [canary in r.body for r in reqs] == [True, False, False]


def test_transfer_coding_under_chunked(tmp_path: Path) -> None:
    import gzip

    inner = gzip.compress(b"transfer-coded body")
    out = (b"POST /t HTTP/1.1\r\nHost: t.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
           b"%x\r\n%s\r\n0\r\n\r\n" % (len(inner), inner))
    (req,) = _parse(tmp_path, out, b"")
    assert req.body == b"transfer-coded body"


def test_long_request_line_and_resync_after_bad_chunk(tmp_path: Path) -> None:
    long_get = b"GET /sa?data=" + b"A" * 60000 + b" HTTP/1.1\r\nHost: l.test\r\n\r\n"
    bad = b"POST /c HTTP/1.1\r\nHost: l.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    after = b"GET /after HTTP/1.1\r\nHost: l.test\r\n\r\n"
    msgs = _parse(tmp_path, long_get + bad + after, b"")
    reqs = [m for m in msgs if m.kind is MessageKind.REQUEST]
    assert len(reqs[0].url or "") > 60000
    assert [r.url for r in reqs][1:] == ["https://l.test/c", "https://l.test/after"]
    assert any("bad chunk size" in n for n in reqs[1].notes)


@pytest.mark.timeout(30)  # the bug was a hang
def test_a_chunk_size_that_is_not_plain_hex_is_bad_framing(tmp_path: Path) -> None:
    """int(x, 16) takes "-5": the parser stepped back onto the same size line for ever (a hang
    on a garbled or hostile stream). "+5", "0x5" and "5_0" are not chunk sizes either."""
    for size in (b"-5", b"+5", b"0x5", b"5_0"):
        bad = (b"POST /c HTTP/1.1\r\nHost: l.test\r\nTransfer-Encoding: chunked\r\n\r\n"
               + size + b"\r\nhello\r\n0\r\n\r\n")
        after = b"GET /after HTTP/1.1\r\nHost: l.test\r\n\r\n"
        reqs = [m for m in _parse(tmp_path / size.decode(), bad + after, b"")
                if m.kind is MessageKind.REQUEST]
        assert [r.url for r in reqs] == ["https://l.test/c", "https://l.test/after"], size
        assert any("bad chunk size" in n for n in reqs[0].notes), size
