"""Golden parsing of real client bytes: curl over HTTP/1.1 and HTTP/2 to servers on
127.0.0.1, recorded on the wire and parsed from a run dir."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.parse.message import MessageKind
from harness.parse.storeread import MessageStore
from harness.testing.certs import make_pki
from tests.parse.wire import Relay, h1_server, h2_server, write_run


def _curl(*args: str) -> None:
    subprocess.run(["curl", "-sS", "--max-time", "20", "-o", "/dev/null", *args],
                   check=True, timeout=30)


def test_curl_http2_streams_headers_and_bodies(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    cert = pki.ca_cert
    with h2_server(pki.cert, pki.key) as (port, rec):
        base = f"https://127.0.0.1:{port}"
        _curl("--http2", "--cacert", str(cert), "-H", "X-Canary: needle-7f3a",
              "-d", "q=first+post&id=42", f"{base}/submit?a=1",
              "--next", "--http2", "--cacert", str(cert), f"{base}/second",
              "--next", "--http2", "--cacert", str(cert), "-X", "PUT",
              "--data-binary", "bytes \xff\xfe body", f"{base}/third")
    run = write_run(tmp_path, rec, layer="tls", port=port, sni=None)
    with MessageStore.open(run) as store:
        msgs = list(store.messages())
    assert len({m.conn for m in msgs}) == 1  # one connection, three streams
    reqs = [m for m in msgs if m.kind is MessageKind.REQUEST]
    resps = [m for m in msgs if m.kind is MessageKind.RESPONSE]
    assert [(r.method, r.url) for r in reqs] == [
        ("POST", f"https://127.0.0.1:{port}/submit?a=1"),
        ("GET", f"https://127.0.0.1:{port}/second"),
        ("PUT", f"https://127.0.0.1:{port}/third"),
    ]
    assert all(r.protocol == "h2" for r in reqs)
    assert reqs[0].header("x-canary") == "needle-7f3a"
    assert reqs[0].header("content-type") == "application/x-www-form-urlencoded"
    assert reqs[0].body == b"q=first+post&id=42"
    assert reqs[2].body == "bytes \xff\xfe body".encode()
    assert len(resps) == 3
    by_req = {r.request_id: r for r in resps}
    for req in reqs:
        resp = by_req[req.id]
        assert resp.status == 200
        assert resp.header("x-served-by") == "h2-test"
        path = req.url.split(str(port), 1)[1].split("?")[0] if req.url else ""
        assert resp.body.startswith(b"h2 echo " + path.encode())  # gzip undone
        assert resp.body_len_wire is not None
        assert resp.body_len_wire != len(resp.body)
    assert reqs[0].body in by_req[reqs[0].id].body
    assert not any(m.kind is MessageKind.RAW for m in msgs)
    assert all(not m.notes for m in reqs)


def test_curl_http1_keepalive_chunked_gzip(tmp_path: Path) -> None:
    with h1_server() as port, Relay(port) as relay:
        base = f"http://127.0.0.1:{relay.port}"
        _curl("--http1.1", f"{base}/one", "--next", "--http1.1", "-d", "k=v&secret=abc123",
              f"{base}/two", "--next", "--http1.1", "-H", "Expect: 100-continue",
              "--data-binary", "x" * 2000, f"{base}/three")
    run = write_run(tmp_path, relay.rec, port=port)
    with MessageStore.open(run) as store:
        msgs = list(store.messages())
        assert store.count() == len(msgs)
        first = store.get(msgs[0].id)
        assert first == msgs[0]
    reqs = [m for m in msgs if m.kind is MessageKind.REQUEST]
    resps = [m for m in msgs if m.kind is MessageKind.RESPONSE]
    assert [r.method for r in reqs] == ["GET", "POST", "POST"]
    assert len({r.conn for r in reqs}) == 1  # keep-alive: one connection
    assert reqs[1].body == b"k=v&secret=abc123"
    assert reqs[2].body == b"x" * 2000
    final = [r for r in resps if r.status != 100]
    assert [r.status for r in final] == [200, 201, 201]
    assert final[0].body == b"hello from /one"
    assert final[1].body == b"echo:k=v&secret=abc123"
    assert [r.request_id for r in final] == [r.id for r in reqs]
    interim = [r for r in resps if r.status == 100]
    assert len(interim) == 1  # the answer to Expect: 100-continue does not consume a request
    assert interim[0].request_id == reqs[2].id
