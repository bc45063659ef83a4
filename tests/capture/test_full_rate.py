"""Zero loss at full rate: a C keep-alive client as fast as it goes, under ``capture_command``.

Not a speed test (bench/hook_overhead.py measures that): it checks that when the hooks fire
tens of thousands of times a second, every byte the server received is in the capture, in
order, and every byte the client read back too, with no sequence gap and no protocol error.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from harness.capture.job import capture_command
from harness.testing.certs import PKIFiles
from harness.testing.keepalive import (
    ClientResult,
    KeepaliveServer,
    build_keepalive,
    client_argv,
)

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_every_byte_at_the_clients_top_rate(tmp_path: Path, pki: PKIFiles) -> None:
    exe = build_keepalive(tmp_path)
    result = tmp_path / "client.json"
    with KeepaliveServer(exe, pki, tmp_path) as server:
        job = capture_command(client_argv(exe, server.port, pki, 1.5, 300, result),
                              tmp_path / "runs", timeout=120)
        received = server.result()
    assert job.exited
    client = ClientResult.load(result)
    assert client.requests == received.requests
    assert client.requests > 100  # the loop ran; how fast is the bench's business

    out, inn = hashlib.sha256(), bytearray()
    out_len = 0
    with job.run.reader() as reader:
        conns = {e.conn for e in reader.events(kinds=["stream"])}
        assert len(conns) == 1
        (conn,) = reader.connections().values()
        for event in reader.events(kinds=["stream"]):
            assert event.data is not None
            assert not event.truncated
            if event.direction == "out":
                out.update(event.data)
                out_len += len(event.data)
            else:
                inn += event.data
    assert out_len == received.received == client.sent
    assert out.hexdigest() == received.sha256
    assert bytes(inn) == RESPONSE * client.requests
    assert (conn.peer_ip, conn.peer_port, conn.sni) == ("127.0.0.1", server.port, "localhost")
    assert conn.tls_version == "TLSv1.3"
    health = job.run.load_info().health
    assert health.sequence_gaps == 0
    assert health.protocol_errors == 0
    assert (health.ring_drops, health.ring_dropped_bytes) == (0, 0)  # every batch says so
    assert health.bytes_hooked_out == received.received
