"""What the recorder is given is kept: a message the writer cannot store as it is becomes a
protocol error holding the raw message, and run.json's health counts it, so the verdicts
become INCONCLUSIVE instead of PASS over a silent loss (fuzz round 14)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.agent.channel import Channel
from harness.capture.recorder import Recorder
from harness.capture.rundir import RunDir, RunInfo
from harness.protocol import ABI_VERSION

STREAM = {"k": "stream", "t": 1_700_000_000_000, "tid": 1, "hook": "native.tls.SSL_write",
          "conn": "42:tls:1", "dir": "out", "layer": "tls", "body": [0, 18]}
DATA = b"GET / HTTP/1.1\r\n\r\n"


def batch(seq: int, records: Sequence[Mapping[str, object]], pid: object = 42,
          **extra: object) -> dict[str, object]:
    return {"type": "send", "payload": {"type": "batch", "abi": ABI_VERSION, "pid": pid,
                                        "seq": seq, "records": list(records), "native": None,
                                        **extra}}


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
    assert "unknown record kind 'nope'" in what
    assert message == bad
