"""JSSE plaintext and the HTTP stacks (OkHttp 3, HttpURLConnection, java.net.http) on HotSpot,
against a real TLS server on 127.0.0.1 that records what it received."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.protocol import JAVA_CONN_BASE, Direction, Record, RecordKind
from harness.testing.javafixtures import Fixtures
from harness.testing.recording_server import RecordingServer, ServerCert
from tests.hooks_java.support import Hooked, hooked, no_agent_errors, of_kind


@pytest.fixture(scope="module")
def h1(cert: ServerCert) -> Iterator[RecordingServer]:
    with RecordingServer(cert) as srv:
        yield srv


@pytest.fixture(scope="module")
def h2srv(cert: ServerCert) -> Iterator[RecordingServer]:
    with RecordingServer(cert, h2=True) as srv:
        yield srv


@pytest.fixture(scope="module")
def app(fixtures: Fixtures, agent_source: str, truststore: Path) -> Iterator[Hooked]:
    # The plain JVM: only the driver, OkHttp and the JDK (no Android stand-ins).
    with hooked(fixtures, agent_source, truststore, with_fixtures=False) as h:
        yield h


def stream_bytes(records: list[Record], conn: str, direction: Direction) -> bytes:
    return b"".join(r.body or b"" for r in records
                    if r.kind == RecordKind.STREAM and r.conn == conn and r.direction == direction)


def conn_of(records: list[Record], pid: int, needle: bytes) -> str:
    for r in records:
        if r.kind == RecordKind.STREAM and r.body and needle in r.body and r.conn:
            return r.conn
    raise AssertionError(f"no stream record holds {needle!r}")


def okhttp_records(records: list[Record], path: str, phase: str | None = None) -> list[Record]:
    """OkHttp's http records for a URL ending in `path` (one phase, or both)."""
    return [r for r in of_kind(records, RecordKind.HTTP)
            if r.fields["stack"] == "okhttp3" and str(r.fields["url"]).endswith(path)
            and (phase is None or r.fields["phase"] == phase)]


def test_jsse_socket_plaintext_is_byte_exact(app: Hooked, h1: RecordingServer) -> None:
    assert app.driver.command(f"jsse 127.0.0.1 {h1.port} jsse-canary-1") != ""
    records = app.finish()
    conn = conn_of(records, app.driver.pid, b"jsse-canary-1")
    received = next(c.data for c in h1.connections if b"jsse-canary-1" in c.data)
    # Two writes (10 bytes, then the rest) arrive as two records: together, exactly the bytes.
    assert stream_bytes(records, conn, Direction.OUT) == bytes(received)
    assert stream_bytes(records, conn, Direction.IN).startswith(b"HTTP/1.1 200 OK\r\n")
    pid, layer, number = conn.split(":")
    assert (int(pid), layer) == (app.driver.pid, "tls")
    assert int(number) >= JAVA_CONN_BASE
    info = [r for r in of_kind(records, RecordKind.CONN) if r.conn == conn]
    assert len(info) == 1
    f = info[0].fields
    assert f["library"] == "jsse"
    assert f["peer_ip"] == "127.0.0.1"
    assert f["peer_port"] == h1.port
    assert f["tls_version"] == "TLSv1.3"
    assert str(f["cipher"]).startswith("TLS_")
    no_agent_errors(app)


def test_jsse_large_write_is_byte_exact(app: Hooked, h1: RecordingServer) -> None:
    """One 40 KB write: more than the C entry copies on its stack (centries.ts), so its heap
    path, and several TLS records for one call."""
    payload = "jsse-big-" + "x" * 40_000
    assert app.driver.command(f"jsse 127.0.0.1 {h1.port} {payload}") != ""
    records = app.finish()
    conn = conn_of(records, app.driver.pid, b"jsse-big-")
    received = next(c.data for c in h1.connections if b"jsse-big-" in c.data)
    assert len(received) > 40_000
    assert stream_bytes(records, conn, Direction.OUT) == bytes(received)
    no_agent_errors(app)


