"""CaptureWriter: fields read back exactly as written, with the encoding cache in the way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from harness.capture.rundir import RunDir
from harness.capture.writer import FIELDS_CACHE, CaptureWriter, EventRow
from harness.protocol import JSON


def test_equal_but_differently_typed_fields_are_not_confused(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path)
    shapes: list[dict[str, JSON]] = [
        {"fd": 1}, {"fd": True}, {"fd": 1.0}, {"fd": 1}, {}, {"fd": [1, 2]}, {"fd": {"a": 1}},
        {"layer": "tls", "fd": -1}, {"fd": -1, "layer": "tls"},
    ]
    # more distinct shapes than the cache holds, so it is cleared on the way
    shapes += [{"layer": "tcp", "fd": i} for i in range(FIELDS_CACHE + 10)]
    rows = [EventRow(t=float(i), kind="stream", hook="h", conn="c", direction="out",
                     data=b"x", fields=f) for i, f in enumerate(shapes)]
    with CaptureWriter(run.capture_db) as writer:
        writer.write_batch(1, 0, rows[:5])
        writer.write_batch(1, 1, rows[5:])
    with run.reader() as reader:
        got = [dict(e.fields) for e in reader.events()]
    assert got == shapes
    assert [type(g.get("fd")) for g in got[:4]] == [int, bool, float, int]


def test_zero_and_negative_zero_are_not_confused(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path)
    shapes: list[dict[str, JSON]] = [{"event": 0.0}, {"event": -0.0}, {"event": 0.0}]
    rows = [EventRow(t=float(i), kind="sdk", hook="h", fields=f) for i, f in enumerate(shapes)]
    with CaptureWriter(run.capture_db) as writer:
        writer.write_batch(1, 0, rows[:1])
        writer.write_batch(1, 1, rows[1:])
    with sqlite3.connect(run.capture_db) as db:
        stored = [f for (f,) in db.execute("SELECT fields FROM events ORDER BY seq")]
    assert stored == ['{"event":0.0}', '{"event":-0.0}', '{"event":0.0}']
