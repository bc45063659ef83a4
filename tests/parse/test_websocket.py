"""WebSocket after an HTTP/1.1 upgrade: RFC 6455 sample frames, and a real client and
server (the ``websockets`` package, permessage-deflate on) through the recording relay."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.parse.message import Message, MessageKind
from harness.parse.storeread import MessageStore
from tests.parse.wire import Relay, run_from_bytes, write_run

UPGRADE = (b"GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")
SWITCHED = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")


def _frames(msgs: list[Message]) -> list[Message]:
    return [m for m in msgs if m.kind is MessageKind.WS_FRAME]


def test_rfc6455_samples(tmp_path: Path) -> None:
    masked_hello = bytes.fromhex("818537fa213d7f9f4d5158")  # RFC 6455 5.7
    fragmented = bytes.fromhex("010348656c80026c6f")  # "Hel" + "lo", unmasked
    ping = bytes.fromhex("890548656c6c6f")
    run = run_from_bytes(tmp_path, [[("out", UPGRADE), ("in", SWITCHED),
                                     ("out", masked_hello), ("in", fragmented + ping)]],
                         layer="tcp")
    with MessageStore.open(run) as store:
        frames = _frames(list(store.messages()))
    assert [(f.direction, f.meta["opcode"], f.body) for f in frames] == [
        ("out", "text", b"Hello"), ("in", "text", b"Hello"), ("in", "ping", b"Hello")]
    assert all(f.url == "http://ws.test/chat" for f in frames)


def test_refused_upgrade_stays_http(tmp_path: Path) -> None:
    refused = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno"
    nxt = b"GET /next HTTP/1.1\r\nHost: ws.test\r\n\r\n"
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes"
    run = run_from_bytes(tmp_path, [[("out", UPGRADE + nxt), ("in", refused + ok)]])
    with MessageStore.open(run) as store:
        msgs = list(store.messages())
    assert [m.status for m in msgs if m.kind is MessageKind.RESPONSE] == [400, 200]
    assert not _frames(msgs)


@contextmanager
def _echo_server() -> Iterator[int]:
    from websockets.sync import server as sync_server

    def echo(ws: object) -> None:
        for msg in ws:  # type: ignore[attr-defined]
            ws.send(msg)  # type: ignore[attr-defined]

    server = sync_server.serve(echo, "127.0.0.1", 0)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server.socket.getsockname()[1]
    finally:
        server.shutdown()
        t.join(5)


def test_real_websocket_client_with_deflate(tmp_path: Path) -> None:
    from websockets.sync import client as sync_client
    text = "canary-ws-" + "a" * 3000  # compressible: sent deflated
    with _echo_server() as port, Relay(port) as relay:
        ws = sync_client.connect(f"ws://127.0.0.1:{relay.port}/feed", open_timeout=10,
                                 close_timeout=5)
        try:
            ws.send(text)
            assert ws.recv(timeout=10) == text
            ws.send(b"\x00\x01binary")
            assert ws.recv(timeout=10) == b"\x00\x01binary"
        finally:
            ws.close()
    run = write_run(tmp_path, relay.rec, port=port)
    with MessageStore.open(run) as store:
        msgs = list(store.messages())
    data = [f for f in _frames(msgs) if f.meta["opcode"] in ("text", "binary")]
    assert [(f.direction, f.body) for f in data] == [
        ("out", text.encode()), ("in", text.encode()),
        ("out", b"\x00\x01binary"), ("in", b"\x00\x01binary")]
    assert data[0].meta.get("compressed") is True
    assert data[0].body_len_wire is not None
    assert data[0].body_len_wire < 200


def test_h2c_upgrade(tmp_path: Path) -> None:
    import hpack

    def frame(t: int, f: int, sid: int, p: bytes) -> bytes:
        return len(p).to_bytes(3, "big") + bytes([t, f]) + sid.to_bytes(4, "big") + p

    up = (b"GET /up HTTP/1.1\r\nHost: c.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
          b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
    client = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(
        1, 5, 3, hpack.Encoder().encode([(":method", "GET"), (":path", "/two"),
                                          (":scheme", "http"), (":authority", "c.test")]))
    enc = hpack.Encoder()
    server = (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
              + frame(4, 0, 0, b"") + frame(1, 4, 1, enc.encode([(":status", "200")]))
              + frame(0, 1, 1, b"first") + frame(1, 4, 3, enc.encode([(":status", "404")]))
              + frame(0, 1, 3, b"second"))
    run = run_from_bytes(tmp_path, [[("out", up + client), ("in", server)]], layer="tcp")
    with MessageStore.open(run) as store:
        msgs = list(store.messages())
    reqs = {m.url: m for m in msgs if m.kind is MessageKind.REQUEST}
    resps = {m.request_id: m for m in msgs if m.kind is MessageKind.RESPONSE and m.status != 101}
    assert resps[reqs["http://c.test/up"].id].body == b"first"
    assert resps[reqs["http://c.test/two"].id].body == b"second"


def test_fragmented_message_with_interleaved_ping(tmp_path: Path) -> None:
    frames = (bytes.fromhex("0103") + b"Hel" + bytes.fromhex("8900")  # text start, ping
              + bytes.fromhex("0001") + b"l" + bytes.fromhex("8001") + b"o")
    run = run_from_bytes(tmp_path, [[("out", UPGRADE), ("in", SWITCHED), ("in", frames[:7]),
                                     ("in", frames[7:])]], layer="tcp")
    with MessageStore.open(run) as store:
        got = [(f.meta["opcode"], f.body, f.events) for f in _frames(list(store.messages()))]
    assert got == [("ping", b"", (3,)), ("text", b"Hello", (3, 4))]
