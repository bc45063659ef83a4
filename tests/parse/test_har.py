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


def _one_entry(tmp_path: Path, entry: str) -> Path:
    p = tmp_path / "odd.har"
    p.write_text('{"log": {"entries": [{"startedDateTime": "2026-12-06T08:00:00.000Z", '
                 '"request": {"url": "https://a.test/"}, ' + entry + "}]}}")
    return p


@pytest.mark.parametrize("time", ["1" + "0" * 400, "1e999", "NaN", "-Infinity"],
                         ids=["10**400", "1e999", "NaN", "-Infinity"])
def test_a_frame_time_no_float_holds_is_the_entry_time(tmp_path: Path, time: str) -> None:
    """A frame ``time`` of 400 digits (no float holds it) or not finite (Python's JSON reads
    ``1e999``, ``NaN``, ``-Infinity``, which a JSON output could not carry): the entry's
    time, the frame kept."""
    p = _one_entry(tmp_path, '"_webSocketMessages": [{"type": "send", "time": ' + time +
                   ', "opcode": 1, "data": "id=abcdefgh"}]')
    req, frame = read_har(p)
    assert frame.kind is MessageKind.WS_FRAME
    assert frame.body == b"id=abcdefgh"
    assert frame.t == req.t == 1796544000.0


@pytest.mark.parametrize("status", ["1" + "0" * 400, "true", "-1", "1000"],
                         ids=["10**400", "true", "-1", "1000"])
def test_a_status_that_is_no_http_status_is_none(tmp_path: Path, status: str) -> None:
    """The response is kept (its body is scanned); only its status is dropped."""
    p = _one_entry(tmp_path, '"response": {"status": ' + status +
                   ', "content": {"text": "id=abcdefgh"}}')
    _, resp = read_har(p)
    assert (resp.kind, resp.status, resp.body) == (MessageKind.RESPONSE, None, b"id=abcdefgh")


def test_a_number_of_too_many_digits_is_a_clear_error(tmp_path: Path) -> None:
    """Python refuses an integer of more than 4300 digits (a ValueError, not a JSON error)."""
    p = _one_entry(tmp_path, '"time": ' + "9" * 5000)
    with pytest.raises(InputError, match=r"odd.har: not JSON: a number of more than 4300 digits"):
        list(read_har(p))


def test_a_har_nested_too_deeply_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "deep.har"
    p.write_text('{"log":{"entries":[' + "[" * 100000 + "]" * 100000 + "]}}")
    with pytest.raises(InputError, match=r"deep.har: JSON nested too deeply"):
        list(read_har(p))


def _strict(text: str) -> object:
    """JSON as any reader but Python's takes it: no NaN or Infinity."""
    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("t0", [1e300, float("inf"), -1e20], ids=["1e300", "inf", "-1e20"])
def test_a_capture_time_no_date_holds_exports(tmp_path: Path, t0: float) -> None:
    """A run whose clock is no date (a hostile or corrupt capture): the export is written,
    as strict JSON; startedDateTime is the epoch and a note keeps the time captured."""
    from tests.parse.test_websocket import SWITCHED, UPGRADE

    run = run_from_bytes(tmp_path, [[("out", UPGRADE), ("in", SWITCHED),
                                     ("out", bytes.fromhex("818537fa213d7f9f4d5158"))]], t0=t0)
    out = tmp_path / "x.har"
    assert main(["export", str(run.path), "-o", str(out)]) == 0
    har = _strict(out.read_text())
    assert isinstance(har, dict)
    (entry,) = har["log"]["entries"]
    assert entry["startedDateTime"] == "1970-01-01T00:00:00.000Z"
    assert f"capture time {t0!r} is no date" in " ".join(entry["_notes"])
    assert [w["data"] for w in entry["_webSocketMessages"]] == ["Hello"]
