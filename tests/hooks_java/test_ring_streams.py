"""Java records through the native hooks' ring (java/centries.ts, java/okhttp_entry_c.ts with
native/ring.ts): with the native hooks on, a JSSE stream's chunks after its first, and an
OkHttp call on a connection and call path JS has seen, go into the ring from C and reach the
run dir as native records: in order, named by their hook, on the connection the JS side
announced, and (OkHttp) as the same ``http`` records the JS path writes. Through the product
path (session, recorder, run dir), as bench/java_overhead.py measures it."""

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
from harness.parse.message import MessageKind
from harness.parse.storeread import MessageStore
from harness.testing.javafixtures import Fixtures, JavaDriver
from harness.testing.recording_server import RecordingServer, ServerCert


@pytest.fixture(scope="module")
def run(fixtures: Fixtures, truststore: Path, cert: ServerCert,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunDir, RecordingServer]]:
    with RecordingServer(cert) as srv, RecordingServer(cert, h2=True) as srv2, \
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
            # An enqueued call: its attribution is JS's (enqueue()'s frames), every call
            # goes through JS while it is pending; after it, C records calls again.
            assert driver.command(f"okasync {srv.url}/oka ta") == "200"
            assert driver.command(f"okmany {srv.url}/many {MANY} h1 m1") == "200 http/1.1"
            assert driver.command(f"okmany {srv2.url}/many {MANY} h2 m2") == "200 h2"
            SERVED.extend(srv.requests() + srv2.requests())
            session.flush()
            PROFILE.update(session.status(driver.pid)["profile"])  # type: ignore[arg-type]
            # The driver's main thread is blocked in a hooked read(0) of its stdin: one more
            # command once the hooks are reverted lets it return (session.stop_pid).
            session.stop_pid(driver.pid, nudge=lambda: driver.command("ping"))
        yield rd, srv


PROFILE: dict[str, dict[str, int]] = {}
"""The agent's profile at the end of the run (the fixture fills it): JS callbacks counted."""
SERVED: list[tuple[str, str, dict[str, str], bytes]] = []
"""What the servers received: (method, path, headers, body)."""
MANY = 12
"""Calls per ``okmany`` command (one connection each)."""


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
    assert len(srv.connections) == 6
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
    assert len(incoming) == 7
    # srv's six connections; the seventh is okmany's HTTP/2 one, to srv2
    assert sum(data.startswith(b"HTTP/1.1 200 OK") for data, _, _ in incoming.values()) == 6


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


def test_okhttp_calls_on_a_known_path_and_connection_go_through_the_ring(
        run: tuple[RunDir, RecordingServer]) -> None:
    rd, _srv = run
    with rd.reader() as reader:
        http = [ev for ev in reader.events(kinds=["http"])]
        paths = [ev for ev in reader.events(kinds=["call-path"])]
        conns = {ev.conn: ev.fields for ev in reader.events(kinds=["conn"])}
        agent_errors = [ev.fields for ev in reader.events(kinds=["agent-error"])]
        protocol_errors = reader.protocol_errors()
    assert agent_errors == []
    assert protocol_errors == []
    for tag, protocol in (("m1", "http/1.1"), ("m2", "h2")):
        mine = [ev for ev in http if f"/many?tag={tag}-" in str(ev.fields.get("url"))]
        requests = [ev for ev in mine if ev.fields["phase"] == "request"]
        responses = {ev.fields["call"]: ev for ev in mine if ev.fields["phase"] == "response"}
        assert len(requests) == MANY
        assert len(responses) == MANY
        assert len({ev.fields["call"] for ev in requests}) == MANY
        served = {path: (method, body) for method, path, _h, body in SERVED
                  if f"tag={tag}-" in path}
        assert len(served) == MANY
        for ev in requests:
            url = str(ev.fields["url"])
            i = int(url.rsplit("-", 1)[1])
            method, body = served[url[url.index("/many"):]]
            assert ev.fields["method"] == method == ("GET" if i % 3 == 1 else "POST")
            assert ev.data == (None if method == "GET" else body)
            assert ev.orig_len == (None if ev.data is None else len(body))
            assert ["X-Canary", f"hdr-{tag}-{i}"] in ev.fields["headers"]  # type: ignore[operator]
            assert ev.direction == "out"
            assert ev.fields["protocol"] == protocol
            assert ev.conn is not None
            assert conns[ev.conn]["library"] == "jsse"
            response = responses[ev.fields["call"]]
            assert response.fields["status"] == 200
            assert response.direction == "in"
            assert response.fields["protocol"] == protocol
            assert response.conn == ev.conn
            assert response.fields["url"] == url
            assert response.t >= ev.t
        # The first call of the connection went through JS, the others through the ring:
        # the same members, the same attribution.
        assert len({tuple(sorted(ev.fields)) for ev in requests}) == 1
        assert len({tuple(sorted(ev.fields)) for ev in responses.values()}) == 1
        frames = {str(ev.fields["frames"]) for ev in mine}
        assert len(frames) == 1
        assert "egress.testapp.Driver.okmany" in frames.pop()
    # One JS callback per connection (three okhttp commands, okasync, two okmany): every
    # other call was recorded by C alone, attributed by a path JS announced.
    assert PROFILE["java.okhttp3.CallServerInterceptor.intercept callback"]["calls"] == 6
    enqueued = [ev for ev in http if "/oka?tag=ta" in str(ev.fields.get("url"))]
    assert len(enqueued) == 2
    assert all(str(ev.fields["frames"][0]).startswith(  # type: ignore[index]
        "egress.testapp.Driver.okasync(") for ev in enqueued)
    assert paths
    assert all(ev.hook == "java.okhttp3.CallServerInterceptor.intercept" for ev in paths)


def test_calls_recorded_by_c_parse_into_messages_linked_to_their_tls_bytes(
        run: tuple[RunDir, RecordingServer]) -> None:
    rd, _srv = run
    with MessageStore.open(rd) as store:
        messages = list(store.messages())
    by_id = {m.id: m for m in messages}
    for tag in ("m1", "m2"):
        java = [m for m in messages if m.source.startswith("java.okhttp3")
                and m.kind is MessageKind.REQUEST and f"/many?tag={tag}-" in (m.url or "")]
        assert len(java) == MANY
        for m in java:
            # One-to-one with the request the JSSE stream bytes parse into (HTTP/1.1 or
            # HTTP/2): the same URL and body, whichever path (JS or ring) recorded it.
            assert len(m.links) == 1
            wire = by_id[m.links[0]]
            assert wire.source.startswith("java.jsse")
            assert wire.url == m.url
            assert wire.body == m.body
