"""mitmproxy flow files, read without mitmproxy. The file here is written with a tnetstring
encoder following mitmproxy's ``io/tnetstring.py`` and the flow state layout of mitmproxy
10/11 (``HTTPFlow.get_state()``)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.parse.message import MessageKind
from harness.parse.mitm import read_flows

TNet = None | bool | int | float | bytes | str | list["TNet"] | dict[str, "TNet"]


def dumps(v: TNet) -> bytes:
    if v is None:
        return b"0:~"
    if isinstance(v, bool):
        return b"4:true!" if v else b"5:false!"
    if isinstance(v, int):
        d = str(v).encode()
        return b"%d:%s#" % (len(d), d)
    if isinstance(v, float):
        d = repr(v).encode()
        return b"%d:%s^" % (len(d), d)
    if isinstance(v, bytes):
        return b"%d:%s," % (len(v), v)
    if isinstance(v, str):
        d = v.encode("utf-8", "surrogateescape")  # a test's bytes that are not UTF-8
        return b"%d:%s;" % (len(d), d)
    if isinstance(v, list):
        d = b"".join(dumps(x) for x in v)
        return b"%d:%s]" % (len(d), d)
    d = b"".join(dumps(k) + dumps(x) for k, x in v.items())
    return b"%d:%s}" % (len(d), d)


def _flow(body: bytes) -> dict[str, TNet]:
    return {
        "version": 20, "type": "http", "id": "f1", "error": None, "marked": "",
        "server_conn": {"id": "s1", "address": ["sa.api.intl.miui.com", 443],
                        "peername": ["47.74.128.1", 443], "sni": "sa.api.intl.miui.com",
                        "tls_version": "TLSv1.2", "cipher": "ECDHE-RSA-AES128-GCM-SHA256",
                        "alpn": b"http/1.1"},
        "request": {"host": "sa.api.intl.miui.com", "port": 443, "method": b"POST",
                    "scheme": b"https", "authority": b"", "path": b"/sa?project=p",
                    "http_version": b"HTTP/1.1",
                    "headers": [[b"Host", b"sa.api.intl.miui.com"],
                                [b"Content-Type", b"application/x-www-form-urlencoded"]],
                    "content": body, "trailers": None, "timestamp_start": 1700000000.5,
                    "timestamp_end": 1700000000.6},
        "response": {"http_version": b"HTTP/1.1", "status_code": 200, "reason": b"OK",
                     "headers": [[b"Content-Encoding", b"gzip"]],
                     "content": gzip.compress(b'{"ok":true}'), "trailers": None,
                     "timestamp_start": 1700000000.7, "timestamp_end": 1700000000.8},
        "websocket": None,
    }


def test_reads_http_flows(tmp_path: Path) -> None:
    p = tmp_path / "flows.mitm"
    p.write_bytes(dumps(_flow(b"data_list=abc&gzip=1")) + dumps(_flow(b"second")))
    msgs = list(read_flows(p))
    assert [m.kind for m in msgs] == [MessageKind.REQUEST, MessageKind.RESPONSE] * 2
    req, resp = msgs[0], msgs[1]
    assert req.url == "https://sa.api.intl.miui.com/sa?project=p"
    assert req.method == "POST"
    assert req.body == b"data_list=abc&gzip=1"
    assert (req.ip, req.tls_version, req.host) == ("47.74.128.1", "TLSv1.2",
                                                   "sa.api.intl.miui.com")
    assert resp.body == b'{"ok":true}'  # content-encoding undone
    assert resp.request_id == req.id
    assert msgs[2].body == b"second"


def test_websocket_messages(tmp_path: Path) -> None:
    flow = _flow(b"")
    flow["websocket"] = {"messages": [[1, True, b"hello out", 1.0, False, False],
                                      [2, False, b"\x00in", 2.0, False, False]],
                         "closed_by_client": True, "close_code": 1000}
    p = tmp_path / "ws.mitm"
    p.write_bytes(dumps(flow))
    ws = [m for m in read_flows(p) if m.kind is MessageKind.WS_FRAME]
    assert [(m.direction, m.body) for m in ws] == [("out", b"hello out"), ("in", b"\x00in")]


def test_corrupt_flow_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.mitm"
    p.write_bytes(dumps(_flow(b"x"))[:-30])
    with pytest.raises(InputError, match="cut short"):
        list(read_flows(p))
    p.write_bytes(b"GET / HTTP/1.1\r\n")
    with pytest.raises(InputError, match="not a mitmproxy flow file"):
        list(read_flows(p))


def test_tcp_flow_messages(tmp_path: Path) -> None:
    flow: dict[str, TNet] = {
        "version": 20, "type": "tcp", "id": "t1",
        "server_conn": {"id": "s2", "peername": ["203.0.113.5", 5222], "sni": "push.test"},
        "messages": [[True, b"\x00\x05hello id=CANARY", 3.0], [False, b"ack", 3.1]],
    }
    p = tmp_path / "tcp.mitm"
    p.write_bytes(dumps(flow))
    msgs = list(read_flows(p))
    assert [(m.kind, m.direction, m.body, m.host) for m in msgs] == [
        (MessageKind.RAW, "out", b"\x00\x05hello id=CANARY", "push.test"),
        (MessageKind.RAW, "in", b"ack", "push.test")]


def test_file_written_by_mitmproxy_11() -> None:
    """``data/mitmproxy-11.0.2.flows`` was written by mitmproxy 11.0.2 itself
    (``mitmproxy.io.FlowWriter`` over ``mitmproxy.test.tflow`` flows: an HTTPS POST with a
    gzip response, a WebSocket flow, a TCP flow), so the reader is checked against the real
    format, not only against our reading of it."""
    msgs = list(read_flows(Path(__file__).parent / "data" / "mitmproxy-11.0.2.flows"))
    req, resp = msgs[0], msgs[1]
    assert (req.method, req.url, req.body) == (
        "POST", "https://sa.api.intl.miui.com/sa?project=p", b"data_list=CANARY-mitm-1&gzip=1")
    assert (req.ip, req.tls_version, req.sni) == ("47.74.128.1", "TLSv1.2",
                                                  "sa.api.intl.miui.com")
    assert (resp.status, resp.body) == (200, b'{"ok":"CANARY-resp"}')  # gzip undone
    ws = [m for m in msgs if m.kind is MessageKind.WS_FRAME]
    assert [(m.direction, m.body) for m in ws] == [
        ("out", b"hello binary"), ("out", b"hello text"), ("in", b"it's me")]
    tcp = [m for m in msgs if m.kind is MessageKind.RAW]
    assert [(m.direction, m.body) for m in tcp] == [("out", b"hello"), ("in", b"it's me")]


@pytest.mark.parametrize(("data", "kind"), [(b"1\x0723", b"#"), (b"1.x", b"^"), (b"nope", b"#")])
def test_a_garbled_number_is_a_clear_error(tmp_path: Path, data: bytes, kind: bytes) -> None:
    p = tmp_path / "bad.mitm"
    item = b"7:version;" + b"%d:%s%s" % (len(data), data, kind)
    p.write_bytes(b"%d:%s}" % (len(item), item))
    with pytest.raises(InputError, match="bad tnetstring number"):
        list(read_flows(p))


@pytest.mark.parametrize("ts", [10 ** 400, float("inf"), float("nan"), -float("inf")],
                         ids=["10**400", "inf", "nan", "-inf"])
def test_a_timestamp_no_float_holds_is_zero(tmp_path: Path, ts: int | float) -> None:
    """A timestamp of 400 digits (``#``, no float holds it) or not finite (``^`` ``inf``,
    ``nan``): time 0, as a missing one; the messages are kept."""
    flow = _flow(b"id=abcdefgh")
    for part in ("request", "response"):
        state = flow[part]
        assert isinstance(state, dict)
        state["timestamp_start"] = ts
    flow["websocket"] = {"messages": [[1, True, b"hello out", ts, False, False]]}
    p = tmp_path / "odd.mitm"
    p.write_bytes(dumps(flow))
    msgs = list(read_flows(p))
    assert [(m.kind, m.t) for m in msgs] == [(MessageKind.REQUEST, 0.0),
                                             (MessageKind.RESPONSE, 0.0),
                                             (MessageKind.WS_FRAME, 0.0)]
    assert [m.body for m in msgs] == [b"id=abcdefgh", b'{"ok":true}', b"hello out"]


def test_numbers_out_of_range_are_none(tmp_path: Path) -> None:
    """A status that is no HTTP status and a port that is no TCP port: dropped, the flow kept
    (the URL carries no port it does not have)."""
    flow = _flow(b"x")
    request, response = flow["request"], flow["response"]
    assert isinstance(request, dict)
    assert isinstance(response, dict)
    request["port"] = 10 ** 400
    response["status_code"] = 10 ** 400
    p = tmp_path / "odd.mitm"
    p.write_bytes(dumps(flow) + dumps({**flow, "request": {**request, "port": True},
                                        "response": {**response, "status_code": -1}}))
    msgs = list(read_flows(p))
    assert [(m.port, m.status) for m in msgs] == [(None, None)] * 4
    assert {m.url for m in msgs} == {"https://sa.api.intl.miui.com/sa?project=p"}


def test_message_content_as_text_keeps_its_bytes(tmp_path: Path) -> None:
    """Content written as a text tnetstring (``;``) that is not UTF-8: the bytes as they
    are, for a WebSocket message and a TCP one."""
    flow = _flow(b"")
    flow["websocket"] = {"messages": [[1, True, "id=\udcffabc\udcfe", 1.0, False, False]]}
    tcp: dict[str, TNet] = {"version": 20, "type": "tcp", "id": "t1", "server_conn": {},
                            "messages": [[True, "\udcff\udc80 ok \u00e9", 3.0]]}
    p = tmp_path / "text.mitm"
    p.write_bytes(dumps(flow) + dumps(tcp))
    frames = [m for m in read_flows(p) if m.kind in (MessageKind.WS_FRAME, MessageKind.RAW)]
    assert [m.body for m in frames] == [b"id=\xffabc\xfe", b"\xff\x80 ok \xc3\xa9"]


@pytest.mark.parametrize("kind", [b"]", b"}"])
def test_a_flow_nested_too_deeply_is_a_clear_error(tmp_path: Path, kind: bytes) -> None:
    """Lists in lists (or dicts in dicts) 5000 deep: the reader's nesting limit, not
    Python's recursion limit."""
    item = b"0:~"
    for _ in range(5000):
        if kind == b"}":
            item = b"1:k;" + item
        item = b"%d:%s%s" % (len(item), item, kind)
    p = tmp_path / "deep.mitm"
    p.write_bytes(b"%d:%s}" % (len(item) + 10, b"7:request;" + item))
    with pytest.raises(InputError, match=r"deep.mitm: tnetstring nested too deeply"):
        list(read_flows(p))
