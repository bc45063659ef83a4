"""mitmproxy flow files (``mitmdump -w``) read without mitmproxy: the file is a sequence of
tnetstrings (typed netstrings: ``<length>:<payload><type>``, type ``,`` bytes, ``;`` text,
``#`` int, ``^`` float, ``!`` bool, ``~`` null, ``]`` list, ``}`` dict), each the state of
one flow. HTTP flows become a request and a response message (bodies as recorded, then
content-decoded within the output budget); WebSocket messages of the flow become WS_FRAME
messages. Other flow types (tcp, udp, dns) keep their messages as RAW/DATAGRAM.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from harness.errors import InputError
from harness.parse.draft import status_code
from harness.parse.encoding import decode_content, parse_encodings
from harness.parse.message import Message, MessageKind

TNet = None | bool | int | float | bytes | str | list["TNet"] | dict[str, "TNet"]

MAX_ITEM = 1 << 31
"""Refuse a length prefix above 2 GiB (a corrupt file, not a flow)."""


def _parse(kind: int, data: bytes, path: str, depth: int = 0) -> TNet:
    if depth > 64:
        raise InputError("tnetstring nested too deeply", path=path)
    if kind == ord(","):
        return data
    if kind == ord(";"):
        return data.decode("utf-8", "surrogateescape")
    if kind in (ord("#"), ord("^")):
        try:
            return int(data) if kind == ord("#") else float(data)
        except ValueError:
            raise InputError(f"bad tnetstring number {data[:40]!r}", path=path) from None
    if kind == ord("!"):
        return data == b"true"
    if kind == ord("~"):
        return None
    if kind in (ord("]"), ord("}")):
        items: list[TNet] = []
        pos = 0
        while pos < len(data):
            item, pos = _pop(data, pos, path, depth + 1)
            items.append(item)
        if kind == ord("]"):
            return items
        if len(items) % 2:
            raise InputError("tnetstring dict with an odd number of items", path=path)
        return {(k.decode("utf-8", "surrogateescape") if isinstance(k, bytes) else str(k)): v
                for k, v in zip(items[::2], items[1::2], strict=True)}
    raise InputError(f"unknown tnetstring type {chr(kind)!r}", path=path)


def _pop(data: bytes, pos: int, path: str, depth: int) -> tuple[TNet, int]:
    colon = data.find(b":", pos, pos + 12)
    if colon < 0 or not data[pos:colon].isdigit():
        raise InputError(f"not a tnetstring at byte {pos}", path=path)
    length = int(data[pos:colon])
    end = colon + 1 + length
    if end >= len(data):
        raise InputError(f"tnetstring cut at byte {pos}", path=path)
    return _parse(data[end], data[colon + 1 : end], path, depth), end + 1


def load_flows(fh: IO[bytes], path: str) -> Iterator[dict[str, TNet]]:
    """Flow states, one at a time (each read whole: the format needs its length first)."""
    while True:
        prefix = b""
        c = fh.read(1)
        if not c:
            return
        while c.isdigit() and len(prefix) < 11:
            prefix += c
            c = fh.read(1)
        if c != b":" or not prefix or int(prefix) > MAX_ITEM:
            raise InputError("not a mitmproxy flow file (bad tnetstring length)", path=path)
        body = fh.read(int(prefix))
        kind = fh.read(1)
        if len(body) != int(prefix) or not kind:
            raise InputError("flow file cut short", path=path)
        state = _parse(kind[0], body, path)
        if not isinstance(state, dict):
            raise InputError("flow is not a dict", path=path)
        yield state


def _s(v: TNet) -> str | None:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v if isinstance(v, str) else None


def _headers(v: TNet) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for h in v if isinstance(v, list) else []:
        if isinstance(h, list) and len(h) == 2:
            out.append((_s(h[0]) or "", _s(h[1]) or ""))
    return tuple(out)


def _content(raw: TNet, headers: tuple[tuple[str, str], ...]) -> tuple[bytes, int, list[str]]:
    body = raw if isinstance(raw, bytes) else b""
    enc = next((v for k, v in headers if k.lower() == "content-encoding"), None)
    if not body or not enc:
        return body, len(body), []
    res = decode_content(body, parse_encodings(enc))
    return res.data, len(body), list(res.notes)


def _float(v: TNet) -> float:
    """A timestamp, 0 when missing or when no float holds it: an int of 400 digits, or a
    float ``inf``/``nan`` (a time no JSON output or date can carry)."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return 0.0
    try:
        f = float(v)
    except OverflowError:
        return 0.0
    return f if math.isfinite(f) else 0.0


