"""What the recorder is given is kept: a message the writer cannot store as it is becomes a
protocol error holding the raw message, and run.json's health counts it, so the verdicts
become INCONCLUSIVE instead of PASS over a silent loss (fuzz round 14)."""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from harness.agent.channel import Channel, ProtocolError, message_text
from harness.capture.recorder import Recorder, _wait_status
from harness.capture.rundir import RunDir, RunInfo
from harness.capture.writer import CaptureWriter
from harness.protocol import (
    ABI_VERSION,
    HTTP_CALL_FORMAT,
    NATIVE_HEADER,
    NativeKind,
    ProtocolViolation,
    decode_batch,
    decode_native,
)
from harness.protocol_native import decode_http_call

STREAM = {"k": "stream", "t": 1_700_000_000_000, "tid": 1, "hook": "native.tls.SSL_write",
          "conn": "42:tls:1", "dir": "out", "layer": "tls", "body": [0, 18]}
DATA = b"GET / HTTP/1.1\r\n\r\n"


def batch(seq: int, records: Sequence[Mapping[str, object]], pid: object = 42,
          **extra: object) -> dict[str, object]:
    return {"type": "send", "payload": {"type": "batch", "abi": ABI_VERSION, "pid": pid,
                                        "seq": seq, "records": list(records), "native": None,
                                        **extra}}


def native_record(body: bytes, kind: NativeKind = NativeKind.TLS_OUT, hook: int = 0,
                  orig_len: int | None = None, flags: int = 0) -> bytes:
    size = (NATIVE_HEADER.size + len(body) + 7) & ~7
    head = NATIVE_HEADER.pack(size, kind, flags, 7, 3, 1, 1_700_000_000_000_000_000,
                              len(body) if orig_len is None else orig_len, len(body), hook,
                              0, 0)
    return (head + body).ljust(size, b"\0")


def record(messages: Sequence[tuple[Mapping[str, object], bytes | None]], tmp_path: Path,
           ) -> tuple[RunDir, RunInfo]:
    run = RunDir.create(tmp_path, "r")
    channel = Channel()
    with Recorder(run, channel):
        for message, data in messages:
            channel.on_message(message, data)
    return run, run.load_info()


def stored_errors(run: RunDir) -> list[tuple[int | None, str, object]]:
    """(pid, error, the raw message read back) of each protocol error stored."""
    with run.reader() as r:
        return [(pid, error, json.loads(message or "null"))
                for _i, _t, pid, error, message in r.protocol_errors()]


def stored_errors_text(run: RunDir) -> list[tuple[int | None, str, str | None]]:
    with run.reader() as r:
        return [(pid, error, message) for _i, _t, pid, error, message in r.protocol_errors()]


def test_an_agent_exception_quoting_a_lone_surrogate_is_kept(tmp_path: Path) -> None:
    error = {"type": "error", "description": "TypeError: cannot read 'x' of \"caf\ud83d\"",
             "stack": "at hook (agent.js:1)", "fileName": "agent.js", "lineNumber": 1}
    run, info = record([(error, None)], tmp_path)
    assert info.health.protocol_errors == 1
    ((pid, what, message),) = stored_errors(run)
    assert (pid, what) == (None, "agent-exception")
    assert message == error  # whole, the lone surrogate too


def test_a_refused_batch_whose_pid_no_column_holds_is_kept(tmp_path: Path) -> None:
    bad = batch(0, [{**STREAM, "k": "nope"}], pid=1 << 64)
    run, info = record([(bad, DATA)], tmp_path)
    assert info.health.protocol_errors == 1
    ((pid, what, message),) = stored_errors(run)
    assert pid is None
    assert what
    assert message == bad


def test_the_writer_stores_a_protocol_error_whatever_its_values(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "r")
    with CaptureWriter(run.capture_db) as writer:
        writer.protocol_error("bad \udc80", "caf\ud83d", b"x", pid=1 << 64, t=float("nan"))
    ((pid, what, message),) = stored_errors_text(run)
    assert pid is None
    assert what == "bad \\udc80 (pid 18446744073709551616 does not fit an integer column)"
    assert message == "caf\\ud83d"


def conn_record(**fields: object) -> dict[str, object]:
    return {"k": "conn", "t": 1_700_000_000_000, "tid": 1, "hook": "java.tlsconn",
            "conn": "42:tls:4294967296", **fields}