def test_jsse_read_that_times_out_reaches_the_app(app: Hooked, h1: RecordingServer) -> None:
    """The hooked read's original throws (SocketTimeoutException): the app gets it, nothing
    is recorded for it, and the same stream's later reads are captured byte-exact."""
    answer = app.driver.command(f"jssetimeout 127.0.0.1 {h1.port} jsse-timeout-1")
    assert answer.startswith("timeout "), answer
    records = app.finish()
    conn = conn_of(records, app.driver.pid, b"jsse-timeout-1")
    received = next(c.data for c in h1.connections if b"jsse-timeout-1" in c.data)
    assert stream_bytes(records, conn, Direction.OUT) == bytes(received)
    got = stream_bytes(records, conn, Direction.IN)
    assert got.startswith(b"HTTP/1.1 200 OK\r\n")
    assert len(got) == int(answer.split()[1])
    no_agent_errors(app)


def test_okhttp_http1_request_captured_exactly(app: Hooked, h1: RecordingServer) -> None:
    assert app.driver.command(f"okhttp {h1.url}/ok1 h1 t1") == "200 http/1.1"
    records = app.finish()
    method, _path, headers, body = next(r for r in h1.requests() if r[1] == "/ok1?tag=t1")
    reqs = okhttp_records(records, "/ok1?tag=t1")
    req = next(r for r in reqs if r.fields["phase"] == "request")
    resp = next(r for r in reqs if r.fields["phase"] == "response")
    assert req.fields["url"] == f"{h1.url}/ok1?tag=t1"
    assert req.fields["method"] == method == "POST"
    assert req.body == body == b'{"canary":"body-t1"}'
    sent = {str(k).lower(): str(v) for k, v in req.fields["headers"]}  # type: ignore[misc,union-attr]
    assert sent == headers
    assert resp.fields["status"] == 200
    assert resp.fields["protocol"] == "http/1.1"
    assert resp.fields["call"] == req.fields["call"]
    # The http record names the JSSE connection that carried it, byte-exact on the wire.
    assert req.conn is not None
    assert req.conn == resp.conn
    received = next(c.data for c in h1.connections if b"/ok1?tag=t1" in c.data)
    assert stream_bytes(records, req.conn, Direction.OUT) == bytes(received)
    assert any(str(f).startswith("egress.testapp.Driver.okhttp(") for f in req.fields["frames"])  # type: ignore[union-attr]
    no_agent_errors(app)


def test_okhttp_body_larger_than_the_c_buffer(app: Hooked, h1: RecordingServer) -> None:
    """A 300 KB request body does not fit the C reader's buffer (okhttp_c.ts): the record
    still carries it whole, read through the byte[] reference instead."""
    assert app.driver.command(f"okhttp {h1.url}/okbig h1 tbig 300000") == "200 http/1.1"
    records = app.finish()
    _method, _path, _headers, body = next(r for r in h1.requests() if r[1] == "/okbig?tag=tbig")
    [req] = okhttp_records(records, "/okbig?tag=tbig", "request")
    assert len(body) > 300_000
    assert req.body == body
    no_agent_errors(app)


def test_okhttp_headers_larger_than_the_c_buffer(app: Hooked, h1: RecordingServer) -> None:
    """A 70 KB header does not fit the C reader's buffer (okhttp_c.ts): the request is read
    again through JNI (okhttp.ts's fallback path), headers and body exact."""
    assert app.driver.command(f"okhttp {h1.url}/okhdr h1 thdr 0 70000") == "200 http/1.1"
    records = app.finish()
    _method, _path, headers, body = next(r for r in h1.requests() if r[1] == "/okhdr?tag=thdr")
    [req] = okhttp_records(records, "/okhdr?tag=thdr", "request")
    sent = {str(k).lower(): str(v) for k, v in req.fields["headers"]}  # type: ignore[misc,union-attr]
    assert len(headers["x-pad"]) == 70000
    assert sent == headers
    assert req.body == body == b'{"canary":"body-thdr"}'
    no_agent_errors(app)


