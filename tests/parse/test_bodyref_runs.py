"""Stores of format 6 built from real run dirs, one per kind of body: each message reads back
exactly as from a store that holds every body as bytes (what format 5 wrote), the bodies
that are wire bytes as references to the capture and the rest as bytes; and a store whose
capture changed or went away since is rebuilt, or its reader says so, naming the file,
rather than giving a wrong body."""

from __future__ import annotations

import gzip
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import pytest

from bench import storediff
from harness.capture.rundir import RunDir
from harness.errors import RunDirError
from harness.parse import store
from harness.parse.builder import build_messages, is_current
from harness.parse.storeread import MessageStore
from tests.parse.test_records import streamed_java_run
from tests.parse.wire import run_from_bytes

BODY = b"".join(b'{"event":"e%04d","props":{"k":"%s"}},' % (i, b"v" * (i % 37))
                for i in range(120))
RESP = b'{"ok":true,"items":[' + b'"x",' * 200 + b'"y"]}'


def _h1(body: bytes, extra: bytes = b"", length: bool = True) -> bytes:
    head = b"POST /up HTTP/1.1\r\nHost: h.test\r\n" + extra
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def _response(body: bytes, extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body) + extra + b"\r\n"
            + body)


def _chunked(body: bytes, size: int) -> bytes:
    out = b"".join(b"%x\r\n" % len(body[i:i + size]) + body[i:i + size] + b"\r\n"
                   for i in range(0, len(body), size))
    return out + b"0\r\n\r\n"


def _h2(body: bytes = BODY, cuts: tuple[int, int] = (1000, 2000), split: int = 500,
        request: tuple[tuple[str, str], ...] = (), response: tuple[tuple[str, str], ...] = (),
        resp: bytes = RESP) -> list[tuple[str, bytes]]:
    """A POST whose body is three DATA frames (cut at ``cuts``), two of them padded, and its
    response (``resp``), each with the extra headers given; the client's bytes sent in two
    events, cut at ``split``."""
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    c.send_headers(1, [(":method", "POST"), (":path", "/up"), (":scheme", "https"),
                       (":authority", "h.test"), *request])
    c.send_data(1, body[:cuts[0]], pad_length=7)
    c.send_data(1, body[cuts[0]:cuts[1]])
    c.send_data(1, body[cuts[1]:], pad_length=30, end_stream=True)
    out = c.data_to_send()
    s = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    s.initiate_connection()
    s.receive_data(out)
    s.send_headers(1, [(":status", "200"), *response])
    s.send_data(1, resp, end_stream=True)
    inn = s.data_to_send()
    return [("out", out[:split]), ("out", out[split:]), ("in", inn)]


def _ws_frame(payload: bytes, mask: bytes | None) -> bytes:
    bit = 0x80 if mask else 0
    head = bytes([0x82]) + (bytes([126 | bit]) + len(payload).to_bytes(2, "big")
                            if len(payload) > 125 else bytes([len(payload) | bit]))
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _websocket() -> list[tuple[str, bytes]]:
    up = (b"GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    ok = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    return [("out", up), ("in", ok), ("out", _ws_frame(BODY[:300], b"\x01\x02\x03\x04")),
            ("in", _ws_frame(RESP, None))]


CASES: dict[str, tuple[list[list[tuple[str, bytes]]], dict[str, Any]]] = {
    "http/1.1 identity": ([[("out", _h1(BODY)[:50]), ("out", _h1(BODY)[50:700]),
                            ("out", _h1(BODY)[700:]), ("in", _response(RESP))]], {}),
    "http/1.1 pipelined": ([[("out", _h1(BODY) + _h1(BODY[::-1])),
                             ("in", _response(RESP) + _response(RESP[:100]))]], {}),
    "http/1.1 chunked": ([[("out", _h1(b"", b"Transfer-Encoding: chunked\r\n", False)),
                           ("out", _chunked(BODY, 700)), ("in", _response(RESP))]], {}),
    "http/1.1 gzip": ([[("out", _h1(BODY)),
                        ("in", _response(gzip.compress(RESP, mtime=0),
                                         b"Content-Encoding: gzip\r\n"))]], {}),
    "h2 padded frames": ([_h2()], {"alpn": "h2"}),
    "websocket": ([_websocket()], {"layer": "tcp"}),
    "truncated event": ([[("out", _h1(BODY)[:300]), ("out", _h1(BODY)[300:900]),
                          ("out", _h1(BODY)[900:]), ("in", _response(RESP))]],
                        {"truncate": {1: 800}}),
}


def _bytes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every body stored as bytes (format 5's store, the reference)."""
    real = store.StoreWriter.use_flows
    monkeypatch.setattr(store.StoreWriter, "use_flows",
                        lambda self, flows: real(self, None))


def _refs(run: RunDir) -> list[tuple[str, str, int]]:
    db = sqlite3.connect(run.file(store.ANALYSIS_DB))
    try:
        return [(v[2], v[4], v[12]) for v in storediff.stored(db) if v[20] is not None]
    finally:
        db.close()


def _same_as_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Any
                   ) -> RunDir:
    """The run ``make`` makes, built with references and as bytes only: the two read back
    the same. The run with references."""
    run = make(tmp_path / "refs")
    build_messages(run)
    plain = make(tmp_path / "bytes")
    with monkeypatch.context() as m:
        _bytes_only(m)
        build_messages(plain)
    assert not _refs(plain)
    assert storediff.main(str(plain.file(store.ANALYSIS_DB)),
                          str(run.file(store.ANALYSIS_DB))) == 0
    return run