REFUSED_BY_SQLITE = {
    "lone surrogate in hook": batch(1, [STREAM, {**STREAM, "hook": "java.Foo.\udc80bar"}]),
    "lone surrogate in conn": batch(1, [STREAM, {**STREAM, "conn": "42:tls:\ud83d"}]),
    "tid beyond int64": batch(1, [STREAM, {**STREAM, "tid": 1 << 63}]),
    "olen beyond int64": batch(1, [{**STREAM, "olen": 1 << 64}]),
    "pid beyond int64": batch(1, [STREAM], pid=1 << 64),
    "seq beyond int64": batch(1 << 64, [STREAM]),
    "peer_ip a list": batch(1, [STREAM, conn_record(peer_ip=["127.0.0.1"])]),
    "sni an object": batch(1, [STREAM, conn_record(sni={"name": "example.com"})]),
    "peer_port beyond int64": batch(1, [STREAM, conn_record(peer_port=1 << 64)]),
    "tls_version a list": batch(1, [STREAM, conn_record(tls_version=[True])]),
}


@pytest.mark.parametrize("case", REFUSED_BY_SQLITE)
def test_a_batch_sqlite_would_refuse_is_kept_as_a_protocol_error(tmp_path: Path,
                                                                 case: str) -> None:
    bad = REFUSED_BY_SQLITE[case]
    run, info = record([(batch(0, [STREAM]), DATA), (bad, DATA)], tmp_path)
    with run.reader() as r:
        assert [seq for _id, _pid, seq, *_ in r.batches()] == [0]
        assert [e.data for e in r.events()] == [DATA]
    assert (info.health.batches, info.health.protocol_errors) == (1, 1)
    ((_pid, _what, message),) = stored_errors(run)
    assert message == json.loads(json.dumps(bad))  # the raw message, whole
    with sqlite3.connect(run.capture_db) as db:
        assert db.execute("SELECT data FROM protocol_errors").fetchone() == (DATA,)


def test_an_unforeseen_refusal_by_the_store_is_kept_as_a_protocol_error(tmp_path: Path,
                                                                       ) -> None:
    # Whatever the decoders miss: here a trigger stands for a refusal nobody foresaw.
    run = RunDir.create(tmp_path, "r")
    with sqlite3.connect(run.capture_db) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.tid = 666 "
                   "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    channel = Channel()
    refused = batch(1, [STREAM, {**STREAM, "tid": 666}])
    with Recorder(run, channel):
        for message in (batch(0, [STREAM]), refused, batch(2, [STREAM])):
            channel.on_message(message, DATA)
    info = run.load_info()
    assert (info.health.batches, info.health.protocol_errors) == (2, 1)
    with run.reader() as r:
        assert [seq for _id, _pid, seq, *_ in r.batches()] == [0, 2]
        assert len(list(r.events())) == 2  # nothing of the refused batch half-written
    ((pid, what, message),) = stored_errors(run)
    assert pid == 42
    assert "refused" in what
    assert message == refused


@pytest.mark.parametrize("case", REFUSED_BY_SQLITE)
def test_the_decoder_refuses_what_sqlite_would_refuse(case: str) -> None:
    payload = REFUSED_BY_SQLITE[case]["payload"]
    assert isinstance(payload, dict)
    with pytest.raises(ProtocolViolation):
        decode_batch(payload, DATA)


def test_a_lone_surrogate_in_a_connection_fact_is_kept(tmp_path: Path) -> None:
    # An app chooses its ALPN names: the record keeps the escape, the connections table
    # (text) shows U+FFFD, as readers show the record's fields.
    run, info = record([(batch(0, [conn_record(alpn="h2\ud800")]), DATA)], tmp_path)
    assert (info.health.batches, info.health.protocol_errors) == (1, 0)
    with run.reader() as r:
        (conn,) = r.connections().values()
        assert conn.alpn == "h2\ufffd"
    with sqlite3.connect(run.capture_db) as db:
        (fields,) = db.execute("SELECT fields FROM events").fetchone()
    assert json.loads(fields)["alpn"] == "h2\ud800"


def test_a_hook_name_with_a_lone_surrogate_does_not_poison_later_batches(
        tmp_path: Path) -> None:
    hook = {"k": "hook", "t": 1_700_000_000_000, "tid": 1, "hook": "registry",
            "name": "native.tls.SSL_write\udc80", "status": "installed",
            "target": "libssl.so.3", "group": "native.tls", "index": 0}
    blob = native_record(DATA)
    later = [(batch(s, [], native=[0, len(blob)]), blob) for s in range(1, 6)]
    run, info = record([(batch(0, [hook]), b""), *later], tmp_path)
    assert (info.health.batches, info.health.protocol_errors) == (5, 1)
    with run.reader() as r:
        assert [(e.hook, e.data) for e in r.events()] == [("native#0", DATA)] * 5
    ((_pid, what, _message),) = stored_errors(run)
    assert "hook: name must be text without a lone surrogate" in what