def test_okhttp_request_whose_answer_never_comes(app: Hooked, h1: RecordingServer) -> None:
    """The server hangs up after reading the request: OkHttp's interceptor throws. The app
    gets the IOException unchanged (the C entry takes it aside while it records, then throws
    it again), and every attempt's request is recorded, without a response."""
    answer = app.driver.command(f"okhttp {h1.url}/hangup h1 thang")
    assert answer.startswith("error java.io.IOException"), answer
    records = app.finish()
    attempts = [r for r in h1.requests() if r[1] == "/hangup?tag=thang"]
    got = okhttp_records(records, "/hangup?tag=thang")
    assert attempts
    assert [r.fields["phase"] for r in got] == ["request"] * len(attempts)
    assert all(r.body == b'{"canary":"body-thang"}' for r in got)
    no_agent_errors(app)


def test_okhttp_body_that_refuses_the_agents_copy(fixtures: Fixtures, agent_source: str,
                                                  truststore: Path, h1: RecordingServer) -> None:
    """A Java exception inside the hook's own call (raw JNI) is cleared and reported: the app
    never sees it, and the request is still recorded, without its body. (Its own JVM: the
    agent error it causes must not reach the other tests' no_agent_errors.)"""
    with hooked(fixtures, agent_source, truststore, with_fixtures=False) as app:
        assert app.driver.command(f"okrefuse {h1.url}/refuse t9") == "200 writes=2"
        records = app.finish()
    _method, _path, _headers, body = next(r for r in h1.requests() if r[1] == "/refuse?tag=t9")
    assert body == b"refused-once-t9"
    req = next(r for r in of_kind(records, RecordKind.HTTP) if r.fields["phase"] == "request"
               and str(r.fields["url"]).endswith("/refuse?tag=t9"))
    assert req.fields["method"] == "POST"
    assert not req.body
    errors = [r.fields for r in of_kind(records, RecordKind.AGENT_ERROR)]
    assert len(errors) == 1, errors
    assert "request body not read" in str(errors[0]["where"])
    assert "IOException: first write refused" in str(errors[0]["message"])


def test_profile_reports_the_hooks_time(fixtures: Fixtures, agent_source: str, truststore: Path,
                                        h1: RecordingServer) -> None:
    """With ``profile`` the agent times its hooks' parts (bench/java_overhead.py --profile):
    after two OkHttp requests status() names the interceptor's and JSSE's callbacks with
    their call counts; without it status() has no profile."""
    with hooked(fixtures, agent_source, truststore, with_fixtures=False,
                config={"profile": True}) as app:
        for tag in ("p1", "p2"):
            assert app.driver.command(f"okhttp {h1.url}/prof h1 {tag}") == "200 http/1.1"
        profile = app.run.script.exports_sync.status()["profile"]
        app.finish()
    intercept = profile["java.okhttp3.CallServerInterceptor.intercept callback"]
    assert intercept["calls"] == 2
    assert intercept["total_us"] > 0
    assert profile["java.jsse.AppOutputStream.write callback"]["calls"] >= 2
    assert profile["agent.flush"]["calls"] >= 1
    with hooked(fixtures, agent_source, truststore, with_fixtures=False) as app:
        assert app.run.script.exports_sync.status()["profile"] is None
        app.finish()


def test_okhttp_http2_request_and_frames(app: Hooked, h2srv: RecordingServer) -> None:
    assert app.driver.command(f"okhttp {h2srv.url}/ok2 h2 t2") == "200 h2"
    records = app.finish()
    method, _path, headers, body = next(r for r in h2srv.requests() if r[1] == "/ok2?tag=t2")
    req = next(r for r in of_kind(records, RecordKind.HTTP)
               if r.fields["phase"] == "request" and str(r.fields["url"]).endswith("/ok2?tag=t2"))
    assert req.fields["protocol"] == "h2"
    assert req.fields["url"] == f"{h2srv.url}/ok2?tag=t2"
    assert req.body == body == b'{"canary":"body-t2"}'
    assert req.fields["method"] == method == "POST"
    # Headers exactly: what the app's request carried after OkHttp's own interceptors, as the
    # server decoded them from HPACK, less what HTTP/2 forbids (RFC 9113 8.2.2; Host becomes
    # :authority), plus the pseudo-headers built from the URL.
    sent = [(str(k).lower(), str(v)) for k, v in req.fields["headers"]]  # type: ignore[misc,union-attr]
    hop = {"connection", "host", "keep-alive", "proxy-connection", "te", "transfer-encoding",
           "upgrade", "encoding"}
    assert {k: v for k, v in sent if k not in hop} == {
        k: v for k, v in headers.items() if not k.startswith(":")}
    assert dict(sent)["x-canary"] == "hdr-t2"
    assert headers[":authority"] == dict(sent)["host"] == f"127.0.0.1:{h2srv.port}"
    assert f"{headers[':scheme']}://{headers[':authority']}{headers[':path']}" == req.fields["url"]
    assert req.conn is not None
    conn_info = next(r for r in of_kind(records, RecordKind.CONN) if r.conn == req.conn)
    assert conn_info.fields["alpn"] == "h2"
    # HTTP/2 frames (preface, SETTINGS, HEADERS, DATA...) byte for byte.
    received = next(c.data for c in h2srv.connections if c.alpn == "h2")
    assert stream_bytes(records, req.conn, Direction.OUT) == bytes(received)
    no_agent_errors(app)


