"""JSSE's stream chunks through the native hooks' ring (java/centries.ts with native/ring.ts):
with the native hooks on, a stream's chunks after its first go into the ring from C and
reach the run dir as native records, in order, named by the JSSE hook, on the connection
the JS side announced. Through the product path (session, recorder, run dir), as
bench/java_overhead.py measures it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import frida
import pytest

from harness.agent.bundle import build_agent
from harness.agent.channel import Channel
from harness.agent.session import AgentConfig, CaptureSession
from harness.capture.recorder import Recorder
from harness.capture.rundir import RunDir
from harness.testing.javafixtures import Fixtures, JavaDriver
from harness.testing.recording_server import RecordingServer, ServerCert


@pytest.fixture(scope="module")
def run(fixtures: Fixtures, truststore: Path, cert: ServerCert,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunDir, RecordingServer]]:
    with RecordingServer(cert) as srv, \
            JavaDriver(fixtures.classpath(with_fixtures=False), truststore) as driver:
        rd = RunDir.create(tmp_path_factory.mktemp("runs"))
        channel = Channel()
        with Recorder(rd, channel), \
                CaptureSession(frida.get_local_device(), build_agent(), channel,
                               AgentConfig(native=True, profile=True),
                               follow_children=False) as session:
            session.attach(driver.pid)
            for tag in ("r1", "r2", "r3"):
                assert driver.command(f"okhttp {srv.url}/ring h1 {tag}") == "200 http/1.1"
            assert driver.command(f"jsse 127.0.0.1 {srv.port} jsse-ring-{'y' * 30000}") != ""
            session.flush()
            PROFILE.update(session.status(driver.pid)["profile"])  # type: ignore[arg-type]
            # The driver's main thread is blocked in a hooked read(0) of its stdin: one more
            # command once the hooks are reverted lets it return (session.stop_pid).
            session.stop_pid(driver.pid, nudge=lambda: driver.command("ping"))
        yield rd, srv


PROFILE: dict[str, dict[str, int]] = {}
"""The agent's profile at the end of the run (the fixture fills it): JS callbacks counted."""


def streams(rd: RunDir, direction: str) -> dict[str, tuple[bytes, set[str | None], list[str]]]:
    """conn -> (its bytes in one direction, in order; the hook names that carried them; where
    each chunk came from: "ring" for a native record, which carries an fd, else "js")."""
    out: dict[str, tuple[bytearray, set[str | None], list[str]]] = {}
    with rd.reader() as reader:
        for ev in reader.events(kinds=["stream"]):
            if ev.conn and ev.direction == direction and ev.data:
                data, hooks, origins = out.setdefault(ev.conn, (bytearray(), set(), []))
                data += ev.data
                hooks.add(ev.hook)
                origins.append("ring" if "fd" in ev.fields else "js")
    return {c: (bytes(d), h, o) for c, (d, h, o) in out.items()}


def test_stream_chunks_through_the_ring_are_byte_exact(
        run: tuple[RunDir, RecordingServer]) -> None:
    rd, srv = run
    out = streams(rd, "out")
    assert len(srv.connections) == 4
    for received in srv.connections:
        matches = [c for c, (data, _, _) in out.items() if data == bytes(received.data)]
        assert matches, f"no captured stream equals a connection's {len(received.data)} bytes"
        _data, hooks, _origins = out[matches[0]]
        assert hooks == {"java.jsse.AppOutputStream.write"}
    # Every chunk is a ring record. Only a stream's first chunk enters JS (which learns the
    # stream, writes its conn record, and puts the chunk into the ring itself): the jsse
    # command's second write went from C straight into the ring.
    assert all(set(origins) == {"ring"} for _, _, origins in out.values())
    chunks = sum(len(origins) for _, _, origins in out.values())
    assert PROFILE["java.jsse.AppOutputStream.write callback"]["calls"] == len(out) < chunks
    incoming = streams(rd, "in")
    assert len(incoming) == 4
    assert all(data.startswith(b"HTTP/1.1 200 OK") for data, _, _ in incoming.values())


def test_the_ring_records_name_the_connection_js_announced(
        run: tuple[RunDir, RecordingServer]) -> None:
    rd, _srv = run
    with rd.reader() as reader:
        conns = {ev.conn for ev in reader.events(kinds=["conn"])
                 if ev.fields.get("library") == "jsse"}
        http = [ev for ev in reader.events(kinds=["http"])
                if str(ev.fields.get("url", "")).endswith("/ring?tag=r2")]
    out = streams(rd, "out")
    assert out
    assert set(out) <= conns, "a stream record on a connection no conn record announced"
    requests = [ev.conn for ev in http if ev.fields.get("phase") == "request"]
    assert len(requests) == 1
    assert requests == [c for c, (data, _, _) in out.items() if b"POST /ring?tag=r2" in data]