def test_a_refused_batch_is_kept_whole_however_long_its_json(tmp_path: Path) -> None:
    # A 50 ms batch of SDK calls passes 1 MB of JSON easily; the agent caps body bytes only.
    records = [{"k": "sdk", "t": 1_700_000_000_000 + i, "tid": 1, "hook": "java.sdk.track",
                "sdk": "sensorsdata", "event": f"event-{i}",
                "properties": {"distinct_id": f"DID-{i:06d}", "$screen": "x" * 200}}
               for i in range(6000)]
    records[0]["new_member"] = True  # one record this harness does not know
    bad = batch(0, records)
    run, info = record([(bad, b"")], tmp_path)
    assert info.health.protocol_errors == 1
    ((_pid, _what, message),) = stored_errors(run)
    assert len(json.dumps(bad)) > 1_500_000
    assert message == bad


def test_beyond_what_a_row_holds_the_cut_is_said(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "r")
    with CaptureWriter(run.capture_db) as writer:
        writer._db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 100_000)  # SQLite's is 1e9 bytes
        writer.protocol_error("unknown field", "m" * 200_000, b"d" * 20_000, pid=42)
    ((_pid, what, message),) = stored_errors_text(run)
    assert message is not None
    assert what == (f"unknown field (message cut to {len(message)} of 200000 characters: "
                    "beyond what the store holds)")
    assert 60_000 < len(message) < 80_000


