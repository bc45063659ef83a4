"""Byte coverage against the kernel's count: overhead floors, one count per TLS view."""

from __future__ import annotations

from pathlib import Path

from harness.capture.rundir import RunDir
from harness.claims.coverage import (
    PACKET_HEADER_FLOOR,
    TLS_HANDSHAKE_FLOOR,
    TLS_RECORD_FLOOR,
    coverage,
    kernel_packets_out,
)
from harness.testing.runbuilder import RunBuilder


def _run(tmp: Path, *, java_too: bool) -> RunDir:
    b = RunBuilder(tmp, "journey", run_id="r")
    b.phase("browse")
    conn = b.connect("api.lab.test")
    for _ in range(10):
        b.send(conn, b"x" * 100)
    b.send(conn, b"y" * 500, direction="in")
    if java_too:  # Conscrypt's Java stream saw the same ten writes the native hook did
        jconn = b.connect("api.lab.test")
        for _ in range(10):
            b.send(jconn, b"x" * 100,
                   hook="java.conscrypt.ConscryptFileDescriptorSocket$SSLOutputStream.write")
    run = b.build()
    if java_too:
        with run.reader() as r:
            rows = r.stream_totals("out")
        assert len(rows) == 2
    return run


def test_overhead_floors_explain_what_the_kernel_counted(tmp_path: Path) -> None:
    run = _run(tmp_path, java_too=False)
    cov = coverage(run, kernel_out=2700, kernel_packets_out=30)
    assert (cov.tls_plaintext, cov.tls_records, cov.tls_connections) == (1000, 10, 1)
    assert cov.wire_estimate == (1000 + 10 * TLS_RECORD_FLOOR + TLS_HANDSHAKE_FLOOR
                                 + 30 * PACKET_HEADER_FLOOR)
    assert 0.95 <= cov.ratio < 1.0  # raw plaintext alone would be 37%
    assert "2700 the kernel counted" in cov.describe()
    # Without packet counts the estimate is smaller: the gate gets stricter, not laxer.
    assert coverage(run, 2700).ratio < 0.95


def test_the_same_bytes_in_two_views_count_once(tmp_path: Path) -> None:
    run = _run(tmp_path / "a", java_too=True)
    assert coverage(run, 10_000).tls_plaintext == 1000


def test_packets_come_from_every_phase_or_not_at_all() -> None:
    rows = [{"phase": "a", "source": "netstats", "tx_bytes": 10, "tx_packets": 3},
            {"phase": "b", "source": "netstats", "tx_bytes": 10, "tx_packets": 4}]
    assert kernel_packets_out({"egress_counters": rows}) == 7
    rows[1] = {"phase": "b", "source": "uid_stat", "tx_bytes": 10}
    assert kernel_packets_out({"egress_counters": rows}) is None
    assert kernel_packets_out({}) is None
