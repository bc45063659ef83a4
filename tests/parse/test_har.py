"""HAR 1.2 out of a run (``harness export --format har``) and back in (``read_har``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import InputError
from harness.parse.har import read_har
from harness.parse.message import MessageKind
from tests.parse.test_records import _run
from tests.parse.wire import run_from_bytes


def test_export_and_reimport(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path)
    assert main(["export", str(run.path), "--format", "har"]) == 0
    har = json.loads(run.file("export.har").read_text("utf-8"))
    log = har["log"]
    assert log["version"] == "1.2"
    entries = log["entries"]
    assert len(entries) == 1  # the Java view of the request is the TLS one's twin
    assert len(entries[0]["_links"]) == 1
    for e in entries:
        for key in ("startedDateTime", "time", "request", "response", "cache", "timings"):
            assert key in e
        for key in ("method", "url", "httpVersion", "cookies", "headers", "queryString",
                    "headersSize", "bodySize"):
            assert key in e["request"]
        assert e["response"]["status"] == 200
        assert e["response"]["content"]["text"] == '{"status":1}'
    native = entries[0]
    assert native["_source"] == "native.tls"
    assert native["request"]["postData"]["text"] == "data_list=H4sIAAAA&gzip=1"
    assert native["request"]["queryString"] == [{"name": "project", "value": "p"}]
    assert native["_phase"] == "browse"
    assert native["serverIPAddress"] == "198.51.100.7"
    msgs = list(read_har(run.file("export.har")))
    reqs = [m for m in msgs if m.kind is MessageKind.REQUEST]
    resps = [m for m in msgs if m.kind is MessageKind.RESPONSE]
    assert [r.body for r in reqs] == [b"data_list=H4sIAAAA&gzip=1"]
    assert {r.host for r in reqs} == {"sa.api.intl.miui.com"}
    assert all(r.request_id in {q.id for q in reqs} for r in resps)


def test_binary_bodies_round_trip_as_base64(tmp_path: Path) -> None:
    body = bytes(range(256))
    req = b"POST /b HTTP/1.1\r\nHost: h.test\r\nContent-Length: 256\r\n\r\n" + body
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n\xff\x00\xfe"
    run = run_from_bytes(tmp_path, [[("out", req), ("in", resp)]])
    out = tmp_path / "x.har"
    assert main(["export", str(run.path), "--format", "har", "-o", str(out)]) == 0
    entry = json.loads(out.read_text())["log"]["entries"][0]
    assert entry["request"]["postData"]["encoding"] == "base64"
    req_m, resp_m = list(read_har(out))
    assert req_m.body == body
    assert resp_m.body == b"\xff\x00\xfe"


def test_bad_har_names_the_place(tmp_path: Path) -> None:
    p = tmp_path / "bad.har"
    p.write_text('{"log": {"entries": [\n  {"request": 1}\n]}}')
    with pytest.raises(InputError, match=r"entries\[0\]"):
        list(read_har(p))
    p.write_text('{"log": \n {"entries": [,]}}')
    with pytest.raises(InputError, match=r"bad.har:2"):
        list(read_har(p))


def test_websocket_frames_travel_in_the_har(tmp_path: Path) -> None:
    from tests.parse.test_websocket import SWITCHED, UPGRADE

    masked_hello = bytes.fromhex("818537fa213d7f9f4d5158")
    binary = b"\x82\x03\x00\xff\x01"
    run = run_from_bytes(tmp_path, [[("out", UPGRADE), ("in", SWITCHED),
                                     ("out", masked_hello), ("in", binary)]])
    out = tmp_path / "ws.har"
    assert main(["export", str(run.path), "-o", str(out)]) == 0
    (entry,) = json.loads(out.read_text())["log"]["entries"]
    assert entry["response"]["status"] == 101
    assert [(w["type"], w["opcode"]) for w in entry["_webSocketMessages"]] == [
        ("send", 1), ("receive", 2)]
    frames = [m for m in read_har(out) if m.kind is MessageKind.WS_FRAME]
    assert [(f.direction, f.body) for f in frames] == [("out", b"Hello"),
                                                       ("in", b"\x00\xff\x01")]


def test_har_written_by_mitmproxy() -> None:
    """``data/mitmproxy-11.0.2-savehar.har``: mitmproxy 11.0.2's ``savehar`` addon over the
    flows of ``data/mitmproxy-11.0.2.flows`` (another producer's HAR, WebSocket included).
    The reverse was checked by hand: mitmproxy's ``io.har.request_to_flow`` reads our HAR."""
    msgs = list(read_har(Path(__file__).parent / "data" / "mitmproxy-11.0.2-savehar.har"))
    post = msgs[0]
    assert (post.method, post.url, post.body, post.ip) == (
        "POST", "https://sa.api.intl.miui.com/sa?project=p", b"data_list=CANARY-mitm-1&gzip=1",
        "47.74.128.1")
    assert next(m for m in msgs if m.kind is MessageKind.RESPONSE).body == \
        b'{"ok":"CANARY-resp"}'
    assert [m.body for m in msgs if m.kind is MessageKind.WS_FRAME] == [
        b"hello binary", b"hello text", b"it's me"]
