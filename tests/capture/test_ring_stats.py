"""The native ring's loss counters travel in every batch and reach run.json's health."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from harness.agent.session import AgentConfig
from harness.capture.job import capture_command
from harness.testing.certs import PKIFiles
from harness.testing.tls_server import TLSServer

CLIENT = textwrap.dedent("""
    import http.client, ssl, sys
    port, ca = int(sys.argv[1]), sys.argv[2]
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    for i in range(3):
        conn.request("POST", "/c", body=b"x" * 20000, headers={"Content-Type": "text/plain"})
        assert conn.getresponse().read() == b"ok"
    conn.close()
""")


def test_drops_reach_run_json(tmp_path: Path, pki: PKIFiles) -> None:
    # buffers of 8 kB cannot hold a 20 kB record: each POST body is dropped (no wait), counted
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    config = AgentConfig(java=False, extra={"ringBufferBytes": 8192, "ringWaitLimitMs": 0})
    with TLSServer(pki) as server:
        job = capture_command([sys.executable, str(script), str(server.port), str(pki.ca_cert)],
                              tmp_path / "runs", config=config, timeout=60)
        received = len(server.received_total())
    assert job.exited
    health = job.run.load_info().health
    assert health.ring_drops >= 3
    assert health.ring_dropped_bytes >= 3 * 20000
    assert health.bytes_hooked_out < received  # what was dropped is not in the capture
    assert health.protocol_errors == 0


def test_no_drops_is_zero_not_missing(tmp_path: Path, pki: PKIFiles) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    with TLSServer(pki) as server:
        job = capture_command([sys.executable, str(script), str(server.port), str(pki.ca_cert)],
                              tmp_path / "runs", config=AgentConfig(java=False), timeout=60)
        received = len(server.received_total())
    health = job.run.load_info().health
    assert (health.ring_drops, health.ring_dropped_bytes) == (0, 0)
    assert health.bytes_hooked_out == received
