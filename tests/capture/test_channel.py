"""Garbled or truncated agent messages become recorded protocol errors, never crashes."""

from __future__ import annotations

from pathlib import Path

from harness.agent.channel import Channel, DecodedBatch, ProtocolError
from harness.capture.recorder import Recorder
from harness.capture.rundir import RunDir
from harness.protocol import ABI_VERSION, NATIVE_HEADER, NativeKind


def _native(body: bytes, handle: int = 1) -> bytes:
    size = (NATIVE_HEADER.size + len(body) + 7) & ~7
    head = NATIVE_HEADER.pack(size, NativeKind.TLS_OUT, 0, 7, 3, handle, 1_700_000_000_000_000_000,
                              len(body), len(body), 0, 0, 0)
    return (head + body).ljust(size, b"\0")


def _batch(seq: int, data: bytes, native: list[int] | None) -> dict[str, object]:
    return {"type": "batch", "abi": ABI_VERSION, "pid": 42, "seq": seq,
            "records": [{"k": "hook", "t": 1.0, "tid": 1, "hook": "registry",
                         "name": "native.tls.SSL_write", "status": "installed",
                         "target": "libssl.so.3", "group": "native.tls", "index": 0}],
            "native": native}


def test_garbage_is_recorded_and_good_batches_still_land(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "r")
    channel = Channel()
    good = _native(b"GET / HTTP/1.1\r\n\r\n")
    with Recorder(run, channel):
        channel.on_message({"type": "send", "payload": _batch(0, good, [0, len(good)])}, good)
        channel.on_message({"type": "send", "payload": "not an object"}, None)
        channel.on_message({"type": "send", "payload": _batch(1, good[:30], [0, len(good)])},
                           good[:30])  # truncated data
        bad = _native(b"x")
        channel.on_message({"type": "send", "payload": {**_batch(2, bad, None), "abi": 999}}, bad)
        channel.on_message({"type": "error", "description": "ReferenceError", "stack": "at x"},
                           None)
        channel.on_message({"type": "send", "payload": _batch(5, good, [0, len(good)])}, good)
    info = run.load_info()
    assert info.health.protocol_errors == 4
    assert info.health.batches == 2
    assert info.health.sequence_gaps == 4  # 1..4 never arrived as valid batches
    with run.reader() as r:
        errors = r.protocol_errors()
        streams = list(r.events(kinds=["stream"]))
    assert len(errors) == 4
    assert [e.data for e in streams] == [b"GET / HTTP/1.1\r\n\r\n"] * 2
    assert streams[0].hook == "native.tls.SSL_write"
    assert streams[0].conn == "42:tls:1"


def test_callback_never_raises_on_anything() -> None:
    channel = Channel()
    for message in ({}, {"type": None}, {"type": "send"}, {"type": "send", "payload": {}},
                    {"type": "send", "payload": {"type": "batch", "abi": ABI_VERSION, "pid": 1,
                                                 "seq": 0, "records": [{"k": "nope"}]}}):
        channel.on_message(message, b"\xff" * 3)
    items = []
    while not channel.items.empty():
        items.append(channel.items.get_nowait())
    assert len(items) == 5
    assert all(isinstance(i, ProtocolError) for i in items)
    assert not any(isinstance(i, DecodedBatch) for i in items)