def _int(v: TNet, low: int, high: int) -> int | None:
    """An int in ``low..high`` (a port), else None: ``true`` or 400 digits is neither, and
    an SQLite INTEGER column would refuse the digits."""
    return v if isinstance(v, int) and not isinstance(v, bool) and low <= v <= high \
        else None


def read_flows(path: Path | str) -> Iterator[Message]:
    """Messages of a mitmproxy flow file."""
    p = str(path)
    n = 0
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally, generator lifetime
    except OSError as exc:
        raise InputError(f"cannot read flow file: {exc}", path=p) from exc
    try:
        for i, flow in enumerate(load_flows(fh, p)):
            server = flow.get("server_conn")
            server = server if isinstance(server, dict) else {}
            peer = server.get("peername") or server.get("ip_address")
            ip = _s(peer[0]) if isinstance(peer, list) and peer else None
            conn, sni = _s(server.get("id")), _s(server.get("sni"))
            tls, cipher = _s(server.get("tls_version")), _s(server.get("cipher"))
            rq, rs = flow.get("request"), flow.get("response")
            req_id: str | None = None
            url: str | None = None
            host: str | None = None
            if isinstance(rq, dict):
                scheme = _s(rq.get("scheme")) or "http"
                host = _s(rq.get("host"))
                port = _int(rq.get("port"), 0, 65535)
                authority = _s(rq.get("authority")) or (
                    f"{host}:{port}" if host and port is not None and
                    port not in (80, 443) else host or "")
                url = f"{scheme}://{authority}{_s(rq.get('path')) or ''}"
                headers = _headers(rq.get("headers"))
                host = next((v for k, v in headers if k.lower() in (":authority", "host")),
                            host)
                if host and host.count(":") == 1:
                    host = host.split(":")[0]
                body, wire, notes = _content(rq.get("content"), headers)
                n += 1
                req_id = f"m{n}"
                yield Message(
                    id=req_id, kind=MessageKind.REQUEST, t=_float(rq.get("timestamp_start")),
                    direction="out", source="mitmproxy", protocol=_s(rq.get("http_version")),
                    host=host, port=port,
                    method=_s(rq.get("method")), url=url, headers=headers, body=body,
                    body_len_wire=wire, notes=tuple(notes), meta={"flow": i},
                    conn=conn, sni=sni, tls_version=tls, cipher=cipher, ip=ip,
                )
            if isinstance(rs, dict):
                headers = _headers(rs.get("headers"))
                body, wire, notes = _content(rs.get("content"), headers)
                status = status_code(rs.get("status_code"))
                n += 1
                yield Message(
                    id=f"m{n}", kind=MessageKind.RESPONSE, t=_float(rs.get("timestamp_start")),
                    direction="in", source="mitmproxy", protocol=_s(rs.get("http_version")),
                    host=host, url=url, status=status,
                    headers=headers, body=body, body_len_wire=wire, notes=tuple(notes),
                    request_id=req_id, meta={"flow": i},
                    conn=conn, sni=sni, tls_version=tls, cipher=cipher, ip=ip,
                )
            ws = flow.get("websocket")
            is_ws = isinstance(ws, dict)
            msgs = ws.get("messages") if isinstance(ws, dict) else flow.get("messages")
            for wm in msgs if isinstance(msgs, list) else []:
                # WebSocketMessage state: (type, from_client, content, timestamp, dropped,
                # injected); TCPMessage/UDPMessage state: (from_client, content, timestamp)
                if not isinstance(wm, list) or len(wm) < 3:
                    continue
                if is_ws:
                    from_client, raw_content = wm[1], wm[2]
                    ts = wm[3] if len(wm) > 3 else 0
                else:
                    from_client, raw_content, ts = wm[0], wm[1], wm[2]
                # text (``;``) was decoded with surrogateescape: encoded back the same way,
                # it is the bytes of the file, UTF-8 or not
                content = raw_content if isinstance(raw_content, bytes) else (
                    raw_content.encode("utf-8", "surrogateescape")
                    if isinstance(raw_content, str) else b"")
                n += 1
                kind = MessageKind.WS_FRAME if is_ws else (
                    MessageKind.DATAGRAM if flow.get("type") == "udp" else MessageKind.RAW)
                yield Message(
                    id=f"m{n}", kind=kind, t=_float(ts),
                    direction="out" if from_client else "in", source="mitmproxy",
                    protocol="websocket" if is_ws else _s(flow.get("type")),
                    host=host or sni, url=url, body=content, request_id=req_id,
                    meta={"flow": i}, conn=conn, sni=sni, tls_version=tls, cipher=cipher, ip=ip,
                )
    finally:
        fh.close()