WANT = {"http/1.1 identity": [("request", "out"), ("response", "in")],
        "http/1.1 pipelined": [("request", "out"), ("request", "out"), ("response", "in"),
                               ("response", "in")],
        "http/1.1 chunked": [("request", "out"), ("response", "in")],
        "http/1.1 gzip": [("request", "out")],
        "h2 padded frames": [("request", "out"), ("response", "in")],
        "websocket": [("ws-frame", "in")],
        "truncated event": [("request", "out"), ("response", "in")]}
"""The bodies stored as references: not the gzip response's (decoded), nor the client's
WebSocket frame (masked). The truncated request's body is the bytes recorded on either side
of its hole (none are invented to fill it): stretches of the events on either side."""


@pytest.mark.parametrize("name", list(CASES))
def test_each_kind_of_body_reads_back_as_bytes_would(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    conns, kw = CASES[name]
    run = _same_as_bytes(tmp_path, monkeypatch,
                         lambda d: run_from_bytes(d, conns, **kw))
    assert sorted((k, d) for k, d, _n in _refs(run)) == sorted(WANT[name])


def test_both_writers_write_the_same_references(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    got: dict[str, list[list[tuple[object, ...]]]] = {}
    for compiled in (True, False):
        with monkeypatch.context() as m:
            if not compiled:
                m.setattr(store, "_store", None)
            for i, (name, (conns, kw)) in enumerate(CASES.items()):
                run = run_from_bytes(tmp_path / f"{compiled}-{i}", conns, **kw)
                build_messages(run)
                got.setdefault(name, []).append(
                    list(storediff.rows(str(run.file(store.ANALYSIS_DB)))))
    for name, (c, py) in got.items():
        assert c == py, name


def test_java_records_read_back_as_bytes_would(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    run = _same_as_bytes(tmp_path, monkeypatch, streamed_java_run)
    assert all(kind != "request" or d != "out" or n < 64 for kind, d, n in _refs(run))


def _built(tmp_path: Path) -> RunDir:
    run = run_from_bytes(tmp_path, CASES["http/1.1 identity"][0])
    build_messages(run)
    assert _refs(run)
    assert is_current(run)
    time.sleep(0.05)  # a later write gets a later mtime, whatever the clock's grain
    return run


def test_a_capture_changed_in_place_makes_the_store_stale_and_its_reader_refuse(
        tmp_path: Path) -> None:
    run = _built(tmp_path)
    db = sqlite3.connect(run.capture_db)
    (seq,), = db.execute("SELECT max(seq) FROM events WHERE direction='out'").fetchall()
    # the same length, other bytes: counts and sizes alike
    db.execute("UPDATE events SET data = CAST(upper(data) AS BLOB) WHERE seq=?", (seq,))
    db.commit()
    db.close()
    assert not is_current(run)
    with MessageStore(run.file(store.ANALYSIS_DB)) as s, \
            pytest.raises(RunDirError, match="capture changed") as exc:
        list(s.messages())
    assert exc.value.path == str(run.capture_db)
    wire = _h1(BODY)
    with MessageStore.open(run) as s:  # rebuilt, from the bytes the capture holds now
        assert next(s.messages()).body == (wire[:700] + wire[700:].upper())[-len(BODY):]


def test_a_missing_capture_is_an_error_naming_it(tmp_path: Path) -> None:
    run = _built(tmp_path)
    os.rename(run.capture_db, tmp_path / "elsewhere.sqlite")
    with MessageStore(run.file(store.ANALYSIS_DB)) as s:
        assert len(list(s.messages(with_body=False))) == 2  # lengths need no capture
        with pytest.raises(RunDirError, match="missing") as exc:
            list(s.messages())
        assert exc.value.path == str(run.capture_db)
        with pytest.raises(RunDirError, match="missing"):
            s.get("m1")


def test_get_and_messages_without_bodies_give_the_same(tmp_path: Path) -> None:
    run = _built(tmp_path)
    with MessageStore(run.file(store.ANALYSIS_DB)) as s:
        full = list(s.messages())
        assert [s.get(m.id) for m in full] == full
        lens = [m.meta["body_len"] for m in s.messages(with_body=False)]
    assert lens == [len(m.body) for m in full]
    assert full[0].body == BODY


def test_event_data_stored_as_text_is_read_as_its_reader_reads_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another tool may store an event's data as TEXT: the capture reader reads its UTF-8
    bytes, and so does a reference to it."""
    body = "é€ text body ".encode() * 10

    def make(d: Path) -> RunDir:
        run = run_from_bytes(d, [[("out", _h1(body)), ("in", _response(RESP))]])
        db = sqlite3.connect(run.capture_db)
        db.execute("UPDATE events SET data = CAST(data AS TEXT) WHERE direction = 'out'")
        db.commit()
        db.close()
        return run

    run = _same_as_bytes(tmp_path, monkeypatch, make)
    assert sorted((k, d) for k, d, _n in _refs(run)) == [("request", "out"), ("response", "in")]
    with MessageStore.open(run) as s:
        assert next(s.messages()).body == body