def test_okhttp_enqueued_call_captured_exactly(app: Hooked, h1: RecordingServer) -> None:
    # Call.enqueue runs the chain on OkHttp's dispatcher thread: same hook, same facts.
    assert app.driver.command(f"okasync {h1.url}/oka ta") == "200"
    records = app.finish()
    method, _path, headers, body = next(r for r in h1.requests() if r[1] == "/oka?tag=ta")
    req = next(r for r in of_kind(records, RecordKind.HTTP)
               if r.fields["phase"] == "request" and r.fields["url"] == f"{h1.url}/oka?tag=ta")
    assert req.fields["method"] == method == "PUT"
    assert req.body == body == b"async-ta"
    sent = {str(k).lower(): str(v) for k, v in req.fields["headers"]}  # type: ignore[misc,union-attr]
    assert sent == headers
    resp = next(r for r in of_kind(records, RecordKind.HTTP)
                if r.fields["phase"] == "response" and r.fields["call"] == req.fields["call"])
    assert resp.fields["status"] == 200
    # No app frame is on the dispatcher thread's stack: the frames are those of enqueue().
    frames = req.fields["frames"]
    assert isinstance(frames, list)
    assert str(frames[0]).startswith("egress.testapp.Driver.okasync("), frames
    no_agent_errors(app)


@pytest.mark.parametrize("mode", ["buffered", "stream"])
def test_httpurlconnection_request(app: Hooked, h1: RecordingServer, mode: str) -> None:
    assert app.driver.command(f"huc {h1.url}/huc-{mode} {mode}") == "200"
    records = app.finish()
    method, _path, headers, body = next(r for r in h1.requests() if r[1] == f"/huc-{mode}")
    http = [r for r in of_kind(records, RecordKind.HTTP)
            if r.fields["stack"] == "urlconnection" and r.fields["url"] == f"{h1.url}/huc-{mode}"]
    req = next(r for r in http if r.fields["phase"] == "request")
    assert req.fields["method"] == method == "POST"
    sent = {str(k).lower(): str(v) for k, v in req.fields["headers"]}  # type: ignore[misc,union-attr]
    assert sent == headers
    # Buffered: the body travels with the request; streamed: as body records of the same call.
    captured = (req.body or b"") + b"".join(
        r.body or b"" for r in http if r.fields["phase"] == "body"
        and r.fields["call"] == req.fields["call"])
    assert captured == body == f"field=huc-{mode}".encode()
    resp = next(r for r in http if r.fields["phase"] == "response")
    assert resp.fields["status"] == 200
    assert resp.fields["call"] == req.fields["call"]
    no_agent_errors(app)


def test_java_net_http_client_through_sslengine(app: Hooked, h1: RecordingServer) -> None:
    assert app.driver.command(f"httpclient {h1.url}/hc") == "200"
    records = app.finish()
    conn = conn_of(records, app.driver.pid, b"POST /hc HTTP/1.1")
    received = next(c.data for c in h1.connections if b"POST /hc HTTP/1.1" in c.data)
    assert stream_bytes(records, conn, Direction.OUT) == bytes(received)
    info = next(r for r in of_kind(records, RecordKind.CONN) if r.conn == conn)
    assert info.fields["java_class"] == "sun.security.ssl.SSLEngineImpl"
    assert info.hook == "java.jsse.SSLEngineImpl.wrap"
    no_agent_errors(app)
