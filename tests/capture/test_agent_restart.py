"""A process that execs keeps its pid and gets a new agent, which numbers its batches and
connections from 0 again: every tally and id is per agent (pid, agent instance), so a lost
batch of the second agent is a gap and the two agents' connections stay apart."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

from harness.agent.channel import Channel
from harness.capture.recorder import Recorder
from harness.capture.rundir import FORMAT_VERSION, RunDir
from harness.capture.writer import CaptureWriter, EventRow
from harness.claims.evidence import batch_gaps
from harness.protocol import ABI_VERSION, CONN_INFO_FORMAT, NATIVE_HEADER, NativeKind

PID = 4242


def _batch(seq: int, ring: dict[str, int] | None = None,
           native: list[int] | None = None) -> dict[str, object]:
    return {"type": "send", "payload": {
        "type": "batch", "abi": ABI_VERSION, "pid": PID, "seq": seq, "native": native,
        "ring": ring,
        "records": [{"k": "log", "t": 1.0, "tid": 1, "hook": "emit", "level": "info",
                     "message": f"batch {seq}"}]}}


def _conn_info_and_write(handle: int, body: bytes) -> bytes:
    """A native CONN_INFO (plain TCP to 127.0.0.1:8080) and one TCP_OUT of ``body``."""
    lo = socket.inet_aton("127.0.0.1").ljust(16, b"\0")
    info = CONN_INFO_FORMAT.pack(2, 5555, 8080, 1, 3, lo, lo) + b"\0\0\0"  # no SNI...
    out = b""
    for kind, payload in ((NativeKind.CONN_INFO, info), (NativeKind.TCP_OUT, body)):
        size = (NATIVE_HEADER.size + len(payload) + 7) & ~7
        out += (NATIVE_HEADER.pack(size, kind, 0, 7, 3, handle, 1_700_000_000_000_000_000,
                                   len(payload), len(payload), 0, 0, 0) + payload
                ).ljust(size, b"\0")
    return out


def test_a_lost_batch_of_the_agent_after_an_exec_is_a_gap(tmp_path: Path) -> None:
    # The pid's first agent sends 0..4; it execs; the new agent's batch 1 is lost. Keyed by
    # pid alone, the first agent's batch 1 hid it from both tallies (0 gaps), and the new
    # agent's ring counters were ignored until its seq passed 4 (fuzz14 F03).
    run = RunDir.create(tmp_path, "r")
    channel = Channel()
    ring = {"drops": 5, "droppedBytes": 500, "waits": 1}
    with Recorder(run, channel):
        for seq in range(5):
            channel.on_message(_batch(seq), None)
        channel.on_child(PID, PID, "exec")
        for seq in (0, 2, 3):
            channel.on_message(_batch(seq, ring), None, agent=1)
    info = run.load_info()
    assert info.health.batches == 8
    assert info.health.sequence_gaps == 1
    assert (info.health.ring_drops, info.health.ring_dropped_bytes) == (5, 500)
    with RunDir.open(run.path).reader() as r:
        batches = r.batches()
    assert [(b[1], b[2], b[6]) for b in batches] == [
        *((PID, s, 0) for s in range(5)), (PID, 0, 1), (PID, 2, 1), (PID, 3, 1)]
    assert batch_gaps(((pid, agent), seq) for _i, pid, seq, _t, _n, _b, agent in batches) == 1


def test_batch_gaps_counts_each_agent_from_zero() -> None:
    assert batch_gaps([((1, 0), 0), ((1, 0), 1), ((1, 1), 1)]) == 1  # the 2nd's 0 is lost
    assert batch_gaps([((1, 0), 0), ((1, 1), 0), ((2, 0), 0)]) == 0


def test_connections_of_two_agents_in_one_pid_stay_apart(tmp_path: Path) -> None:
    # Both agents number their first connection 1: one id would have merged the program
    # before the exec and the one after into one connection.
    run = RunDir.create(tmp_path, "r")
    channel = Channel()
    with Recorder(run, channel):
        for agent, body in ((0, b"before exec"), (1, b"after exec")):
            data = _conn_info_and_write(1, body)
            channel.on_message(_batch(0, native=[0, len(data)]), data, agent=agent)
        # a JSON record's conn is named by the agent itself (connId with its instance, from
        # init config ``agent``: tests/hooks_java/test_agent_instance.py), and kept as it is
        channel.on_message({"type": "send", "payload": {
            "type": "batch", "abi": ABI_VERSION, "pid": PID, "seq": 1, "native": None,
            "records": [{"k": "stream", "t": 2.0, "tid": 1, "hook": "java.tls",
                         "conn": f"{PID}.1:tls:4294967296", "dir": "out"}]}}, None, agent=1)
    with RunDir.open(run.path).reader() as r:
        conns = r.connections()
        sent = {c: b"".join(e.data or b"" for e in r.events(kinds=["stream"], conn=c))
                for c in conns}
        java = [e.conn for e in r.events(kinds=["stream"]) if e.hook == "java.tls"]
    assert sent == {f"{PID}:tcp:1": b"before exec", f"{PID}.1:tcp:1": b"after exec"}
    assert java == [f"{PID}.1:tls:4294967296"]
    assert run.load_info().health.sequence_gaps == 0


def test_a_format_1_run_dir_is_read_with_agent_0_and_left_as_it_was(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "old")
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(7, 0, [EventRow(t=1.0, kind="log", hook="emit", pid=7)])
        w.write_batch(7, 2, [EventRow(t=2.0, kind="log", hook="emit", pid=7)])
    db = sqlite3.connect(run.capture_db)
    with db:  # the batches table as format 1 made it
        db.execute("ALTER TABLE batches DROP COLUMN agent")
        db.execute("UPDATE meta SET value='1' WHERE key='format_version'")
    db.close()
    data = json.loads(run.run_json.read_text())
    run.run_json.write_text(json.dumps({**data, "format_version": 1}))
    before = (run.capture_db.read_bytes(), run.run_json.read_bytes())
    opened = RunDir.open(run.path)
    assert opened.load_info().format_version == 1 < FORMAT_VERSION
    with opened.reader() as r:
        batches = r.batches()
    assert [(b[2], b[6]) for b in batches] == [(0, 0), (2, 0)]
    assert batch_gaps(((pid, agent), seq) for _i, pid, seq, _t, _n, _b, agent in batches) == 1
    assert (run.capture_db.read_bytes(), run.run_json.read_bytes()) == before
