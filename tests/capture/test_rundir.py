from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.capture.rundir import FORMAT_VERSION, RunDir
from harness.capture.writer import CaptureWriter, EventRow
from harness.errors import RunDirError


def test_round_trip(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "r1")
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(
            10, 0,
            [EventRow(t=1.0, kind="stream", hook="native.tls.SSL_write", pid=10, conn="c1",
                      direction="out", data=b"GET / HTTP/1.1\r\n\r\n", fields={"layer": "tls"})],
            connections=[{"conn": "c1", "pid": 10, "sni": "example.test", "peer_port": 443}],
        )
        w.upsert_connections([{"conn": "c1", "tls_version": "TLSv1.3", "sni": None}])
        w.marker("phase-start", "browse")
    opened = RunDir.open(run.path)
    with opened.reader() as r:
        (ev,) = list(r.events())
        assert ev.data == b"GET / HTTP/1.1\r\n\r\n"
        assert ev.connection is not None
        assert ev.connection.sni == "example.test"  # not erased by a later None
        assert ev.connection.tls_version == "TLSv1.3"
        assert [m.name for m in r.markers()] == ["browse"]
    assert opened.load_info().format_version == FORMAT_VERSION


def test_newer_format_refused(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "r2")
    data = json.loads(run.run_json.read_text())
    data["format_version"] = FORMAT_VERSION + 1
    run.run_json.write_text(json.dumps(data))
    with pytest.raises(RunDirError, match="newer"):
        RunDir.open(run.path)
