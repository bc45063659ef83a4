"""WebView, Cronet, Conscrypt and com.android.okhttp hooks, exercised through stand-ins with
the real Android/Chromium names and signatures on HotSpot (they have not run on a phone:
docs/java.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.protocol import Direction, RecordKind
from harness.testing.javafixtures import Fixtures
from harness.testing.recording_server import RecordingServer, ServerCert
from tests.hooks_java.support import Hooked, hooked, no_agent_errors, of_kind


@pytest.fixture(scope="module")
def server(cert: ServerCert) -> Iterator[RecordingServer]:
    with RecordingServer(cert) as srv:
        yield srv


@pytest.fixture(scope="module")
def app(fixtures: Fixtures, agent_source: str, truststore: Path) -> Iterator[Hooked]:
    with hooked(fixtures, agent_source, truststore) as h:
        yield h


def test_webview_page_loads_and_scripts(app: Hooked) -> None:
    assert app.driver.command("webview WVCANARY") == "done"
    pages = [r for r in of_kind(app.finish(), RecordKind.PAGE)]
    seen = [(r.fields["method"], r.fields["url"], r.body) for r in pages]
    base = "https://canary.example"
    for expected in [
        ("loadUrl", f"{base}/before-client/WVCANARY", None),
        ("onPageStarted", f"{base}/before-client/WVCANARY", None),
        ("shouldInterceptRequest", f"{base}/before-client/WVCANARY", None),
        ("onPageFinished", f"{base}/before-client/WVCANARY", None),
        ("loadUrl", f"{base}/page/WVCANARY", None),
        ("postUrl", f"{base}/post", b"q=WVCANARY"),
        ("loadDataWithBaseURL", f"{base}/base", b"<p>WVCANARY</p>"),
        ("evaluateJavascript", None, b"window.canary='WVCANARY'"),
    ]:
        assert expected in seen, expected
    # The app's WebViewClient subclass overrides onPageFinished and shouldInterceptRequest:
    # its overrides are hooked once setWebViewClient hands it over, each event once.
    after = [(m, u) for m, u, _ in seen if u == f"{base}/page/WVCANARY"]
    assert after == [("loadUrl", f"{base}/page/WVCANARY"),
                     ("onPageStarted", f"{base}/page/WVCANARY"),
                     ("shouldInterceptRequest", f"{base}/page/WVCANARY"),
                     ("onPageFinished", f"{base}/page/WVCANARY")]
    reports = app.run.hook_reports()
    assert any(r["target"] == "egress.testapp.AndroidCalls$AppClient.onPageFinished"
               and r["status"] == "installed" for r in reports)
    assert all(str(r.fields["frames"][0]).startswith("egress.testapp.")  # type: ignore[index]
               for r in pages)
    no_agent_errors(app)


def test_cronet_requests_and_quic_forced_off(app: Hooked) -> None:
    # The app asks for QUIC; the agent (blockQuic, the default) makes the builder say no.
    assert app.driver.command("cronet CRCANARY") == "quic=false"
    req = next(r for r in of_kind(app.finish(), RecordKind.HTTP) if r.fields["stack"] == "cronet")
    assert req.fields["url"] == "https://canary.example/cronet/CRCANARY"
    assert req.fields["method"] == "PUT"
    assert req.fields["headers"] == [["X-Canary", "CRCANARY"]]
    no_agent_errors(app)


def test_cronet_quic_left_alone_when_not_blocking(fixtures: Fixtures, agent_source: str) -> None:
    with hooked(fixtures, agent_source, None, config={"blockQuic": False}) as h:
        assert h.driver.command("cronet X") == "quic=true"


@pytest.mark.parametrize(("pkg", "group"), [("android", "java.conscrypt"),
                                            ("org", "java.conscrypt.org")])
def test_conscrypt_socket_plaintext_and_link_to_native(
        fixtures: Fixtures, agent_source: str, truststore: Path, server: RecordingServer,
        pkg: str, group: str) -> None:
    # Native hooks off (as in every test here): the Java hooks carry the bytes themselves.
    with hooked(fixtures, agent_source, truststore) as h:
        assert h.driver.command(f"conscrypt 127.0.0.1 {server.port} CONSCANARY {pkg}") != ""
        records = h.finish()
        received = next(c.data for c in server.connections
                        if f"/conscrypt-{pkg} ".encode() in c.data)
        streams = [r for r in of_kind(records, RecordKind.STREAM)
                   if str(r.hook).startswith(f"{group}.ConscryptFileDescriptorSocket.")]
        assert streams
        conn = streams[0].conn
        out = b"".join(r.body or b"" for r in streams
                       if r.conn == conn and r.direction == Direction.OUT)
        assert out == bytes(received)
        inbound = b"".join(r.body or b"" for r in streams
                           if r.conn == conn and r.direction == Direction.IN)
        assert inbound.startswith(b"HTTP/1.1 200 OK\r\n")
        info = next(r for r in of_kind(records, RecordKind.CONN) if r.conn == conn)
        assert info.fields["library"] == "conscrypt"
        assert info.fields["peer_ip"] == "127.0.0.1"
        assert info.fields["peer_port"] == server.port
        assert info.fields["tls_version"] == "TLSv1.3"
        assert info.fields["ssl"] == "0x7e57"  # NativeSsl.ssl: the SSL* the native hooks see
        assert info.fields["plaintext"] == "java"
        no_agent_errors(h)
    # Native hooks on: the bytes are the native view's; Java gives the conn record only.
    with hooked(fixtures, agent_source, truststore, config={"native": True}) as h:
        assert h.driver.command(f"conscrypt 127.0.0.1 {server.port} CONSCANARY2 {pkg}") != ""
        records = h.finish()
        assert not [r for r in of_kind(records, RecordKind.STREAM)
                    if str(r.hook).startswith(f"{group}.")]
        info = next(r for r in of_kind(records, RecordKind.CONN)
                    if str(r.hook).startswith(f"{group}."))
        assert info.fields["plaintext"] == "native"
        assert info.fields["ssl"] == "0x7e57"


def test_android_okhttp_engine_request_and_response(app: Hooked, server: RecordingServer) -> None:
    url = f"{server.url}/aok"
    assert app.driver.command(f"aokhttp {url} AOKCANARY") == "200"
    records = app.finish()
    _method, _path, headers, _body = next(r for r in server.requests() if r[1] == "/aok")
    http = [r for r in of_kind(records, RecordKind.HTTP)
            if r.fields["stack"] == "com.android.okhttp"]
    req = next(r for r in http if r.fields["phase"] == "request")
    resp = next(r for r in http if r.fields["phase"] == "response")
    assert req.fields["url"] == url
    assert req.fields["method"] == "GET"
    sent = {str(k).lower(): str(v) for k, v in req.fields["headers"]}  # type: ignore[misc,union-attr]
    assert sent == headers
    assert sent["x-canary"] == "AOKCANARY"
    assert resp.fields["status"] == 200
    assert resp.fields["call"] == req.fields["call"]
    assert resp.fields["protocol"] == "http/1.1"
    assert ["Content-Type", "text/plain"] in resp.fields["headers"]  # type: ignore[operator]
    # The record names the TLS connection it went over (the JSSE socket under the stand-in).
    assert req.conn is not None
    frames = req.fields["frames"]
    assert isinstance(frames, list)
    assert str(frames[0]).startswith("egress.testapp.AndroidCalls.androidOkhttp(")
    no_agent_errors(app)
