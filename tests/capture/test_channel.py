"""Garbled or truncated agent messages become recorded protocol errors, never crashes."""

from __future__ import annotations

import signal
from pathlib import Path

from harness.agent.channel import Channel, DecodedBatch, ProtocolError
from harness.capture.recorder import Recorder
from harness.capture.rundir import RunDir
from harness.protocol import (
    ABI_VERSION,
    HTTP_CALL_FORMAT,
    JAVA_CONN_BASE,
    NATIVE_HEADER,
    NativeKind,
)


def _native(body: bytes, handle: int = 1, kind: NativeKind = NativeKind.TLS_OUT,
            hook: int = 0) -> bytes:
    size = (NATIVE_HEADER.size + len(body) + 7) & ~7
    head = NATIVE_HEADER.pack(size, kind, 0, 7, 3, handle, 1_700_000_000_000_000_000,
                              len(body), len(body), hook, 0, 0)
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
                                                 "seq": 0, "records": [{"k": "nope"}]}},
                    # a time no float holds, or one that is not finite: the store's REAL
                    # column takes neither (NaN failed it with IntegrityError)
                    *({"type": "send", "payload": {**_batch(0, b"", None), "records": [
                        {**_batch(0, b"", None)["records"][0], "t": t}]}}  # type: ignore[index]
                      for t in (10 ** 400, float("nan"), float("inf"), True))):
        channel.on_message(message, b"\xff" * 3)
    items = []
    while not channel.items.empty():
        items.append(channel.items.get_nowait())
    assert len(items) == 9
    assert all(isinstance(i, ProtocolError) for i in items)
    assert not any(isinstance(i, DecodedBatch) for i in items)




def _http_call(key: int, number: int, body: bytes | None, json_len: int | None = None) -> bytes:
    text = (b'{"q":{"url":"https://h.test/p?x=1","method":"POST","headers":[["X-A","1"]],'
            b'"protocol":"h2"},"qf":0,"qs":0,"r":{"code":201,"headers":[["Server","s"]],'
            b'"protocol":"h2"},"rf":0,"rs":0}')
    head = HTTP_CALL_FORMAT.pack(key, number, 1_699_999_999_000,
                                 len(text) if json_len is None else json_len,
                                 -1 if body is None else len(body))
    return _native(head + text + (body or b""), JAVA_CONN_BASE + 2, NativeKind.HTTP_CALL, 3)


def test_an_http_call_from_c_becomes_the_two_http_records_of_the_js_path(
        tmp_path: Path) -> None:
    hook = "java.okhttp3.CallServerInterceptor.intercept"
    records = [
        {"k": "hook", "t": 1.0, "tid": 1, "hook": "registry", "name": hook,
         "status": "installed", "target": "okhttp3", "group": "java.okhttp3", "index": 3},
        {"k": "call-path", "t": 1.0, "tid": 1, "hook": hook, "key": str(2**63 + 5),
         "frames": ["app.Main.run(Main.java:9)"], "sender": None},
    ]
    run = RunDir.create(tmp_path, "r")
    channel = Channel()
    announced = _http_call(2**63 + 5, 7, b"a=1") + _http_call(2**63 + 5, 8, None)
    unknown = _http_call(99, 9, b"")
    garbled = _http_call(2**63 + 5, 10, b"x", json_len=5000)
    with Recorder(run, channel):
        for seq, (recs, blob) in enumerate([(records, announced), ([], unknown),
                                            ([], garbled)]):
            batch = {**_batch(seq, blob, [0, len(blob)]), "records": recs}
            channel.on_message({"type": "send", "payload": batch}, blob)
    with run.reader() as r:
        http = list(r.events(kinds=["http"]))
        errors = [e[3] for e in r.protocol_errors()]
    assert len(http) == 6
    request, response = http[0], http[1]
    assert request.fields == {
        "stack": "okhttp3", "phase": "request", "call": "okhttp3:42:7",
        "url": "https://h.test/p?x=1", "method": "POST", "headers": [["X-A", "1"]],
        "protocol": "h2", "frames": ["app.Main.run(Main.java:9)"], "sender": None}
    assert (request.data, request.orig_len, request.direction) == (b"a=1", 3, "out")
    assert request.t == 1_699_999_999.0
    assert request.conn == response.conn == f"42:tls:{JAVA_CONN_BASE + 2}"
    assert request.hook == response.hook == hook
    assert response.fields["status"] == 201
    assert response.fields["call"] == "okhttp3:42:7"
    assert (response.data, response.direction) == (None, "in")
    assert http[2].data is None  # no body: -1
    assert http[4].data == b""  # an empty body
    # A path never announced: the records are kept, unattributed, and the gap recorded;
    # a garbled record loses its batch to a protocol error, nothing else.
    assert http[4].fields["frames"] == []
    assert len(errors) == 2
    assert "call path 99 was never announced" in errors[0]
    assert "cannot hold 5000 bytes of JSON" in errors[1]


def _reap_batch(pid: int, seq: int, *reaped: tuple[int, int | None]) -> dict[str, object]:
    return {"type": "batch", "abi": ABI_VERSION, "pid": pid, "seq": seq, "native": None,
            "records": [{"k": "process", "t": 1_700_000_000_000, "tid": pid,
                         "hook": "children.waitpid", "event": "reaped", "child": c,
                         "status": status} for c, status in reaped]}


def test_a_reaped_child_that_never_reported_is_recorded_lost(tmp_path: Path) -> None:
    # The agent reports each child its process waits for (children followed). A child that
    # sent a batch, that Frida announced, or whose detach the session reported is accounted
    # for; one that did none of these died before its agent started (docs/capture.md,
    # children) and becomes a blinding detach in run.json, with how it ended.
    run = RunDir.create(tmp_path, "r")
    channel = Channel()
    with Recorder(run, channel):
        channel.on_message({"type": "send", "payload": _reap_batch(43, 0)}, None)
        channel.on_detached(44, "not-instrumented")
        channel.on_child(48, 42, "fork")
        channel.on_message({"type": "send", "payload": _reap_batch(
            42, 0, (43, 0), (44, 0), (45, signal.SIGSEGV), (46, 3 << 8), (47, None),
            (48, 0))}, None)
    detached = run.load_info().health.detached
    assert [(d["pid"], d["reason"]) for d in detached] == [
        (44, "not-instrumented"),
        (45, "lost-after-fork: child of pid 42, killed by signal 11 (SIGSEGV), never "
             "reported to the harness; nothing it sent was seen"),
        (46, "lost-after-fork: child of pid 42, exit code 3, never reported to the harness; "
             "nothing it sent was seen"),
        (47, "lost-after-fork: child of pid 42, exit status unknown, never reported to the "
             "harness; nothing it sent was seen")]
    with run.reader() as r:
        reaped = [e.fields["child"] for e in r.events() if e.kind == "process"]
        children = [(m.name, m.detail) for m in r.markers() if m.kind == "child"]
    assert sorted(reaped) == [43, 44, 45, 46, 47, 48]
    assert children == [("48", {"parent": 42, "origin": "fork"})]