def nested(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


def json_of(value: object) -> str:
    """json.dumps of a value nested deeper than the recursion limit allows here."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 20_000)
    try:
        return json.dumps(value)
    finally:
        sys.setrecursionlimit(limit)


def test_a_message_nested_deeper_than_json_can_encode_is_kept(tmp_path: Path) -> None:
    # Frida's json.loads reads a message on its own thread; our callback and the writer run
    # frames deeper, where json's encoder (one frame per level) hits the recursion limit.
    depth = sys.getrecursionlimit() + 100
    sdk = {"k": "sdk", "t": 1_700_000_000_000, "tid": 1, "hook": "h",
           "properties": nested(depth)}
    refused = batch(0, [{**sdk, "unknown_member": 1}])  # refused by the decoder
    stored = batch(1, [sdk])  # decoded; json's encoder fails in the writer
    channel = Channel()
    channel.on_message(refused, DATA)
    item = channel.items.get_nowait()
    assert isinstance(item, ProtocolError)
    assert item.message == json_of(refused)
    run, info = record([(refused, DATA), (stored, DATA)], tmp_path)
    assert (info.health.batches, info.health.protocol_errors) == (0, 2)
    with run.reader() as r:
        messages = [m for _i, _t, _pid, _e, m in r.protocol_errors()]
    assert messages == [json_of(refused), json_of(stored)]


def test_a_circular_message_is_kept_as_far_as_it_can_be_written() -> None:
    loop: dict[str, object] = {"type": "send"}
    loop["payload"] = {"deep": nested(sys.getrecursionlimit() + 100), "loop": loop}
    text = message_text(loop)
    assert text.startswith('{"type": "send", "payload": {"deep": [[[')
    assert text.endswith(']]], "loop": "<circular reference>"}}')


def backlog(channel: Channel, batches: int, per: int) -> int:
    """Queue ``batches`` full batches of native TLS records before the writer starts, as if
    Frida delivered them faster than the writer commits; returns the number of records."""
    blob = native_record(b"GET / HTTP/1.1\r\n") * per
    for seq in range(batches):
        channel.on_message(batch(seq, [], native=[0, len(blob)]), blob)
    return batches * per


def test_close_waits_for_the_writer_however_long_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The writer took longer than close waited (30 s, shrunk here through the progress
    # interval): close closed the connection under it, SIGSEGV, batches lost, run.json
    # already "complete".
    run = RunDir.create(tmp_path, "r")
    channel = Channel()
    records = backlog(channel, 8, 4000)
    with caplog.at_level(logging.WARNING, "harness.capture.recorder"), \
            Recorder(run, channel, progress_interval=0.02):
        pass
    info = run.load_info()
    assert info.status == "complete"
    assert (info.health.batches, info.health.records) == (8, records)
    with sqlite3.connect(run.capture_db) as db:
        assert db.execute("SELECT count(*) FROM events").fetchone() == (records,)
    assert any("still writing" in r.getMessage() for r in caplog.records)


def test_a_drain_cut_short_counts_what_it_did_not_write(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "r")
    channel = Channel()
    backlog(channel, 40, 4000)
    channel.on_message({"type": "error", "description": "late"}, None)
    channel.on_detached(42, "process-terminated")
    with Recorder(run, channel, drain_timeout=0.01, progress_interval=0.01):
        pass
    info = run.load_info()
    with sqlite3.connect(run.capture_db) as db:
        (written,) = db.execute("SELECT count(*) FROM batches").fetchone()
        (events,) = db.execute("SELECT count(*) FROM events").fetchone()
    assert written < 40
    assert info.status == "interrupted"
    assert events == 4000 * written  # every batch written is whole
    assert (info.health.batches, info.health.sequence_gaps) == (written, 40 - written)
    assert info.health.protocol_errors == 1
    assert [d["pid"] for d in info.health.detached] == [42]


def test_a_wait_status_beyond_a_c_int_is_refused_and_the_run_still_ends(tmp_path: Path) -> None:
    # os.WIFSIGNALED(0x80000000) raised OverflowError in close(), which then skipped the
    # final save: run.json stayed "capturing", its health stale.
    reaped = {"k": "process", "t": 1_700_000_000_000, "tid": 1, "hook": "children.waitpid",
              "event": "reaped", "child": 123, "status": 0x80000000}
    run, info = record([(batch(0, [reaped]), b""), (batch(1, [{**reaped, "status": 9}]), b"")],
                       tmp_path)
    assert info.status == "complete"
    assert info.ended is not None
    assert info.health.protocol_errors == 1
    ((_pid, what, _message),) = stored_errors(run)
    assert what == "process: status must be an integer of 32 bits or null, not 2147483648"
    assert [d["reason"] for d in info.health.detached] == [
        "lost-after-fork: child of pid 42, killed by signal 9 (SIGKILL), never reported to "
        "the harness; nothing it sent was seen"]


@pytest.mark.parametrize(("status", "words"), [
    (0x80000000, "wait status 0x80000000"), (1 << 70, "exit status unknown"),
    (-1, "wait status -0x1"), (True, "exit status unknown"), (3 << 8, "exit code 3")])
def test_any_wait_status_is_said_in_words(status: object, words: str) -> None:
    assert _wait_status(status) == words  # type: ignore[arg-type]


BODY = b"GET / HTTP/1.1\r\n\r\n"  # 18 bytes


@pytest.mark.parametrize(("orig_len", "flags"), [
    (0, 0),  # shorter than the bytes it came with
    (2**32 - 1, 0),  # 4 GiB, but not flagged as cut
    (18, 1),  # flagged as cut, but whole
    (17, 1),
])
def test_native_lengths_that_contradict_the_bytes_are_refused(
        tmp_path: Path, orig_len: int, flags: int) -> None:
    blob = native_record(BODY, orig_len=orig_len, flags=flags)
    with pytest.raises(ProtocolViolation, match="disagree"):
        decode_native(blob)
    _run, info = record([(batch(0, [], native=[0, len(blob)]), blob)], tmp_path)
    assert (info.health.protocol_errors, info.health.bytes_hooked_out) == (1, 0)


def test_native_lengths_that_agree_are_kept(tmp_path: Path) -> None:
    whole, cut = native_record(BODY), native_record(BODY, orig_len=5000, flags=1)
    assert [(n.orig_len, n.truncated) for n in decode_native(whole + cut)] == [
        (18, False), (5000, True)]


@pytest.mark.parametrize("extra", [
    {"olen": 3}, {"olen": 3, "trunc": True}, {"olen": 5000}, {"olen": 18, "trunc": 1},
    {"trunc": "yes"}, {"olen": -1000}, {"olen": True}])
def test_json_lengths_that_contradict_the_body_are_refused(
        tmp_path: Path, extra: dict[str, object]) -> None:
    _run, info = record([(batch(0, [{**STREAM, **extra}]), BODY)], tmp_path)
    assert (info.health.protocol_errors, info.health.batches) == (1, 0)
    assert info.health.bytes_hooked_out == 0


@pytest.mark.parametrize(("extra", "stored"), [
    ({}, (18, False)), ({"olen": 18}, (18, False)), ({"olen": 5000, "trunc": True}, (5000, True)),
    ({"olen": 18, "trunc": True}, (18, True))])  # a cut transform slice flags the record
def test_json_lengths_that_agree_are_kept(tmp_path: Path, extra: dict[str, object],
                                          stored: tuple[int, bool]) -> None:
    run, info = record([(batch(0, [{**STREAM, **extra}]), BODY)], tmp_path)
    with run.reader() as r:
        (ev,) = r.events()
    assert (ev.orig_len, ev.truncated) == stored
    assert info.health.bytes_hooked_out == stored[0]


def test_an_http_call_nested_too_deeply_is_a_protocol_violation(tmp_path: Path) -> None:
    text = b"[" * 5000 + b"]" * 5000
    body = HTTP_CALL_FORMAT.pack(1, 1, 1_700_000_000_000, len(text), -1) + text
    with pytest.raises(ProtocolViolation, match="http-call JSON: nested too deeply"):
        decode_http_call(body)
    blob = native_record(body, kind=NativeKind.HTTP_CALL)
    run, info = record([(batch(0, [], native=[0, len(blob)]), blob)], tmp_path)
    assert info.health.protocol_errors == 1
    ((_pid, what, _message),) = stored_errors(run)
    assert what == "http-call JSON: nested too deeply"
